"""Ops: `@op` and `OpDefinition`.

The decorator reads the function's signature once, at definition time, into an
`OpDefinition`: its inputs and outputs (from `ins`/`out` merged with annotations),
whether it takes a context, a `config` parameter, and resource parameters. The
engine then calls the function without inspecting it again.

Calling an op inside a `@graph`/`@job` body records an invocation (see
`composition.py`); calling it anywhere else invokes it directly, as tests do.
"""

from __future__ import annotations

import sys
import typing
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from oprun.definitions.jobs import composition, functions
from oprun.definitions.jobs.io import (
    DEFAULT_OUTPUT,
    NO_VALUE,
    DynamicOut,
    In,
    InputDefinition,
    Out,
    OutputDefinition,
    check_valid_name,
)
from oprun.definitions.jobs.policy import RetryPolicy
from oprun.definitions.jobs.results import DynamicOutput
from oprun.definitions.jobs.types import Any_, Bool, DagsterType, Float, Int, Nothing, String, resolve_dagster_type
from oprun.errors import DagsterInvalidDefinitionError, DagsterInvariantViolationError

T = TypeVar("T")

_SCALAR_TYPES = (Int, String, Float, Bool)

_NO_KEYS: frozenset[str] = frozenset()

# --- resource parameter markers --------------------------------------------------


class _ResourceMarker:
    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __repr__(self) -> str:
        return f"<{self.kind}>"


_RESOURCE = _ResourceMarker("Resource")


if typing.TYPE_CHECKING:
    # For type checkers `Resource[Database]` is a `Database`, as Dagster's
    # `ResourceParam` (an `Annotated` alias) is.
    Resource = typing.Annotated[T, "resource"]
    ResourceParam = typing.Annotated[T, "resource"]
else:

    class Resource(Generic[T]):
        """Annotate an op parameter as a resource: `def my_op(db: Resource[Database])`."""

        def __class_getitem__(cls, item: Any) -> Any:
            return typing.Annotated[item, _RESOURCE]

    ResourceParam = Resource


def _is_resource_annotation(annotation: Any) -> bool:
    if typing.get_origin(annotation) is typing.Annotated:
        return any(isinstance(m, _ResourceMarker) for m in typing.get_args(annotation)[1:])
    # ConfigurableResource subclasses are resources without a marker.
    return isinstance(annotation, type) and getattr(annotation, "_is_oprun_resource", False)


def _config_class(annotation: Any) -> type | None:
    """The Config subclass an annotation names, if any. Config classes exist only
    once `oprun.config.pythonic` is imported, so this costs nothing otherwise."""
    pythonic = sys.modules.get("oprun.config.pythonic")
    if pythonic is None or not isinstance(annotation, type):
        return None
    return annotation if issubclass(annotation, pythonic.Config) and not _is_resource_annotation(annotation) else None


# --- the definition --------------------------------------------------------------


