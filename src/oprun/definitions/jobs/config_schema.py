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
from oprun.errors import (
    DagsterError,
    DagsterInvalidConfigError,
    DagsterInvalidDefinitionError,
    DagsterInvariantViolationError,
    did_you_mean,
)

_ANY_OPTIONAL: Field | None = None


def _any_optional() -> Field:
    """An optional field that takes any value (config of a resource with no schema)."""
    global _ANY_OPTIONAL
    if _ANY_OPTIONAL is None:
        _ANY_OPTIONAL = Field(Any, is_required=False)
    return _ANY_OPTIONAL


_ANY_CONFIG_NODE: Field | None = None


def _any_config_node() -> Field:
    """The field of an op that takes any config and has nothing else to configure:
    most ops of a large job, so they share one (schemas are never changed once built)."""
    global _ANY_CONFIG_NODE
    if _ANY_CONFIG_NODE is None:
        _ANY_CONFIG_NODE = shape_field({"config": _any_optional()})
    return _ANY_CONFIG_NODE


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


def _input_fields(definition: Any, connected: set[str], resource_defs: Mapping[str, Any] | None = None) -> dict[str, Field]:
    fields: dict[str, Field] = {}
    for input_def in definition.ins.values():
        if input_def.input_manager_key:
            # As Dagster: an input loaded by an input manager, connected or not, takes
            # the manager's input_config_schema (`Any`, optional, when it declares
            # none), which reaches InputContext.config; never its type's loader.
            fields[input_def.name] = _manager_field((resource_defs or {}).get(input_def.input_manager_key), "input_config_schema")
            continue
        if input_def.name in connected or input_def.dagster_type.is_nothing:
            continue
        loader_schema = input_def.dagster_type.loader_schema
        if input_def.dagster_type.loader is None:
            continue
        fields[input_def.name] = Field(loader_schema, is_required=not input_def.has_default_value)
    return fields


def _manager_field(manager: Any, attribute: str) -> Field:
    schema = getattr(manager, attribute, None)
    return _any_optional() if schema is None else as_field(schema)


def _output_fields(definition: Any, resource_defs: Mapping[str, Any] | None) -> dict[str, Field]:
    """As Dagster: `outputs.<name>` only for outputs whose IO manager declares an
    output_config_schema (reaching OutputContext.config); none is taken otherwise."""
    fields: dict[str, Field] = {}
    for output_def in getattr(definition, "output_defs", ()):
        manager = (resource_defs or {}).get(output_def.io_manager_key)
        if getattr(manager, "output_config_schema", None) is not None:
            fields[output_def.name] = _manager_field(manager, "output_config_schema")
    return fields


def graph_config_fields(graph: Any, resource_defs: Mapping[str, Any] | None = None) -> dict[str, Field]:
    """A graph node's own fields: `config` (its config mapping's schema), or `ops`
    (its nodes' fields).

    A graph's hardcoded config (`@graph(config={"add_n": {...}})`) is, in Dagster,
    a config mapping with an `Any` schema that ignores its value: `config` is
    accepted and ignored. oprun also takes `ops` (which Dagster refuses), the
    graph's config being its default, replaced whole when `ops` is given.
    """
    if graph.config_mapping is not None:
        return {"config": as_field(graph.config_mapping.config_schema)}
    inner = node_fields(graph, resource_defs=resource_defs)
    fields: dict[str, Field] = {}
    if graph.hardcoded_config is not None:
        fields["config"] = _any_optional()
        if inner:
            fields["ops"] = Field(Shape(inner), default_value=graph.hardcoded_config, is_required=False)
    elif inner:
        fields["ops"] = shape_field(inner)
    return fields


def node_fields(graph: Any, top_level_inputs: set[str] | None = None, resource_defs: Mapping[str, Any] | None = None) -> dict[str, Field]:
    """The `ops:` fields of a graph's nodes (recursively for nested graphs)."""
    fields: dict[str, Field] = {}
    for node in graph.node_dict.values():
        definition = node.definition
        connected = _connected_inputs(graph, node.name)
        node_shape: dict[str, Field] = {}
        if definition.node_type == "graph":
            node_shape.update(graph_config_fields(definition, resource_defs))
        elif definition.config_schema is not None:
            node_shape["config"] = as_field(definition.config_schema)
        elif getattr(definition, "configured_from", None) is None:
            # As Dagster: an op without a config schema takes any config, optionally.
            node_shape["config"] = _any_optional()
        inputs = _input_fields(definition, connected, resource_defs)
        if inputs:
            node_shape["inputs"] = shape_field(inputs)
        if definition.node_type != "graph":
            outputs = _output_fields(definition, resource_defs)
            if outputs:
                node_shape["outputs"] = shape_field(outputs)
        if len(node_shape) == 1 and node_shape.get("config") is _any_optional():
            fields[node.name] = _any_config_node()
        elif node_shape:
            fields[node.name] = shape_field(node_shape)
    return fields


