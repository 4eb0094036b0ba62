"""Jobs as GraphQL: `Pipeline` and `Job` (Dagster's legacy and modern names for
the same thing), found with a `PipelineSelector`; their graph (`job_graph`),
types (`job_types`), modes, tags, metadata, partitions (`job_partitions`) and
runs; and the launchpad's queries: `runConfigSchemaOrError` (the config schema as
types, the default config as YAML, oprun's scaffolds), `isPipelineConfigValid`
(every error, Dagster's shapes) and `executionPlanOrError`.

A job that is not there is `PipelineNotFoundError`, an op selection that
selects nothing `InvalidSubsetError`; a location that fails to load, or user
code that raises, `PythonError`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from oprun.errors import DagsterInvalidConfigError, DagsterInvalidSubsetError
from oprun.execution.resolve import with_job_defaults
from oprun.web.context import WebContext
from oprun.web.graphql import common as c
from oprun.web.graphql.config_scaffold import job_default_values, nests_too_deep, own_config, presented_schema, scaffold, to_yaml
from oprun.web.graphql.config_schema import CONFIG_TYPE_TYPES, ConfigType, ConfigTypeRegistry
from oprun.web.graphql.config_types import (
    PipelineConfigValidationValid,
    RunConfigValidationInvalid,
    config_invalid,
)
from oprun.web.graphql.events import MetadataEntry, metadata_entries
from oprun.web.graphql.job_graph import CompositeSolidDefinition, Container, GraphIndex, SolidContainer, SolidDefinition
from oprun.web.graphql.job_partitions import PartitionKeys, PartitionTagsAndConfig, partition_keys, partition_of
from oprun.web.graphql.job_plan import ExecutionPlan, execution_plan
from oprun.web.graphql.job_types import DAGSTER_TYPE_TYPES, DagsterType, DagsterTypeOrError, dagster_type, dagster_type_or_error
from oprun.web.graphql.runs import PipelineTag

if TYPE_CHECKING:
    from oprun.web.graphql.automation import Schedule, Sensor
    from oprun.web.graphql.runs import Run
    from oprun.web.graphql.workspace import Repository

MODE = "default"  # every oprun job has Dagster's one mode
MAX_RUNS_PAGE = 10_000  # the most runs one `Pipeline.runs` answers (a negative limit is 0)


@strawberry.input(name="PipelineSelector")
class PipelineSelector:
    pipeline_name: str
    repository_name: str
    repository_location_name: str
    solid_selection: list[str] | None = strawberry.UNSET
    asset_selection: list[c.AssetKeyInput] | None = strawberry.UNSET


@strawberry.type(name="PipelinePreset")
class PipelinePreset:
    name: str
    solid_selection: list[str] | None
    run_config_yaml: str
    mode: str
    tags: list[PipelineTag]


@strawberry.interface(name="IPipelineSnapshot")
class IPipelineSnapshot(SolidContainer):
    job: strawberry.Private[Any]
    location_name: strawberry.Private[str]
    index: strawberry.Private[GraphIndex]

    def container(self) -> Container:
        return Container(self.job.graph, self.index, job_id(self.location_name, self.job), self.job)

    @strawberry.field
    def pipeline_snapshot_id(self) -> str:
        return snapshot_id_of(self.job)

    @strawberry.field
    def dagster_types(self) -> list[DagsterType]:
        return [dagster_type(t) for t in self.job.all_dagster_types()]

    @strawberry.field
    def dagster_type_or_error(self, dagster_type_name: str) -> DagsterTypeOrError:
        return dagster_type_or_error(self.job.all_dagster_types(), dagster_type_name)

    @strawberry.field
    def tags(self) -> list[PipelineTag]:
        return [PipelineTag(key=str(k), value=str(v)) for k, v in self.job.tags.items()]

    @strawberry.field
    def metadata_entries(self) -> list[MetadataEntry]:
        return metadata_entries(self.job.metadata)

    @strawberry.field
    def runs(
        self, info: Info, cursor: str | None = None, limit: int | None = None
    ) -> list[Annotated[Run, strawberry.lazy("oprun.web.graphql.runs")]]:
        from oprun.runs import RunsFilter
        from oprun.web.graphql.runs import run_type

        page = None if limit is None else max(0, min(limit, MAX_RUNS_PAGE))
        if cursor is not None and not _storable_text(cursor):
            cursor = None  # no run has that id: as any unknown cursor, it is ignored
        runs = info.context.instance.get_runs(RunsFilter(job_name=self.job.name), cursor=cursor, limit=page)
        return [run_type(r) for r in runs]

    @strawberry.field
    def schedules(self, info: Info) -> list[Annotated[Schedule, strawberry.lazy("oprun.web.graphql.automation")]]:
        from oprun.web.graphql.automation import repository_schedules

        return repository_schedules(info.context, self.location_name, job_name=self.job.name)

    @strawberry.field
    def sensors(self, info: Info) -> list[Annotated[Sensor, strawberry.lazy("oprun.web.graphql.automation")]]:
        from oprun.web.graphql.automation import repository_sensors

        return repository_sensors(info.context, self.location_name, job_name=self.job.name)

    @strawberry.field
    def parent_snapshot_id(self) -> str | None:
        return snapshot_id_of(self.job.parent_job) if self.job.is_subset else None

    @strawberry.field
    def graph_name(self) -> str:
        return str(self.job.graph.name)


@strawberry.type(name="Pipeline")
class Pipeline(IPipelineSnapshot):
    @strawberry.field
    def presets(self) -> list[PipelinePreset]:
        return []  # presets are a legacy pipeline feature; jobs have none

    @strawberry.field
    def is_job(self) -> bool:
        return True

    @strawberry.field
    def is_asset_job(self) -> bool:
        return False

    @strawberry.field
    def solid_selection(self) -> list[str] | None:
        return list(self.job.op_selection) if self.job.op_selection else None

    @strawberry.field
    def repository(self, info: Info) -> Annotated[Repository, strawberry.lazy("oprun.web.graphql.workspace")]:
        from oprun.web.graphql.workspace import repository_of

        return repository_of(info.context, self.location_name)

    @strawberry.field
    def partition_keys_or_error(
        self, info: Info, cursor: str | None = None, limit: int | None = None, reverse: bool | None = None,
        selected_asset_keys: list[c.AssetKeyInput] | None = None,
    ) -> PartitionKeys:
        return partition_keys(info.context, self.job, cursor, limit, bool(reverse))

    @strawberry.field
    def partition(
        self, partition_name: str, selected_asset_keys: list[c.AssetKeyInput] | None = None
    ) -> PartitionTagsAndConfig | None:
        return partition_of(self.job, partition_name)

    @strawberry.field
    def has_launch_execution_permission(self, info: Info) -> bool:
        return not info.context.read_only

    @strawberry.field
    def has_launch_reexecution_permission(self, info: Info) -> bool:
        return not info.context.read_only

    @strawberry.field
    def node_names(self) -> list[str]:
        return list(self.job.graph.toposorted_node_names)


@strawberry.type(name="Job")
class Job(Pipeline):
    pass


@strawberry.interface(name="PipelineReference")
class PipelineReference:
    """What a run names its job by (`Run.pipeline`): a loaded job's snapshot, or `UnknownPipeline`."""

    @strawberry.field
    def name(self) -> str:
        raise NotImplementedError

    @strawberry.field
    def solid_selection(self) -> list[str] | None:
        raise NotImplementedError


