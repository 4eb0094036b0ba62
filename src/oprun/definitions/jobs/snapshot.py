"""A job's structure as plain, JSON-able data: stored with each run so history
shows the job as it ran, and read by the CLI, GraphQL and the UI."""

from __future__ import annotations

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
    nodes = []
    for name in graph.toposorted_node_names:
        node = graph.node_dict[name]
        definition = node.definition
        deps = graph.dependencies.get(name, {})
        nodes.append({
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
            "graph": graph_snapshot(definition) if definition.node_type == "graph" else None,
        })
    return {
        "name": graph.name,
        "description": graph.description,
        "nodes": nodes,
        "input_mappings": [m._asdict() | {"dagster_type": None} for m in graph.input_mappings],
        "output_mappings": [m._asdict() | {"dagster_type": None} for m in graph.output_mappings],
    }


def job_snapshot(job: Any) -> dict[str, Any]:
    return {
        "name": job.name,
        "description": job.description,
        "tags": {k: str(v) for k, v in job.tags.items()},
        "metadata": {k: v.to_plain() for k, v in job.metadata.items()},
        "executor": job.executor_def.name,
        "resources": sorted(job.resource_defs),
        "op_selection": job.op_selection,
        "graph": graph_snapshot(job.graph),
    }
