"""The execution plan: a job flattened into steps, as pure data.

`create_execution_plan(job, run_config)` reads definitions only: it does no I/O and
runs no user code. Each op node becomes one step keyed by its handle (`op`,
`graph.op`); nested graphs disappear, their input and output mappings resolved
to the steps behind them. A step mapped over a dynamic output is a *template*
(`op[?]`) until the run knows the mapping keys; `resolve_mapped_steps` then makes
one step per key (`op[key]`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from oprun.definitions.jobs.dependency import (
    DependencyDefinition,
    DynamicCollectDependencyDefinition,
    MultiDependencyDefinition,
)
from oprun.errors import DagsterInvariantViolationError

# --- where an input's value comes from --------------------------------------------


class FromStepOutput(NamedTuple):
    step_key: str
    output_name: str
    mapping_key: str | None = None


class FromMapped(NamedTuple):
    """The item with this step's own mapping key, of a dynamic output or of a mapped step."""

    step_key: str  # a dynamic producer or a template key
    output_name: str


class FromCollect(NamedTuple):
    """Every item of a dynamic output, or every instance of a mapped step, as a list."""

    step_key: str
    output_name: str


class FromMultipleSources(NamedTuple):
    """A fan-in: each source's value, in order, as a list."""

    sources: tuple[Any, ...]


class FromUnconnected(NamedTuple):
    """Not wired: read from run config (`config_handle`'s inputs), else the input
    manager, else the default value."""

    config_handle: str
    config_input_name: str


class FromGraphInput(NamedTuple):
    """A top-level input of the job's graph: `input_values`, or run config `inputs`."""

    input_name: str


class StepInput(NamedTuple):
    name: str
    input_def: Any
    source: Any


class ExecutionStep:
    """One op invocation to run; `mapped_over` is set for template steps."""

    __slots__ = (
        "key", "handle", "node_name", "op_def", "inputs", "tags", "hook_defs", "retry_policy",
        "mapped_over", "mapping_key", "template_key", "upstream_keys", "priority", "node",
        "expands_inputs",
    )

    def __init__(
        self,
        key: str,
        handle: str,
        node: Any,
        inputs: tuple[StepInput, ...],
        tags: dict[str, Any],
        hook_defs: frozenset[Any],
        retry_policy: Any,
        mapped_over: tuple[str, str] | None,
        mapping_key: str | None = None,
        template_key: str | None = None,
    ) -> None:
        self.key = key
        self.handle = handle
        self.node = node
        self.node_name = node.name
        self.op_def = node.definition
        self.inputs = inputs
        self.tags = tags
        self.hook_defs = hook_defs
        self.retry_policy = retry_policy
        self.mapped_over = mapped_over
        self.mapping_key = mapping_key
        self.template_key = template_key
        # A tuple: most steps have one upstream step, and a one-key frozenset is four times its size.
        self.upstream_keys: tuple[str, ...] = tuple(_upstream_keys(inputs))
        # Only fan-ins and collects need expanding once upstream outputs are known.
        self.expands_inputs = any(isinstance(i.source, (FromCollect, FromMultipleSources)) for i in inputs)
        try:
            self.priority = int(tags.get("dagster/priority", 0))
        except (TypeError, ValueError):
            self.priority = 0

    def with_inputs(self, inputs: tuple[StepInput, ...]) -> ExecutionStep:
        """The same step with its inputs made concrete (see ActiveExecution.concrete_step)."""
        return ExecutionStep(
            self.key, self.handle, self.node, inputs, self.tags, self.hook_defs, self.retry_policy,
            self.mapped_over, self.mapping_key, self.template_key,
        )

    @property
    def is_template(self) -> bool:
        return self.mapped_over is not None and self.mapping_key is None

    @property
    def solid_handle(self) -> str:
        return self.handle

    def __repr__(self) -> str:
        return f"<ExecutionStep {self.key}>"


def _union(a: frozenset[Any], b: frozenset[Any]) -> frozenset[Any]:
    """`a | b`, but one of them when the other is empty: steps then share their
    nodes' (usually empty) sets of hooks instead of each holding a copy."""
    return a if not b else b if not a else a | b


def _upstream_keys(inputs: Iterable[StepInput]) -> set[str]:
    return _keys_of_sources([step_input.source for step_input in inputs])


def _keys_of_sources(sources: Iterable[Any]) -> set[str]:
    # A loop rather than generators: this runs for every step of every run.
    keys: set[str] = set()
    for source in sources:
        if isinstance(source, (FromStepOutput, FromMapped, FromCollect)):
            keys.add(source.step_key)
        elif isinstance(source, FromMultipleSources):
            keys |= _keys_of_sources(source.sources)
    return keys