@strawberry.type(name="UnknownPipeline")
class UnknownPipeline(PipelineReference):
    """A job no loaded code location has (a run's, whose code is gone)."""

    job_name: strawberry.Private[str]
    selection: strawberry.Private[list[str] | None] = None

    @strawberry.field
    def name(self) -> str:
        return self.job_name

    @strawberry.field
    def solid_selection(self) -> list[str] | None:
        return self.selection


@strawberry.type(name="PipelineSnapshot")
class PipelineSnapshot(IPipelineSnapshot, PipelineReference):
    """A job as a snapshot (Dagster's name): the same fields as `Pipeline`'s graph."""

    @strawberry.field
    def name(self) -> str:
        return str(self.job.name)

    @strawberry.field
    def solid_selection(self) -> list[str] | None:
        return list(self.job.op_selection) if self.job.op_selection else None


@strawberry.type(name="PipelineSnapshotNotFoundError")
class PipelineSnapshotNotFoundError:
    message: str
    snapshot_id: str


@strawberry.type(name="InvalidSubsetError")
class InvalidSubsetError:
    message: str
    pipeline: Pipeline


@strawberry.type(name="ModeNotFoundError")
class ModeNotFoundError:
    message: str
    mode: str


@strawberry.type(name="RunConfigSchema")
class RunConfigSchema:
    job: strawberry.Private[Any]
    registry: strawberry.Private[ConfigTypeRegistry]

    @strawberry.field
    def root_config_type(self) -> ConfigType:
        return self.registry.graphql(self.registry.root_key)

    @strawberry.field
    def all_config_types(self) -> list[ConfigType]:
        return self.registry.all_types()

    @strawberry.field
    def root_default_yaml(self) -> str:
        return to_yaml(job_default_values(self.job, self.registry.types[self.registry.root_key]))

    @strawberry.field
    def is_run_config_valid(self, run_config_data: c.RunConfigData | None = None) -> PipelineConfigValidationResult:
        return validate_config(self.job, run_config_data)

    @strawberry.field(  # type: ignore[untyped-decorator]  # strawberry's decorator with arguments is untyped
        description="oprun's addition: the document given with every missing required entry added, each a "
        "placeholder of its type, as YAML (what the launchpad's 'Scaffold missing config' writes). Null when the "
        "document is not a mapping."
    )
    def scaffold_missing_config_yaml(self, run_config_data: c.RunConfigData | None = None) -> str | None:
        return _scaffold(self.job, self.registry, run_config_data, all_defaults=False)

    @strawberry.field(  # type: ignore[untyped-decorator]  # strawberry's decorator with arguments is untyped
        description="oprun's addition: the document given with every missing required entry (a placeholder) "
        "and every entry with a default (its default) added, as YAML ('Scaffold all default config'). Null when "
        "the document is not a mapping."
    )
    def scaffold_default_config_yaml(self, run_config_data: c.RunConfigData | None = None) -> str | None:
        return _scaffold(self.job, self.registry, run_config_data, all_defaults=True)


