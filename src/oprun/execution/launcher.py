"""The run launcher: starts a recorded run in its own process, and terminates it.

`launch_run(run_id)` starts `python -m oprun.execution.run_worker RUN_ID` in a new
session (its own process group, so its step workers can be signalled with it) and
returns at once. `terminate(run_id)` moves the run to CANCELING, sends SIGTERM to
the run worker's process group, SIGKILL after a grace period, and makes sure the
run ends CANCELED with RUN_CANCELED as its last event.

It lives beside the executors, not in the instance: the instance stores runs and
creates the launcher its config names (`run_launcher:` in oprun.yaml), this one
by default. The launcher starts the run worker as a process, so it loads no
execution code itself.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from oprun.errors import DagsterRunNotFoundError

RUN_WORKER_PID_TAG = "oprun/run_worker_pid"
RUN_WORKER_PGID_TAG = "oprun/run_worker_pgid"


class DefaultRunLauncher:
    def __init__(self, instance: Any, grace_seconds: float = 10.0) -> None:
        self._instance = instance
        self.grace_seconds = grace_seconds
        self._children: dict[str, subprocess.Popen[bytes]] = {}

    def launch_run(self, run_id: str) -> int:
        """Start the run's worker process; returns its pid."""
        run = self._instance.get_run_by_id(run_id)
        if run is None:
            raise DagsterRunNotFoundError(f"Cannot launch run {run_id}: no such run.", run_id)
        env = {**os.environ, **self._instance.environment_for_children()}
        log_dir = os.path.join(self._instance.compute_logs_directory(), run_id)
        os.makedirs(log_dir, exist_ok=True)
        with open(os.path.join(log_dir, "run_worker.log"), "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "oprun.execution.run_worker", run_id],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=(run.job_code_origin or {}).get("working_directory") or os.getcwd(),
            )
        self._children[run_id] = process
        self._instance.add_run_tags(run_id, {RUN_WORKER_PGID_TAG: str(process.pid)})
        return process.pid

    def wait(self, run_id: str, timeout: float | None = None) -> int | None:
        """Wait for a run worker this launcher started (tests and the CLI use it)."""
        process = self._children.get(run_id)
        if process is None:
            return None
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def terminate(self, run_id: str) -> bool:
        """Cancel a run: True if it was in progress (or queued) and is now CANCELED."""
        run = self._instance.get_run_by_id(run_id)
        if run is None:
            raise DagsterRunNotFoundError(f"Cannot terminate run {run_id}: no such run.", run_id)
        if run.is_finished:
            return False
        self._instance.report_run_canceling(run, "Termination requested.")
        pgid = _int(run.tags.get(RUN_WORKER_PGID_TAG)) or _int(run.tags.get(RUN_WORKER_PID_TAG))
        if pgid is not None:
            self._signal_group(pgid, signal.SIGTERM)
            if not self._wait_finished(run_id, pgid, self.grace_seconds):
                self._signal_group(pgid, signal.SIGKILL)
                self._wait_finished(run_id, pgid, 5.0)
        current = self._instance.get_run_by_id(run_id)
        if current is not None and not current.is_finished:
            # The worker died before it could record the end: record it here.
            self._instance.report_run_canceled(current, "The run was canceled; its worker was stopped.")
        return True

    def _signal_group(self, pgid: int, sig: int) -> None:
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def _wait_finished(self, run_id: str, pgid: int, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        process = self._children.get(run_id)
        while time.monotonic() < deadline:
            if process is not None:
                if process.poll() is not None:
                    return True
            elif not _group_alive(pgid):
                return True
            time.sleep(0.05)  # polling a process we do not own: no handle to wait on
        return False


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