def accept_left_out(fields: dict[str, Field], parent: dict[str, Field]) -> None:
    """Add the parent's fields missing from `fields` as optional, down into graphs
    that a dotted selection narrowed."""
    for name, field in parent.items():
        mine = fields.get(name)
        if mine is None:
            fields[name] = Field(field.config_type, is_required=False)
        elif isinstance(mine.config_type, Shape) and isinstance(field.config_type, Shape) and mine.config_type is not field.config_type:
            merged = dict(mine.config_type.fields)
            accept_left_out(merged, field.config_type.fields)
            fields[name] = Field(Shape(merged), is_required=mine.is_required)


def build_run_config_schema(job: Any) -> Shape:
    fields: dict[str, Field] = {}
    ops = node_fields(job.graph, resource_defs=job.resource_defs)
    if job.is_subset:
        # Config for ops outside the selection stays accepted, and ignored.
        accept_left_out(ops, node_fields(job.parent_job.graph, resource_defs=job.resource_defs))
    # As in Dagster, a job made from a config-mapped graph takes the graph's config
    # at `ops.config`; a subset keeps the config of the graph it was selected from.
    own = job.parent_job.graph
    if own.config_mapping is not None:
        fields["ops"] = shape_field({"config": as_field(own.config_mapping.config_schema)})
    elif own.hardcoded_config is not None:
        fields["ops"] = Field(Shape({**ops, "config": _any_optional()}), default_value=own.hardcoded_config, is_required=False)
    elif ops:
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


class _Requirement(NamedTuple):
    """One resource key something in a job needs, described as Dagster does. The
    description is formatted only when it is shown: every run checks every
    requirement, and a large job has thousands."""

    key: str
    template: str  # "resource with key '{key}' required by {0}"
    args: tuple[str, ...]
    io_manager: bool  # an IO manager or input manager is expected

    @property
    def description(self) -> str:
        return self.template.format(*self.args, key=self.key)


def _requirements(job: Any) -> list[_Requirement]:
    """What the job's ops, their inputs and outputs, hooks and types require, in
    Dagster's order (nodes depth first, then types, then the job's hooks)."""
    found: list[_Requirement] = []
    for handle, node, definition, _graph in _walk_ops(job.graph):
        found += [_Requirement(k, "resource with key '{key}' required by op '{0}'", (handle,), False) for k in sorted(definition.required_resource_keys)]
        for input_def in definition.input_defs:
            if input_def.input_manager_key:
                found.append(_Requirement(
                    input_def.input_manager_key, "input manager with key '{key}' required by input '{0}' of op '{1}'",
                    (input_def.name, handle), True,
                ))
        for out in definition.output_defs:
            found.append(_Requirement(out.io_manager_key, "io manager with key '{key}' required by output '{0}' of op '{1}'", (out.name, handle), True))
        for hook in node.hook_defs:
            found += [
                _Requirement(k, "resource with key '{key}' required by hook '{0}' attached to op '{1}'", (hook.name, node.name), False)
                for k in sorted(hook.required_resource_keys)
            ]
    for dagster_type in all_dagster_types(job.graph):
        found += [
            _Requirement(k, "resource with key '{key}' required by type '{0}'", (dagster_type.display_name,), False)
            for k in sorted(dagster_type.required_resource_keys)
        ]
        loader_keys = getattr(dagster_type.loader, "required_resource_keys", None) or ()
        found += [
            _Requirement(k, "resource with key '{key}' required by the loader on type '{0}'", (dagster_type.display_name,), False)
            for k in sorted(loader_keys)
        ]
    for hook in job.hook_defs:
        found += [
            _Requirement(k, "resource with key '{key}' required by hook '{0}' attached to job '{1}'", (hook.name, job.name), False)
            for k in sorted(hook.required_resource_keys)
        ]
    return found


def all_dagster_types(graph: Any) -> list[Any]:
    """Every Dagster type the graph's nodes (nested graphs too) take or give, with
    the inner types of lists and optionals, once each by key, after the built-in
    scalar types (Dagster's `GraphDefinition.all_dagster_types`)."""
    from oprun.definitions.jobs import types

    by_key: dict[str, Any] = {t.key: t for t in (types.Any_, types.Bool, types.Float, types.Int, types.String, types.Nothing)}

    def add(dagster_type: Any) -> None:
        while dagster_type is not None:
            by_key.setdefault(dagster_type.key, dagster_type)
            dagster_type = dagster_type.inner_type

    def visit(definition: Any) -> None:
        for io_def in (*definition.input_defs, *definition.output_defs):
            add(io_def.dagster_type)
        if definition.node_type == "graph":
            for inner in definition.node_defs:
                visit(inner)

    visit(graph)
    return list(by_key.values())