class ExecutionPlan:
    """Steps in a topological order; template steps wait for their mapping keys."""

    def __init__(self, job_name: str, steps: list[ExecutionStep], step_keys_to_execute: Sequence[str] | None = None) -> None:
        self.job_name = job_name
        self.steps: dict[str, ExecutionStep] = {s.key: s for s in steps}
        self.order = [s.key for s in steps]
        self.step_keys_to_execute = list(step_keys_to_execute) if step_keys_to_execute else None
        self.templates_by_source: dict[tuple[str, str], list[ExecutionStep]] = {}
        self.template_descendants: dict[str, list[ExecutionStep]] = {}
        for step in steps:
            if step.is_template:
                self.templates_by_source.setdefault(step.mapped_over, []).append(step)  # type: ignore[arg-type]

    def get_step(self, key: str) -> ExecutionStep:
        step = self.steps.get(key)
        if step is None:
            from oprun.errors import did_you_mean

            raise DagsterInvariantViolationError(
                f"Job '{self.job_name}' has no step '{key}'.{did_you_mean(key, self.steps)}"
            )
        return step

    @property
    def step_keys(self) -> list[str]:
        return list(self.order)

    @property
    def topological_steps(self) -> list[ExecutionStep]:
        return [self.steps[k] for k in self.order]


# --- building the plan --------------------------------------------------------------


class _Builder:
    def __init__(self, job: Any) -> None:
        self.job = job
        self.steps: list[ExecutionStep] = []
        self.by_key: dict[str, ExecutionStep] = {}
        self.mapped: dict[str, tuple[str, str] | None] = {}

    def add_graph(
        self, graph: Any, prefix: str, parents: tuple[tuple[Any, Any, str], ...], inherited_hooks: frozenset[Any], inherited_tags: dict[str, Any],
    ) -> None:
        for node_name in graph.toposorted_node_names:
            node = graph.node_dict[node_name]
            handle = prefix + node_name
            hooks = _union(inherited_hooks, node.hook_defs)
            tags = {**inherited_tags, **node.tags}
            if node.definition.node_type == "graph":
                self.add_graph(node.definition, handle + ".", (*parents, (graph, node, prefix)), hooks, {**tags})
                continue
            self.add_op(graph, node, handle, prefix, parents, hooks, tags)

    def add_op(self, graph: Any, node: Any, handle: str, prefix: str, parents: tuple[Any, ...], hooks: frozenset[Any], tags: dict[str, Any]) -> None:
        op_def = node.definition
        inputs = []
        for input_def in op_def.input_defs:
            source = self.input_source(graph, node.name, input_def.name, prefix, parents, handle)
            inputs.append(StepInput(input_def.name, input_def, source))
        mapped_over = self._mapped_over(inputs)
        key = f"{handle}[?]" if mapped_over else handle
        retry_policy = node.retry_policy or op_def.retry_policy or self.job.op_retry_policy
        step = ExecutionStep(
            key, handle, node, tuple(inputs), {**op_def.tags, **tags}, _union(hooks, self.job.hook_defs),
            retry_policy, mapped_over,
        )
        self.mapped[handle] = mapped_over
        self.steps.append(step)
        self.by_key[key] = step

    def _mapped_over(self, inputs: list[StepInput]) -> tuple[str, str] | None:
        for step_input in inputs:
            source = step_input.source
            if isinstance(source, FromMapped):
                upstream = self.step_for_key(source.step_key)
                if upstream is not None and upstream.mapped_over is not None:
                    return upstream.mapped_over
                return (source.step_key, source.output_name)
        return None

    def step_for_key(self, key: str) -> ExecutionStep | None:
        return self.by_key.get(key)

    # -- resolving sources across graph boundaries --

    def input_source(self, graph: Any, node_name: str, input_name: str, prefix: str, parents: tuple[Any, ...], handle: str) -> Any:
        dep = graph.dependencies.get(node_name, {}).get(input_name)
        if isinstance(dep, MultiDependencyDefinition):
            return self.fan_in_source(graph, dep, node_name, input_name, prefix, parents, handle)
        if dep is not None:
            return self.dep_source(graph, dep, prefix, parents)
        for mapping in graph.input_mappings:
            if mapping.mapped_node_name == node_name and mapping.mapped_node_input_name == input_name:
                return self.graph_input_source(graph, mapping.graph_input_name, prefix, parents, handle, input_name)
        return FromUnconnected(handle, input_name)

    def graph_input_source(self, graph: Any, graph_input: str, prefix: str, parents: tuple[Any, ...], handle: str, input_name: str) -> Any:
        if not parents:
            return FromGraphInput(graph_input)
        parent_graph, graph_node, parent_prefix = parents[-1]
        return self.input_source(parent_graph, graph_node.name, graph_input, parent_prefix, parents[:-1], parent_prefix + graph_node.name)

    def fan_in_source(
        self, graph: Any, dep: MultiDependencyDefinition, node_name: str, input_name: str, prefix: str, parents: tuple[Any, ...], handle: str,
    ) -> FromMultipleSources:
        sources = []
        for index, item in enumerate(dep.dependencies):
            if isinstance(item, (DependencyDefinition, DynamicCollectDependencyDefinition)):
                sources.append(self.dep_source(graph, item, prefix, parents))
                continue
            # A graph input in the list: the input mapping with this position says which.
            mapping = next(
                (m for m in graph.input_mappings
                 if (m.mapped_node_name, m.mapped_node_input_name, m.fan_in_index) == (node_name, input_name, index)),
                None,
            )
            if mapping is None:
                raise DagsterInvariantViolationError(
                    f"Graph '{graph.name}': item {index} of the fan-in to input '{input_name}' of node "
                    f"'{node_name}' is a graph input placeholder, but no input mapping has fan_in_index={index}."
                )
            sources.append(self.graph_input_source(graph, mapping.graph_input_name, prefix, parents, handle, input_name))
        return FromMultipleSources(tuple(sources))

    def dep_source(self, graph: Any, dep: Any, prefix: str, parents: tuple[Any, ...]) -> Any:
        if isinstance(dep, DynamicCollectDependencyDefinition):
            key, output = self.output_step(graph, dep.node_name, dep.output_name, prefix)
            return FromCollect(key, output)
        key, output = self.output_step(graph, dep.node, dep.output, prefix)
        upstream_handle = key.removesuffix("[?]")
        upstream_out = self._output_def(upstream_handle, output)
        if (upstream_out is not None and upstream_out.is_dynamic) or self.mapped.get(upstream_handle):
            return FromMapped(key, output)
        return FromStepOutput(key, output)

    def _output_def(self, handle: str, output: str) -> Any:
        step = self.step_for_key(handle) or self.step_for_key(handle + "[?]")
        return step.op_def.output_dict.get(output) if step is not None else None

    def output_step(self, graph: Any, node_name: str, output_name: str, prefix: str) -> tuple[str, str]:
        """The step key and output name behind a node's output (through nested graphs)."""
        node = graph.node_dict[node_name]
        handle = prefix + node_name
        if node.definition.node_type == "graph":
            mapping = node.definition.output_mapping_for(output_name)
            if mapping is None:
                raise DagsterInvariantViolationError(f"Graph '{node.definition.name}' has no output '{output_name}'")
            return self.output_step(node.definition, mapping.mapped_node_name, mapping.mapped_node_output_name, handle + ".")
        return (f"{handle}[?]" if self.mapped.get(handle) else handle), output_name


