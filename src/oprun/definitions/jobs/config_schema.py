"""A job's run config: its schema, the checks made when a job is built, and the
resolution of a run config document (job default config, config mappings,
partitioned config) into the validated values a run uses.

The schema is derived from the job: `ops` (per node: `config`, unconnected
`inputs`; nested graphs under `ops`, or `config` when mapped), `resources`,
`execution`, `loggers`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from oprun.config.types import Field, Shape, as_field
from oprun.config.validate import validate_config
from oprun.definitions.jobs.dependency import MultiDependencyDefinition
from oprun.errors import DagsterInvalidConfigError, DagsterInvalidDefinitionError, did_you_mean

_ANY_OPTIONAL: Field | None = None


def _any_optional() -> Field:
    """An optional field that takes any value (config of a resource with no schema)."""
    global _ANY_OPTIONAL
    if _ANY_OPTIONAL is None:
        _ANY_OPTIONAL = Field(Any, is_required=False)
    return _ANY_OPTIONAL


def _shape_field(fields: dict[str, Field]) -> Field:
    """A nested section: required exactly when one of its fields is."""
    return Field(Shape(fields))


# --- the schema -----------------------------------------------------------------------


def _connected_inputs(graph: Any, node_name: str) -> set[str]:
    connected = set(graph.dependencies.get(node_name, {}))
    for mapping in graph.input_mappings:
        if mapping.mapped_node_name == node_name:
            connected.add(mapping.mapped_node_input_name)
    return connected


def _input_fields(definition: Any, connected: set[str]) -> dict[str, Field]:
    fields: dict[str, Field] = {}
    for input_def in definition.ins.values():
        if input_def.name in connected or input_def.dagster_type.is_nothing:
            continue
        loader_schema = input_def.dagster_type.loader_schema
        if input_def.dagster_type.loader is None:
            continue
        optional = input_def.has_default_value or bool(input_def.input_manager_key)
        fields[input_def.name] = Field(loader_schema, is_required=not optional)
    return fields


def node_fields(graph: Any, top_level_inputs: set[str] | None = None) -> dict[str, Field]:
    """The `ops:` fields of a graph's nodes (recursively for nested graphs)."""
    fields: dict[str, Field] = {}
    for node in graph.node_dict.values():
        definition = node.definition
        connected = _connected_inputs(graph, node.name)
        node_shape: dict[str, Field] = {}
        if definition.node_type == "graph":
            if definition.config_mapping is not None:
                node_shape["config"] = as_field(definition.config_mapping.config_schema)
            else:
                inner = node_fields(definition)
                if inner and definition.hardcoded_config is not None:
                    # A graph's own config is the default for its nodes' config.
                    node_shape["ops"] = Field(Shape(inner), default_value=definition.hardcoded_config.get("ops", {}), is_required=False)
                elif inner:
                    node_shape["ops"] = _shape_field(inner)
        elif definition.config_schema is not None:
            node_shape["config"] = as_field(definition.config_schema)
        inputs = _input_fields(definition, connected)
        if inputs:
            node_shape["inputs"] = _shape_field(inputs)
        if node_shape:
            fields[node.name] = _shape_field(node_shape)
    return fields


def _accept_left_out(fields: dict[str, Field], parent: dict[str, Field]) -> None:
    """Add the parent's fields missing from `fields` as optional, down into graphs
    that a dotted selection narrowed."""
    for name, field in parent.items():
        mine = fields.get(name)
        if mine is None:
            fields[name] = Field(field.config_type, is_required=False)
        elif isinstance(mine.config_type, Shape) and isinstance(field.config_type, Shape) and mine.config_type is not field.config_type:
            merged = dict(mine.config_type.fields)
            _accept_left_out(merged, field.config_type.fields)
            fields[name] = Field(Shape(merged), is_required=mine.is_required)


def build_run_config_schema(job: Any) -> Shape:
    fields: dict[str, Field] = {}
    ops = node_fields(job.graph)
    if job.is_subset:
        # Config for ops outside the selection stays accepted, and ignored.
        _accept_left_out(ops, node_fields(job.parent_job.graph))
    if ops:
        fields["ops"] = _shape_field(ops)
    used = required_resource_keys(job)
    resources: dict[str, Field] = {}
    for key, resource_def in job.resource_defs.items():
        if resource_def.config_schema is None:
            config_field = _any_optional()
        else:
            config_field = as_field(resource_def.config_schema)
        # Config of a resource no op uses may be given but is never required.
        required = key in used and config_field.is_required
        resources[key] = Field(Shape({"config": config_field}), is_required=required)
    if resources:
        fields["resources"] = _shape_field(resources)
    executor_schema = job.executor_def.config_schema
    if executor_schema is not None:
        fields["execution"] = Field(Shape({"config": as_field(executor_schema)}), is_required=False)
    loggers = {}
    for name, logger_def in job.loggers.items():
        config_field = as_field(logger_def.config_schema) if logger_def.config_schema is not None else _any_optional()
        loggers[name] = Field(Shape({"config": config_field}), is_required=False)
    fields["loggers"] = Field(Shape(loggers), is_required=False)
    graph_inputs = {
        name: Field(input_def.dagster_type.loader_schema, is_required=name not in job.input_values)
        for name, input_def in job.graph.input_dict.items()
        if input_def.dagster_type.loader is not None and not input_def.dagster_type.is_nothing
    }
    if graph_inputs:
        fields["inputs"] = _shape_field(graph_inputs)
    return Shape(fields)