PipelineOrError = Annotated[
    Pipeline | c.PipelineNotFoundError | InvalidSubsetError | c.PythonError, strawberry.union("PipelineOrError")
]
PipelineSnapshotOrError = Annotated[
    c.PipelineNotFoundError | PipelineSnapshot | PipelineSnapshotNotFoundError | c.PythonError,
    strawberry.union("PipelineSnapshotOrError"),
]
RunConfigSchemaOrError = Annotated[
    RunConfigSchema | c.PipelineNotFoundError | InvalidSubsetError | ModeNotFoundError | c.PythonError,
    strawberry.union("RunConfigSchemaOrError"),
]
PipelineConfigValidationResult = Annotated[
    InvalidSubsetError | PipelineConfigValidationValid | RunConfigValidationInvalid | c.PipelineNotFoundError
    | c.PythonError,
    strawberry.union("PipelineConfigValidationResult"),
]
ExecutionPlanOrError = Annotated[
    ExecutionPlan | RunConfigValidationInvalid | c.PipelineNotFoundError | InvalidSubsetError | c.PythonError,
    strawberry.union("ExecutionPlanOrError"),
]

# Types reached only through an interface: the schema must be told of them.
SCHEMA_TYPES: tuple[type, ...] = (*CONFIG_TYPE_TYPES, *DAGSTER_TYPE_TYPES, SolidDefinition, CompositeSolidDefinition, Job, UnknownPipeline)


# ---------- finding a job ----------


def job_id(location_name: str, job: Any) -> str:
    return f"{location_name}:{c.REPOSITORY_NAME}:{job.name}"


@functools.lru_cache(maxsize=128)
def snapshot_id_of(job: Any) -> str:
    """The id the instance stores the job's snapshot under (runs of this job point at it)."""
    from oprun.instance.storage import snapshot_id as stored_id

    return stored_id(job.get_snapshot_json())