class OpDefinition(composition.InvocableNode):
    """An op: a Python function plus its inputs, outputs, config and resources."""

    node_type = "op"
    # Set only on configured() copies, so read with getattr: (the op copied, the
    # function from the copy's config to the original's).
    configured_from: tuple[OpDefinition, Callable[[Any], Any]]

    def __init__(
        self,
        compute_fn: Callable[..., Any],
        name: str | None = None,
        ins: Mapping[str, In] | None = None,
        outs: Out | Mapping[str, Out] | None = None,
        description: str | None = None,
        config_schema: Any = None,
        required_resource_keys: set[str] | frozenset[str] | None = None,
        tags: Mapping[str, Any] | None = None,
        code_version: str | None = None,
        retry_policy: RetryPolicy | None = None,
        pool: str | None = None,
        _single_output: bool | None = None,
    ) -> None:
        self.compute_fn = compute_fn
        self.name = check_valid_name(name or compute_fn.__name__, what="op name")
        self.description = description if description is not None else functions.docstring(compute_fn)
        self.tags = _check_tags(tags, f"op '{self.name}'")
        self.code_version = code_version
        self.retry_policy = retry_policy
        self.pool = pool
        if retry_policy is not None and not isinstance(retry_policy, RetryPolicy):
            raise DagsterInvalidDefinitionError(f"op '{self.name}': retry_policy must be a RetryPolicy, got {retry_policy!r}")

        sig = _read_signature(self.name, compute_fn)
        self.has_context_param = sig.has_context
        self.config_param: tuple[str, type] | None = sig.config_param
        self.resource_params: tuple[str, ...] = sig.resource_params
        self.param_order: tuple[str, ...] = sig.param_order
        self.accepts_kwargs = sig.accepts_kwargs

        if sig.config_param is not None and config_schema is not None:
            raise DagsterInvalidDefinitionError(
                f"op '{self.name}': if the @op has a config arg, you cannot specify a config schema"
            )
        if sig.resource_params and required_resource_keys:
            raise DagsterInvalidDefinitionError(
                f"op '{self.name}': cannot specify resource requirements in both @op decorator "
                "and as arguments to the decorated function"
            )
        self.config_schema = sig.config_param[1] if sig.config_param else config_schema
        # Most ops need no resource: they share one empty set rather than each hold one.
        self.required_resource_keys = frozenset((*(required_resource_keys or ()), *sig.resource_params)) or _NO_KEYS

        self.input_defs = _build_inputs(self.name, ins or {}, sig)
        self.input_dict: dict[str, InputDefinition] = {i.name: i for i in self.input_defs}
        self.output_defs = _build_outputs(self.name, outs, sig.return_annotation, sig.is_generator)
        self.output_dict: dict[str, OutputDefinition] = {o.name: o for o in self.output_defs}
        self.is_generator = sig.is_generator
        self.is_async = sig.is_async
        self.is_async_generator = sig.is_async_generator
        # Inputs the function receives as arguments (Nothing inputs only order execution).
        self.data_input_names: tuple[str, ...] = tuple(i.name for i in self.input_defs if not i.is_nothing)

    # -- node protocol (shared with GraphDefinition) --

    @property
    def ins(self) -> dict[str, InputDefinition]:
        return self.input_dict

    @property
    def outs(self) -> dict[str, OutputDefinition]:
        return self.output_dict

    @property
    def positional_inputs(self) -> list[str]:
        return [i.name for i in self.input_defs]

    def has_config(self) -> bool:
        return self.config_schema is not None

    def output_def_named(self, name: str) -> OutputDefinition:
        """The output definition called `name` (Dagster's `NodeDefinition.output_def_named`)."""
        output = self.outs.get(name)
        if output is None:
            from oprun.errors import did_you_mean

            raise DagsterInvariantViolationError(
                f"{self.name} has no output named {name}. Outputs: {sorted(self.outs)}.{did_you_mean(name, self.outs)}"
            )
        return output

    def configured(self, config_or_config_fn: Any, name: str, config_schema: Any = None, description: str | None = None) -> OpDefinition:
        from oprun.definitions.jobs.configured import configured_op

        return configured_op(self, config_or_config_fn, name, config_schema, description)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if composition.is_composing():
            return composition.PendingNodeInvocation(self)(*args, **kwargs)
        from oprun.execution.invocation import invoke_op

        return invoke_op(self, args, kwargs)

    def __repr__(self) -> str:
        return f"<OpDefinition {self.name}>"


def _check_tags(tags: Mapping[str, Any] | None, where: str) -> dict[str, Any]:
    if tags is None:
        return {}
    if not isinstance(tags, Mapping):
        raise DagsterInvalidDefinitionError(f"{where}: tags must be a dict of str to values, got {tags!r}")
    return dict(tags)


# --- reading the function ---------------------------------------------------------


