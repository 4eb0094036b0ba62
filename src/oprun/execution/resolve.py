"""The config stage of a run: a run config document, with the job's default
config, its config mapping or partitioned config, and the config mappings of its
graphs, resolved into the validated values a run uses (`ResolvedRunConfig`).

Every run goes through `resolve_run_config` (through the run preparation); this is
also where the problems of config fixed in the job's definition (its default
config, `configured()` values), recorded when it was built, are raised.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from oprun.config.types import Shape
from oprun.config.validate import validate_config
from oprun.definitions.jobs.config_schema import deferred_config_error, node_fields, shape_field
from oprun.errors import DagsterInvalidConfigError


class ResolvedRunConfig(NamedTuple):
    """The validated, processed run config of one run."""

    value: dict[str, Any]
    raw: dict[str, Any]
    secret_paths: frozenset[tuple[Any, ...]]

    def node_config(self, handle: str) -> Any:
        return _node_value(self.value, handle).get("config")

    def node_inputs(self, handle: str) -> dict[str, Any]:
        return _node_value(self.value, handle).get("inputs") or {}

    def resource_config(self, key: str) -> Any:
        return ((self.value.get("resources") or {}).get(key) or {}).get("config")

    def executor_config(self) -> Any:
        return (self.value.get("execution") or {}).get("config")

    def logger_config(self, name: str) -> Any:
        return ((self.value.get("loggers") or {}).get(name) or {}).get("config")

    def graph_inputs(self) -> dict[str, Any]:
        return self.value.get("inputs") or {}


def _node_value(value: Mapping[str, Any], handle: str) -> dict[str, Any]:
    current: Any = value
    for part in handle.split("."):
        current = ((current or {}).get("ops") or {}).get(part)
        if current is None:
            return {}
    node: dict[str, Any] = current  # a node's validated value: a dict, as its schema is a Shape
    return node


def _to_dict(run_config: Any) -> dict[str, Any]:
    if run_config is None:
        return {}
    to_dict = getattr(run_config, "to_config_dict", None)
    if callable(to_dict):
        config_dict: dict[str, Any] = to_dict()  # RunConfig's or a Config's: a dict
        return config_dict
    if not isinstance(run_config, Mapping):
        raise DagsterInvalidConfigError(
            "Error in run config: expected a dict or a RunConfig",
            [],
            run_config,
        )
    return dict(run_config)


def resolve_run_config(job: Any, run_config: Any = None, partition_key: str | None = None) -> ResolvedRunConfig:
    """Apply the job's config options and validate; raises DagsterInvalidConfigError
    with every error at once.

    Every run goes through here, so this is where the problems recorded when the
    job was built (its default config, configured() values) are raised. As in
    Dagster, a run config given does not excuse a bad default: Dagster fails on
    the default whenever it prepares a run of the job.
    """
    deferred = deferred_config_error(job)
    if deferred is not None:
        raise deferred
    given = _to_dict(run_config)
    if job.partitioned_config is not None and partition_key is not None and not given:
        given = _to_dict(job.partitioned_config.get_run_config_for_partition_key(partition_key))
    if job.config_mapping is not None:
        outer = validate_config(job.config_mapping.config_schema, given)
        if not outer.success:
            raise DagsterInvalidConfigError(f"Error in config mapping for job {job.name}", outer.errors, given)
        mapping_arg = outer.value if job.config_mapping.receive_processed_config_values else given
        given = _to_dict(job.config_mapping.resolve_from_validated(mapping_arg))
        preamble = f"Error in config for job {job.name} (the config returned by its config mapping)"
    else:
        preamble = f"Error in config for job {job.name}"
    if job.hardcoded_config is not None:
        given = {**job.hardcoded_config, **given}
    result = validate_config(job.run_config_schema, given)
    if not result.success:
        raise DagsterInvalidConfigError(preamble, result.errors, given)
    value = result.value or {}
    secrets = set(result.secret_paths)
    value = _apply_graph_config(job.graph, value, ("root",), secrets)
    return ResolvedRunConfig(value, given, frozenset(secrets))


def _apply_graph_config(graph: Any, value: dict[str, Any], path: tuple[Any, ...], secrets: set[tuple[Any, ...]]) -> dict[str, Any]:
    """Replace `config` of config-mapped graphs with their mapped and validated
    inner `ops`, and apply graphs' hardcoded config."""
    ops = dict(value.get("ops") or {})
    changed = False
    for node in graph.node_dict.values():
        definition = node.definition
        if definition.node_type != "graph":
            continue
        node_value = dict(ops.get(node.name) or {})
        node_path = (*path, "ops", node.name)
        if definition.config_mapping is not None:
            mapping = definition.config_mapping
            inner = _to_dict(mapping.resolve_from_validated(node_value.get("config")))
            schema = Shape({"ops": shape_field(node_fields(definition))}) if node_fields(definition) else Shape({})
            result = validate_config(schema, inner)
            if not result.success:
                raise DagsterInvalidConfigError(
                    f"Error in config for graph '{definition.name}' at {':'.join(map(str, node_path))}, "
                    "from the config its config mapping returned",
                    result.errors,
                    inner,
                )
            node_value["ops"] = (result.value or {}).get("ops") or {}
            changed = True
        node_value = _apply_graph_config(definition, node_value, node_path, secrets)
        ops[node.name] = node_value
    if changed or ops:
        value = {**value, "ops": ops}
    return value


def validate_run_config(job_def: Any, run_config: Any = None) -> dict[str, Any]:
    """Validate a run config against a job; returns the processed config or raises
    DagsterInvalidConfigError listing every error."""
    return resolve_run_config(job_def, run_config).value
