"""Invoking an op directly, as tests do: `my_op(ctx, 1, 2)` or `my_op(1, 2)`.

Arguments bind to the function's parameters in order (inputs, a `config`
parameter, resource parameters); a context from `build_op_context` supplies op
config and resources not given as arguments. Inputs and a plain returned value
are type checked; a generator or coroutine is returned as it is.
"""

from __future__ import annotations

from typing import Any

from oprun.definitions.jobs.io import NO_VALUE
from oprun.definitions.jobs.results import Output
from oprun.errors import DagsterInvalidConfigError, DagsterInvalidInvocationError, DagsterTypeCheckDidNotPass
from oprun.execution.context import DirectOpContext, OpExecutionContext, build_op_context


def _split_context(op_def: Any, args: list[Any], kwargs: dict[str, Any]) -> OpExecutionContext | None:
    given = None
    if args and isinstance(args[0], OpExecutionContext):
        given = args.pop(0)
    elif "context" in kwargs and isinstance(kwargs["context"], OpExecutionContext):
        given = kwargs.pop("context")
    if op_def.has_context_param and given is None:
        raise DagsterInvalidInvocationError(
            f"Compute function of op '{op_def.name}' has context argument, but no context was provided "
            "when invoking. Pass one built with build_op_context()."
        )
    return given


def _processed_config(op_def: Any, context: OpExecutionContext) -> Any:
    raw = context._raw_op_config if isinstance(context, DirectOpContext) else context.op_config  # noqa: SLF001
    if op_def.config_schema is None:
        return raw
    from oprun.config.validate import validate_config

    result = validate_config(op_def.config_schema, raw)
    if not result.success:
        raise DagsterInvalidConfigError(f"Error in config for op {op_def.name}", result.errors, raw)
    return result.value


def invoke_op(op_def: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    args_list = list(args)
    kwargs = dict(kwargs)
    context = _split_context(op_def, args_list, kwargs) or build_op_context()
    if isinstance(context, DirectOpContext):
        context.bind(op_def)
    order = op_def.param_order
    if len(args_list) > len(order):
        raise DagsterInvalidInvocationError(
            f"Too many input arguments were provided for op '{op_def.name}'. The op takes "
            f"{list(order)}, but {len(args_list)} positional arguments were given."
        )
    bound = dict(zip(order, args_list, strict=False))
    for name, value in kwargs.items():
        if name in bound:
            raise DagsterInvalidInvocationError(f"Op '{op_def.name}' received argument '{name}' twice.")
        if name not in order and not op_def.accepts_kwargs:
            from oprun.errors import did_you_mean

            raise DagsterInvalidInvocationError(
                f"Op '{op_def.name}' has no argument '{name}'. Its arguments are {list(order)}.{did_you_mean(name, order)}"
            )
        bound[name] = value
    if op_def.config_param is not None:
        name, config_cls = op_def.config_param
        if name not in bound:
            bound[name] = config_cls.from_config_value(_processed_config(op_def, context))
    elif op_def.config_schema is not None:
        context._op_config = _processed_config(op_def, context)  # noqa: SLF001
    for name in op_def.resource_params:
        if name not in bound:
            bound[name] = getattr(context.resources, name)
    for input_def in op_def.input_defs:
        if input_def.is_nothing:
            continue
        if input_def.name not in bound:
            if input_def.default_value is NO_VALUE:
                raise DagsterInvalidInvocationError(
                    f'No value provided for required input "{input_def.name}" of op \'{op_def.name}\'.'
                )
            bound[input_def.name] = input_def.default_value
        _check(input_def.dagster_type, context, bound[input_def.name], f'step input "{input_def.name}"')
    call_args = (context,) if op_def.has_context_param else ()
    result = op_def.compute_fn(*call_args, **bound)
    if op_def.is_generator or op_def.is_async or op_def.is_async_generator:
        return result
    outputs = op_def.output_defs
    if len(outputs) == 1 and not outputs[0].is_dynamic:
        value = result.value if isinstance(result, Output) else result
        _check(outputs[0].dagster_type, context, value, f'step output "{outputs[0].name}"')
    return result


def _check(dagster_type: Any, context: Any, value: Any, what: str) -> None:
    if dagster_type.is_any or dagster_type.is_nothing:
        return
    result = dagster_type.type_check(context, value)
    if not result.success:
        raise DagsterTypeCheckDidNotPass(
            f'Type check failed for {what} - expected type "{dagster_type.display_name}". Description: {result.description}',
            result.metadata,
            dagster_type,
        )
