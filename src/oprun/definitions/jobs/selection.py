"""Op selection: Dagster's clause syntax (`op`, `*op`, `op*`, `+op`, `op++`,
`*op*`, `*`) resolved against a graph's top-level nodes, and the subset graph it
selects. As in Dagster, a selection with a dotted name (`graph.op`) is a list of
exact node paths instead: `["etl.load", "report"]` keeps `load` inside `etl`
and `report`, and no clause syntax applies.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from oprun.definitions.jobs.dependency import MultiDependencyDefinition, NodeInvocation
from oprun.definitions.jobs.graph import GraphDefinition, _upstream_names
from oprun.errors import DagsterInvalidSubsetError, did_you_mean

if TYPE_CHECKING:
    from oprun.definitions.jobs.op import OpDefinition

_CLAUSE = re.compile(r"^(\*|\+*)?([A-Za-z0-9_.]+)(\*|\+*)?$")

# Dotted selection paths as a tree: a name maps to None for the whole node, or to
# the paths selected inside that (graph) node.
_PathTree = dict[str, "_PathTree | None"]


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


def _clauses(selection: Sequence[str]) -> list[str]:
    return [c.strip() for item in selection for c in str(item).split(",") if c.strip()]


def resolve_selection(graph: GraphDefinition, selection: Sequence[str], job_name: str) -> set[str]:
    """The node names a selection names; an unknown op is an error with a near match."""
    up, down = _adjacency(graph)
    selected: set[str] = set()
    for clause in _clauses(selection):
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
    clauses = _clauses(selection)
    if any("." in clause for clause in clauses):
        tree: _PathTree = {}
        for clause in clauses:
            _add_path(tree, clause.split("."))
        return _subset_by_paths(graph, tree, job_name, list(selection), "")
    return _subset(graph, dict.fromkeys(resolve_selection(graph, selection, job_name)))


def _add_path(tree: _PathTree, parts: list[str]) -> None:
    head, rest = parts[0], parts[1:]
    if not rest:
        tree[head] = None  # the whole node
    elif (inner := tree.setdefault(head, {})) is not None:  # None: the whole node is selected already
        _add_path(inner, rest)


def _subset_by_paths(graph: GraphDefinition, tree: _PathTree, job_name: str, selection: list[str], prefix: str) -> GraphDefinition:
    replaced: dict[str, GraphDefinition | None] = {}
    for name, inner in tree.items():
        node = graph.node_dict.get(name)
        if node is None:
            raise DagsterInvalidSubsetError(
                f"No qualified ops to execute found for op_selection={selection}: job '{job_name}' has no "
                f"node '{prefix}{name}'.{did_you_mean(name, graph.node_dict)}"
            )
        if inner is None:
            replaced[name] = None
        elif not isinstance(node.definition, GraphDefinition):
            raise DagsterInvalidSubsetError(
                f"Invalid op_selection={selection} for job '{job_name}': '{prefix}{name}' is an op, "
                "so nothing can be selected inside it."
            )
        else:
            replaced[name] = _subset_by_paths(node.definition, inner, job_name, selection, f"{prefix}{name}.")
    return _subset(graph, replaced)


def _subset(graph: GraphDefinition, keep: Mapping[str, GraphDefinition | None]) -> GraphDefinition:
    """`graph` with only the nodes in `keep`; a node mapped to a graph definition
    uses that (narrower) definition in place of its own."""
    definitions: dict[str, OpDefinition | GraphDefinition] = {
        n: (narrowed if narrowed is not None else graph.node_dict[n].definition) for n, narrowed in keep.items()
    }
    dependencies: dict[str | NodeInvocation, dict[str, Any]] = {}
    for name in graph.toposorted_node_names:
        if name not in keep:
            continue
        node = graph.node_dict[name]
        definition = definitions[name]
        deps: dict[str, Any] = {}
        for input_name, dep in graph.dependencies.get(name, {}).items():
            if input_name not in definition.ins:
                continue  # a narrowed graph no longer has this input
            if isinstance(dep, MultiDependencyDefinition):
                items = [d for d in dep.dependencies if _kept(d, keep, definitions)]
                if items:
                    deps[input_name] = MultiDependencyDefinition(items)
            elif _kept(dep, keep, definitions):
                deps[input_name] = dep
        invocation = NodeInvocation(
            definition.name,
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
            node_defs=list({id(d): d for d in definitions.values()}.values()),
            dependencies=dependencies,
            input_mappings=[
                m for m in graph.input_mappings
                if m.mapped_node_name in keep and m.mapped_node_input_name in definitions[m.mapped_node_name].ins
            ],
            output_mappings=[
                m for m in graph.output_mappings
                if m.mapped_node_name in keep and m.mapped_node_output_name in definitions[m.mapped_node_name].outs
            ],
            tags=graph.tags,
        )
    except Exception as exc:  # re-raised as a subset error with the cause
        raise DagsterInvalidSubsetError(
            f"The attempted subset {sorted(keep)} for graph {graph.name} results in an invalid graph: {exc}"
        ) from exc


def _kept(dep: object, keep: Mapping[str, GraphDefinition | None], definitions: Mapping[str, OpDefinition | GraphDefinition]) -> bool:
    """Whether a dependency survives: its upstream nodes are kept and, for a narrowed
    graph, still have the output it reads."""
    if not all(u in keep for u in _upstream_names(dep)):
        return False
    node = getattr(dep, "node", None) or getattr(dep, "node_name", None)
    output = getattr(dep, "output", None) or getattr(dep, "output_name", None)
    if node is None or output is None or keep.get(node) is None:
        return True
    return output in definitions[node].outs