class _Signature:
    __slots__ = (
        "has_context", "config_param", "resource_params", "input_params", "param_order",
        "accepts_kwargs", "return_annotation", "is_generator", "is_async", "is_async_generator",
    )
    has_context: bool
    config_param: tuple[str, type] | None  # (parameter name, Config subclass)
    resource_params: tuple[str, ...]
    input_params: list[tuple[str, Any, Any]]  # (name, annotation or NO_VALUE, default or EMPTY)
    param_order: tuple[str, ...]
    accepts_kwargs: bool
    return_annotation: Any  # NO_VALUE when the function has none
    is_generator: bool
    is_async: bool
    is_async_generator: bool


def _type_hints(fn: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(fn, include_extras=True)
    except Exception:  # noqa: BLE001 - unresolvable postponed annotations: fall back to raw ones
        return dict(getattr(fn, "__annotations__", {}))


def _read_signature(op_name: str, fn: Callable[..., Any]) -> _Signature:
    if not callable(fn):
        raise DagsterInvalidDefinitionError(f"@op '{op_name}' must decorate a function, got {fn!r}")
    sig = _Signature()
    sig.is_async_generator = functions.is_async_generator_function(fn)
    sig.is_generator = functions.is_generator_function(fn)
    sig.is_async = functions.is_coroutine_function(fn)
    params = functions.parameters(fn)
    hints = _type_hints(fn) if any(p.annotation is not functions.EMPTY for p in params) or "return" in getattr(fn, "__annotations__", {}) else {}
    sig.return_annotation = hints.get("return", NO_VALUE)
    sig.accepts_kwargs = False
    sig.has_context = functions.has_context_param(params)
    sig.config_param = None
    resource_params: list[str] = []
    input_params: list[tuple[str, Any, Any]] = []
    order: list[str] = []
    for index, param in enumerate(params):
        annotation = hints.get(param.name, NO_VALUE)
        if param.kind == functions.VAR_POSITIONAL:
            raise DagsterInvalidDefinitionError(
                f"@op '{op_name}' decorated function has positional vararg parameter '*{param.name}'. "
                "@op decorated functions should only have keyword arguments that match input "
                "names and, if system information is required, a first positional parameter named 'context'."
            )
        if param.kind == functions.VAR_KEYWORD:
            sig.accepts_kwargs = True
            continue
        if index == 0 and sig.has_context:
            _check_context_annotation(op_name, param.name, annotation)
            continue
        config_cls = _config_class(annotation)
        if config_cls is not None or (param.name == "config" and annotation is NO_VALUE):
            if config_cls is None:
                raise DagsterInvalidDefinitionError(
                    f"@op '{op_name}': parameter 'config' must be annotated with a Config subclass "
                    "(class MyConfig(Config): ...), or use config_schema= and context.op_config."
                )
            sig.config_param = (param.name, config_cls)
            order.append(param.name)
            continue
        if _is_resource_annotation(annotation):
            resource_params.append(param.name)
            order.append(param.name)
            continue
        input_params.append((param.name, annotation, param.default))
        order.append(param.name)
    sig.resource_params = tuple(resource_params)
    sig.input_params = input_params
    sig.param_order = tuple(order)
    return sig


# The annotations Dagster allows on an op's context parameter (besides none).
_CONTEXT_TYPES = frozenset({"OpExecutionContext", "AssetExecutionContext", "AssetCheckExecutionContext"})


def _check_context_annotation(op_name: str, param_name: str, annotation: Any) -> None:
    if annotation is NO_VALUE:
        return
    # A postponed annotation that could not be resolved is judged by its name.
    type_name = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    if type_name.rsplit(".", 1)[-1] in _CONTEXT_TYPES:
        return
    raise DagsterInvalidDefinitionError(
        f"Cannot annotate `context` parameter with type {annotation}. `context` must be annotated with "
        "AssetExecutionContext, AssetCheckExecutionContext, OpExecutionContext, or left blank "
        f"(parameter '{param_name}' of op '{op_name}')."
    )


def _build_inputs(op_name: str, ins: Mapping[str, In], sig: _Signature) -> list[InputDefinition]:
    for name, spec in ins.items():
        if not isinstance(spec, In):
            raise DagsterInvalidDefinitionError(
                f"op '{op_name}': ins['{name}'] must be an In(...), got {spec!r}"
            )
        check_valid_name(name, what="input name")
    by_param = {name: (annotation, default) for name, annotation, default in sig.input_params}
    missing = [n for n, spec in ins.items() if n not in by_param and not (spec.dagster_type is not None and spec.dagster_type.is_nothing)]
    if missing and not sig.accepts_kwargs:
        raise DagsterInvalidDefinitionError(
            f"@op '{op_name}' decorated function does not have argument(s) '{', '.join(missing)}'. "
            "@op-decorated functions should have an argument for each of their Ins, except for "
            "Ins that have the Nothing dagster_type. Alternatively, they can accept **kwargs."
        )
    defs: list[InputDefinition] = []
    for name, annotation, default in sig.input_params:
        given = ins.get(name)
        if given is not None and given.dagster_type is not None and given.dagster_type.is_nothing:
            raise DagsterInvalidDefinitionError(
                f"@op '{op_name}': input '{name}' has the Nothing type, so it passes no value; "
                "remove the parameter from the function and keep it only in ins=."
            )
        if given is None:
            spec = In(default_value=default if default is not functions.EMPTY else NO_VALUE)
        elif not given.has_default_value and default is not functions.EMPTY:
            spec = In(given.dagster_type or NO_VALUE, given.description, default, given.metadata, input_manager_key=given.input_manager_key)
        else:
            spec = given
        dagster_type = spec.dagster_type or resolve_dagster_type(None if annotation is NO_VALUE else annotation)
        check_valid_name(name, allow_reserved=True, what="input name")
        _check_default_value(op_name, name, dagster_type, spec.default_value)
        defs.append(InputDefinition(name, spec, dagster_type))
    for name, spec in ins.items():
        if name not in by_param:
            _check_default_value(op_name, name, spec.dagster_type or Any_, spec.default_value)
            defs.append(InputDefinition(name, spec, spec.dagster_type or Any_))
    return defs


def _check_default_value(op_name: str, input_name: str, dagster_type: DagsterType, default: Any) -> None:
    """As Dagster, when the op is defined: a default of a Nothing input is an error, and
    so is a default that fails the check of a scalar type (Int, String, Float, Bool);
    other types can be checked only at run time."""
    if default is NO_VALUE:
        return
    if dagster_type.is_nothing:
        raise DagsterInvalidDefinitionError(
            f"Setting a default_value is invalid on InputDefinitions of type Nothing "
            f"(input '{input_name}' of op '{op_name}')."
        )
    if dagster_type in _SCALAR_TYPES and not dagster_type.type_check(None, default).success:
        raise DagsterInvalidDefinitionError(
            f"Type check failed for the default_value of InputDefinition {input_name} of type "
            f"{dagster_type.display_name}. Received value {default} of type {type(default)}, as the default "
            f"of input '{input_name}' of op '{op_name}'. Give a default of type {dagster_type.display_name}, "
            "or change the input's type."
        )


def _build_outputs(op_name: str, outs: Out | Mapping[str, Out] | None, return_annotation: Any, is_generator: bool) -> list[OutputDefinition]:
    if outs is None or isinstance(outs, Out):
        # A generator's annotation says nothing about its outputs (as Dagster).
        annotation = NO_VALUE if is_generator else return_annotation
        if outs is None and _is_dynamic_annotation(annotation):
            outs = DynamicOut()  # As Dagster: `-> list[DynamicOutput[T]]` makes the output dynamic.
        spec = outs or Out()
        dagster_type = spec.dagster_type or _annotation_type(op_name, annotation)
        return [OutputDefinition(DEFAULT_OUTPUT, spec, dagster_type)]
    if not isinstance(outs, Mapping):
        raise DagsterInvalidDefinitionError(
            f"op '{op_name}': out must be an Out or a dict of name to Out, got {outs!r}"
        )
    annotations = _output_annotations(op_name, len(outs), NO_VALUE if is_generator else return_annotation)
    defs = []
    for index, (name, spec) in enumerate(outs.items()):
        if not isinstance(spec, Out):
            raise DagsterInvalidDefinitionError(f"op '{op_name}': out['{name}'] must be an Out(...), got {spec!r}")
        check_valid_name(name, allow_reserved=True, what="output name")
        annotation = annotations[index] if index < len(annotations) and annotations[index] is not Ellipsis else NO_VALUE
        dagster_type = spec.dagster_type or _annotation_type(op_name, annotation)
        defs.append(OutputDefinition(name, spec, dagster_type))
    return defs


def _output_annotations(op_name: str, n_outs: int, annotation: Any) -> tuple[Any, ...]:
    """The annotation of each of several declared outputs, as Dagster reads them: one
    output takes the whole annotation; several take the entries of a tuple."""
    if annotation is NO_VALUE:
        return ()
    if n_outs == 1:
        return (annotation,)
    if typing.get_origin(annotation) is not tuple:
        raise DagsterInvariantViolationError(
            "Expected Tuple annotation for multiple outputs, but received non-tuple annotation "
            f"(op '{op_name}', annotated -> {annotation!r}). Annotate -> tuple[T1, T2, ...], one entry per output."
        )
    entries = typing.get_args(annotation)
    if Ellipsis in entries:
        return ()
    if len(entries) != n_outs:
        raise DagsterInvariantViolationError(
            "Expected Tuple annotation to have number of entries matching the number of outputs for "
            f"more than one output. Expected {n_outs} outputs but annotation has {len(entries)} (op '{op_name}')."
        )
    return entries


def _is_dynamic_output(annotation: Any) -> bool:
    return annotation is DynamicOutput or typing.get_origin(annotation) is DynamicOutput


def _is_dynamic_annotation(annotation: Any) -> bool:
    """`list[DynamicOutput[T]]`; a bare `DynamicOutput[T]` is an error, as in Dagster."""
    if _is_dynamic_output(annotation):
        raise DagsterInvariantViolationError(
            "Op annotated with return type DynamicOutput. DynamicOutputs can only be returned in "
            "the context of a List. If only one output is needed, use the Output API."
        )
    args = typing.get_args(annotation)
    return typing.get_origin(annotation) is list and len(args) == 1 and _is_dynamic_output(args[0])


def _annotation_type(op_name: str, annotation: Any) -> DagsterType:
    """The dagster type of an output from its return annotation: `Output[T]` and
    `list[DynamicOutput[T]]` are `T`, `None` is Nothing, none is Any."""
    if annotation is NO_VALUE:
        return Any_
    if annotation is None or annotation is type(None):
        return Nothing
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is list and len(args) == 1 and _is_dynamic_output(args[0]):
        annotation = args[0]
    elif _is_dynamic_output(annotation):
        raise DagsterInvalidDefinitionError(
            f"Problem using type '{annotation}' from return type annotation, correct the issue "
            f"or explicitly set the dagster_type via Out() (op '{op_name}'): a DynamicOutput is "
            "returned in a list, `-> list[DynamicOutput[T]]`."
        )
    return resolve_dagster_type(annotation)


def op(
    compute_fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    ins: Mapping[str, In] | None = None,
    out: Out | Mapping[str, Out] | None = None,
    config_schema: Any = None,
    required_resource_keys: set[str] | None = None,
    tags: Mapping[str, Any] | None = None,
    code_version: str | None = None,
    retry_policy: RetryPolicy | None = None,
    pool: str | None = None,
    version: str | None = None,
) -> Any:
    """Decorator: turn a function into an op (`@op` or `@op(name=..., ins=..., ...)`)."""
    if compute_fn is not None:
        return OpDefinition(compute_fn)

    def wrap(fn: Callable[..., Any]) -> OpDefinition:
        return OpDefinition(
            fn,
            name=name,
            ins=ins,
            outs=out,
            description=description,
            config_schema=config_schema,
            required_resource_keys=required_resource_keys,
            tags=tags,
            code_version=code_version or version,
            retry_policy=retry_policy,
            pool=pool,
        )

    return wrap
