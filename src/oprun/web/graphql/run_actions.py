"""Terminating and deleting runs as GraphQL (`terminateRun`, `terminateRuns`,
`deleteRun` and their legacy names), and what this server permits
(`permissions`: Dagster's list, all granted, or all refused on a read-only server).

Terminate policies, as Dagster's:
- SAFE_TERMINATE (the default): a queued run is canceled at once; a started one
  is stopped by the run launcher (its processes get SIGTERM, then SIGKILL after
  the launcher's grace period), and the answer comes once it is CANCELED.
- MARK_AS_CANCELED_IMMEDIATELY (the UI's "force"): any run that has not finished
  is CANCELED at once; the launcher is asked to stop its processes, and goes on
  doing so after the answer. A finished run's status never changes again, so a
  worker that records an end later cannot flip it.
"""

from __future__ import annotations

import enum
import threading
import time
from typing import Annotated, Any

import strawberry

from oprun.runs import DagsterRun, DagsterRunStatus
from oprun.web.context import WebContext
from oprun.web.graphql import common as c
from oprun.web.graphql.run_object import CANCELABLE_STATUSES, Run, run_type

# How long a forced termination waits for the launcher to take the run in hand
# (it records CANCELING within milliseconds) before marking the run CANCELED.
_HANDOVER_SECONDS = 2.0
_FORCED_MESSAGE = (
    "This run was forcibly marked as canceled from outside the execution context. The "
    "computational resources created by the run may not have been fully cleaned up."
)


@strawberry.enum(name="TerminateRunPolicy")
class TerminateRunPolicy(enum.Enum):
    SAFE_TERMINATE = "SAFE_TERMINATE"
    MARK_AS_CANCELED_IMMEDIATELY = "MARK_AS_CANCELED_IMMEDIATELY"


@strawberry.interface(name="TerminatePipelineExecutionSuccess")
class TerminatePipelineExecutionSuccess:
    run: Run


@strawberry.interface(name="TerminatePipelineExecutionFailure")
class TerminatePipelineExecutionFailure:
    run: Run
    message: str


@strawberry.type(name="TerminateRunSuccess")
class TerminateRunSuccess(TerminatePipelineExecutionSuccess):
    pass


@strawberry.type(name="TerminateRunFailure")
class TerminateRunFailure(TerminatePipelineExecutionFailure):
    pass


@strawberry.type(name="TerminateRunsResult")
class TerminateRunsResult:
    terminate_run_results: list[TerminateRunResult]


@strawberry.type(name="DeletePipelineRunSuccess")
class DeletePipelineRunSuccess:
    run_id: str


@strawberry.type(name="Permission")
class Permission:
    permission: str
    value: bool
    disabled_reason: str | None = None


TerminateRunResult = Annotated[
    TerminateRunSuccess | TerminateRunFailure | c.RunNotFoundError | c.UnauthorizedError | c.PythonError,
    strawberry.union("TerminateRunResult"),
]
TerminateRunsResultOrError = Annotated[TerminateRunsResult | c.PythonError, strawberry.union("TerminateRunsResultOrError")]
DeletePipelineRunResult = Annotated[
    DeletePipelineRunSuccess | c.UnauthorizedError | c.PythonError | c.RunNotFoundError,
    strawberry.union("DeletePipelineRunResult"),
]

# Dagster's permission names (`dagster._core.workspace.permissions.Permissions`).
PERMISSIONS = (
    "launch_pipeline_execution", "launch_pipeline_reexecution", "start_schedule", "stop_running_schedule",
    "schedule_dry_run", "edit_sensor", "sensor_dry_run", "update_sensor_cursor", "terminate_pipeline_execution",
    "delete_pipeline_run", "reload_repository_location", "reload_workspace", "wipe_assets",
    "report_runless_asset_events", "launch_partition_backfill", "cancel_partition_backfill",
    "edit_dynamic_partitions", "toggle_auto_materialize", "edit_concurrency_limit",
)


def permissions(context: WebContext) -> list[Permission]:
    reason = "This server was started with --read-only: it serves queries only." if context.read_only else None
    return [Permission(permission=name, value=not context.read_only, disabled_reason=reason) for name in PERMISSIONS]