def pipeline_type(location_name: str, job: Any, cls: type[Pipeline] = Pipeline) -> Pipeline:
    return cls(job=job, location_name=location_name, index=GraphIndex(job))


def job_not_found(location_name: str, repository_name: str, job_name: str) -> c.PipelineNotFoundError:
    return c.PipelineNotFoundError(
        message=f"Could not find Pipeline {location_name}.{repository_name}.{job_name}",
        pipeline_name=job_name,
        repository_name=repository_name,
        repository_location_name=location_name,
    )


def _storable_text(text: str) -> bool:
    """Whether a string can be stored (a lone surrogate cannot be written as UTF-8)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _given(value: Any) -> Any:
    return None if value is strawberry.UNSET else value


def find_job(context: WebContext, selector: PipelineSelector) -> tuple[str, Any] | c.PipelineNotFoundError | InvalidSubsetError:
    """(location name, job, narrowed to the selection) for a selector. A location
    that fails to load raises its load error (answered as a PythonError)."""
    location_name, job_name = selector.repository_location_name, selector.pipeline_name
    not_found = job_not_found(location_name, selector.repository_name, job_name)
    location = c.find_location(context, location_name)
    if location is None or selector.repository_name != c.REPOSITORY_NAME:
        return not_found
    definitions = location.load()
    if not definitions.has_job(job_name):
        return not_found
    job = definitions.get_job_def(job_name)
    if _given(selector.asset_selection):
        return InvalidSubsetError(
            message=f"assetSelection is not supported: oprun runs op jobs (job '{job_name}'); select ops with solidSelection.",
            pipeline=pipeline_type(location_name, job),
        )
    selection = _given(selector.solid_selection)
    if selection:
        try:
            job = job.get_subset(op_selection=list(selection))
        except DagsterInvalidSubsetError as error:
            return InvalidSubsetError(message=str(error), pipeline=pipeline_type(location_name, job))
    return location_name, job


# ---------- config ----------


def read_config(value: Any) -> Mapping[str, Any]:
    from oprun.web.graphql.runs import read_run_config

    return read_run_config(value)


def validate_config(job: Any, run_config_data: Any) -> PipelineConfigValidationResult:
    """Every error of a run config document for `job`, as a run would meet them
    (its default config, config mapping and partitioned config applied)."""
    from oprun.execution.resolve import resolve_run_config

    try:
        resolve_run_config(job, read_config(run_config_data))
    except DagsterInvalidConfigError as error:
        return config_invalid(error, job)
    except Exception as error:  # noqa: BLE001 - user code (a config mapping) raised: data
        return c.python_error(error)
    return PipelineConfigValidationValid(pipeline_name=job.name)


def _scaffold(job: Any, registry: ConfigTypeRegistry, run_config_data: Any, all_defaults: bool) -> str | None:
    try:
        given = read_config(run_config_data)
    except DagsterInvalidConfigError:
        return None
    if nests_too_deep(given):
        return None  # no run could take it: validation says where
    # As a run resolves it: the job's own config= for each section, and each entry
    # of a section, that the document leaves out.
    document = with_job_defaults(own_config(job), given)
    return to_yaml(scaffold(registry.types[registry.root_key], document, all_defaults))


def run_config_schema(job: Any) -> RunConfigSchema:
    return RunConfigSchema(job=job, registry=ConfigTypeRegistry(presented_schema(job)))


def _mode_not_found(mode: str | None) -> ModeNotFoundError | None:
    if mode is None or mode is strawberry.UNSET or mode == MODE:
        return None
    return ModeNotFoundError(message=f"Mode {mode} not found: oprun jobs have one mode, '{MODE}'.", mode=mode)


# ---------- resolvers ----------


@c.or_python_error
def pipeline_or_error(context: WebContext, params: PipelineSelector) -> PipelineOrError:
    found = find_job(context, params)
    if not isinstance(found, tuple):
        return found
    return pipeline_type(*found)


@c.or_python_error
def pipeline_snapshot_or_error(context: WebContext, snapshot_id: str | None, selector: PipelineSelector | None) -> PipelineSnapshotOrError:
    """A job by selector, or the loaded job whose snapshot has `snapshot_id`
    (a run's `pipelineSnapshotId`, while its code is loaded)."""
    if selector is not None:
        found = find_job(context, selector)
        if isinstance(found, InvalidSubsetError):
            return c.python_error(DagsterInvalidSubsetError(found.message))
        if not isinstance(found, tuple):
            return found
        return snapshot_type(*found)
    if snapshot_id:
        for location, definitions in context.workspace.loaded():
            for name in definitions.job_names:
                job = definitions.get_job_def(name)
                if snapshot_id_of(job) == snapshot_id:
                    return snapshot_type(location.name, job)
    return PipelineSnapshotNotFoundError(
        message=f"No loaded job has the snapshot {snapshot_id}: its code may have changed since.", snapshot_id=str(snapshot_id or "")
    )


def snapshot_type(location_name: str, job: Any) -> PipelineSnapshot:
    return PipelineSnapshot(
        job=job, location_name=location_name, index=GraphIndex(job),
    )


@c.or_python_error
def run_config_schema_or_error(context: WebContext, selector: PipelineSelector, mode: str | None) -> RunConfigSchemaOrError:
    found = find_job(context, selector)
    if not isinstance(found, tuple):
        return found
    return _mode_not_found(mode) or run_config_schema(found[1])


@c.or_python_error
def is_pipeline_config_valid(context: WebContext, pipeline: PipelineSelector, run_config_data: Any) -> PipelineConfigValidationResult:
    found = find_job(context, pipeline)
    if not isinstance(found, tuple):
        return found
    return validate_config(found[1], run_config_data)


@c.or_python_error
def execution_plan_or_error(context: WebContext, pipeline: PipelineSelector, run_config_data: Any) -> ExecutionPlanOrError:
    found = find_job(context, pipeline)
    if not isinstance(found, tuple):
        return found
    job = found[1]
    checked = validate_config(job, run_config_data)
    if not isinstance(checked, PipelineConfigValidationValid):
        return checked  # RunConfigValidationInvalid or PythonError: members of both unions
    return execution_plan(job, read_config(run_config_data))


# ---------- root fields ----------


def _pipeline_or_error(info: Info, params: PipelineSelector) -> PipelineOrError:
    return pipeline_or_error(info.context, params)


def _pipeline_snapshot_or_error(
    info: Info, snapshot_id: str | None = None, active_pipeline_selector: PipelineSelector | None = None
) -> PipelineSnapshotOrError:
    return pipeline_snapshot_or_error(info.context, snapshot_id, active_pipeline_selector)


def _run_config_schema_or_error(info: Info, selector: PipelineSelector, mode: str | None = None) -> RunConfigSchemaOrError:
    return run_config_schema_or_error(info.context, selector, mode)


def _is_pipeline_config_valid(
    info: Info, pipeline: PipelineSelector, mode: str, run_config_data: c.RunConfigData | None = None
) -> PipelineConfigValidationResult:
    return is_pipeline_config_valid(info.context, pipeline, run_config_data)


def _execution_plan_or_error(
    info: Info, pipeline: PipelineSelector, mode: str, run_config_data: c.RunConfigData | None = None
) -> ExecutionPlanOrError:
    return execution_plan_or_error(info.context, pipeline, run_config_data)


@strawberry.type
class JobQueries:
    pipeline_or_error: PipelineOrError = strawberry.field(resolver=_pipeline_or_error)
    pipeline_snapshot_or_error: PipelineSnapshotOrError = strawberry.field(resolver=_pipeline_snapshot_or_error)
    run_config_schema_or_error: RunConfigSchemaOrError = strawberry.field(resolver=_run_config_schema_or_error)
    is_pipeline_config_valid: PipelineConfigValidationResult = strawberry.field(resolver=_is_pipeline_config_valid)
    execution_plan_or_error: ExecutionPlanOrError = strawberry.field(resolver=_execution_plan_or_error)
