"""Graphs: `@graph` and `GraphDefinition`, checked when they are built.

A graph is a set of nodes (uses of op or graph definitions) and the dependencies
between their inputs and outputs, plus mappings from the graph's own inputs and
outputs to its nodes'. Everything a user can get wrong in that structure (unknown
nodes, inputs or outputs, cycles, fan-in into a non-list type, nested dynamic
fan-out) is a `DagsterInvalidDefinitionError` raised here, naming the graph, the
node and the input.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from oprun.definitions.jobs import composition, functions
from oprun.definitions.jobs.dependency import (
    DependencyDefinition,
    DynamicCollectDependencyDefinition,
    InputMapping,
    MultiDependencyDefinition,
    Node,
    NodeInvocation,
    OutputMapping,
)
from oprun.definitions.jobs.io import (
    DEFAULT_OUTPUT,
    GraphIn,
    GraphOut,
    In,
    InputDefinition,
    Out,
    OutputDefinition,
    check_valid_name,
)
from oprun.definitions.jobs.types import Any_
from oprun.errors import DagsterInvalidDefinitionError, DagsterInvariantViolationError, did_you_mean


def _is_node_definition(value: Any) -> bool:
    return getattr(value, "node_type", None) in ("op", "graph")


class GraphDefinition(composition.InvocableNode):
    """A graph of nodes; `to_job` binds it to resources, config and an executor."""

    node_type = "graph"

    def __init__(
        self,
        name: str,
        *,
        description: str | None = None,
        node_defs: Sequence[Any] | None = None,
        # Keys are node names, NodeInvocations or both; spelled out because a
        # Mapping's key type is invariant (a dict keyed by NodeInvocation is fine).
        dependencies: (
            Mapping[str, Mapping[str, Any]]
            | Mapping[NodeInvocation, Mapping[str, Any]]
            | Mapping[str | NodeInvocation, Mapping[str, Any]]
            | None
        ) = None,
        input_mappings: Sequence[InputMapping] | None = None,
        output_mappings: Sequence[OutputMapping] | None = None,
        config: Any = None,
        tags: Mapping[str, Any] | None = None,
        ins: Mapping[str, GraphIn] | None = None,
        outs: Mapping[str, GraphOut] | None = None,
        positional_inputs: Sequence[str] | None = None,
        input_assets: Mapping[str, Mapping[str, Any]] | None = None,
        node_input_source_assets: Mapping[str, Mapping[str, Any]] | None = None,
        composition_fn: Callable[..., Any] | None = None,
    ) -> None:
        self.name = check_valid_name(name, what="graph name")
        # Dagster loads these inputs from assets; oprun runs op jobs only, so a
        # non-empty mapping is refused rather than left unloaded.
        _reject_input_assets(self.name, "input_assets", input_assets)
        _reject_input_assets(self.name, "node_input_source_assets", node_input_source_assets)
        # The function whose body composed this graph (`@graph` passes it); kept,
        # as in Dagster, so that tools can point at the graph's source.
        self.composition_fn = composition_fn
        self.description = description
        self.tags = dict(tags or {})
        self._definitions = _check_node_defs(self.name, node_defs or [])
        self._node_dict: dict[str, Node] = _create_nodes(self.name, self._definitions, dependencies or {})
        self.dependencies: dict[str, dict[str, Any]] = _normalize_dependencies(dependencies or {})
        self.input_mappings = list(input_mappings or [])
        self.output_mappings = list(output_mappings or [])
        _validate_dependencies(self)
        self.toposorted_node_names = _toposort(self)
        self.mapped_over: dict[str, tuple[str, str] | None] = _validate_dynamic(self)
        self.input_dict = _graph_inputs(self, ins or {})
        self.input_defs = list(self.input_dict.values())
        self.output_dict = _graph_outputs(self, outs or {})
        self.output_defs = list(self.output_dict.values())
        self._positional_inputs = list(positional_inputs or self.input_dict)
        self.config_mapping, self.hardcoded_config = _graph_config(self.name, config, self._node_dict)

    # -- node protocol (shared with OpDefinition) --

    @property
    def ins(self) -> dict[str, InputDefinition]:
        return self.input_dict

    @property
    def outs(self) -> dict[str, OutputDefinition]:
        return self.output_dict

    @property
    def positional_inputs(self) -> list[str]:
        return self._positional_inputs

    @property
    def node_defs(self) -> list[Any]:
        return list(self._definitions.values())

    @property
    def nodes(self) -> list[Node]:
        return list(self._node_dict.values())

    @property
    def node_dict(self) -> dict[str, Node]:
        return self._node_dict

    def node_named(self, name: str) -> Node:
        node = self._node_dict.get(name)
        if node is None:
            raise DagsterInvariantViolationError(
                f"Graph '{self.name}' has no node named '{name}'.{did_you_mean(name, self._node_dict)}"
            )
        return node

    def has_node_named(self, name: str) -> bool:
        return name in self._node_dict

    def input_mappings_for(self, graph_input: str) -> list[InputMapping]:
        return [m for m in self.input_mappings if m.graph_input_name == graph_input]

    def output_mapping_for(self, graph_output: str) -> OutputMapping | None:
        for mapping in self.output_mappings:
            if mapping.graph_output_name == graph_output:
                return mapping
        return None

    def iterate_op_defs(self) -> list[Any]:
        """Every op definition in this graph and its nested graphs."""
        found: dict[str, Any] = {}
        for definition in self._definitions.values():
            if definition.node_type == "graph":
                for inner in definition.iterate_op_defs():
                    found.setdefault(inner.name, inner)
            else:
                found.setdefault(definition.name, definition)
        return list(found.values())

    def has_config(self) -> bool:
        return self.config_mapping is not None

    def output_def_named(self, name: str) -> OutputDefinition:
        output = self.output_dict.get(name)
        if output is None:
            raise DagsterInvariantViolationError(
                f"{self.name} has no output named {name}. Outputs: {sorted(self.output_dict)}.{did_you_mean(name, self.output_dict)}"
            )
        return output

    def all_dagster_types(self) -> list[Any]:
        """Every Dagster type of this graph's nodes' inputs and outputs (nested graphs
        too, with inner types), once each, after the built-in scalar types."""
        from oprun.definitions.jobs.config_schema import all_dagster_types

        return all_dagster_types(self)

    # -- invocation and derived definitions --

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if composition.is_composing():
            return composition.PendingNodeInvocation(self)(*args, **kwargs)
        raise DagsterInvariantViolationError(
            f"Attempted to call graph '{self.name}' directly. Graphs run inside a job: use "
            f"`{self.name}.execute_in_process()` or `{self.name}.to_job(...)`."
        )

    def to_job(
        self,
        name: str | None = None,
        description: str | None = None,
        resource_defs: Mapping[str, Any] | None = None,
        config: Any = None,
        tags: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        logger_defs: Mapping[str, Any] | None = None,
        executor_def: Any = None,
        hooks: Any = None,
        op_retry_policy: Any = None,
        op_selection: Sequence[str] | None = None,
        partitions_def: Any = None,
        asset_layer: Any = None,
        input_values: Mapping[str, Any] | None = None,
        run_tags: Mapping[str, Any] | None = None,
    ) -> Any:
        from oprun.definitions.jobs.job import JobDefinition

        if asset_layer is not None:
            raise DagsterInvalidDefinitionError(
                f"Graph '{self.name}': to_job(asset_layer=...) is not supported: oprun runs op jobs, not assets."
            )
        job = JobDefinition(
            graph_def=self,
            name=name,
            description=description or self.description,
            resource_defs=resource_defs,
            config=config,
            tags=tags,
            run_tags=run_tags,
            metadata=metadata,
            logger_defs=logger_defs,
            executor_def=executor_def,
            hook_defs=hooks,
            op_retry_policy=op_retry_policy,
            partitions_def=partitions_def,
            input_values=input_values,
        )
        return job.get_subset(op_selection=op_selection) if op_selection else job

    def execute_in_process(
        self,
        run_config: Any = None,
        instance: Any = None,
        resources: Mapping[str, Any] | None = None,
        raise_on_error: bool = True,
        op_selection: Sequence[str] | None = None,
        run_id: str | None = None,
        input_values: Mapping[str, Any] | None = None,
    ) -> Any:
        """Run this graph as an ad-hoc job, in this process."""
        job = self.to_job(name=self.name, resource_defs=resources, input_values=input_values)
        return job.execute_in_process(
            run_config=run_config, instance=instance, raise_on_error=raise_on_error,
            op_selection=op_selection, run_id=run_id,
        )

    def configured(self, config_or_config_fn: Any, name: str, config_schema: Any = None, description: str | None = None) -> GraphDefinition:
        from oprun.definitions.jobs.configured import configured_graph

        return configured_graph(self, config_or_config_fn, name, config_schema, description)

    def __repr__(self) -> str:
        return f"<GraphDefinition {self.name}>"


def _reject_input_assets(graph_name: str, argument: str, value: Mapping[str, Any] | None) -> None:
    if value:
        raise DagsterInvalidDefinitionError(
            f"GraphDefinition '{graph_name}': {argument}={{...}} is not supported: oprun runs op jobs, not "
            f"assets, so it cannot load inputs of {sorted(map(str, value))} from assets. Give those inputs "
            "an upstream op, or a value in run config (ops.<node>.inputs.<input>)."
        )


# --- building nodes -----------------------------------------------------------------


def _check_node_defs(graph_name: str, node_defs: Sequence[Any]) -> dict[str, Any]:
    definitions: dict[str, Any] = {}
    for node_def in node_defs:
        if not _is_node_definition(node_def):
            if callable(node_def):
                raise DagsterInvalidDefinitionError(
                    f"You have passed a lambda or function {getattr(node_def, '__name__', node_def)} into "
                    f"graph '{graph_name}' that is not a node. You have likely forgotten to annotate "
                    "this function with the @op or @graph decorators."
                )
            raise DagsterInvalidDefinitionError(
                f"Graph '{graph_name}': node_defs must be ops or graphs, got {node_def!r}"
            )
        existing = definitions.get(node_def.name)
        if existing is not None and existing is not node_def:
            raise DagsterInvalidDefinitionError(
                f'Detected conflicting node definitions with the same name "{node_def.name}" in graph '
                f"'{graph_name}'. Give one of them a different name (@op(name=...))."
            )
        definitions[node_def.name] = node_def
    return definitions


def _create_nodes(graph_name: str, definitions: dict[str, Any], dependencies: Mapping[Any, Any]) -> dict[str, Node]:
    nodes: dict[str, Node] = {}
    used_defs: set[str] = set()
    for key in dependencies:
        if isinstance(key, NodeInvocation):
            definition = definitions.get(key.name)
            if definition is None:
                raise DagsterInvalidDefinitionError(
                    f'Invalid dependencies: node "{key.name}" in dependency dictionary not found in '
                    f"node list of graph '{graph_name}'.{did_you_mean(key.name, definitions)}"
                )
            node_name = key.alias or key.name
            if node_name in nodes:
                raise DagsterInvalidDefinitionError(
                    f"Graph '{graph_name}' has two nodes named '{node_name}': give each a distinct alias."
                )
            nodes[node_name] = Node(node_name, definition, key.tags, key.hook_defs, key.retry_policy)
            used_defs.add(key.name)
        elif isinstance(key, str):
            if key not in definitions:
                raise DagsterInvalidDefinitionError(
                    f'Invalid dependencies: node "{key}" in dependency dictionary not found in node '
                    f"list of graph '{graph_name}'.{did_you_mean(key, definitions)}"
                )
        else:
            raise DagsterInvalidDefinitionError(
                f"Graph '{graph_name}': dependency keys must be node names or NodeInvocations, got {key!r}"
            )
    for def_name, definition in definitions.items():
        if def_name not in used_defs and def_name not in nodes:
            nodes[def_name] = Node(def_name, definition)
    return nodes


def _normalize_dependencies(dependencies: Mapping[Any, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    normalized: dict[str, dict[str, Any]] = {}
    for key, deps in dependencies.items():
        node_name = (key.alias or key.name) if isinstance(key, NodeInvocation) else key
        normalized[node_name] = dict(deps)
    return normalized


# --- validation -----------------------------------------------------------------------


def _validate_dependencies(graph: GraphDefinition) -> None:
    nodes = graph.node_dict
    for node_name, deps in graph.dependencies.items():
        node = nodes[node_name]
        for input_name, dep in deps.items():
            input_def = node.definition.ins.get(input_name)
            if input_def is None:
                raise DagsterInvalidDefinitionError(
                    f'Invalid dependencies: {node.definition.node_type} "{node_name}" does not have input '
                    f'"{input_name}" in graph \'{graph.name}\'. Available inputs: '
                    f"{sorted(node.definition.ins)}.{did_you_mean(input_name, node.definition.ins)}"
                )
            if isinstance(dep, MultiDependencyDefinition):
                # As in Dagster, the check is made per upstream output: a fan-in with none
                # (an empty list, or only graph inputs) is not checked here.
                if dep.get_node_dependencies() and not input_def.dagster_type.supports_fan_in:
                    raise DagsterInvalidDefinitionError(
                        f'Invalid dependencies: for node "{node_name}" input "{input_name}", the '
                        f'DagsterType "{input_def.dagster_type.display_name}" does not support fanning in '
                        "(MultiDependencyDefinition). Use the List type, since fanning in will result in a list."
                    )
                for item in dep.get_node_dependencies():
                    _check_upstream(graph, node_name, input_name, item)
            elif isinstance(dep, (DependencyDefinition, DynamicCollectDependencyDefinition)):
                _check_upstream(graph, node_name, input_name, dep)
            else:
                raise DagsterInvalidDefinitionError(
                    f'Graph \'{graph.name}\': the dependency for node "{node_name}" input "{input_name}" '
                    f"must be a DependencyDefinition, MultiDependencyDefinition or "
                    f"DynamicCollectDependencyDefinition, got {dep!r}"
                )
    for input_mapping in graph.input_mappings:
        target = nodes.get(input_mapping.mapped_node_name)
        if target is None or input_mapping.mapped_node_input_name not in target.definition.ins:
            raise DagsterInvalidDefinitionError(
                f"Graph '{graph.name}': input mapping '{input_mapping.graph_input_name}' targets "
                f"{input_mapping.mapped_node_name}.{input_mapping.mapped_node_input_name}, which does not exist."
            )
    for output_mapping in graph.output_mappings:
        source = nodes.get(output_mapping.mapped_node_name)
        if source is None or output_mapping.mapped_node_output_name not in source.definition.outs:
            raise DagsterInvalidDefinitionError(
                f"Graph '{graph.name}': output mapping '{output_mapping.graph_output_name}' points at "
                f"{output_mapping.mapped_node_name}.{output_mapping.mapped_node_output_name}, which does not exist."
            )


def _check_upstream(graph: GraphDefinition, node_name: str, input_name: str, dep: Any) -> None:
    upstream_name = dep.node if isinstance(dep, DependencyDefinition) else dep.node_name
    output_name = dep.output if isinstance(dep, DependencyDefinition) else dep.output_name
    upstream = graph.node_dict.get(upstream_name)  # type: ignore[arg-type]
    if upstream is None:
        raise DagsterInvalidDefinitionError(
            f'Invalid dependencies: node "{upstream_name}" not found in node list of graph '
            f"'{graph.name}'. Listed as dependency for node \"{node_name}\" input \"{input_name}\"."
            f"{did_you_mean(str(upstream_name), graph.node_dict)}"
        )
    if upstream_name == node_name:
        raise DagsterInvalidDefinitionError(
            f'Invalid dependencies: circular reference detected in node "{node_name}" input "{input_name}"'
            f" of graph '{graph.name}'."
        )
    out = upstream.definition.outs.get(output_name)
    if out is None:
        raise DagsterInvalidDefinitionError(
            f'Invalid dependencies: node "{upstream_name}" does not have output "{output_name}". '
            f'Listed as dependency for node "{node_name}" input "{input_name}" of graph \'{graph.name}\'. '
            f"Available outputs: {sorted(upstream.definition.outs)}.{did_you_mean(output_name, upstream.definition.outs)}"
        )
    # A collect of an output that is neither dynamic nor mapped is found by
    # _validate_dynamic, which knows what is mapped.


def _upstream_names(dep: Any) -> list[str]:
    if isinstance(dep, DependencyDefinition):
        return [dep.node]  # type: ignore[list-item]
    if isinstance(dep, DynamicCollectDependencyDefinition):
        return [dep.node_name]
    if isinstance(dep, MultiDependencyDefinition):
        return [n for d in dep.get_node_dependencies() for n in _upstream_names(d)]
    return []


def _toposort(graph: GraphDefinition) -> list[str]:
    """Nodes in dependency order (stable: ties keep definition order); a cycle is an
    error naming its nodes."""
    upstream: dict[str, set[str]] = {name: set() for name in graph.node_dict}
    downstream: dict[str, list[str]] = {name: [] for name in graph.node_dict}
    for node_name, deps in graph.dependencies.items():
        for dep in deps.values():
            for up in _upstream_names(dep):
                if up not in upstream[node_name]:
                    upstream[node_name].add(up)
                    downstream[up].append(node_name)
    remaining = {name: len(ups) for name, ups in upstream.items()}
    ready = [name for name in graph.node_dict if remaining[name] == 0]
    order: list[str] = []
    index = 0
    while index < len(ready):
        name = ready[index]
        index += 1
        order.append(name)
        for down in downstream[name]:
            remaining[down] -= 1
            if remaining[down] == 0:
                ready.append(down)
    if len(order) != len(graph.node_dict):
        stuck = sorted(name for name, count in remaining.items() if count > 0)
        raise DagsterInvalidDefinitionError(
            f"Circular dependencies exist among these items in graph '{graph.name}': {stuck}"
        )
    return order


def _describe(graph: GraphDefinition, node_name: str) -> str:
    return f"{graph.node_dict[node_name].definition.node_type} '{node_name}'"


def _validate_dynamic(graph: GraphDefinition) -> dict[str, tuple[str, str] | None]:
    """Which dynamic output (node, output) each node is mapped over, if any, checked
    by Dagster's rules: a node is downstream of at most one dynamic output; a node
    mapped over one may itself have a dynamic output, but whatever then maps over
    or collects that output would be downstream of two; fan-in items and a
    collecting node are never inside a mapping; a mapped graph's input must not
    lead to a node that is already downstream of a dynamic output inside it."""
    mapped: dict[str, tuple[str, str]] = {}
    collects: dict[str, tuple[str, str]] = {}
    where = f" (in graph '{graph.name}')"

    def fan_out(name: str, input_name: str, source: tuple[str, str]) -> None:
        definition = graph.node_dict[name].definition
        if isinstance(definition, GraphDefinition) and not graph_input_supports_dynamic(definition, input_name):
            raise DagsterInvalidDefinitionError(
                f'{_describe(graph, name)} cannot be downstream of dynamic output "{source[0]}:{source[1]}" since '
                f'input "{input_name}" maps to a node that is already downstream of another dynamic output. '
                f"Nodes cannot be downstream of more than one dynamic output{where}. Collect the inner fan-out "
                "inside the graph, or map over the graph's nodes directly."
            )
        if name in collects:
            collected = collects[name]
            raise DagsterInvalidDefinitionError(
                f"{_describe(graph, name)} cannot be both downstream of dynamic output {source[0]}:{source[1]} and "
                f"collect over dynamic output {collected[0]}:{collected[1]}{where}."
            )
        current = mapped.setdefault(name, source)
        if current != source:
            raise DagsterInvalidDefinitionError(
                f"{_describe(graph, name)} cannot be downstream of more than one dynamic output. It is downstream "
                f'of both "{source[0]}:{source[1]}" and "{current[0]}:{current[1]}"{where}. Collect all but one '
                "of them first (.collect()), then fan out again."
            )

    def collect(name: str, dynamic: tuple[str, str]) -> None:
        if name in mapped:
            inside = mapped[name]
            raise DagsterInvalidDefinitionError(
                f"{_describe(graph, name)} cannot both collect over dynamic output {dynamic[0]}:{dynamic[1]} and "
                f"be downstream of the dynamic output {inside[0]}:{inside[1]}{where}."
            )
        collects.setdefault(name, dynamic)
        outer = mapped.get(dynamic[0])
        if outer is not None:
            raise DagsterInvalidDefinitionError(
                f"{_describe(graph, name)} cannot be downstream of more than one dynamic output. It is downstream "
                f'of both "{dynamic[0]}:{dynamic[1]}" and "{outer[0]}:{outer[1]}"{where}. Collect the inner '
                "fan-out inside the mapped function, or collect the outer one first."
            )

    for name in graph.toposorted_node_names:
        for input_name, dep in graph.dependencies.get(name, {}).items():
            if isinstance(dep, MultiDependencyDefinition):
                for item in dep.get_node_dependencies():
                    up_name, up_output = _upstream_output(item)
                    if graph.node_dict[up_name].definition.outs[up_output].is_dynamic:
                        raise DagsterInvalidDefinitionError(
                            "Currently, items in a fan-in dependency cannot be downstream of dynamic outputs. "
                            f'Problematic dependency on dynamic output "{up_name}:{up_output}" (node "{name}" input '
                            f"\"{input_name}\"{where}). Collect it (.collect()) and pass the list instead."
                        )
                    if up_name in mapped:
                        inside = mapped[up_name]
                        raise DagsterInvalidDefinitionError(
                            "Currently, items in a fan-in dependency cannot be downstream of dynamic outputs. "
                            f'Problematic dependency on output "{up_name}:{up_output}", downstream of '
                            f'"{inside[0]}:{inside[1]}" (node "{name}" input "{input_name}"{where}). Collect it '
                            "(.collect()) and pass the list instead."
                        )
            elif isinstance(dep, DynamicCollectDependencyDefinition):
                if graph.node_dict[dep.node_name].definition.outs[dep.output_name].is_dynamic:
                    collect(name, (dep.node_name, dep.output_name))
                elif dep.node_name in mapped:
                    collect(name, mapped[dep.node_name])
                else:
                    raise DagsterInvalidDefinitionError(
                        f'Node "{name}" input "{input_name}" collects output "{dep.output_name}" of '
                        f'"{dep.node_name}", which is not dynamic and not mapped over a dynamic output{where}. '
                        "Pass the output directly, or collect a DynamicOut (or a node mapped over one)."
                    )
            elif isinstance(dep, DependencyDefinition):
                up_name, up_output = _upstream_output(dep)
                if graph.node_dict[up_name].definition.outs[up_output].is_dynamic:
                    fan_out(name, input_name, (up_name, up_output))
                if up_name in mapped:
                    fan_out(name, input_name, mapped[up_name])
    return {name: mapped.get(name) for name in graph.toposorted_node_names}


def _upstream_output(dep: Any) -> tuple[str, str]:
    if isinstance(dep, DependencyDefinition):
        return str(dep.node), dep.output
    return dep.node_name, dep.output_name


def graph_input_supports_dynamic(graph: GraphDefinition, input_name: str) -> bool:
    """Whether graph input `input_name` may be mapped over a dynamic output: not when
    the node it feeds is already mapped inside the graph, or starts a fan-out that
    something inside maps over (Dagster's `input_supports_dynamic_output_dep`)."""
    mappings = graph.input_mappings_for(input_name)
    if not mappings:
        return True
    target = mappings[0].mapped_node_name
    if graph.mapped_over.get(target) is not None:
        return False
    if any(source is not None and source[0] == target for source in graph.mapped_over.values()):
        return False
    definition = graph.node_dict[target].definition
    if isinstance(definition, GraphDefinition):
        return graph_input_supports_dynamic(definition, mappings[0].mapped_node_input_name)
    return True


# --- graph inputs, outputs and config -------------------------------------------------


def _graph_inputs(graph: GraphDefinition, ins: Mapping[str, GraphIn]) -> dict[str, InputDefinition]:
    inputs: dict[str, InputDefinition] = {}
    for mapping in graph.input_mappings:
        if mapping.graph_input_name in inputs:
            continue
        target = graph.node_dict[mapping.mapped_node_name].definition.ins[mapping.mapped_node_input_name]
        spec_in = ins.get(mapping.graph_input_name)
        dagster_type = target.dagster_type
        if mapping.fan_in_index is not None:
            dagster_type = dagster_type.inner_type or Any_
        spec = In(description=(spec_in.description if spec_in else None) or target.description)
        inputs[mapping.graph_input_name] = InputDefinition(mapping.graph_input_name, spec, dagster_type)
    for name in ins:
        if name not in inputs:
            raise DagsterInvalidDefinitionError(
                f"Graph '{graph.name}' declares input '{name}' in ins= but no node uses it."
            )
    return inputs


def _graph_outputs(graph: GraphDefinition, outs: Mapping[str, GraphOut]) -> dict[str, OutputDefinition]:
    outputs: dict[str, OutputDefinition] = {}
    for mapping in graph.output_mappings:
        source = graph.node_dict[mapping.mapped_node_name].definition.outs[mapping.mapped_node_output_name]
        spec_out = outs.get(mapping.graph_output_name)
        spec = Out(description=(spec_out.description if spec_out else None) or source.description, is_required=source.is_required)
        definition = OutputDefinition(mapping.graph_output_name, spec, source.dagster_type)
        definition.is_dynamic = source.is_dynamic or mapping.from_dynamic_mapping
        outputs[mapping.graph_output_name] = definition
    for name in outs:
        if name not in outputs:
            raise DagsterInvalidDefinitionError(
                f"Graph '{graph.name}' declares output '{name}' in out= but its body does not return it."
            )
    return outputs


def nodes_config_by_name(value: Any, node_names: Collection[str]) -> Any:
    """A graph's config for its nodes, keyed by node name as in Dagster
    (`{"add_n": {"config": ...}}`). oprun's earlier form, the same wrapped in
    `{"ops": ...}`, is still accepted, unless the graph has a node named `ops`."""
    if isinstance(value, Mapping) and set(value) == {"ops"} and isinstance(value["ops"], Mapping) and "ops" not in node_names:
        return value["ops"]
    return value


def _graph_config(graph_name: str, config: Any, node_names: Collection[str]) -> tuple[Any, Any]:
    if config is None:
        return None, None
    if isinstance(config, Mapping):
        return None, dict(nodes_config_by_name(config, node_names))
    if hasattr(config, "config_fn") and hasattr(config, "resolve_from_validated"):
        return config, None
    raise DagsterInvalidDefinitionError(
        f"Graph '{graph_name}': config must be a ConfigMapping or a dict of default config for its "
        f"nodes, got {config!r}"
    )


# --- the decorator ----------------------------------------------------------------------


def graph(
    compose_fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    ins: Mapping[str, GraphIn] | None = None,
    out: GraphOut | Mapping[str, GraphOut] | None = None,
    config: Any = None,
    tags: Mapping[str, Any] | None = None,
) -> Any:
    """Decorator: compose ops into a graph. The body runs once, now."""
    if compose_fn is not None:
        return _build_graph(compose_fn, None, None, None, None, None, None)

    def wrap(fn: Callable[..., Any]) -> GraphDefinition:
        return _build_graph(fn, name, description, ins, out, config, tags)

    return wrap


def _build_graph(fn: Callable[..., Any], name: str | None, description: str | None, ins: Any, out: Any, config: Any, tags: Any) -> GraphDefinition:
    graph_name = name or fn.__name__
    input_names = composition_input_names(fn)
    if isinstance(out, GraphOut):
        out = {DEFAULT_OUTPUT: out}
    output_names = list(out) if out else None
    composed = composition.compose("@graph", graph_name, fn, input_names, output_names)
    return GraphDefinition(
        graph_name,
        description=description or functions.docstring(fn),
        node_defs=composed.node_defs,
        dependencies=composed.dependencies,
        input_mappings=composed.input_mappings,
        output_mappings=composed.output_mappings,
        config=config,
        tags=tags,
        ins=ins,
        outs=out,
        positional_inputs=input_names,
        composition_fn=fn,
    )


def composition_input_names(fn: Callable[..., Any]) -> list[str]:
    names = []
    for param in functions.parameters(fn):
        if param.kind in (functions.VAR_POSITIONAL, functions.VAR_KEYWORD):
            raise DagsterInvalidDefinitionError(
                f"@graph '{fn.__name__}' cannot take *args or **kwargs: each parameter is a graph input."
            )
        names.append(param.name)
    return names
