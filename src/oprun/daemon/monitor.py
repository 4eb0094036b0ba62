"""The run monitor loop (Dagster's MONITORING daemon): ends the runs whose worker
is gone, that never started, or that ran too long.

Each iteration looks at the runs in progress on this machine:

- STARTED or STARTING, run worker gone (its process ended, is a zombie, or its pid
  now belongs to another process): an engine event says so, the run ends FAILURE,
  and what is left of its process group (step processes) is killed;
- CANCELING, run worker gone, or canceling for longer than
  `cancel_timeout_seconds` (180): the run ends CANCELED;
- STARTING for longer than `start_timeout_seconds` (180, Dagster's default):
  FAILURE;
- STARTED for longer than its `dagster/max_runtime` tag (seconds), or than
  `run_monitoring.max_runtime_seconds`: FAILURE, as Dagster marks it, and its
  worker is stopped (SIGTERM to its process group and descendants, SIGKILL after
  the launcher's grace period).

The run worker is known by the tags the launcher records (its pgid, which is its
pid, and its create time), or else by the pid the worker records itself. A run
without either (executed in another process's own `execute_job`) is only
checked for its timeouts. Times are read from `oprun.clock`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from oprun import clock
from oprun.events import DagsterEventType
from oprun.runs import DagsterRunStatus, RunRecord, RunsFilter

if TYPE_CHECKING:
    import psutil

DAEMON_TYPE = "MONITORING"
MAX_RUNTIME_TAG = "dagster/max_runtime"
DEFAULT_POLL_INTERVAL_SECONDS = 2.0
DEFAULT_START_TIMEOUT_SECONDS = 180.0
DEFAULT_CANCEL_TIMEOUT_SECONDS = 180.0
# A create time read by two processes may differ by the boot time's drift (see
# oprun.execution.launcher).
_CREATE_TIME_TOLERANCE = 1.0
_REAP_ATTEMPTS = 30
_MONITORED = [DagsterRunStatus.STARTING, DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]


class RunMonitorLoop:
    daemon_type = DAEMON_TYPE

    def __init__(self, launcher: Any = None, interval_seconds: float | None = None) -> None:
        """`launcher`: what stops a run that ran too long (its `terminate`, when it
        is not oprun's default launcher); by default the instance's."""
        self._launcher = launcher
        self._fixed_interval = interval_seconds
        self.interval_seconds = interval_seconds if interval_seconds is not None else DEFAULT_POLL_INTERVAL_SECONDS
        # Runs seen in progress whose worker may still need reaping once they end:
        # run id -> iterations left to try.
        self._to_reap: dict[str, int] = {}

    def run_iteration(self, context: Any) -> str | None:
        instance = context.instance
        settings = instance.run_monitoring_settings()
        if self._fixed_interval is None:
            configured = settings.get("poll_interval_seconds")
            self.interval_seconds = float(configured) if configured is not None else DEFAULT_POLL_INTERVAL_SECONDS
        if settings.get("enabled") is False:
            return "run monitoring is disabled (run_monitoring: enabled: false)"
        records = instance.get_run_records(RunsFilter(statuses=_MONITORED), ascending=True)
        ended: dict[str, int] = {}
        for record in records:
            if context.stopping.is_set():
                break
            outcome = self._check(context, record, settings)
            if outcome is not None:
                ended[outcome] = ended.get(outcome, 0) + 1
        self._reap_finished(instance, {r.dagster_run.run_id for r in records})
        detail = "".join(f", {count} {what}" for what, count in sorted(ended.items()))
        return f"{len(records)} runs in progress checked{detail}"

    def _reap_finished(self, instance: Any, in_progress: set[str]) -> None:
        """Collect the exit of the workers of runs that ended since the last
        iteration, if this process launched them: a worker that exits stays a
        zombie until its parent waits for it."""
        launcher = self._launcher if self._launcher is not None else instance.run_launcher
        wait = getattr(launcher, "wait", None)
        if not callable(wait):
            return
        for run_id in list(self._to_reap):
            if run_id in in_progress:
                continue
            code = None
            with contextlib.suppress(Exception):
                code = wait(run_id, timeout=0)
            self._to_reap[run_id] -= 1
            if code is not None or self._to_reap[run_id] <= 0:
                del self._to_reap[run_id]
        for run_id in in_progress:
            self._to_reap[run_id] = _REAP_ATTEMPTS

    # -- one run --

    def _check(self, context: Any, record: RunRecord, settings: Mapping[str, Any]) -> str | None:
        """Act on one run in progress; what was done, if anything."""
        instance = context.instance
        run = record.dagster_run
        now = clock.timestamp()
        launcher = self._launcher if self._launcher is not None else instance.run_launcher
        worker = _worker_state(launcher, run.run_id, run.tags, record.start_time)
        if worker.gone:
            # Read again now that the worker is known to be gone: if it recorded
            # the end of the run before it exited, there is nothing to do (and a
            # dead worker records nothing more).
            current = instance.get_run_by_id(run.run_id)
            if current is None or current.is_finished:
                return None
            run = current
        if run.status is DagsterRunStatus.CANCELING:
            if worker.gone:
                _end_group(worker)
                instance.report_run_canceled(run, f"The run worker (pid {worker.pid}) is gone: the run is canceled.")
                return "canceled (worker gone)"
            since = _last_event_time(instance, run.run_id, DagsterEventType.RUN_CANCELING, record)
            timeout = float(settings.get("cancel_timeout_seconds", DEFAULT_CANCEL_TIMEOUT_SECONDS))
            if now - since > timeout:
                instance.report_run_canceled(run, f"The run was canceling for more than {timeout:g} seconds: marked canceled.")
                return "canceled (cancel timeout)"
            return None
        if worker.gone:
            message = (
                f"The run worker (pid {worker.pid}) is gone: it exited without recording the end of the run "
                "(killed, out of memory, or crashed)."
            )
            instance.report_engine_event(message, run, {"run_worker_pid": worker.pid, "detected_by": "run monitor"})
            killed = _end_group(worker)
            if killed:
                instance.report_engine_event(f"Killed {killed} leftover processes of the run (process group {worker.pgid}).", run)
            instance.report_run_failed(run, message)
            return "failed (worker gone)"
        if run.status is DagsterRunStatus.STARTING:
            since = _last_event_time(instance, run.run_id, DagsterEventType.RUN_STARTING, record)
            timeout = float(settings.get("start_timeout_seconds", DEFAULT_START_TIMEOUT_SECONDS))
            if now - since > timeout:
                instance.report_run_failed(run, f"The run did not start within {timeout:g} seconds (start_timeout_seconds): marked failed.")
                if worker.process is not None:
                    _stop(worker, _grace(launcher))
                return "failed (start timeout)"
            return None
        max_runtime = _max_runtime(run.tags, settings)
        if max_runtime is not None and record.start_time is not None and now - record.start_time > max_runtime:
            message = f"Exceeded maximum runtime of {max_runtime:g} seconds (dagster/max_runtime): the run is stopped and marked failed."
            # Failed first: whatever the stopping worker records next, the run stays FAILURE.
            instance.report_run_failed(run, message)
            if worker.process is not None:
                _stop(worker, _grace(launcher))
            elif not _is_default_launcher(launcher):
                with contextlib.suppress(Exception):
                    launcher.terminate(run.run_id)
            return "failed (max runtime)"
        return None


class _Worker:
    """What the monitor knows of a run's worker process."""

    def __init__(self, run_id: str, pid: int | None = None, pgid: int | None = None, launcher: Any = None) -> None:
        self.run_id = run_id
        self.pid = pid
        self.pgid = pgid
        self.process: psutil.Process | None = None  # the live worker, if it is
        self.gone = False  # known to have been started and to be gone now
        self._launcher = launcher

    def reap(self) -> None:
        """Let the launcher collect the worker if it is its child (an exited child
        is a zombie until then, and still looks like a process); its exit code
        stays with the launcher's handle."""
        wait = getattr(self._launcher, "wait", None)
        if callable(wait):
            with contextlib.suppress(Exception):
                wait(self.run_id, timeout=0)


def _worker_state(launcher: Any, run_id: str, tags: Mapping[str, str], start_time: float | None) -> _Worker:
    import psutil

    from oprun.execution.launcher import RUN_WORKER_CREATE_TIME_TAG, RUN_WORKER_PGID_TAG, RUN_WORKER_PID_TAG, float_or_none, int_or_none

    pgid = int_or_none(tags.get(RUN_WORKER_PGID_TAG))
    create_time = float_or_none(tags.get(RUN_WORKER_CREATE_TIME_TAG))
    pid = pgid if pgid is not None else int_or_none(tags.get(RUN_WORKER_PID_TAG))
    if pid is None or pid <= 0:
        return _Worker(run_id)
    worker = _Worker(run_id, pid, pgid, launcher=launcher)
    worker.reap()
    try:
        process = psutil.Process(pid)
        if create_time is not None:
            reused = abs(process.create_time() - create_time) > _CREATE_TIME_TOLERANCE
        else:
            # Only the worker's own pid tag: a process created after the run
            # started cannot be the worker that recorded it.
            reused = start_time is not None and process.create_time() > start_time + _CREATE_TIME_TOLERANCE
        if reused or process.status() == psutil.STATUS_ZOMBIE:
            worker.gone = True
            return worker
    except psutil.Error:
        worker.gone = True
        return worker
    worker.process = process
    return worker


def _end_group(worker: _Worker) -> int:
    """SIGKILL what is left of a dead worker's process group (its step processes);
    how many there were. Linux hands out no pid that is still a process group's
    id, so a group with the dead worker's pid as its id holds only its processes."""
    import psutil

    if worker.pgid is None or _alive(worker.pgid):
        return 0
    members = [p for p in psutil.process_iter() if _pgid_of(p.pid) == worker.pgid]
    if not members:
        return 0
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(worker.pgid, signal.SIGKILL)
    psutil.wait_procs(members, timeout=5)
    return len(members)


def _stop(worker: _Worker, grace: float) -> None:
    """Stop a live worker and its processes: SIGTERM to its group and every
    descendant, SIGKILL after `grace` seconds to what is left."""
    import psutil

    assert worker.process is not None
    seen: dict[int, psutil.Process] = {worker.process.pid: worker.process}
    with contextlib.suppress(psutil.Error):
        for child in worker.process.children(recursive=True):
            seen.setdefault(child.pid, child)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if worker.pgid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(worker.pgid, sig)
        for process in seen.values():
            with contextlib.suppress(psutil.Error):
                process.send_signal(sig)
        deadline = time.monotonic() + (grace if sig == signal.SIGTERM else 5.0)
        while time.monotonic() < deadline:
            worker.reap()
            alive = [p for p in seen.values() if _running(p)]
            if not alive:
                return
            psutil.wait_procs(alive, timeout=min(0.1, max(0.0, deadline - time.monotonic())))


def _running(process: psutil.Process) -> bool:
    import psutil

    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _pgid_of(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


def _last_event_time(instance: Any, run_id: str, kind: DagsterEventType, record: RunRecord) -> float:
    """When the run last recorded `kind` (else when its record last changed)."""
    entries = instance.all_logs(run_id, of_type=kind)
    if entries:
        return float(entries[-1].timestamp)
    return float(record.update_timestamp.timestamp())


def _max_runtime(tags: Mapping[str, str], settings: Mapping[str, Any]) -> float | None:
    from oprun.execution.launcher import float_or_none

    value = float_or_none(tags.get(MAX_RUNTIME_TAG))
    if value is None:
        value = float_or_none(settings.get("max_runtime_seconds"))
    return value if value is not None and value > 0 else None


def _grace(launcher: Any) -> float:
    return float(getattr(launcher, "grace_seconds", 10.0))


def _is_default_launcher(launcher: Any) -> bool:
    from oprun.execution.launcher import DefaultRunLauncher

    return isinstance(launcher, DefaultRunLauncher)

