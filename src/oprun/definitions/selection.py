"""Op selection: Dagster's clause syntax (`op`, `*op`, `op*`, `+op`, `op++`,
`*op*`, `*`) resolved against a graph's top-level nodes, and the subset graph it
selects.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from oprun.definitions.dependency import MultiDependencyDefinition, NodeInvocation
from oprun.definitions.graph import GraphDefinition, _upstream_names
from oprun.errors import DagsterInvalidSubsetError, did_you_mean

_CLAUSE = re.compile(r"^(\*|\+*)?([A-Za-z0-9_.]+)(\*|\+*)?$")


def _adjacency(graph: GraphDefinition) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    up: dict[str, set[str]] = {n: set() for n in graph.node_dict}
    down: dict[str, set[str]] = {n: set() for n in graph.node_dict}
    for node_name, deps in graph.dependencies.items():
        for dep in deps.values():
            for upstream in _upstream_names(dep):
                up[node_name].add(upstream)
                down[upstream].add(node_name)
    return up, down


def _walk(start: str, edges: dict[str, set[str]], depth: int | None) -> set[str]:
    found: set[str] = set()
    frontier = {start}
    level = 0
    while frontier and (depth is None or level < depth):
        nxt = set()
        for name in frontier:
            for other in edges[name]:
                if other not in found:
                    found.add(other)
                    nxt.add(other)
        frontier = nxt
        level += 1
    return found


def _depth(marks: str | None) -> int | None:
    if not marks:
        return 0
    return None if marks == "*" else len(marks)


def resolve_selection(graph: GraphDefinition, selection: Sequence[str], job_name: str) -> set[str]:
    """The node names a selection names; an unknown op is an error with a near match."""
    up, down = _adjacency(graph)
    selected: set[str] = set()
    clauses = [c.strip() for item in selection for c in str(item).split(",") if c.strip()]
    for clause in clauses:
        if clause == "*":
            return set(graph.node_dict)
        match = _CLAUSE.match(clause)
        if match is None:
            raise DagsterInvalidSubsetError(
                f"Invalid op selection clause '{clause}' for job '{job_name}': expected an op name "
                "optionally preceded by '*' or '+' (ancestors) and followed by '*' or '+' (descendants)."
            )
        before, name, after = match.groups()
        name = name.split(".")[0]
        if name not in graph.node_dict:
            raise DagsterInvalidSubsetError(
                f"No qualified ops to execute found for op_selection={list(selection)}: job '{job_name}' "
                f"has no op '{name}'.{did_you_mean(name, graph.node_dict)}"
            )
        selected.add(name)
        d_up, d_down = _depth(before), _depth(after)
        if d_up != 0:
            selected |= _walk(name, up, d_up)
        if d_down != 0:
            selected |= _walk(name, down, d_down)
    if not selected:
        raise DagsterInvalidSubsetError(f"No qualified ops to execute found for op_selection={list(selection)}")
    return selected


def subset_graph(graph: GraphDefinition, selection: Sequence[str], job_name: str) -> GraphDefinition:
    """The graph restricted to the selected nodes; inputs cut from their upstream
    must then come from config, a default or an input manager."""
    keep = resolve_selection(graph, selection, job_name)
    dependencies: dict[NodeInvocation, dict[str, object]] = {}
    for name in graph.toposorted_node_names:
        if name not in keep:
            continue
        node = graph.node_dict[name]
        deps = {}
        for input_name, dep in graph.dependencies.get(name, {}).items():
            if isinstance(dep, MultiDependencyDefinition):
                items = [d for d in dep.dependencies if all(u in keep for u in _upstream_names(d))]
                if items:
                    deps[input_name] = MultiDependencyDefinition(items)
            elif all(u in keep for u in _upstream_names(dep)):
                deps[input_name] = dep
        invocation = NodeInvocation(
            node.definition.name,
            alias=name if name != node.definition.name else None,
            tags=node.tags or None,
            hook_defs=node.hook_defs or None,
            retry_policy=node.retry_policy,
        )
        dependencies[invocation] = deps
    try:
        return GraphDefinition(
            graph.name,
            description=graph.description,
            node_defs=[graph.node_dict[n].definition for n in keep],
            dependencies=dependencies,
            input_mappings=[m for m in graph.input_mappings if m.mapped_node_name in keep],
            output_mappings=[m for m in graph.output_mappings if m.mapped_node_name in keep],
            tags=graph.tags,
        )
    except Exception as exc:  # noqa: BLE001 - re-raised as a subset error with the cause
        raise DagsterInvalidSubsetError(
            f"The attempted subset {sorted(keep)} for graph {graph.name} results in an invalid graph: {exc}"
        ) from exc
