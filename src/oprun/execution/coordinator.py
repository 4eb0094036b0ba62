"""Run coordinators: what `DagsterInstance.submit_run` hands a recorded run to.

- `DefaultRunCoordinator` launches it at once (Dagster's name and behaviour).
- `QueuedRunCoordinator` queues it: the run becomes QUEUED (a RUN_ENQUEUED event)
  and the daemon's queue loop launches it when the instance's limits allow
  (`max_concurrent_runs`, `tag_concurrency_limits`, priority from the
  `dagster/priority` tag). Its config is Dagster's.

The instance's default is the queued coordinator with `launch_without_daemon`:
when no daemon has beaten its heart lately, nobody would ever dequeue the run,
so it is launched at once, as before there was a daemon (docs/automation.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from oprun.errors import DagsterInvariantViolationError, DagsterRunNotFoundError
from oprun.events import DagsterEventType
from oprun.runs import DagsterRunStatus

QUEUE_DAEMON_TYPE = "QUEUED_RUN_COORDINATOR"


class DefaultRunCoordinator:
    def __init__(self, instance: Any, **_config: Any) -> None:
        self._instance = instance

    def submit_run(self, run_id: str) -> None:
        run = _submittable(self._instance, run_id)
        self._instance.launch_run(run.run_id)

    def cancel_run(self, run_id: str) -> bool:
        return bool(self._instance.run_launcher.terminate(run_id))


class QueuedRunCoordinator:
    def __init__(
        self,
        instance: Any,
        max_concurrent_runs: int | None = None,
        tag_concurrency_limits: Sequence[Mapping[str, Any]] | None = None,
        dequeue_interval_seconds: float | None = None,
        launch_without_daemon: bool = False,
        **_dagster_only: Any,  # dequeue_use_threads, dequeue_num_workers, ...: accepted as in Dagster
    ) -> None:
        self._instance = instance
        self.max_concurrent_runs = max_concurrent_runs
        self.tag_concurrency_limits = list(tag_concurrency_limits or [])
        self.dequeue_interval_seconds = dequeue_interval_seconds
        self.launch_without_daemon = launch_without_daemon

    def submit_run(self, run_id: str) -> None:
        run = _submittable(self._instance, run_id)
        if self.launch_without_daemon and not self._instance.daemon_is_alive(QUEUE_DAEMON_TYPE):
            self._instance.launch_run(run.run_id)
            return
        self._instance.report_run_event(run, DagsterEventType.RUN_ENQUEUED, "Run enqueued: it starts when the run queue's limits allow.")

    def cancel_run(self, run_id: str) -> bool:
        """Cancel a run: a QUEUED one is CANCELED at once (no process holds it);
        one in progress is terminated by the launcher."""
        run = self._instance.get_run_by_id(run_id)
        if run is None:
            raise DagsterRunNotFoundError(f"Cannot cancel run {run_id}: no such run.", run_id)
        if run.status is DagsterRunStatus.QUEUED:
            self._instance.report_run_canceled(run, "The run was canceled while queued.")
            current = self._instance.get_run_by_id(run_id)
            return current is not None and current.status is DagsterRunStatus.CANCELED
        return bool(self._instance.run_launcher.terminate(run_id))


def _submittable(instance: Any, run_id: str) -> Any:
    run = instance.get_run_by_id(run_id)
    if run is None:
        raise DagsterRunNotFoundError(f"Cannot submit run {run_id}: no such run.", run_id)
    if run.status is not DagsterRunStatus.NOT_STARTED:
        raise DagsterInvariantViolationError(
            f"Cannot submit run {run_id}: it is {run.status.value}, and only a run that has not started (NOT_STARTED) can be submitted."
        )
    return run