# ---------- terminate ----------


def _failure(run: DagsterRun, message: str) -> TerminateRunFailure:
    return TerminateRunFailure(run=run_type(run), message=message)


@c.or_python_error
def terminate_run(context: WebContext, run_id: str, policy: TerminateRunPolicy | None = None) -> TerminateRunResult:
    refused = c.read_only_refusal(context, f"terminate run {run_id}")
    if refused is not None:
        return refused
    instance = context.instance
    run = instance.get_run_by_id(run_id)
    if run is None:
        return c.run_not_found(run_id)
    force = policy is TerminateRunPolicy.MARK_AS_CANCELED_IMMEDIATELY
    if run.is_finished or not (force or run.status in CANCELABLE_STATUSES):
        return _failure(run, f"Run {run_id} could not be terminated due to having status {run.status.value}.")
    if force:
        return _mark_canceled_now(context, run)
    if not instance.run_coordinator.cancel_run(run_id):
        return _failure(run, f"Unable to terminate run {run_id}")
    return TerminateRunSuccess(run=run_type(instance.get_run_by_id(run_id)))


def _stop(instance: Any, run: DagsterRun) -> None:
    try:
        instance.run_coordinator.cancel_run(run.run_id)
    except Exception as error:  # noqa: BLE001 - recorded on the run, which is canceled regardless
        instance.report_engine_event(
            f"Exception while attempting to force-terminate run; it is marked as canceled anyway: {error!r}", run,
        )


def _mark_canceled_now(context: WebContext, run: DagsterRun) -> TerminateRunResult:
    instance = context.instance
    if run.status is not DagsterRunStatus.CANCELING and run.status is not DagsterRunStatus.NOT_STARTED:
        # Ask the launcher to stop the run's processes, on a thread: stopping them
        # can take its grace period. Wait until it has the run in hand (its status
        # moves on) before marking it CANCELED, which would make it stop nothing.
        stopper = threading.Thread(target=_stop, args=(instance, run), name=f"oprun-terminate-{run.run_id}", daemon=True)
        stopper.start()
        deadline = time.monotonic() + _HANDOVER_SECONDS
        pause = threading.Event()
        while stopper.is_alive() and time.monotonic() < deadline:
            current = instance.get_run_by_id(run.run_id)
            if current is None or current.status is not run.status:
                break
            pause.wait(0.005)
    current = instance.get_run_by_id(run.run_id)
    if current is not None and not current.is_finished:
        instance.report_run_canceled(current, _FORCED_MESSAGE)
        current = instance.get_run_by_id(run.run_id)
    if current is None:
        return c.run_not_found(run.run_id)
    return TerminateRunSuccess(run=run_type(current))


def terminate_runs(context: WebContext, run_ids: list[str], policy: TerminateRunPolicy | None = None) -> TerminateRunsResultOrError:
    return TerminateRunsResult(terminate_run_results=[terminate_run(context, run_id, policy) for run_id in run_ids])


# ---------- delete ----------

_IN_PROGRESS = (DagsterRunStatus.STARTING, DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING)


@c.or_python_error
def delete_run(context: WebContext, run_id: str) -> DeletePipelineRunResult:
    """Delete a run with its events, stored outputs and compute logs. Unlike
    Dagster, a run whose processes are running is refused (they would go on
    writing events of a run that no longer exists): terminate it first."""
    refused = c.read_only_refusal(context, f"delete run {run_id}")
    if refused is not None:
        return refused
    instance = context.instance
    run = instance.get_run_by_id(run_id)
    if run is None:
        return c.run_not_found(run_id)
    if run.status in _IN_PROGRESS:
        from oprun.errors import DagsterInvariantViolationError

        raise DagsterInvariantViolationError(
            f"Cannot delete run {run_id}: it is {run.status.value}, and its processes would go on writing to it. "
            "Terminate it first (terminateRun), then delete it."
        )
    instance.delete_run(run_id)
    return DeletePipelineRunSuccess(run_id=run_id)
