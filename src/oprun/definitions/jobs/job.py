"""Jobs: `@job` and `JobDefinition`, a graph bound to resources, config, hooks,
tags, loggers and an executor.

A job is checked when it is built: inputs with no way to be resolved, resources
that ops require but the job lacks (when resources were given), and top-level
input values for inputs that do not exist raise then. Config values fixed in the
definition (its default config, values given to configured() for its ops, graphs,
resources, loggers or executor) do not: as in Dagster, a job whose default config
is wrong still builds, so its module and the other jobs of its code location
load. Their problems are recorded (`_config_problems`) and raised, naming the job
and each path, when a run of the job is prepared.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from oprun.definitions.executor import ExecutorDefinition, check_executor_def, multi_or_in_process_executor
from oprun.definitions.jobs import composition, functions
from oprun.definitions.jobs.graph import GraphDefinition, composition_input_names
from oprun.definitions.jobs.hooks import HookDefinition, check_hooks
from oprun.definitions.jobs.io import check_valid_name
from oprun.definitions.jobs.metadata import normalize_metadata
from oprun.definitions.jobs.policy import RetryPolicy
from oprun.definitions.logger import LoggerDefinition, default_loggers
from oprun.definitions.resources.resource import ResourceDefinition, coerce_resource_defs, fs_io_manager
from oprun.errors import DagsterInvalidDefinitionError, DagsterInvariantViolationError, did_you_mean

if TYPE_CHECKING:
    from oprun.definitions.jobs.config_schema import ConfigProblem


class JobDefinition:
    """A graph bound to everything it needs to run. Immutable: the `with_*` methods
    and `get_subset` return copies.

    `_config_problems` (oprun's, not a Dagster attribute): a tuple of
    `ConfigProblem`, the errors of the config values fixed in this definition,
    found when it was built and raised when a run of it is prepared; `()` when
    there are none. Read it with `config_schema.config_problems(job)`.
    """

    def __init__(
        self,
        *,
        graph_def: GraphDefinition,
        resource_defs: Mapping[str, Any] | None = None,
        executor_def: ExecutorDefinition | None = None,
        logger_defs: Mapping[str, LoggerDefinition] | None = None,
        name: str | None = None,
        config: Any = None,
        description: str | None = None,
        tags: Mapping[str, Any] | None = None,
        run_tags: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        hook_defs: Any = None,
        op_retry_policy: RetryPolicy | None = None,
        partitions_def: Any = None,
        input_values: Mapping[str, Any] | None = None,
        op_selection: Sequence[str] | None = None,
        _subset_of: JobDefinition | None = None,
    ) -> None:
        if not isinstance(graph_def, GraphDefinition):
            raise DagsterInvalidDefinitionError(f"JobDefinition needs a GraphDefinition, got {graph_def!r}")
        self.graph = graph_def
        self.name = check_valid_name(name, what="job name") if name else graph_def.name
        where = f"job '{self.name}'"
        self.description = description if description is not None else graph_def.description
        # As in Dagster, only non-empty resource_defs make the job check its resources
        # now; otherwise `Definitions` (or a run) checks them once it binds its own.
        self.resources_explicitly_given = bool(resource_defs)
        self._resource_defs_arg = dict(resource_defs) if resource_defs is not None else None
        self.resource_defs: dict[str, ResourceDefinition] = coerce_resource_defs(resource_defs, where)
        self.uses_default_io_manager = "io_manager" not in self.resource_defs
        if self.uses_default_io_manager:
            self.resource_defs["io_manager"] = fs_io_manager
        self.executor_explicitly_given = executor_def is not None
        self.executor_def = check_executor_def(executor_def, where) if executor_def is not None else multi_or_in_process_executor
        self.loggers_explicitly_given = logger_defs is not None
        self.loggers: dict[str, LoggerDefinition] = dict(logger_defs) if logger_defs else dict(default_loggers)
        self.tags = _check_tags({**graph_def.tags, **(tags or {})}, where)
        self._run_tags = _check_tags(run_tags, where) if run_tags is not None else None
        self.metadata = normalize_metadata(metadata)
        self.hook_defs: frozenset[HookDefinition] = check_hooks(hook_defs, where)
        if op_retry_policy is not None and not isinstance(op_retry_policy, RetryPolicy):
            raise DagsterInvalidDefinitionError(f"{where}: op_retry_policy must be a RetryPolicy, got {op_retry_policy!r}")
        self.op_retry_policy = op_retry_policy
        self.input_values = dict(input_values or {})
        self.op_selection = list(op_selection) if op_selection else None
        self._subset_of = _subset_of
        self._check_input_values()
        self.config_mapping, self.partitioned_config, self.hardcoded_config = _job_config(self.name, config, partitions_def)
        self.partitions_def = self.partitioned_config.partitions_def if self.partitioned_config else None
        self._config_arg = config
        self._partitions_def_arg = partitions_def

        from oprun.definitions.jobs.config_schema import check_job, job_config_problems

        check_job(self)
        self._config_problems: tuple[ConfigProblem, ...] = job_config_problems(self)

    # -- attributes Dagster users read --

    @property
    def run_tags(self) -> dict[str, Any]:
        """Tags every run of this job gets: `run_tags` if given, else `tags`."""
        return dict(self._run_tags) if self._run_tags is not None else dict(self.tags)

    @property
    def graph_def(self) -> GraphDefinition:
        return self.graph

    @property
    def op_defs(self) -> list[Any]:
        return self.graph.iterate_op_defs()

    @property
    def nodes(self) -> list[Any]:
        return list(self.graph.node_dict.values())

    @property
    def is_subset(self) -> bool:
        return self._subset_of is not None

    @property
    def parent_job(self) -> JobDefinition:
        return self._subset_of or self

    @cached_property
    def run_config_schema(self) -> Any:
        """The config type of this job's whole run config document."""
        from oprun.definitions.jobs.config_schema import build_run_config_schema

        return build_run_config_schema(self)

    @cached_property
    def config_schema_snapshot(self) -> Any:
        from oprun.definitions.jobs.config_schema import outer_config_schema

        return outer_config_schema(self)

    def get_snapshot(self) -> dict[str, Any]:
        """The job's structure as plain data, stored with each run."""
        from oprun.definitions.jobs.snapshot import job_snapshot

        return job_snapshot(self)

    def get_snapshot_json(self) -> str:
        """`get_snapshot()` as canonical JSON (sorted keys, compact), as stored."""
        from oprun.definitions.jobs.snapshot import job_snapshot_json

        return job_snapshot_json(self)

    def has_op(self, name: str) -> bool:
        return name in self.graph.node_dict

    def get_op(self, handle: str) -> Any:
        graph = self.graph
        parts = handle.split(".")
        node = None
        for part in parts:
            node = graph.node_named(part)
            if isinstance(node.definition, GraphDefinition):
                graph = node.definition
        return node

    # -- derived jobs --

    def _copy(self, **changes: Any) -> JobDefinition:
        args: dict[str, Any] = {
            "graph_def": self.graph,
            "resource_defs": self._resource_defs_arg,
            "executor_def": self.executor_def if self.executor_explicitly_given else None,
            "logger_defs": self.loggers if self.loggers_explicitly_given else None,
            "name": self.name,
            "config": self._config_arg,
            "description": self.description,
            "tags": self.tags,
            "run_tags": self._run_tags,
            "metadata": dict(self.metadata),
            "hook_defs": self.hook_defs,
            "op_retry_policy": self.op_retry_policy,
            "partitions_def": self._partitions_def_arg,
            "input_values": self.input_values,
            "op_selection": self.op_selection,
            "_subset_of": self._subset_of,
        }
        args.update(changes)
        return JobDefinition(**args)

    def with_hooks(self, hook_defs: Any) -> JobDefinition:
        return self._copy(hook_defs=self.hook_defs | frozenset(hook_defs or ()))

    def with_top_level_resources(self, resource_defs: Mapping[str, Any]) -> JobDefinition:
        """Bind resources this job lacks (job resources win), as `Definitions` does."""
        merged = {**resource_defs, **(self._resource_defs_arg or {})}
        return self._copy(resource_defs=merged)

    def with_executor_def(self, executor_def: ExecutorDefinition) -> JobDefinition:
        return self._copy(executor_def=executor_def)

    def with_logger_defs(self, logger_defs: Mapping[str, LoggerDefinition]) -> JobDefinition:
        return self._copy(logger_defs=logger_defs)

    def get_subset(self, op_selection: Sequence[str] | None = None, asset_selection: Any = None) -> JobDefinition:
        """This job restricted to the selected ops (Dagster's selection syntax)."""
        if not op_selection:
            return self
        from oprun.definitions.jobs.selection import subset_graph

        parent = self.parent_job
        subset = subset_graph(parent.graph, list(op_selection), parent.name)
        return parent._copy(graph_def=subset, op_selection=list(op_selection), _subset_of=parent)  # noqa: SLF001 - a copy within the class

    # -- running --

    def execute_in_process(
        self,
        run_config: Any = None,
        instance: Any = None,
        partition_key: str | None = None,
        raise_on_error: bool = True,
        op_selection: Sequence[str] | None = None,
        asset_selection: Any = None,
        run_id: str | None = None,
        input_values: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        resources: Mapping[str, Any] | None = None,
    ) -> Any:
        """Run the job in this process, every step one after another; returns an
        `ExecuteInProcessResult`."""
        from oprun.execution.api import execute_in_process

        return execute_in_process(
            self,
            run_config=run_config,
            instance=instance,
            partition_key=partition_key,
            raise_on_error=raise_on_error,
            op_selection=op_selection,
            run_id=run_id,
            input_values=input_values,
            tags=tags,
            resources=resources,
        )

    def run_request_for_partition(
        self,
        partition_key: str,
        run_key: str | None = None,
        tags: Mapping[str, str] | None = None,
        asset_selection: Sequence[Any] | None = None,
        run_config: Mapping[str, Any] | None = None,
        current_time: Any = None,
        dynamic_partitions_store: Any = None,
    ) -> Any:
        """A `RunRequest` for one partition of this partitioned job: the partition's
        run config (unless `run_config` is given) and tags, over `tags`."""
        from oprun.definitions.automation.run_request import RunRequest

        partitioned = self.partitioned_config
        if partitioned is None:
            raise DagsterInvariantViolationError(
                f"Called run_request_for_partition on a non-partitioned job: job '{self.name}' has no "
                "partitions_def. Give it partitions_def=... (or a PartitionedConfig), or build a RunRequest."
            )
        partitions_def = partitioned.partitions_def
        if getattr(partitions_def, "name", None) and hasattr(partitions_def, "build_add_request"):
            raise DagsterInvariantViolationError(
                "run_request_for_partition is not supported for dynamic partitions. Instead, use "
                f"RunRequest(partition_key=...) (job '{self.name}')."
            )
        partitions_def.validate_partition_key(
            partition_key, owner_name=f"job '{self.name}'", current_time=current_time, dynamic_partitions_store=dynamic_partitions_store,
        )
        config = run_config if run_config is not None else partitioned.get_run_config_for_partition_key(partition_key)
        return RunRequest(
            run_key=run_key,
            run_config=config,
            tags={**(tags or {}), **partitioned.get_tags_for_partition_key(partition_key, job_name=self.name)},
            job_name=self.name,
            asset_selection=asset_selection,
            partition_key=partition_key,
        )

    def all_dagster_types(self) -> list[Any]:
        return self.graph.all_dagster_types()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise DagsterInvariantViolationError(
            f"Attempted to call job '{self.name}' directly. Jobs should be invoked by using an "
            f"execution API function (e.g. `{self.name}.execute_in_process()`)."
        )

    def _check_input_values(self) -> None:
        for key in self.input_values:
            if key not in self.graph.input_dict:
                raise DagsterInvalidDefinitionError(
                    f"Error when constructing JobDefinition '{self.name}': Input value provided for key "
                    f"'{key}', but job has no top-level input with that name."
                    f"{did_you_mean(key, self.graph.input_dict)}"
                )

    def __repr__(self) -> str:
        return f"<JobDefinition {self.name}>"


def _check_tags(tags: Mapping[str, Any] | None, where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in (tags or {}).items():
        if not isinstance(key, str):
            raise DagsterInvalidDefinitionError(f"{where}: tag keys must be strings, got {key!r}")
        if not isinstance(value, str):
            import json

            try:
                encoded = json.dumps(value)
                if json.loads(encoded) != value:
                    raise ValueError
            except (TypeError, ValueError):
                raise DagsterInvalidDefinitionError(
                    f"{where}: tag '{key}' has value {value!r}, which cannot be stored: tag values must be "
                    "strings or JSON-able values that round-trip through JSON."
                ) from None
            value = encoded
        out[key] = value
    return out


def _job_config(name: str, config: Any, partitions_def: Any) -> tuple[Any, Any, Any]:
    """Split `config=` into (config mapping, partitioned config, hardcoded dict)."""
    from oprun.config.run_config import RunConfig

    if config is None and partitions_def is None:
        return None, None, None
    partitions_mod = _partitions_module()
    if partitions_mod is not None and isinstance(config, partitions_mod.PartitionedConfig):
        if partitions_def is not None and partitions_def != config.partitions_def:
            raise DagsterInvalidDefinitionError(
                f"job '{name}': partitions_def differs from the partitions of its PartitionedConfig; give only one."
            )
        return None, config, None
    if partitions_def is not None:
        assert partitions_mod is not None
        if isinstance(config, RunConfig):
            config = config.to_config_dict()
        return None, partitions_mod.PartitionedConfig.from_flexible_config(config, partitions_def), None
    if isinstance(config, RunConfig):
        return None, None, config.to_config_dict()
    if isinstance(config, Mapping):
        return None, None, dict(config)
    if hasattr(config, "config_fn") and hasattr(config, "resolve_from_validated"):
        return config, None, None
    raise DagsterInvalidDefinitionError(
        f"job '{name}': config must be a dict, a RunConfig, a ConfigMapping or a PartitionedConfig, got {config!r}"
    )


def _partitions_module() -> Any:
    import importlib

    try:
        return importlib.import_module("oprun.definitions.automation.partitions")
    except ImportError:
        return None


def job(
    compose_fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    resource_defs: Mapping[str, Any] | None = None,
    config: Any = None,
    tags: Mapping[str, Any] | None = None,
    run_tags: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    logger_defs: Mapping[str, LoggerDefinition] | None = None,
    executor_def: ExecutorDefinition | None = None,
    hooks: Any = None,
    op_retry_policy: RetryPolicy | None = None,
    partitions_def: Any = None,
    input_values: Mapping[str, Any] | None = None,
) -> Any:
    """Decorator: compose ops into a job. The body runs once, now."""

    def wrap(fn: Callable[..., Any]) -> JobDefinition:
        job_name = check_valid_name(name or fn.__name__, what="job name")
        input_names = composition_input_names(fn)
        composed = composition.compose("@job", job_name, fn, input_names, None)
        graph_def = GraphDefinition(
            job_name,
            description=description or functions.docstring(fn),
            node_defs=composed.node_defs,
            dependencies=composed.dependencies,
            input_mappings=composed.input_mappings,
            output_mappings=composed.output_mappings,
            positional_inputs=input_names,
        )
        return JobDefinition(
            graph_def=graph_def,
            name=job_name,
            description=description or functions.docstring(fn),
            resource_defs=resource_defs,
            config=config,
            tags=tags,
            run_tags=run_tags,
            metadata=metadata,
            logger_defs=logger_defs,
            executor_def=executor_def,
            hook_defs=hooks,
            op_retry_policy=op_retry_policy,
            partitions_def=partitions_def,
            input_values=input_values,
        )

    if compose_fn is not None:
        return wrap(compose_fn)
    return wrap
