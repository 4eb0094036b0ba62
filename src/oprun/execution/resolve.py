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
from oprun.config.validate import EvaluationError, _short, validate_config
from oprun.definitions.jobs.config_schema import accept_left_out, deferred_config_error, node_fields
from oprun.definitions.jobs.graph import nodes_config_by_name
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

    def node_outputs(self, handle: str) -> dict[str, Any]:
        return _node_value(self.value, handle).get("outputs") or {}

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
        found = f'"{_short(run_config)}" of type "{type(run_config).__name__}"'
        raise DagsterInvalidConfigError(
            "Error in run config: expected a dict or a RunConfig",
            [EvaluationError(
                ("root",), "RUNTIME_TYPE_MISMATCH",
                f"Value at the root must be a dict (or a RunConfig): a run config is a mapping of sections "
                f"(ops, resources, loggers, execution), found {found}.",
                "dict", _short(run_config),
            )],
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
    # As Dagster: without a partition key (or with ""), a partitioned job runs
    # with no partition, and its partitioned config is not used.
    unpartitioned = job.partitioned_config is not None and not partition_key and not given
    if job.partitioned_config is not None and partition_key and not given:
        given = _to_dict(job.partitioned_config.get_run_config_for_partition_key(partition_key))
    if job.config_mapping is not None:
        outer = validate_config(job.config_mapping.config_schema, given)
        if not outer.success:
            raise DagsterInvalidConfigError(f"Error in config mapping for job {job.name}", outer.errors, given)
        mapping_arg = outer.value if job.config_mapping.receive_processed_config_values else given
        given = _to_dict(job.config_mapping.resolve_from_validated(mapping_arg, f"job {job.name}"))
        preamble = f"Error in config for job {job.name} (the config returned by its config mapping)"
    else:
        preamble = f"Error in config for job {job.name}"
    if job.hardcoded_config is not None:
        given = with_job_defaults(job.hardcoded_config, given)
    result = validate_config(job.run_config_schema, given)
    if not result.success:
        if unpartitioned:
            preamble += (
                f" (job '{job.name}' is partitioned, {partitions_shown(job.partitions_def)}, and takes its run "
                "config from the partition key, but no partition_key was given: pass partition_key=...)"
            )
        raise DagsterInvalidConfigError(preamble, result.errors, given)
    value = result.value or {}
    secrets = set(result.secret_paths)
    value = _apply_graph_config(job.graph, value, ("root",), job.resource_defs, own=job.parent_job.graph)
    return ResolvedRunConfig(value, given, frozenset(secrets))


def with_job_defaults(defaults: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """A job's `config=` dict under the run config, as Dagster 1.13 applies it:
    a section the run config leaves out (`ops`, `resources`, ...) is the job's,
    and so is an entry of a section (an op under `ops`, a resource under
    `resources`); an entry the run config gives replaces the job's whole (its
    `config` is not merged field by field, nor a nested graph's ops)."""
    merged = dict(defaults)
    for key, value in given.items():
        default = defaults.get(key)
        merged[key] = {**default, **value} if isinstance(value, Mapping) and isinstance(default, Mapping) else value
    return merged


def partitions_shown(partitions_def: Any, instance: Any = None) -> str:
    """'2 partitions: ['us', 'eu']', shortened when long, for error messages."""
    try:
        keys = list(partitions_def.get_partition_keys(dynamic_partitions_store=instance))
    except Exception:  # noqa: BLE001 - only a message: the keys may need a store this caller lacks
        return f"partitions {partitions_def!r}"
    shown = keys if len(keys) <= 8 else [*keys[:3], "...", *keys[-3:]]
    return f"{len(keys)} partition{'' if len(keys) == 1 else 's'}: {shown}"


def _apply_graph_config(
    graph: Any, value: dict[str, Any], path: tuple[Any, ...], resource_defs: Mapping[str, Any], own: Any = None
) -> dict[str, Any]:
    """Replace the config of config-mapped graphs with their mapped and validated
    nodes' config, under `ops`, down through nested graphs.

    `value` is a graph node's validated value, or (given `own`, the graph whose
    config applies: the job's, or the one a subset was selected from) the run
    config itself, where a job made from a config-mapped graph has the graph's
    config at `ops.config`, as in Dagster. The `config` a graph with hardcoded
    config accepts (Dagster's `Any`, ignored) is dropped; its hardcoded config is
    already the default of its `ops`.
    """
    ops = dict(value.get("ops") or {})
    source = graph if own is None else own
    if source.config_mapping is not None:
        outer = value.get("config") if own is None else ops.get("config")
        ops = _mapped_node_config(source, graph, outer, path if own is None else (*path, "ops"), resource_defs)
    elif source.hardcoded_config is not None:
        ops.pop("config", None)
    for node in graph.node_dict.values():
        definition = node.definition
        if definition.node_type != "graph":
            continue
        node_path = (*path, "ops", node.name)
        ops[node.name] = _apply_graph_config(definition, dict(ops.get(node.name) or {}), node_path, resource_defs)
    if ops or "ops" in value:
        value = {**value, "ops": ops}
    return value


def _mapped_node_config(source: Any, graph: Any, outer: Any, where: tuple[Any, ...], resource_defs: Mapping[str, Any]) -> dict[str, Any]:
    """The config `source`'s config mapping returns for its nodes (keyed by node
    name, as in Dagster; or oprun's earlier `{"ops": ...}`), validated against
    `graph`'s nodes: `source` itself, or a subset of it, where the config of the
    nodes left out is accepted and ignored (Dagster refuses it)."""
    returned = _to_dict(source.config_mapping.resolve_from_validated(outer, f"graph '{source.name}' (config at {':'.join(map(str, where))})"))
    inner = nodes_config_by_name(returned, source.node_dict)
    fields = node_fields(graph, resource_defs=resource_defs)
    if graph is not source:
        accept_left_out(fields, node_fields(source, resource_defs=resource_defs))
    result = validate_config(Shape(fields), inner)
    if not result.success:
        raise DagsterInvalidConfigError(
            f"Error in config for graph '{source.name}' at {':'.join(map(str, where))}, "
            "from the config its config mapping returned (keyed by the graph's node names)",
            result.errors,
            inner,
        )
    return dict(result.value or {})


def validate_run_config(job_def: Any, run_config: Any = None) -> dict[str, Any]:
    """Validate a run config against a job; returns the processed config or raises
    DagsterInvalidConfigError listing every error."""
    return resolve_run_config(job_def, run_config).value
