"""Recording a `@graph` / `@job` body.

The body runs once, at decoration time. Each op or graph called inside it is
recorded as an invocation, and the call returns *handles* to its outputs; passing
a handle to another call records a dependency. `compose` turns what was recorded
into the arguments of `GraphDefinition`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from oprun.definitions.jobs.dependency import (
    DependencyDefinition,
    DynamicCollectDependencyDefinition,
    InputMapping,
    MultiDependencyDefinition,
    NodeInvocation,
    OutputMapping,
)
from oprun.definitions.jobs.io import DEFAULT_OUTPUT, check_valid_name
from oprun.errors import (
    DagsterInvalidDefinitionError,
    DagsterInvalidInvocationError,
    DagsterInvariantViolationError,
    did_you_mean,
)

_STACK: list[CompositionContext] = []


def is_composing() -> bool:
    return bool(_STACK)


# --- handles returned inside a composition ---------------------------------------


class InvokedNodeOutputHandle:
    """One output of a recorded invocation."""

    __slots__ = ("node_name", "output_name", "node_type", "mapped_from")

    def __init__(self, node_name: str, output_name: str, node_type: str, mapped_from: tuple[str, str] | None = None) -> None:
        self.node_name = node_name
        self.output_name = output_name
        self.node_type = node_type
        # For handles inside a `.map(fn)`: the dynamic output being mapped over.
        self.mapped_from = mapped_from

    def __iter__(self) -> Any:
        raise DagsterInvariantViolationError(
            f'Attempted to iterate over an output handle. It represents the output "{self.output_name}" '
            f'from the node "{self.node_name}". Define multiple Outs (out={{"a": Out(), "b": Out()}}) '
            "to pass several outputs to downstream nodes."
        )

    def __getitem__(self, _key: Any) -> Any:
        raise DagsterInvariantViolationError(
            f'Attempted to index the output "{self.output_name}" of node "{self.node_name}" at '
            "definition time. Outputs have no value until the job runs: pass the whole output to "
            "another op and index it there."
        )

    def __repr__(self) -> str:
        return f"<output {self.node_name}.{self.output_name}>"


class DynamicOutputHandle:
    """A dynamic output of a recorded invocation: use `.map(fn)` or `.collect()`."""

    __slots__ = ("node_name", "output_name", "node_type", "mapped_from")

    def __init__(self, node_name: str, output_name: str, node_type: str, mapped_from: tuple[str, str] | None = None) -> None:
        self.node_name = node_name
        self.output_name = output_name
        self.node_type = node_type
        # Set when this handle is the output of an already mapped node.
        self.mapped_from = mapped_from

    def map(self, fn: Callable[..., Any]) -> Any:
        """Run `fn` once now, with a handle standing for each future item; the nodes it
        calls are cloned per mapping key at run time."""
        source = self.mapped_from or (self.node_name, self.output_name)
        item = InvokedNodeOutputHandle(self.node_name, self.output_name, self.node_type, mapped_from=source)
        result = fn(item)
        return _wrap_mapped_result(result, source)

    def collect(self) -> DynamicCollectHandle:
        """All items of this dynamic output (or of a node mapped over it) as one list."""
        return DynamicCollectHandle(self.node_name, self.output_name)

    def __iter__(self) -> Any:
        raise DagsterInvariantViolationError(
            f'Attempted to iterate over the dynamic output "{self.output_name}" of node '
            f'"{self.node_name}". Use .map(fn) to process each item or .collect() to gather them.'
        )

    def __repr__(self) -> str:
        return f"<dynamic output {self.node_name}.{self.output_name}>"


class DynamicCollectHandle(NamedTuple):
    node_name: str
    output_name: str


class GraphInputHandle(NamedTuple):
    """A parameter of a `@graph` function: an input of the graph being composed."""

    input_name: str


def _wrap_mapped_result(result: Any, source: tuple[str, str]) -> Any:
    if isinstance(result, (DynamicCollectHandle, GraphInputHandle)):  # NamedTuples, not containers
        return _bad_mapped_result(result, source)
    if isinstance(result, InvokedNodeOutputHandle):
        return DynamicOutputHandle(result.node_name, result.output_name, result.node_type, mapped_from=source)
    if isinstance(result, tuple) and hasattr(result, "_fields"):
        return type(result)(*(_wrap_mapped_result(r, source) for r in result))
    if isinstance(result, tuple):
        return tuple(_wrap_mapped_result(r, source) for r in result)
    if isinstance(result, dict):
        return {k: _wrap_mapped_result(v, source) for k, v in result.items()}
    if result is None or isinstance(result, DynamicOutputHandle):
        return result
    return _bad_mapped_result(result, source)


def _bad_mapped_result(result: Any, source: tuple[str, str]) -> Any:
    hint = (
        " A .collect() inside the mapped function would be downstream of two dynamic outputs: "
        "return the mapped node's output and collect it outside the map."
        if isinstance(result, DynamicCollectHandle) else ""
    )
    raise DagsterInvalidDefinitionError(
        f'Could not handle output from map function invoked on "{source[0]}:{source[1]}", received '
        f"{result!r}. The function given to .map() returns nothing, the output of a node it invoked, "
        f"or a tuple or dict of them.{hint}"
    )


# --- pending invocations (alias / tag / hooks / retry policy) ---------------------


class InvocableNode:
    """What ops and graphs share: derive a pending invocation with an alias, tags,
    hooks or a retry policy."""

    def alias(self, name: str) -> PendingNodeInvocation:
        return PendingNodeInvocation(self, alias=name)

    def tag(self, tags: Mapping[str, Any] | None) -> PendingNodeInvocation:
        return PendingNodeInvocation(self, tags=tags)

    def with_hooks(self, hook_defs: Any) -> PendingNodeInvocation:
        return PendingNodeInvocation(self, hook_defs=hook_defs)

    def with_retry_policy(self, retry_policy: Any) -> PendingNodeInvocation:
        return PendingNodeInvocation(self, retry_policy=retry_policy)


class PendingNodeInvocation:
    """A definition about to be invoked with an alias, tags, hooks or a retry
    policy; chainable (`op.alias("a").tag({...})(x)`)."""

    def __init__(self, node_def: Any, alias: str | None = None, tags: Mapping[str, Any] | None = None, hook_defs: Any = None, retry_policy: Any = None) -> None:
        self.node_def = node_def
        self.given_alias = check_valid_name(alias, what="alias") if alias is not None else None
        self.tags = dict(tags or {})
        self.hook_defs = frozenset(hook_defs or ())
        self.retry_policy = retry_policy
        if _STACK:
            _STACK[-1].note_pending(self)

    @property
    def name(self) -> str:
        return self.given_alias or self.node_def.name

    def alias(self, name: str) -> PendingNodeInvocation:
        return self._derive(name, self.tags, self.hook_defs, self.retry_policy)

    def tag(self, tags: Mapping[str, Any] | None) -> PendingNodeInvocation:
        return self._derive(self.given_alias, {**self.tags, **(tags or {})}, self.hook_defs, self.retry_policy)

    def with_hooks(self, hook_defs: Any) -> PendingNodeInvocation:
        return self._derive(self.given_alias, self.tags, self.hook_defs | frozenset(hook_defs or ()), self.retry_policy)

    def with_retry_policy(self, retry_policy: Any) -> PendingNodeInvocation:
        return self._derive(self.given_alias, self.tags, self.hook_defs, retry_policy)

    def _derive(self, alias: str | None, tags: Mapping[str, Any], hook_defs: Any, retry_policy: Any) -> PendingNodeInvocation:
        # `op.alias("a").tag({...})` makes two; only the last one is meant to be called.
        if _STACK:
            _STACK[-1].note_used(self)
        return PendingNodeInvocation(self.node_def, alias, tags, hook_defs, retry_policy)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not _STACK:
            # As in Dagster: outside a body an aliased/tagged/hooked op runs like the op
            # itself (a direct invocation, whose hooks do not run); a graph cannot be called.
            if self.node_def.node_type == "graph":
                raise DagsterInvariantViolationError(
                    f"Attempted to call graph '{self.name}' outside of a composition function. Invoking "
                    "graphs is only valid in a function decorated with @job or @graph. To run it, use "
                    f"`.execute_in_process()` or `.to_job(...)` on it."
                )
            return self.node_def(*args, **kwargs)
        return _STACK[-1].observe(self, args, kwargs)

    def _graph_only(self, method: str) -> None:
        if self.node_def.node_type != "graph":
            raise DagsterInvalidInvocationError(
                f"Attemped to call `{method}` on a non-graph.  Only graphs constructed using the `@graph` "
                f"decorator support this method. ('{self.name}' is an op: put it in a @job or @graph.)"
            )

    def to_job(
        self,
        name: str | None = None,
        description: str | None = None,
        resource_defs: Mapping[str, Any] | None = None,
        config: Any = None,
        tags: Mapping[str, Any] | None = None,
        logger_defs: Mapping[str, Any] | None = None,
        executor_def: Any = None,
        hooks: Any = None,
        op_retry_policy: Any = None,
        partitions_def: Any = None,
        input_values: Mapping[str, Any] | None = None,
    ) -> Any:
        """The graph as a job named by the alias, with this invocation's tags and hooks
        (its retry policy is not the job's, as in Dagster)."""
        self._graph_only("to_job")
        return self.node_def.to_job(
            name=name or self.given_alias,
            description=description,
            resource_defs=resource_defs,
            config=config,
            tags={**self.tags, **(tags or {})},
            logger_defs=logger_defs,
            executor_def=executor_def,
            hooks=frozenset(hooks or ()) | self.hook_defs,
            op_retry_policy=op_retry_policy,
            partitions_def=partitions_def,
            input_values=input_values,
        )

    def execute_in_process(
        self,
        run_config: Any = None,
        instance: Any = None,
        resources: Mapping[str, Any] | None = None,
        raise_on_error: bool = True,
        run_id: str | None = None,
        input_values: Mapping[str, Any] | None = None,
    ) -> Any:
        """Run the graph as an ad-hoc job named by the alias, with this invocation's
        tags, hooks and retry policy (as every op's)."""
        self._graph_only("execute_in_process")
        job = self.node_def.to_job(
            name=self.given_alias, resource_defs=resources, tags=self.tags, hooks=self.hook_defs,
            op_retry_policy=self.retry_policy, input_values=input_values,
        )
        return job.execute_in_process(run_config=run_config, instance=instance, raise_on_error=raise_on_error, run_id=run_id)

    def __repr__(self) -> str:
        return f"<pending invocation {self.name} of {self.node_def.name}>"


# --- the recording ----------------------------------------------------------------


class _Invocation:
    __slots__ = ("name", "pending", "inputs")

    def __init__(self, name: str, pending: PendingNodeInvocation, inputs: dict[str, Any]) -> None:
        self.name = name
        self.pending = pending
        self.inputs = inputs


class CompositionContext:
    def __init__(self, kind: str, name: str, input_names: list[str]) -> None:
        self.kind = kind  # "@job" or "@graph"
        self.name = name
        self.input_names = input_names
        self.invocations: dict[str, _Invocation] = {}
        self._counts: dict[str, int] = {}
        # Pending invocations made in this body and not called yet: an alias that
        # is never called is almost always a forgotten `(...)`, so it warns.
        self._uninvoked: dict[int, PendingNodeInvocation] = {}

    def note_pending(self, pending: PendingNodeInvocation) -> None:
        self._uninvoked[id(pending)] = pending

    def note_used(self, pending: PendingNodeInvocation) -> None:
        self._uninvoked.pop(id(pending), None)

    def warn_uninvoked(self) -> None:
        for pending in self._uninvoked.values():
            warnings.warn(
                f"While in {self.where}, received an uninvoked op '{pending.name}'.",
                UserWarning,
                stacklevel=4,
            )

    @property
    def where(self) -> str:
        return f"{self.kind} {self.name}"

    def _unique_name(self, pending: PendingNodeInvocation) -> str:
        if pending.given_alias is not None:
            if pending.given_alias in self.invocations:
                raise DagsterInvalidDefinitionError(
                    f"{self.where} invoked the same node ({pending.given_alias}) twice without aliasing: "
                    "give each invocation a distinct .alias(...)."
                )
            return pending.given_alias
        base: str = pending.node_def.name
        if base not in self.invocations:
            return base
        count = self._counts.get(base, 1) + 1
        while f"{base}_{count}" in self.invocations:
            count += 1
        self._counts[base] = count
        return f"{base}_{count}"

    def observe(self, pending: PendingNodeInvocation, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        self.note_used(pending)
        node_def = pending.node_def
        name = self._unique_name(pending)
        input_names = node_def.positional_inputs
        if len(args) > len(input_names):
            raise DagsterInvalidDefinitionError(
                f"In {self.where}, received too many inputs for invocation {name}. Only "
                f"{len(input_names)} defined, received {len(args)}"
            )
        inputs: dict[str, Any] = {}
        for position, (input_name, value) in enumerate(zip(input_names, args, strict=False)):
            inputs[input_name] = self._check_input(name, input_name, value, position)
        for input_name, value in kwargs.items():
            if input_name not in node_def.ins:
                raise DagsterInvalidDefinitionError(
                    f'In {self.where}, invocation "{name}" received unknown input "{input_name}". '
                    f"Available inputs: {sorted(node_def.ins)}.{did_you_mean(input_name, node_def.ins)}"
                )
            if input_name in inputs:
                raise DagsterInvalidDefinitionError(
                    f'In {self.where}, invocation "{name}" received input "{input_name}" both by position and by name.'
                )
            inputs[input_name] = self._check_input(name, input_name, value, None)
        self.invocations[name] = _Invocation(name, pending, inputs)
        return _output_handles(name, node_def, _mapped_source(inputs))

    def _bad_fan_in_item(self, node_name: str, input_name: str, position: int | None, index: int, item: Any) -> DagsterInvalidDefinitionError:
        arg = f"(at position {position})" if position is not None else "(passed by keyword)"
        if isinstance(item, DynamicOutputHandle):
            hint = f" Item {index} is the dynamic output {item.node_name}:{item.output_name}: pass its .collect() on its own."
        elif isinstance(item, DynamicCollectHandle):
            hint = f" Item {index} is a .collect() of {item.node_name}:{item.output_name}: pass it on its own, not in a list."
        else:
            hint = f" Item {index} is {item!r}."
        return DagsterInvalidDefinitionError(
            f"In {self.where}, received a list containing an invalid type at index {index} for input "
            f'"{input_name}" {arg} in op invocation {node_name}. Lists can only contain the output from '
            f"previous op invocations or input mappings, received {type(item)}.{hint}"
        )

    def _check_input(self, node_name: str, input_name: str, value: Any, position: int | None) -> Any:
        if isinstance(value, (InvokedNodeOutputHandle, DynamicCollectHandle, GraphInputHandle)):
            return value
        if isinstance(value, DynamicOutputHandle):
            raise DagsterInvalidDefinitionError(
                f"In {self.where}, received the dynamic output {value.output_name} from {value.node_type} "
                f"'{value.node_name}' directly. Dynamic output must be unpacked by invoking map or collect. "
                f'(invocation "{node_name}" input "{input_name}": use .map(fn) to process each item, or '
                ".collect() to pass them all as a list.)"
            )
        if isinstance(value, list):
            # As in Dagster, a fan-in list holds plain outputs and graph inputs only;
            # an empty list is an empty fan-in, and the input receives [].
            for index, item in enumerate(value):
                if not isinstance(item, (InvokedNodeOutputHandle, GraphInputHandle)):
                    raise self._bad_fan_in_item(node_name, input_name, position, index, item)
            return list(value)
        if isinstance(value, (PendingNodeInvocation,)) or getattr(value, "node_type", None) in ("op", "graph"):
            raise DagsterInvalidDefinitionError(
                f'In {self.where}, received an uninvoked node "{value.name}" for input "{input_name}" '
                f'of "{node_name}". Did you forget parentheses?'
            )
        at = f" (at position {position})" if position is not None else ""
        raise DagsterInvalidDefinitionError(
            f"In {self.where}, received invalid type {type(value)} for input \"{input_name}\"{at} in "
            f'op invocation "{node_name}". Must pass the output from previous node invocations or '
            "inputs to the composition function as inputs when invoking nodes during composition."
            " To give an input a fixed value, use In(default_value=...) or run config "
            f"ops.{node_name}.inputs.{input_name}."
        )


def _mapped_source(inputs: dict[str, Any]) -> tuple[str, str] | None:
    for value in inputs.values():
        values = value if isinstance(value, list) else [value]
        for v in values:
            if isinstance(v, InvokedNodeOutputHandle) and v.mapped_from is not None:
                return v.mapped_from
    return None


class _MultipleOutputs(tuple[Any, ...]):
    """The handles of a multi-output invocation: unpack it, or use attributes."""

    _names: tuple[str, ...] = ()

    def __new__(cls, names: list[str], handles: list[Any]) -> _MultipleOutputs:
        made = super().__new__(cls, handles)
        made._names = tuple(names)
        return made

    def __getattr__(self, name: str) -> Any:
        try:
            return self[self._names.index(name)]
        except ValueError:
            raise AttributeError(
                f"No output named '{name}'. Available outputs: {list(self._names)}.{did_you_mean(name, self._names)}"
            ) from None

    @property
    def _fields(self) -> tuple[str, ...]:
        return self._names


def _output_handles(name: str, node_def: Any, mapped: tuple[str, str] | None) -> Any:
    outs = list(node_def.outs.values())
    handles: list[DynamicOutputHandle | InvokedNodeOutputHandle] = []
    for out in outs:
        if out.is_dynamic:
            handles.append(DynamicOutputHandle(name, out.name, node_def.node_type))
        else:
            handles.append(InvokedNodeOutputHandle(name, out.name, node_def.node_type, mapped))
    if not handles:
        return None
    if len(handles) == 1:
        return handles[0]
    return _MultipleOutputs([o.name for o in outs], handles)


# --- from a recording to GraphDefinition arguments --------------------------------


class Composed(NamedTuple):
    node_defs: list[Any]
    dependencies: dict[NodeInvocation, dict[str, Any]]
    input_mappings: list[InputMapping]
    output_mappings: list[OutputMapping]


def compose(kind: str, name: str, fn: Callable[..., Any], input_names: list[str], output_names: list[str] | None) -> Composed:
    """Run a @graph/@job body once and return what it invoked and wired."""
    context = CompositionContext(kind, name, input_names)
    _STACK.append(context)
    try:
        returned = fn(*[GraphInputHandle(n) for n in input_names])
    finally:
        _STACK.pop()
    context.warn_uninvoked()
    node_defs: list[Any] = []
    seen: set[int] = set()
    dependencies: dict[NodeInvocation, dict[str, Any]] = {}
    input_mappings: list[InputMapping] = []
    for inv in context.invocations.values():
        pending = inv.pending
        if id(pending.node_def) not in seen:
            seen.add(id(pending.node_def))
            node_defs.append(pending.node_def)
        deps: dict[str, Any] = {}
        for input_name, value in inv.inputs.items():
            if isinstance(value, GraphInputHandle):
                input_mappings.append(InputMapping(value.input_name, inv.name, input_name))
            elif isinstance(value, list):
                items = []
                for index, v in enumerate(value):
                    if isinstance(v, GraphInputHandle):
                        input_mappings.append(InputMapping(v.input_name, inv.name, input_name, fan_in_index=index))
                        items.append(_FAN_IN_PLACEHOLDER)
                    else:
                        items.append(_as_dependency(v))
                deps[input_name] = MultiDependencyDefinition(items)
            else:
                deps[input_name] = _as_dependency(value)
        invocation = NodeInvocation(
            pending.node_def.name,
            alias=inv.name if inv.name != pending.node_def.name else None,
            tags=pending.tags or None,
            hook_defs=pending.hook_defs or None,
            retry_policy=pending.retry_policy,
        )
        dependencies[invocation] = deps
    output_mappings = _output_mappings(context, returned, output_names)
    return Composed(node_defs, dependencies, input_mappings, output_mappings)


class _FanInPlaceholder:
    """Stands in a fan-in list for an item that comes from a graph input."""

    def __repr__(self) -> str:
        return "<graph input>"


_FAN_IN_PLACEHOLDER = _FanInPlaceholder()


def _as_dependency(value: Any) -> Any:
    if isinstance(value, DynamicCollectHandle):
        return DynamicCollectDependencyDefinition(value.node_name, value.output_name)
    return DependencyDefinition(value.node_name, value.output_name)


def _output_mappings(context: CompositionContext, returned: Any, output_names: list[str] | None) -> list[OutputMapping]:
    if returned is None:
        return []
    handle_types = (InvokedNodeOutputHandle, DynamicOutputHandle, DynamicCollectHandle)
    if context.kind == "@job":
        # A job has no outputs: Dagster refuses a returned handle or dict, and ignores a tuple.
        if isinstance(returned, handle_types) and not isinstance(returned, DynamicCollectHandle):
            raise DagsterInvalidDefinitionError(
                f"Returned a single output ({returned.node_name}.{returned.output_name}) in @job '{context.name}' "
                "but 0 outputs are defined. Return a dict to map defined outputs. (A job has no outputs: "
                "drop the `return`, or make this body a @graph to give it outputs.)"
            )
        if isinstance(returned, Mapping) and returned:
            key = next(iter(returned))
            raise DagsterInvalidDefinitionError(
                f"@job '{context.name}' referenced key {key} which does not match any defined outputs. Valid "
                "options are: []. (A job has no outputs: drop the `return`, or make this body a @graph.)"
            )
        if isinstance(returned, tuple):
            return []
    if isinstance(returned, handle_types):
        name = output_names[0] if output_names and len(output_names) == 1 else DEFAULT_OUTPUT
        return [_one_output_mapping(context, name, returned)]
    if isinstance(returned, Mapping):
        return [_one_output_mapping(context, str(k), v) for k, v in returned.items()]
    if isinstance(returned, tuple) and output_names and len(output_names) == len(returned):
        return [_one_output_mapping(context, n, v) for n, v in zip(output_names, returned, strict=True)]
    if isinstance(returned, tuple) and hasattr(returned, "_fields"):
        return [_one_output_mapping(context, n, v) for n, v in zip(returned._fields, returned, strict=False)]
    raise DagsterInvalidDefinitionError(
        f"{context.where} returned {returned!r}. A graph body returns nothing, one output handle, "
        "or a dict of output name to output handle."
    )


def _one_output_mapping(context: CompositionContext, name: str, handle: Any) -> OutputMapping:
    if not isinstance(handle, (InvokedNodeOutputHandle, DynamicOutputHandle, DynamicCollectHandle)):
        raise DagsterInvalidDefinitionError(
            f"{context.where} returned {handle!r} for output '{name}': expected the output of a node invocation."
        )
    if isinstance(handle, DynamicCollectHandle):
        raise DagsterInvalidDefinitionError(
            f"{context.kind} '{context.name}' returned problematic value of type {type(handle)}. Expected return "
            "value from invoked node or dict mapping output name to return values from invoked nodes. "
            f"(Output '{name}' is a .collect() of {handle.node_name}:{handle.output_name}: pass it to an op "
            "and return that op's output.)"
        )
    return OutputMapping(name, handle.node_name, handle.output_name, from_dynamic_mapping=isinstance(handle, DynamicOutputHandle))