def required_resource_keys(job: Any, requirements: list[_Requirement] | None = None) -> dict[str, str]:
    """Every resource key the job's ops, hooks, types and IO managers need, with
    who needs it (Dagster's description of the first requirement for the key)."""
    needed: dict[str, str] = {}
    for requirement in _requirements(job) if requirements is None else requirements:
        if requirement.key not in needed:
            needed[requirement.key] = requirement.description
    # Resources that provided resources need, transitively.
    pending = [k for k in needed if k in job.resource_defs]
    while pending:
        key = pending.pop()
        for dep in job.resource_defs[key].required_resource_keys:
            if dep not in needed:
                needed[dep] = f"resource with key '{dep}' required by resource with key '{key}'"
                if dep in job.resource_defs:
                    pending.append(dep)
    return needed


def missing_resources_error(job: Any, resource_defs: Mapping[str, Any] | None = None) -> DagsterError | None:
    """The error for the first resource the job needs and lacks, worded as Dagster's
    (its first sentence, naming the job), listing the keys that could stand in for
    it; None when nothing is missing. A resource that a provided resource needs is
    a DagsterInvariantViolationError, as in Dagster."""
    provided = job.resource_defs if resource_defs is None else resource_defs
    requirements = _requirements(job)
    for requirement in requirements:
        if requirement.key in provided:
            continue
        expected = "IOManagerDefinition" if requirement.io_manager else "ResourceDefinition"
        if requirement.description.startswith("input manager"):
            expected = "IInputManagerDefinition"
        candidates = sorted(k for k, d in provided.items() if not requirement.io_manager or getattr(d, "is_io_manager", False))
        return DagsterInvalidDefinitionError(
            f"{requirement.description} was not provided to job '{job.name}'. Please provide a {expected} to key "
            f"'{requirement.key}', or change the required key to one of the following keys which points to an "
            f"{expected}: {candidates}.{did_you_mean(requirement.key, candidates)}"
        )
    if _all_provided({r.key for r in requirements}, provided):
        return None  # the common case, decided without describing anything
    for key, who in required_resource_keys(job, requirements).items():
        if key not in provided:
            source = who.rsplit("required by resource with key ", 1)[-1]
            return DagsterInvariantViolationError(
                f"Resource with key '{key}' required by resource with key {source}, but not provided. Give job "
                f"'{job.name}' a resource for '{key}' as well.{did_you_mean(key, provided)}"
            )
    return None


def _all_provided(keys: set[str], provided: Mapping[str, Any]) -> bool:
    """Whether the keys, and every key their resources need in turn, are provided."""
    seen = set(keys)
    pending = list(keys)
    while pending:
        definition = provided.get(pending.pop())
        if definition is None:
            return False
        for dep in getattr(definition, "required_resource_keys", ()):
            if dep not in seen:
                seen.add(dep)
                pending.append(dep)
    return True


def _unresolvable_inputs(graph: Any, prefix: str = "") -> list[str]:
    """The inputs of `graph` that must be resolved by whatever contains it: graph
    inputs that lead only to op inputs with no upstream, no default, no input
    manager and no loader (Dagster's `get_inputs_must_be_resolved_top_level`).
    An unresolvable input of a node that its graph neither connects nor maps from
    one of its own inputs is an error here, naming the node."""
    found: list[str] = []
    for node in graph.node_dict.values():
        definition = node.definition
        if definition.node_type == "graph":
            inputs = _unresolvable_inputs(definition, f"{prefix}{node.name}.")
        else:
            inputs = [
                i.name for i in definition.input_defs
                if not (i.is_nothing or i.has_default_value or i.input_manager_key or i.dagster_type.loader is not None)
            ]
        connected = graph.dependencies.get(node.name, {})
        for input_name in inputs:
            if input_name in connected:
                continue
            mapped = [m for m in graph.input_mappings if (m.mapped_node_name, m.mapped_node_input_name) == (node.name, input_name)]
            if not mapped:
                raise DagsterInvalidDefinitionError(
                    f"Input '{input_name}' of {definition.node_type} '{node.name}' has no way of being resolved. Must "
                    "provide a resolution to this input via another op/graph, or via a direct input value mapped "
                    f"from the top-level graph. ({definition.node_type} '{prefix}{node.name}': connect the input to "
                    "an upstream output, or give it In(default_value=...), an input manager, or a type with a loader "
                    "for run config.)"
                )
            found.extend(m.graph_input_name for m in mapped if m.graph_input_name not in found)
    return found


def _check_inputs_resolvable(job: Any) -> None:
    # What is left at the top are the job's own inputs: input_values or run config `inputs`.
    _unresolvable_inputs(job.graph)


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
    """The problems of `value` against `schema`, each from `source`; () when valid.

    A value read from an environment variable (`{"env": "NAME"}`) is not judged
    here: as in Dagster, the variable is read when a run resolves its config, so
    one that is unset (or not a valid value) when the job is built is no problem
    if it is set by then. (Post-processing errors are exactly those of env sources.)
    """
    result = validate_config(schema, value)
    if result.success:
        return ()
    return tuple(ConfigProblem(source, error) for error in result.errors if error.reason != "FAILED_POST_PROCESSING")


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
