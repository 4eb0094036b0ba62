"""Partition backfills as GraphQL (Dagster's `PartitionBackfill`,
`partitionBackfillsOrError`, `launchPartitionBackfill`, cancel and resume).

A job's partition set is named as Dagster names it, `<job>_partition_set`. What
the mutations do is the daemon's (`oprun.daemon.backfills`), the functions
`oprun job backfill` and `oprun backfill cancel` call: a launched backfill is
stored REQUESTED and the daemon's backfill loop makes its runs, so
`launchedRunIds` is always empty, as for Dagster's daemon-submitted backfills."""

from __future__ import annotations

import enum
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from oprun.instigation import BulkActionStatus as StoredStatus, PartitionBackfill as StoredBackfill
from oprun.web.context import WebContext
from oprun.web.graphql import common as c
from oprun.web.graphql.automation_shared import PartitionSetSelector, clamp_limit, repository_not_found, tags_of
from oprun.web.graphql.config_types import RunConfigValidationInvalid, config_invalid
from oprun.web.graphql.run_object import PipelineTag
from oprun.web.graphql.runs import Run, run_type

PARTITION_SET_SUFFIX = "_partition_set"


@strawberry.enum(name="BulkActionStatus")
class BulkActionStatus(enum.Enum):
    REQUESTED = "REQUESTED"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"
    CANCELING = "CANCELING"
    COMPLETED_SUCCESS = "COMPLETED_SUCCESS"
    COMPLETED_FAILED = "COMPLETED_FAILED"
    FAILING = "FAILING"


@strawberry.input(name="LaunchBackfillParams")
class LaunchBackfillParams:
    selector: PartitionSetSelector | None = strawberry.UNSET
    partition_names: list[str] | None = strawberry.UNSET
    reexecution_steps: list[str] | None = strawberry.UNSET
    from_failure: bool | None = strawberry.UNSET
    all_partitions: bool | None = strawberry.UNSET
    tags: list[c.ExecutionTag] | None = strawberry.UNSET
    force_synchronous_submission: bool | None = strawberry.UNSET
    title: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET


@strawberry.type(name="PartitionStatus")
class PartitionStatus:
    id: str
    partition_name: str
    run_id: str | None
    run_status: c.RunStatus | None
    run_duration: float | None


@strawberry.type(name="PartitionStatuses")
class PartitionStatuses:
    results: list[PartitionStatus]


@strawberry.type(name="PartitionStatusCounts")
class PartitionStatusCounts:
    run_status: c.RunStatus
    count: int


@strawberry.type(name="PartitionBackfill")
class PartitionBackfill:
    id: str
    status: BulkActionStatus
    partition_names: list[str] | None
    is_valid_serialization: bool
    num_partitions: int | None
    from_failure: bool
    reexecution_steps: list[str] | None
    partition_set_name: str | None
    job_name: str | None
    timestamp: float
    end_timestamp: float | None
    error: c.PythonError | None
    is_asset_backfill: bool
    has_cancel_permission: bool
    has_resume_permission: bool
    user: str | None
    tags: list[PipelineTag]
    title: str | None
    description: str | None
    _stored: strawberry.Private[StoredBackfill]

    def _runs(self, info: Info) -> list[Any]:
        from oprun.daemon.backfills import backfill_runs

        found = backfill_runs(info.context.instance, self._stored)
        # In partition order, as the backfill made them.
        return [found[run_id] for run_id in self._stored.run_ids.values() if run_id in found]

    @strawberry.field
    def num_cancelable(self, info: Info) -> int:
        return sum(1 for run in self._runs(info) if not run.is_finished)

    @strawberry.field
    def runs(self, info: Info, limit: int | None = None) -> list[Run]:
        return [run_type(run) for run in self._runs(info)][: clamp_limit(limit)]

    @strawberry.field
    def unfinished_runs(self, info: Info, limit: int | None = None) -> list[Run]:
        return [run_type(run) for run in self._runs(info) if not run.is_finished][: clamp_limit(limit)]

    @strawberry.field
    def cancelable_runs(self, info: Info, limit: int | None = None) -> list[Run]:
        # Every unfinished run: a queued one is canceled, one in progress terminated.
        return [run_type(run) for run in self._runs(info) if not run.is_finished][: clamp_limit(limit)]

    @strawberry.field
    def partition_statuses(self, info: Info) -> PartitionStatuses | None:
        runs = {run.run_id: run for run in self._runs(info)}
        results = []
        for key in self._stored.partition_names:
            run = runs.get(self._stored.run_ids.get(key, ""))
            results.append(PartitionStatus(
                id=f"{self.id}:{key}", partition_name=key, run_id=run.run_id if run is not None else None,
                run_status=c.RunStatus(run.status.value) if run is not None else None, run_duration=_duration(info, run),
            ))
        return PartitionStatuses(results=results)

    @strawberry.field
    def partition_status_counts(self, info: Info) -> list[PartitionStatusCounts]:
        from oprun.daemon.backfills import partition_statuses, status_counts

        counts: dict[str, int] = {}
        for status, count in status_counts(partition_statuses(info.context.instance, self._stored)).items():
            # A partition without a run (not launched yet, or its run deleted) counts as NOT_STARTED.
            name = status if status in c.RunStatus.__members__ else "NOT_STARTED"
            counts[name] = counts.get(name, 0) + count
        return [PartitionStatusCounts(run_status=c.RunStatus[name], count=n) for name, n in sorted(counts.items())]