def outer_config_schema(job: Any) -> Any:
    """The schema users write run config against: the config mapping's own schema
    when the job has one, else the run config document's."""
    if job.config_mapping is not None:
        return as_field(job.config_mapping.config_schema)
    return job.run_config_schema


# --- checks made when a job is built ------------------------------------------------------


def _walk_ops(graph: Any, prefix: str = "") -> list[tuple[str, Any, Any, Any]]:
    """(handle, node, definition, graph it is in) for every op node, depth first."""
    found = []
    for node in graph.node_dict.values():
        handle = f"{prefix}{node.name}"
        if node.definition.node_type == "graph":
            found.extend(_walk_ops(node.definition, handle + "."))
        else:
            found.append((handle, node, node.definition, graph))
    return found


def required_resource_keys(job: Any) -> dict[str, str]:
    """Every resource key the job's ops, hooks and IO managers need, with who needs it."""
    needed: dict[str, str] = {}
    for handle, node, definition, _graph in _walk_ops(job.graph):
        for key in definition.required_resource_keys:
            needed.setdefault(key, f"op '{handle}'")
        for out in definition.output_defs:
            needed.setdefault(out.io_manager_key, f"output '{out.name}' of op '{handle}'")
        for input_def in definition.input_defs:
            if input_def.input_manager_key:
                needed.setdefault(input_def.input_manager_key, f"input '{input_def.name}' of op '{handle}'")
        for hook in node.hook_defs:
            for key in hook.required_resource_keys:
                needed.setdefault(key, f"hook '{hook.name}' on op '{handle}'")
    for hook in job.hook_defs:
        for key in hook.required_resource_keys:
            needed.setdefault(key, f"hook '{hook.name}' of job '{job.name}'")
    # Resources that provided resources need, transitively.
    pending = [k for k in needed if k in job.resource_defs]
    while pending:
        key = pending.pop()
        for dep in job.resource_defs[key].required_resource_keys:
            if dep not in needed:
                needed[dep] = f"resource '{key}'"
                if dep in job.resource_defs:
                    pending.append(dep)
    return needed


def missing_resources_error(job: Any, resource_defs: Mapping[str, Any] | None = None) -> DagsterInvalidDefinitionError | None:
    provided = job.resource_defs if resource_defs is None else resource_defs
    for key, who in required_resource_keys(job).items():
        if key not in provided:
            return DagsterInvalidDefinitionError(
                f"resource with key '{key}' required by {who} was not provided to job '{job.name}'. "
                f"Please provide a ResourceDefinition to key '{key}', or change the required key to "
                f"one of the following keys which points to an ResourceDefinition: {sorted(provided)}."
                f"{did_you_mean(key, provided)}"
            )
    return None


def _check_inputs_resolvable(job: Any) -> None:
    for handle, node, definition, graph in _walk_ops(job.graph):
        connected = set(graph.dependencies.get(node.name, {}))
        mapped = {m.mapped_node_input_name for m in graph.input_mappings if m.mapped_node_name == node.name}
        for input_def in definition.input_defs:
            if input_def.name in connected or input_def.is_nothing:
                continue
            if input_def.name in mapped:
                continue
            if input_def.has_default_value or input_def.input_manager_key or input_def.dagster_type.loader is not None:
                continue
            raise DagsterInvalidDefinitionError(
                f"Input '{input_def.name}' of op '{handle}' has no way of being resolved. Must provide "
                "a resolution to this input via another op/graph, or via a direct input value mapped "
                "from the top-level graph. To learn more, see the docs for unconnected inputs: give it "
                "In(default_value=...), an input manager, or a type with a loader for run config."
            )


def check_job(job: Any) -> None:
    _check_inputs_resolvable(job)
    if job.resources_explicitly_given:
        error = missing_resources_error(job)
        if error is not None:
            raise error
    if job.hardcoded_config is not None:
        result = validate_config(job.run_config_schema, job.hardcoded_config)
        if not result.success:
            raise DagsterInvalidConfigError(
                f"Error in config when building job '{job.name}'", result.errors, job.hardcoded_config
            )


# --- resolving a run config -----------------------------------------------------------------


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
    return current


def _to_dict(run_config: Any) -> dict[str, Any]:
    if run_config is None:
        return {}
    to_dict = getattr(run_config, "to_config_dict", None)
    if callable(to_dict):
        return to_dict()
    if not isinstance(run_config, Mapping):
        raise DagsterInvalidConfigError(
            "Error in run config: expected a dict or a RunConfig",
            [],
            run_config,
        )
    return dict(run_config)


def resolve_run_config(job: Any, run_config: Any = None, partition_key: str | None = None) -> ResolvedRunConfig:
    """Apply the job's config options and validate; raises DagsterInvalidConfigError
    with every error at once."""
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
            schema = Shape({"ops": _shape_field(node_fields(definition))}) if node_fields(definition) else Shape({})
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


def has_fan_in(dep: Any) -> bool:
    return isinstance(dep, MultiDependencyDefinition)