def create_execution_plan(job: Any, run_config: Any = None, step_keys_to_execute: Sequence[str] | None = None) -> ExecutionPlan:
    """Flatten a job into an ExecutionPlan. Pure: no I/O, no user code."""
    builder = _Builder(job)
    builder.add_graph(job.graph, "", (), frozenset(), {})
    return ExecutionPlan(job.name, builder.steps, step_keys_to_execute)


# --- dynamic resolution --------------------------------------------------------------


def _resolve_source(source: Any, mapping_key: str, keys_for: dict[str, list[str]]) -> Any:
    if isinstance(source, FromMapped):
        if source.step_key.endswith("[?]"):
            return FromStepOutput(f"{source.step_key[:-3]}[{mapping_key}]", source.output_name)
        return FromStepOutput(source.step_key, source.output_name, mapping_key)
    if isinstance(source, FromMultipleSources):
        return FromMultipleSources(tuple(_resolve_source(s, mapping_key, keys_for) for s in source.sources))
    return source


def expand_collect(source: Any, keys_for: dict[tuple[str, str], list[str]], producers: dict[str, tuple[str, str]]) -> Any:
    """Turn FromCollect into the list of concrete sources, once the keys are known."""
    if isinstance(source, FromCollect):
        if source.step_key.endswith("[?]"):
            origin = producers[source.step_key]
            keys = keys_for.get(origin, [])
            base = source.step_key[:-3]
            return FromMultipleSources(tuple(FromStepOutput(f"{base}[{k}]", source.output_name) for k in keys))
        keys = keys_for.get((source.step_key, source.output_name), [])
        return FromMultipleSources(tuple(FromStepOutput(source.step_key, source.output_name, k) for k in keys))
    if isinstance(source, FromMultipleSources):
        return FromMultipleSources(tuple(expand_collect(s, keys_for, producers) for s in source.sources))
    return source


def resolve_mapped_steps(plan: ExecutionPlan, source: tuple[str, str], mapping_keys: list[str]) -> list[ExecutionStep]:
    """Concrete steps, one per mapping key, for every template mapped over `source`."""
    made = []
    for template in plan.templates_by_source.get(source, []):
        base = template.key[:-3]
        for mapping_key in mapping_keys:
            inputs = tuple(
                StepInput(i.name, i.input_def, _resolve_source(i.source, mapping_key, {})) for i in template.inputs
            )
            step = ExecutionStep(
                f"{base}[{mapping_key}]", template.handle, template.node, inputs, template.tags,
                template.hook_defs, template.retry_policy, template.mapped_over, mapping_key, template.key,
            )
            made.append(step)
    return made
