"""The `Run` type: one recorded run as Dagster's GraphQL schema shows it.

`run_type(run)` is the one way to build it, from a `DagsterRun` or a `RunRecord`
(a runs list has records, and so the times at no cost). Only `runId` and `status`
are read when it is built; every other field is a resolver, so a runs page that
asks for `runId status` costs the one query that listed the runs. `stats` and
`stepStats` share one read of the run's lifecycle events (`run_stats`);
`creationTime` and the other times read the run's record once when the run was
built without it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import UNSET
from strawberry.types import Info

from oprun.runs import DagsterRun, DagsterRunStatus, RunRecord
from oprun.web.graphql import common as c
from oprun.web.graphql.run_stats import RunStatsSnapshot, RunStepStats, read_stats

if TYPE_CHECKING:
    from oprun.loading import CodeLocation
    from oprun.web.context import WebContext
    from oprun.web.graphql.events import AssetKey, CapturedLogs, EventConnection, MaterializationEvent
    from oprun.web.graphql.job_plan import ExecutionPlan
    from oprun.web.graphql.jobs import PipelineReference

# As Dagster: only a queued or started run can be terminated (NOT_STARTED and
# STARTING are brief windows; CANCELING is on its way already).
CANCELABLE_STATUSES = (DagsterRunStatus.QUEUED, DagsterRunStatus.STARTED)
# Every oprun job has Dagster's one mode.
MODE = "default"


@strawberry.type(name="PipelineTag")
class PipelineTag:
    key: str
    value: str


@strawberry.type(name="RepositoryMetadata")
class RepositoryMetadata:
    key: str
    value: str


@strawberry.type(name="RepositoryOrigin")
class RepositoryOrigin:
    id: str
    repository_location_name: str
    repository_name: str
    repository_location_metadata: list[RepositoryMetadata]


RunStatsSnapshotOrError = Annotated[RunStatsSnapshot | c.PythonError, strawberry.union("RunStatsSnapshotOrError")]


@strawberry.type(name="Run")
class Run(c.PipelineRun):
    run_id: str
    _run: strawberry.Private[DagsterRun]
    _record: strawberry.Private[RunRecord | None] = None
    _stats: strawberry.Private[tuple[RunStatsSnapshot, list[RunStepStats]] | None] = None

    # ---------- identity and what was run ----------

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.run_id)

    @strawberry.field
    def job_name(self) -> str:
        return self._run.job_name

    @strawberry.field
    def pipeline_name(self) -> str:
        return self._run.job_name

    @strawberry.field
    def mode(self) -> str:
        return MODE

    @strawberry.field
    def pipeline_snapshot_id(self) -> str | None:
        return self._run.job_snapshot_id

    @strawberry.field
    def parent_pipeline_snapshot_id(self) -> str | None:
        return None  # jobs are not built from other jobs' snapshots in oprun

    @strawberry.field
    def solid_selection(self) -> list[str] | None:
        return list(self._run.op_selection) if self._run.op_selection else None

    # The top-level ops the op selection resolved to (null without a selection).
    @strawberry.field
    def resolved_op_selection(self, info: Info) -> list[str] | None:
        if not self._run.op_selection or not self._run.job_snapshot_id:
            return None
        snapshot = info.context.instance.get_job_snapshot(self._run.job_snapshot_id) or {}
        graph = snapshot.get("graph") or {}
        return [node["name"] for node in graph.get("nodes", [])] or None

    @strawberry.field
    def step_keys_to_execute(self) -> list[str] | None:
        return list(self._run.step_keys_to_execute) if self._run.step_keys_to_execute is not None else None

    # Values from environment variables show as {env: NAME}: secrets never leave the server.
    @strawberry.field
    def run_config_yaml(self) -> str:
        import yaml

        return yaml.safe_dump(dict(self._run.run_config), default_flow_style=False, allow_unicode=True, sort_keys=True)

    @strawberry.field
    def run_config(self) -> c.RunConfigData:
        return c.RunConfigData(dict(self._run.run_config))

    @strawberry.field
    def tags(self) -> list[PipelineTag]:
        return [PipelineTag(key=k, value=v) for k, v in self._run.tags.items()]

    @strawberry.field
    def root_run_id(self) -> str | None:
        return self._run.root_run_id

    @strawberry.field
    def parent_run_id(self) -> str | None:
        return self._run.parent_run_id

    # The code location of this server that holds the run's job (null when none does).
    @strawberry.field
    def repository_origin(self, info: Info) -> RepositoryOrigin | None:
        location = location_for_run(info.context, self._run)
        if location is None:
            return None
        return RepositoryOrigin(
            id=f"{c.REPOSITORY_NAME}@{location.name}",
            repository_location_name=location.name,
            repository_name=c.REPOSITORY_NAME,
            repository_location_metadata=[],
        )

    # ---------- times (epoch seconds) ----------

    def _record_for(self, info: Info) -> RunRecord | None:
        if self._record is None:
            self._record = info.context.instance.get_run_record_by_id(self.run_id)
        return self._record

    @strawberry.field
    def creation_time(self, info: Info) -> float:
        record = self._record_for(info)
        return record.create_timestamp.timestamp() if record is not None else 0.0

    @strawberry.field
    def update_time(self, info: Info) -> float | None:
        record = self._record_for(info)
        return record.update_timestamp.timestamp() if record is not None else None

    @strawberry.field
    def start_time(self, info: Info) -> float | None:
        record = self._record_for(info)
        return record.start_time if record is not None else None

    @strawberry.field
    def end_time(self, info: Info) -> float | None:
        record = self._record_for(info)
        return record.end_time if record is not None else None

    # ---------- from the event log ----------

    def _read_stats(self, info: Info) -> tuple[RunStatsSnapshot, list[RunStepStats]]:
        if self._stats is None:
            self._stats = read_stats(info.context.instance, self.run_id)
        return self._stats

    @strawberry.field
    def stats(self, info: Info) -> RunStatsSnapshotOrError:
        try:
            return self._read_stats(info)[0]
        except Exception as error:  # noqa: BLE001 - a union member, as Dagster's
            return c.python_error(error)

    @strawberry.field
    def step_stats(self, info: Info) -> list[RunStepStats]:
        return self._read_stats(info)[1]

    @strawberry.field
    def asset_materializations(self, info: Info) -> list[Annotated["MaterializationEvent", strawberry.lazy("oprun.web.graphql.events")]]:  # noqa: UP037 - strawberry resolves the lazy name
        return [event for step in self._read_stats(info)[1] for event in step.materialization_events()]

    @strawberry.field
    def asset_selection(self) -> list[Annotated["AssetKey", strawberry.lazy("oprun.web.graphql.events")]] | None:  # noqa: UP037 - strawberry resolves the lazy name
        return None  # oprun runs op jobs: no run selects assets

    # A page of the run's events after `afterCursor` (as logsForRun).
    @strawberry.field
    def event_connection(
        self, info: Info, after_cursor: str | None = UNSET, limit: int | None = UNSET,
    ) -> Annotated["EventConnection", strawberry.lazy("oprun.web.graphql.events")]:  # noqa: UP037 - strawberry resolves the lazy name
        from oprun.web.graphql.events import event_connection

        return event_connection(
            info.context, self.run_id, None if after_cursor is UNSET else after_cursor, None if limit is UNSET else limit,
        )

    # The run's plan, made from its job as this server loads it now: null when no
    # location has the job, or the recorded config no longer fits it.
    @strawberry.field
    def execution_plan(self, info: Info) -> Annotated["ExecutionPlan", strawberry.lazy("oprun.web.graphql.job_plan")] | None:  # noqa: UP037 - strawberry resolves the lazy name
        from oprun.errors import DagsterError
        from oprun.web.graphql.job_plan import execution_plan

        location = location_for_run(info.context, self._run)
        if location is None:
            return None
        try:
            definitions = location.load()
            if not definitions.has_job(self._run.job_name):
                return None
            job = definitions.get_job_def(self._run.job_name)
            if self._run.op_selection:
                job = job.get_subset(op_selection=list(self._run.op_selection))
            return execution_plan(job, self._run.run_config)
        except DagsterError:  # a load error, a selection or config that no longer fits
            return None

    # The run's job: its snapshot while a location of this server has it, else
    # just its name and selection (the code is gone or renamed).
    @strawberry.field
    def pipeline(self, info: Info) -> Annotated["PipelineReference", strawberry.lazy("oprun.web.graphql.jobs")]:  # noqa: UP037 - strawberry resolves the lazy name
        from oprun.errors import DagsterError
        from oprun.web.graphql.jobs import UnknownPipeline, snapshot_type

        location = location_for_run(info.context, self._run)
        selection = list(self._run.op_selection) if self._run.op_selection else None
        try:
            definitions = location.load() if location is not None else None
            if location is not None and definitions is not None and definitions.has_job(self._run.job_name):
                job = definitions.get_job_def(self._run.job_name)
                return snapshot_type(location.name, job.get_subset(op_selection=selection) if selection else job)
        except DagsterError:  # a load error, or a selection that no longer fits
            pass
        return UnknownPipeline(job_name=self._run.job_name, selection=selection)

    # A step's stdout and stderr (`fileKey` is the step key), from the start.
    @strawberry.field
    def captured_logs(self, info: Info, file_key: str) -> Annotated["CapturedLogs", strawberry.lazy("oprun.web.graphql.events")]:  # noqa: UP037 - strawberry resolves the lazy name
        from oprun.web.graphql.events import COMPUTE_LOGS, read_captured_logs

        return read_captured_logs(info.context.instance, [self.run_id, COMPUTE_LOGS, file_key], None, None)

    # ---------- what may be done with it ----------

    @strawberry.field
    def can_terminate(self) -> bool:
        return self._run.status in CANCELABLE_STATUSES

    @strawberry.field
    def has_re_execute_permission(self, info: Info) -> bool:
        return not info.context.read_only

    @strawberry.field
    def has_terminate_permission(self, info: Info) -> bool:
        return not info.context.read_only

    @strawberry.field
    def has_delete_permission(self, info: Info) -> bool:
        return not info.context.read_only

    # Dagster's op concurrency pools: oprun limits runs, not op slots.
    @strawberry.field
    def has_concurrency_key_slots(self) -> bool:
        return False

    @strawberry.field
    def root_concurrency_keys(self) -> list[str] | None:
        return None

    @strawberry.field
    def has_unconstrained_root_nodes(self) -> bool:
        return True


def run_type(run: DagsterRun | RunRecord) -> Run:
    """The GraphQL `Run` of a stored run (or of its record, which carries its times)."""
    if isinstance(run, RunRecord):
        dagster_run = run.dagster_run
        return Run(run_id=dagster_run.run_id, status=c.RunStatus(dagster_run.status.value), _run=dagster_run, _record=run)
    return Run(run_id=run.run_id, status=c.RunStatus(run.status.value), _run=run)


def _same_file(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return a is b
    return os.path.realpath(a) == os.path.realpath(b)


def location_for_run(context: WebContext, run: DagsterRun) -> CodeLocation | None:
    """The location of this server's workspace whose code the run's job was loaded
    from: the one whose pointer (file or module, and attribute) the run recorded;
    else, for a run recorded without a pointer, the one location with a job of
    its name."""
    origin: dict[str, Any] = dict(run.job_code_origin or {})
    if origin:
        for location in context.workspace.locations:
            pointer = location.pointer
            if (
                _same_file(pointer.python_file, origin.get("python_file"))
                and pointer.module_name == origin.get("module_name")
                and (pointer.attribute or "*") == (origin.get("attribute") or "*")
            ):
                return location
        return None
    holding = [location for location, definitions in context.workspace.loaded() if definitions.has_job(run.job_name)]
    return holding[0] if len(holding) == 1 else None
