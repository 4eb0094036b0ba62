"""`configured()`: a copy of an op, resource, logger, executor or config-mapped
graph whose config is fixed, or mapped from a new, smaller schema; both the
`.configured(...)` methods and the top-level `configured(...)` decorator.

A fixed value that does not match the original's schema is not an error when the
copy is built, as in Dagster (which validates it only when a run resolves its
config): its problems are recorded on the copy (`_config_problems`, see
`config_schema.ConfigProblem`), a job using the copy records them at their paths
in its run config, and a run of that job is refused naming the job and each path.
A mapped value is validated each time the copy's config is resolved.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from oprun.errors import DagsterConfigMappingFunctionError, DagsterError, DagsterInvalidConfigError, DagsterInvalidDefinitionError

if TYPE_CHECKING:
    from oprun.definitions.executor import ExecutorDefinition
    from oprun.definitions.jobs.graph import GraphDefinition
    from oprun.definitions.jobs.op import OpDefinition
    from oprun.definitions.logger import LoggerDefinition
    from oprun.definitions.resources.resource import ResourceDefinition


def _fixed_or_mapped(config_or_fn: Any, config_schema: Any, what: str) -> tuple[Any, Callable[[Any], Any]]:
    """(new schema, fn from new config to the original's config)."""
    if callable(config_or_fn) and not isinstance(config_or_fn, dict):
        return config_schema, _mapping_function(config_or_fn, what)
    if config_schema is not None:
        raise DagsterInvalidDefinitionError(
            f"{what}: configured() with a fixed config value takes no config_schema; pass a function "
            "of the new config to give one."
        )
    fixed = config_or_fn
    return None, lambda _ignored: fixed


def _mapping_function(fn: Callable[[Any], Any], what: str) -> Callable[[Any], Any]:
    """`fn`, its exceptions raised as Dagster does: a DagsterConfigMappingFunctionError
    (oprun's own errors pass through)."""

    def call(value: Any) -> Any:
        try:
            return fn(value)
        except DagsterError:
            raise
        except Exception as exc:
            raise DagsterConfigMappingFunctionError(
                f"The config mapping function on a `configured` copy of {what} has thrown an unexpected error "
                f"during its execution: {type(exc).__name__}: {exc}",
                exc,
            ) from exc

    return call


def _record_fixed(made: Any, original: Any, schema: Any, fixed: Any, source: str) -> None:
    """Record on `made` the problems of a fixed value against the original's schema
    (and those the original recorded itself)."""
    from oprun.definitions.jobs.config_schema import config_problems, fixed_value_problems

    made._config_problems = config_problems(original) + fixed_value_problems(schema, fixed, source)  # noqa: SLF001


def _check_against(schema: Any, value: Any, what: str) -> Any:
    from oprun.config.validate import validate_config

    result = validate_config(schema, value)
    if not result.success:
        raise DagsterInvalidConfigError(f"Error in config for {what}", result.errors, value)
    return result.value


def configured(configurable: Any, config_schema: Any = None, **kwargs: Any) -> Callable[[Any], Any]:
    """`@configured(definition, config_schema=...)` on a config function (or called
    with a fixed config value): the definition's `.configured(...)` copy.

    Ops, graphs and executors have names: the copy takes `name=` or, when
    decorating a function, the function's name. Resources and loggers do not.
    """
    from oprun.definitions.executor import ExecutorDefinition

    if not callable(getattr(configurable, "configured", None)):
        raise DagsterInvalidDefinitionError(
            f"configured() takes an op, graph, resource, logger or executor definition; got {configurable!r}."
        )
    named = getattr(configurable, "node_type", None) in ("op", "graph") or isinstance(configurable, ExecutorDefinition)

    def wrap(config_or_config_fn: Any) -> Any:
        if not named:
            return configurable.configured(config_or_config_fn, config_schema=config_schema, **kwargs)
        options = dict(kwargs)
        name = options.pop("name", None)
        if name is None and callable(config_or_config_fn):
            name = getattr(config_or_config_fn, "__name__", None)
        if name is None and not isinstance(configurable, ExecutorDefinition):
            raise DagsterInvalidDefinitionError(
                f"configured({configurable.name!r}, ...) with a fixed config value needs name=...: "
                "the copy sits in graphs beside the original and needs a name of its own."
            )
        return configurable.configured(config_or_config_fn, name=name, config_schema=config_schema, **options)

    return wrap


def configured_logger(logger_def: LoggerDefinition, config: Any, config_schema: Any, description: str | None) -> LoggerDefinition:
    from oprun.definitions.logger import InitLoggerContext, LoggerDefinition

    new_schema, to_inner = _fixed_or_mapped(config, config_schema, "logger")
    original = logger_def

    def fn(init_context: Any) -> Any:
        inner = to_inner(init_context.logger_config)
        processed = _check_against(original.config_schema, inner, "configured logger") if original.config_schema is not None else inner
        return original.logger_fn(InitLoggerContext(processed, original, init_context.run_id, init_context.job_name))

    made = LoggerDefinition(fn, new_schema, description or original.description)
    if new_schema is None and original.config_schema is not None:
        _record_fixed(made, original, original.config_schema, to_inner(None), "the value given to configured() for a logger")
    return made


def configured_resource(resource_def: ResourceDefinition, config: Any, config_schema: Any, description: str | None) -> ResourceDefinition:
    new_schema, to_inner = _fixed_or_mapped(config, config_schema, "resource")
    original_fn = resource_def.resource_fn
    original_schema = resource_def.config_schema

    def fn(init_context: Any) -> Any:
        inner = to_inner(init_context.resource_config)
        processed = _check_against(original_schema, inner, "configured resource") if original_schema is not None else inner
        return original_fn(init_context.replace_config(processed))

    made = copy.copy(resource_def)
    made.resource_fn = fn
    made.config_schema = new_schema
    made._fn_takes_context = True  # noqa: SLF001 - a copy of the definition; fn above takes the init context
    if description is not None:
        made.description = description
    if new_schema is None and original_schema is not None:
        _record_fixed(made, resource_def, original_schema, to_inner(None), "the value given to configured() for a resource")
    return made


def configured_executor(
    executor_def: ExecutorDefinition, config: Any, name: str | None, config_schema: Any, description: str | None
) -> ExecutorDefinition:
    from oprun.definitions.executor import ExecutorDefinition

    new_schema, to_inner = _fixed_or_mapped(config, config_schema, f"executor {executor_def.name}")
    original = executor_def

    def create(init_context: Any) -> Any:
        creation_fn = original.executor_creation_fn
        if creation_fn is None:  # not reached: the copy has `create` only when the original has a creation function
            raise DagsterInvalidDefinitionError(f"Executor '{original.name}' has no creation function.")
        inner = _check_against(original.config_schema, to_inner(init_context.executor_config), f"executor {original.name}")
        return creation_fn(init_context.replace_config(inner))

    def requirements(config_value: Any) -> Any:
        return original.get_requirements(to_inner(config_value))

    # Without a creation function the copy has none either, so that running it is
    # refused with the job's name (prepare.create_executor) as for the original.
    creation = create if original.executor_creation_fn is not None else None
    made = ExecutorDefinition(name or original.name, new_schema, requirements, creation, description or original.description)
    if new_schema is None and original.config_schema is not None:
        _record_fixed(
            made, original, original.config_schema, to_inner(None),
            f"the value given to configured() for executor '{made.name}' (a copy of '{original.name}')",
        )
    return made


def configured_op(op_def: OpDefinition, config: Any, name: str, config_schema: Any, description: str | None) -> OpDefinition:
    new_schema, to_inner = _fixed_or_mapped(config, config_schema, f"op {op_def.name}")
    made = copy.copy(op_def)
    from oprun.definitions.jobs.io import check_valid_name

    made.name = check_valid_name(name, what="op name")
    made.config_schema = new_schema
    made.configured_from = (op_def, to_inner)
    if description is not None:
        made.description = description
    if new_schema is None and op_def.config_schema is not None:
        _record_fixed(
            made, op_def, op_def.config_schema, to_inner(None),
            f"the value given to configured() for op '{made.name}' (a copy of '{op_def.name}')",
        )
    return made


def configured_graph(graph_def: GraphDefinition, config: Any, name: str, config_schema: Any, description: str | None) -> GraphDefinition:
    if graph_def.config_mapping is None:
        raise DagsterInvalidDefinitionError(
            f"Only graphs with a config mapping can be configured(); graph '{graph_def.name}' has none. "
            "Give it @graph(config=ConfigMapping(...)) first."
        )
    from oprun.config.mapping import ConfigMapping

    new_schema, to_inner = _fixed_or_mapped(config, config_schema, f"graph {graph_def.name}")
    inner_mapping = graph_def.config_mapping

    def config_fn(outer: Any) -> Any:
        processed = _check_against(inner_mapping.config_schema, to_inner(outer), f"graph {graph_def.name}")
        return inner_mapping.resolve_from_validated(processed)

    made = copy.copy(graph_def)
    from oprun.definitions.jobs.io import check_valid_name

    made.name = check_valid_name(name, what="graph name")
    made.config_mapping = ConfigMapping(config_fn=config_fn, config_schema=new_schema if new_schema is not None else {})
    if description is not None:
        made.description = description
    if new_schema is None:
        _record_fixed(
            made, graph_def, inner_mapping.config_schema, to_inner(None),
            f"the value given to configured() for graph '{made.name}' (a copy of '{graph_def.name}')",
        )
    return made
