"""A job's run config schema, and the checks made when a job is built (resolving
a run's config document against it is the config stage, `oprun.execution.resolve`).

The schema is derived from the job: `ops` (per node: `config`, unconnected
`inputs`; nested graphs under `ops`, or `config` when mapped), `resources`,
`execution`, `loggers`.

Config values fixed in a definition (a job's default config, a value given to
`configured()`) are not errors when the definition is built, as in Dagster: their
problems are recorded on it (`ConfigProblem`s) and raised, naming the job and each
path, when a run of the job is prepared.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from oprun.config.types import Field, Shape, as_field
from oprun.config.validate import EvaluationError, Path, path_to_str, validate_config
from oprun.definitions.jobs.dependency import MultiDependencyDefinition
from oprun.errors import DagsterInvalidConfigError, DagsterInvalidDefinitionError, did_you_mean

_ANY_OPTIONAL: Field | None = None


def _any_optional() -> Field:
    """An optional field that takes any value (config of a resource with no schema)."""
    global _ANY_OPTIONAL
    if _ANY_OPTIONAL is None:
        _ANY_OPTIONAL = Field(Any, is_required=False)
    return _ANY_OPTIONAL


def shape_field(fields: dict[str, Field]) -> Field:
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
                    node_shape["ops"] = shape_field(inner)
        elif definition.config_schema is not None:
            node_shape["config"] = as_field(definition.config_schema)
        inputs = _input_fields(definition, connected)
        if inputs:
            node_shape["inputs"] = shape_field(inputs)
        if node_shape:
            fields[node.name] = shape_field(node_shape)
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
        fields["ops"] = shape_field(ops)
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
        fields["resources"] = shape_field(resources)
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
        fields["inputs"] = shape_field(graph_inputs)
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
    """The structural checks, which raise when the job is built. Its fixed config
    values are checked by `job_config_problems` and raised only when a run starts."""
    _check_inputs_resolvable(job)
    if job.resources_explicitly_given:
        error = missing_resources_error(job)
        if error is not None:
            raise error
    if job.config_mapping is not None:
        # The mapping's schema is part of the definition: a schema that is not one
        # raises now (DagsterInvalidConfigDefinitionError), as in Dagster.
        as_field(job.config_mapping.config_schema)


# --- config fixed in definitions: recorded when built, raised when a run is prepared -------


class ConfigProblem(NamedTuple):
    """One error in a config value fixed when a definition was built: a job's
    default config (`@job(config=...)`, `to_job(config=...)`) or a value given to
    `configured()`. oprun's own record (Dagster has no such name).

    `source` says what fixed the value; `error` is the `EvaluationError`, its path
    from the root of the job's run config when the problem is a job's (from the
    root of the definition's own config on an op, graph, resource, logger or
    executor).
    """

    source: str
    error: EvaluationError

    @property
    def path_str(self) -> str:
        return self.error.path_str

    @property
    def message(self) -> str:
        return self.error.message


DEFAULT_CONFIG_SOURCE = "its default config (config= given to @job or to_job)"


def fixed_value_problems(schema: Any, value: Any, source: str) -> tuple[ConfigProblem, ...]:
    """The problems of `value` against `schema`, each from `source`; () when valid."""
    result = validate_config(schema, value)
    if result.success:
        return ()
    return tuple(ConfigProblem(source, error) for error in result.errors)


def config_problems(definition: Any) -> tuple[ConfigProblem, ...]:
    """The recorded problems of a job, op, graph, resource, logger or executor
    definition (`()` for one that has none or records none)."""
    return getattr(definition, "_config_problems", None) or ()


def _rebased(problem: ConfigProblem, prefix: Path) -> ConfigProblem:
    """A definition's problem placed in a job's run config, under `prefix`."""
    error = problem.error
    where = path_to_str(prefix)
    message = error.message
    for said in ("at the root", "at path root"):
        if said in message:
            message = message.replace(said, f"at path {where}", 1)
            break
    path = (*prefix, *error.path[1:]) if error.path[:1] == ("root",) else (*prefix, *error.path)
    return ConfigProblem(problem.source, error._replace(path=path, message=message))


def _node_problems(graph: Any, prefix: Path) -> list[ConfigProblem]:
    found: list[ConfigProblem] = []
    for node in graph.node_dict.values():
        node_path = (*prefix, "ops", node.name)
        definition = node.definition
        found.extend(_rebased(p, (*node_path, "config")) for p in config_problems(definition))
        if definition.node_type == "graph":
            found.extend(_node_problems(definition, node_path))
    return found


def job_config_problems(job: Any) -> tuple[ConfigProblem, ...]:
    """Every problem of the config values fixed in the job's definition: its
    default config, and values given to configured() for its ops, graphs, used
    resources, loggers and executor. Made when the job is built."""
    found: list[ConfigProblem] = []
    if job.hardcoded_config is not None:
        found.extend(fixed_value_problems(job.run_config_schema, job.hardcoded_config, DEFAULT_CONFIG_SOURCE))
    found.extend(_node_problems(job.graph, ("root",)))
    if any(config_problems(r) for r in job.resource_defs.values()):
        used = required_resource_keys(job)
        for key, resource_def in job.resource_defs.items():
            if key in used:
                found.extend(_rebased(p, ("root", "resources", key, "config")) for p in config_problems(resource_def))
    for name, logger_def in job.loggers.items():
        found.extend(_rebased(p, ("root", "loggers", name, "config")) for p in config_problems(logger_def))
    found.extend(_rebased(p, ("root", "execution", "config")) for p in config_problems(job.executor_def))
    return tuple(found)


def describe_problems(problems: tuple[ConfigProblem, ...]) -> str:
    """'<source> is invalid at <path>, <path>; ...', sources in first-seen order."""
    by_source: dict[str, list[str]] = {}
    for problem in problems:
        paths = by_source.setdefault(problem.source, [])
        if problem.path_str not in paths:
            paths.append(problem.path_str)
    return "; ".join(f"{source} is invalid at {', '.join(paths)}" for source, paths in by_source.items())


def deferred_config_error(job: Any) -> DagsterInvalidConfigError | None:
    """The error a run of this job raises for the config values fixed in its
    definition, naming the job and each path; None when they are valid."""
    problems = config_problems(job)
    if not problems:
        return None
    return DagsterInvalidConfigError(
        f"Error in config for job '{job.name}': {describe_problems(problems)}",
        [p.error for p in problems],
        job.hardcoded_config,
    )


def has_fan_in(dep: Any) -> bool:
    return isinstance(dep, MultiDependencyDefinition)
