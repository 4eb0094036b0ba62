"""A job's structure as plain, JSON-able data: stored with each run so history
shows the job as it ran, and read by the CLI, GraphQL and the UI.

`job_snapshot_json` is the same data as canonical JSON (sorted keys, compact),
built one node at a time: a 10,000-op job's snapshot as dicts is tens of
megabytes for a moment, its JSON a few.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from oprun.definitions.jobs.dependency import (
    DependencyDefinition,
    DynamicCollectDependencyDefinition,
    MultiDependencyDefinition,
)


def _dep_plain(dep: Any) -> list[dict[str, Any]]:
    if isinstance(dep, DependencyDefinition):
        return [{"node": dep.node, "output": dep.output}]
    if isinstance(dep, DynamicCollectDependencyDefinition):
        return [{"node": dep.node_name, "output": dep.output_name, "collect": True}]
    if isinstance(dep, MultiDependencyDefinition):
        return [d for item in dep.get_node_dependencies() for d in _dep_plain(item)]
    return []


def graph_snapshot(graph: Any) -> dict[str, Any]:
    return _graph(graph, list)


class _Nodes:
    """A graph's nodes, made one at a time when the JSON is written."""

    def __init__(self, nodes: Iterator[dict[str, Any]]) -> None:
        self.nodes = nodes


def _graph(graph: Any, collect: Callable[[Iterator[dict[str, Any]]], Any]) -> dict[str, Any]:
    return {
        "name": graph.name,
        "description": graph.description,
        "nodes": collect(_node(graph, name, collect) for name in graph.toposorted_node_names),
        "input_mappings": [m._asdict() | {"dagster_type": None} for m in graph.input_mappings],
        "output_mappings": [m._asdict() | {"dagster_type": None} for m in graph.output_mappings],
    }


def _node(graph: Any, name: str, collect: Callable[[Iterator[dict[str, Any]]], Any]) -> dict[str, Any]:
    node = graph.node_dict[name]
    definition = node.definition
    deps = graph.dependencies.get(name, {})
    return {
        "name": name,
        "definition": definition.name,
        "kind": definition.node_type,
        "description": definition.description,
        "tags": {k: str(v) for k, v in {**getattr(definition, "tags", {}), **node.tags}.items()},
        "inputs": [
            {
                "name": i.name,
                "type": i.dagster_type.display_name,
                "description": i.description,
                "depends_on": _dep_plain(deps[i.name]) if i.name in deps else [],
                "fan_in": isinstance(deps.get(i.name), MultiDependencyDefinition),
            }
            for i in definition.input_defs
        ],
        "outputs": [
            {"name": o.name, "type": o.dagster_type.display_name, "is_required": o.is_required, "is_dynamic": o.is_dynamic, "description": o.description}
            for o in definition.output_defs
        ],
        "required_resource_keys": sorted(getattr(definition, "required_resource_keys", ())),
        "graph": _graph(definition, collect) if definition.node_type == "graph" else None,
    }


def job_snapshot(job: Any) -> dict[str, Any]:
    return _job(job, graph_snapshot(job.graph))


def _job(job: Any, graph: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": job.name,
        "description": job.description,
        "tags": {k: str(v) for k, v in job.tags.items()},
        "metadata": {k: v.to_plain() for k, v in job.metadata.items()},
        "executor": job.executor_def.name,
        "resources": sorted(job.resource_defs),
        "op_selection": job.op_selection,
        "graph": graph,
    }


# What `json.dumps(snapshot, sort_keys=True, separators=(",", ":"), default=str)` makes.
_encode = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str).encode


def job_snapshot_json(job: Any) -> str:
    """`job_snapshot(job)` as canonical JSON, without holding it all as dicts."""
    parts: list[str] = []
    _write(_job(job, _graph(job.graph, _Nodes)), parts)
    return "".join(parts)


def _write(value: Any, parts: list[str]) -> None:
    if isinstance(value, _Nodes):
        parts.append("[")
        for i, node in enumerate(value.nodes):
            if i:
                parts.append(",")
            if node["graph"] is None:
                parts.append(_encode(node))  # one fragment per node: the usual case
            else:
                _write(node, parts)
        parts.append("]")
    elif isinstance(value, dict) and any(isinstance(v, (dict, _Nodes)) for v in value.values()):
        parts.append("{")
        for i, key in enumerate(sorted(value)):
            parts.append(("," if i else "") + _encode(key) + ":")
            _write(value[key], parts)
        parts.append("}")
    else:
        parts.append(_encode(value))
