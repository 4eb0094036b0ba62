"""Invoking an op directly, as tests do: `my_op(ctx, 1, 2)` or `my_op(1, 2)`.

Arguments bind to the function's parameters in order (inputs, a `config`
parameter, resource parameters); a context from `build_op_context` supplies op
config and resources not given as arguments (`None` stands for a default
context), and a `configured()` copy maps it down to the original op's config.
Inputs and a plain returned value are type checked; a generator is passed on
item by item, so that metadata for an output already yielded is an error, as in
Dagster; a coroutine is returned as it is.
"""

from __future__ import annotations

from typing import Any

from oprun.definitions.jobs.functions import CONTEXT_NAMES
from oprun.definitions.jobs.io import DEFAULT_OUTPUT, NO_VALUE
from oprun.definitions.jobs.results import DynamicOutput, Output
from oprun.errors import (
    DagsterInvalidConfigError,
    DagsterInvalidInvocationError,
    DagsterInvariantViolationError,
    DagsterTypeCheckDidNotPass,
)
from oprun.execution.context import DirectOpContext, OpExecutionContext, build_op_context


def _split_context(op_def: Any, args: list[Any], kwargs: dict[str, Any]) -> OpExecutionContext | None:
    given = None
    if args and isinstance(args[0], OpExecutionContext):
        given = args.pop(0)
    elif op_def.has_context_param and args and args[0] is None:
        # As Dagster: `my_op(None, ...)` stands for a default context.
        args.pop(0)
        given = build_op_context()
    elif op_def.has_context_param and (none_key := next((k for k in CONTEXT_NAMES if k in kwargs and kwargs[k] is None), None)):
        del kwargs[none_key]
        given = build_op_context()
    else:
        # By keyword, under any of the names that make a parameter the context.
        key = next((k for k in CONTEXT_NAMES if isinstance(kwargs.get(k), OpExecutionContext)), None)
        if key is not None:
            given = kwargs.pop(key)
    if op_def.has_context_param and given is None:
        fn_name = getattr(op_def.compute_fn, "__name__", op_def.name)
        raise DagsterInvalidInvocationError(
            f"Decorated function '{fn_name}' has context argument, but no context was provided when invoking. "
            f"Op '{op_def.name}': pass a context built with build_op_context() (or None for a default one) "
            "as the first argument."
        )
    return given


def _processed_config(op_def: Any, context: OpExecutionContext) -> Any:
    """The config the op's body sees: the context's, validated against the op's
    schema; for a configured() copy, mapped down to the original op's config (its
    fixed value, or its config function's result) and validated, as a run does."""
    value = _validated(op_def, context._raw_op_config if isinstance(context, DirectOpContext) else context.op_config)  # noqa: SLF001
    while (configured := getattr(op_def, "configured_from", None)) is not None:
        original, to_inner = configured
        value = _validated(original, to_inner(value))
        op_def = original
    return value


def _validated(op_def: Any, raw: Any) -> Any:
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
    given_config = bound.get(op_def.config_param[0], NO_VALUE) if op_def.config_param is not None else NO_VALUE
    if given_config is NO_VALUE:
        op_config = _processed_config(op_def, context)
    else:  # a Config passed as an argument is the op's config
        to_dict = getattr(given_config, "to_config_dict", None)
        op_config = to_dict() if callable(to_dict) else given_config
    if isinstance(context, DirectOpContext):
        context.bind_config(op_config)
    elif op_def.config_schema is not None:
        context._op_config = op_config  # noqa: SLF001
    if op_def.config_param is not None:
        name, config_cls = op_def.config_param
        if name not in bound:
            bound[name] = config_cls.from_config_value(op_config)
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
    try:
        result = op_def.compute_fn(*call_args, **bound)
    except BaseException:
        _unbind(context)
        raise
    if op_def.is_generator:
        return _observed(context, result)
    if op_def.is_async or op_def.is_async_generator:
        return result
    try:
        _check_returned(op_def, context, result)
    finally:
        _unbind(context)
    return result


def _unbind(context: OpExecutionContext) -> None:
    if isinstance(context, DirectOpContext):
        context.unbind()


def _observed(context: OpExecutionContext, items: Any) -> Any:
    """A generator op's items, passed on as they come; each output yielded is seen
    (metadata for it after that is an error, as in Dagster)."""
    try:
        for item in items:
            if isinstance(item, (Output, DynamicOutput)):
                context.take_output_metadata(item.output_name, item.mapping_key)
            yield item
    finally:
        _unbind(context)


def _check_returned(op_def: Any, context: OpExecutionContext, result: Any) -> None:
    """Type check a returned value; dynamic outputs must be lists of DynamicOutput."""
    outputs = op_def.output_defs
    if len(outputs) == 1:
        out = outputs[0]
        if out.is_dynamic:
            _check_dynamic(op_def, out, result)
        else:
            value = result.value if isinstance(result, Output) else result
            _check(out.dagster_type, context, value, f'step output "{out.name}"')
    elif isinstance(result, tuple) and len(result) == len(outputs):
        for position, (out, value) in enumerate(zip(outputs, result, strict=True)):
            if out.is_dynamic:
                _check_dynamic(op_def, out, value)
            elif isinstance(value, Output) and value.output_name not in (DEFAULT_OUTPUT, out.name):
                raise DagsterInvariantViolationError(
                    f"Bad state: Output was explicitly named '{value.output_name}', which does not match "
                    f"the output definition specified for position {position}: '{out.name}'."
                )


def _check_dynamic(op_def: Any, out: Any, value: Any) -> None:
    fix = (
        f"Op '{op_def.name}' returns its dynamic output '{out.name}': return a list of "
        "DynamicOutput(value, mapping_key=...), or yield each DynamicOutput from a generator."
    )
    if not isinstance(value, list):
        raise DagsterInvariantViolationError(
            f"Error with output for op \"{op_def.name}\": dynamic output '{out.name}' expected a list of "
            f"DynamicOutput objects, but instead received instead an object of type {type(value)}. {fix}"
        )
    for position, item in enumerate(value):
        if not isinstance(item, DynamicOutput):
            raise DagsterInvariantViolationError(
                f"Error with output for op \"{op_def.name}\": dynamic output '{out.name}' at position {position} "
                f"expected a list of DynamicOutput objects, but received an item with type {type(item)}. {fix}"
            )


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