def _duration(info: Info, run: Any) -> float | None:
    if run is None or not run.is_finished:
        return None
    record = info.context.instance.get_run_record_by_id(run.run_id)
    start, end = getattr(record, "start_time", None), getattr(record, "end_time", None)
    return float(end - start) if start is not None and end is not None else None


def partition_set_name(job_name: str) -> str:
    return f"{job_name}{PARTITION_SET_SUFFIX}"


def backfill_type(context: WebContext, backfill: StoredBackfill) -> PartitionBackfill:
    allowed = not context.read_only
    return PartitionBackfill(
        id=backfill.backfill_id, status=BulkActionStatus(backfill.status.value), partition_names=list(backfill.partition_names),
        is_valid_serialization=True, num_partitions=len(backfill.partition_names), from_failure=False, reexecution_steps=None,
        partition_set_name=partition_set_name(backfill.job_name), job_name=backfill.job_name,
        timestamp=backfill.backfill_timestamp, end_timestamp=backfill.end_timestamp,
        error=c.PythonError(message=backfill.error, stack=[]) if backfill.error else None, is_asset_backfill=False,
        has_cancel_permission=allowed and backfill.status is StoredStatus.REQUESTED,
        has_resume_permission=allowed and backfill.status in (StoredStatus.FAILED, StoredStatus.CANCELED),
        user=None, tags=tags_of(backfill.tags), title=None, description=None, _stored=backfill,
    )


# ---------- results ----------


@strawberry.type(name="PartitionBackfills")
class PartitionBackfills:
    results: list[PartitionBackfill]


@strawberry.type(name="BackfillNotFoundError")
class BackfillNotFoundError:
    message: str
    backfill_id: str


@strawberry.type(name="PartitionSetNotFoundError")
class PartitionSetNotFoundError:
    message: str
    partition_set_name: str


@strawberry.type(name="LaunchBackfillSuccess")
class LaunchBackfillSuccess:
    backfill_id: str
    launched_run_ids: list[str | None] | None


@strawberry.type(name="CancelBackfillSuccess")
class CancelBackfillSuccess:
    backfill_id: str


@strawberry.type(name="ResumeBackfillSuccess")
class ResumeBackfillSuccess:
    backfill_id: str


PartitionBackfillOrError = Annotated[
    PartitionBackfill | BackfillNotFoundError | c.PythonError, strawberry.union("PartitionBackfillOrError")
]
PartitionBackfillsOrError = Annotated[PartitionBackfills | c.PythonError, strawberry.union("PartitionBackfillsOrError")]
LaunchBackfillResult = Annotated[
    LaunchBackfillSuccess | PartitionSetNotFoundError | c.InvalidStepError | c.InvalidOutputError | RunConfigValidationInvalid
    | c.PipelineNotFoundError | c.RunConflict | c.UnauthorizedError | c.PythonError | c.PresetNotFoundError
    | c.ConflictingExecutionParamsError,
    strawberry.union("LaunchBackfillResult"),
]
CancelBackfillResult = Annotated[CancelBackfillSuccess | c.UnauthorizedError | c.PythonError, strawberry.union("CancelBackfillResult")]
ResumeBackfillResult = Annotated[ResumeBackfillSuccess | c.UnauthorizedError | c.PythonError, strawberry.union("ResumeBackfillResult")]


# ---------- resolvers ----------


@c.or_python_error
def backfills_or_error(context: WebContext, status: BulkActionStatus | None, cursor: str | None, limit: int | None) -> PartitionBackfillsOrError:
    """Newest first; `cursor` is a backfill id: the backfills after it."""
    found = context.instance.get_backfills(StoredStatus(status.value) if status is not None else None)
    if cursor:
        ids = [b.backfill_id for b in found]
        found = found[ids.index(cursor) + 1:] if cursor in ids else []
    found = found[: clamp_limit(limit)]
    return PartitionBackfills(results=[backfill_type(context, b) for b in found])


@c.or_python_error
def backfill_or_error(context: WebContext, backfill_id: str) -> PartitionBackfillOrError:
    backfill = context.instance.get_backfill(backfill_id)
    if backfill is None:
        return BackfillNotFoundError(message=f"Backfill {backfill_id} could not be found.", backfill_id=backfill_id)
    return backfill_type(context, backfill)


@c.or_python_error
def launch_backfill(context: WebContext, params: LaunchBackfillParams) -> LaunchBackfillResult:
    """Check the partition set (a partitioned job), the keys and each partition's
    run config, then store a REQUESTED backfill for the daemon to make its runs."""
    from oprun.daemon import backfills
    from oprun.errors import DagsterInvalidConfigError

    refused = c.read_only_refusal(context, "launch a backfill")
    if refused is not None:
        return refused
    selector = params.selector
    if not selector:
        return _refusal("launchPartitionBackfill needs a selector (a job's partition set): asset backfills are not supported, oprun runs op jobs.")
    if params.from_failure:
        return _refusal("A backfill from failure (fromFailure: true) is not supported yet: launch a backfill of the partitions to run again.")
    repo = selector.repository_selector
    location_name, set_name = repo.repository_location_name, selector.partition_set_name
    location = c.find_location(context, location_name)
    definitions = _loaded(context, location_name) if repo.repository_name == c.REPOSITORY_NAME else None
    if location is None or definitions is None:
        return repository_not_found_as_python_error(repo.repository_name, location_name)
    job_name = set_name.removesuffix(PARTITION_SET_SUFFIX)
    job = definitions.resolve_job_def(job_name) if definitions.has_job(job_name) else None
    if job is None or job.partitioned_config is None:
        jobs = sorted(name for name in definitions.job_names if definitions.resolve_job_def(name).partitioned_config is not None)
        shown = ", ".join(partition_set_name(name) for name in jobs) or "none"
        return PartitionSetNotFoundError(
            message=f"Could not find partition set '{set_name}' in code location '{location_name}': a job's partition set is "
            f"named '<job>{PARTITION_SET_SUFFIX}' (its job must be partitioned). Partition sets: {shown}.",
            partition_set_name=set_name,
        )
    keys = backfills.job_partition_keys(job, context.instance)
    names = params.partition_names or None
    chosen = backfills.select_partitions(job.name, keys, partitions=names, all_partitions=bool(params.all_partitions) or names is None)
    for key in chosen:
        try:
            backfills.check_partition_run_config(job, key)
        except DagsterInvalidConfigError as error:
            return config_invalid(error, job)
    tags = {tag.key: tag.value for tag in params.tags or []}
    backfill = backfills.create_backfill(context.instance, location, job, chosen, tags=tags)
    return LaunchBackfillSuccess(backfill_id=backfill.backfill_id, launched_run_ids=[])


def _refusal(message: str) -> c.PythonError:
    return c.PythonError(message=message, stack=[])


def _loaded(context: WebContext, location_name: str) -> Any:
    from oprun.web.graphql.automation_shared import loaded_definitions

    return loaded_definitions(context, location_name)


def repository_not_found_as_python_error(repository_name: str, location_name: str) -> c.PythonError:
    # Dagster's LaunchBackfillResult has no RepositoryNotFoundError member.
    return c.PythonError(message=repository_not_found(repository_name, location_name).message, stack=[])


@c.or_python_error
def cancel_backfill(context: WebContext, backfill_id: str) -> CancelBackfillResult:
    from oprun.daemon import backfills

    refused = c.read_only_refusal(context, f"cancel backfill {backfill_id}")
    if refused is not None:
        return refused
    backfills.cancel_backfill(context.instance, backfill_id)
    return CancelBackfillSuccess(backfill_id=backfill_id)


@c.or_python_error
def resume_backfill(context: WebContext, backfill_id: str) -> ResumeBackfillResult:
    from oprun.daemon import backfills

    refused = c.read_only_refusal(context, f"resume backfill {backfill_id}")
    if refused is not None:
        return refused
    backfills.resume_backfill(context.instance, backfill_id)
    return ResumeBackfillSuccess(backfill_id=backfill_id)


# ---------- root fields ----------


def _partition_backfills_or_error(
    info: Info, status: BulkActionStatus | None = None, cursor: str | None = None, limit: int | None = None
) -> PartitionBackfillsOrError:
    return backfills_or_error(info.context, status, cursor, limit)


def _partition_backfill_or_error(info: Info, backfill_id: str) -> PartitionBackfillOrError:
    return backfill_or_error(info.context, backfill_id)


def _launch_partition_backfill(info: Info, backfill_params: LaunchBackfillParams) -> LaunchBackfillResult:
    return launch_backfill(info.context, backfill_params)


def _cancel_partition_backfill(info: Info, backfill_id: str) -> CancelBackfillResult:
    return cancel_backfill(info.context, backfill_id)


def _resume_partition_backfill(info: Info, backfill_id: str) -> ResumeBackfillResult:
    return resume_backfill(info.context, backfill_id)


@strawberry.type
class BackfillQueries:
    partition_backfills_or_error: PartitionBackfillsOrError = strawberry.field(resolver=_partition_backfills_or_error)
    partition_backfill_or_error: PartitionBackfillOrError = strawberry.field(resolver=_partition_backfill_or_error)


@strawberry.type
class BackfillMutations:
    launch_partition_backfill: LaunchBackfillResult = strawberry.mutation(resolver=_launch_partition_backfill)
    cancel_partition_backfill: CancelBackfillResult = strawberry.mutation(resolver=_cancel_partition_backfill)
    resume_partition_backfill: ResumeBackfillResult = strawberry.mutation(resolver=_resume_partition_backfill)
