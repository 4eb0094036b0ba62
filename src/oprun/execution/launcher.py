"""The run launcher: starts a recorded run in its own process, and terminates it.

`launch_run(run_id)` starts `python -m oprun.execution.run_worker RUN_ID` in a new
session (its own process group, so its step workers can be signalled with it),
records which process that is (pid and create time) and returns at once.
`terminate(run_id)` moves the run to CANCELING and, if the recorded process is
still the run worker, stops it and every process it started: SIGTERM to its
process group and to each descendant (a step's child in a session of its own
escapes the group), SIGKILL after a grace period to what is left. Either way the
run ends CANCELED with RUN_CANCELED as its last event.

It lives beside the executors, not in the instance: the instance stores runs and
creates the launcher its config names (`run_launcher:` in oprun.yaml), this one
by default. The launcher starts the run worker as a process, so it loads no
execution code itself. psutil is imported only when a run is launched or
terminated: `import oprun` stays light.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

from oprun.errors import DagsterRunNotFoundError
from oprun.files import makedirs_private, private_opener

if TYPE_CHECKING:
    import psutil

RUN_WORKER_PID_TAG = "oprun/run_worker_pid"
RUN_WORKER_PGID_TAG = "oprun/run_worker_pgid"
# The run worker's create time as psutil reports it: with the pgid (the worker's
# pid), what tells the run worker from a later process that reuses its pid.
RUN_WORKER_CREATE_TIME_TAG = "oprun/run_worker_create_time"
# psutil's create time is the boot time plus the process's start in clock ticks;
# the boot time each process reads can move with the wall clock (NTP), so equal
# means within this. A reused pid would have to be handed out again within it.
_CREATE_TIME_TOLERANCE = 1.0
# How long SIGKILLed processes get to disappear before terminate gives up on them.
_KILL_WAIT_SECONDS = 5.0


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
        makedirs_private(log_dir)
        with open(os.path.join(log_dir, "run_worker.log"), "ab", opener=private_opener) as log:
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
        tags = {RUN_WORKER_PGID_TAG: str(process.pid)}
        create_time = _create_time(process.pid)
        if create_time is not None:
            tags[RUN_WORKER_CREATE_TIME_TAG] = repr(create_time)
        self._instance.add_run_tags(run_id, tags)
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
        worker = _run_worker(run.tags)
        if worker is not None:
            self._stop_tree(worker, self._children.get(run_id))
        current = self._instance.get_run_by_id(run_id)
        if current is not None and not current.is_finished:
            # The worker died before it could record the end (or was not ours to
            # signal): record it here.
            self._instance.report_run_canceled(current, "The run was canceled; its worker was stopped.")
        return True

    def _stop_tree(self, worker: psutil.Process, popen: subprocess.Popen[bytes] | None) -> None:
        """SIGTERM the run worker's group and every descendant, SIGKILL what is
        left after the grace period, and wait for them to go.

        Descendants are collected before signalling and again while waiting, and
        every one seen is kept: once its parent dies an orphan is no one's child,
        and only the kept handle still finds it. psutil's handles check that a pid
        was not reused before they signal it.
        """
        seen: dict[int, psutil.Process] = {worker.pid: worker}
        signalled: set[int] = set()
        _collect_descendants(seen)
        # The group first, while its leader is known to be the run worker: that
        # also reaches members that are no descendant any more. What it reached is
        # not signalled again: a second SIGTERM could interrupt the run worker
        # while it records the cancellation.
        _signal_group(worker.pid, signal.SIGTERM)
        signalled.update(pid for pid in seen if _in_group(pid, worker.pid))
        deadline = time.monotonic() + self.grace_seconds
        while True:
            _collect_descendants(seen)
            _signal_new(seen, signalled, signal.SIGTERM)
            alive = [p for p in seen.values() if not _gone(p, popen)]
            if not alive or time.monotonic() >= deadline:
                break
            _wait_some(alive, popen, min(0.1, max(0.0, deadline - time.monotonic())))
        if not alive:
            return
        _collect_descendants(seen)
        if not _gone(worker, popen):
            _signal_group(worker.pid, signal.SIGKILL)
        for process in seen.values():
            if not _gone(process, popen):
                _send(process, signal.SIGKILL)
        deadline = time.monotonic() + _KILL_WAIT_SECONDS
        alive = [p for p in seen.values() if not _gone(p, popen)]
        while alive and time.monotonic() < deadline:
            _wait_some(alive, popen, min(0.1, max(0.0, deadline - time.monotonic())))
            alive = [p for p in alive if not _gone(p, popen)]


def _create_time(pid: int) -> float | None:
    import psutil

    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:  # gone already, or not inspectable: it will not be signalled
        return None


def _run_worker(tags: Any) -> psutil.Process | None:
    """The run's worker process if the recorded one is still running, else None.

    A run with no recorded create time (launched by an older oprun) is not
    signalled either: a pid alone cannot tell the worker from a stranger.
    """
    import psutil

    pid = int_or_none(tags.get(RUN_WORKER_PGID_TAG))
    create_time = float_or_none(tags.get(RUN_WORKER_CREATE_TIME_TAG))
    if pid is None or create_time is None or pid <= 0:
        return None
    try:
        process = psutil.Process(pid)
        if abs(process.create_time() - create_time) > _CREATE_TIME_TOLERANCE:
            return None  # the pid now belongs to another process
    except psutil.Error:
        return None
    return process


def _collect_descendants(seen: dict[int, psutil.Process]) -> None:
    import psutil

    for process in list(seen.values()):
        try:
            children = process.children(recursive=True)
        except psutil.Error:  # gone, or its pid reused: nothing more to find under it
            continue
        for child in children:
            seen.setdefault(child.pid, child)


def _signal_new(seen: dict[int, psutil.Process], signalled: set[int], sig: int) -> None:
    for pid, process in seen.items():
        if pid not in signalled:
            signalled.add(pid)
            _send(process, sig)


def _send(process: psutil.Process, sig: int) -> None:
    import psutil

    try:
        process.send_signal(sig)  # raises NoSuchProcess for a reused pid
    except psutil.Error:
        pass


def _gone(process: psutil.Process, popen: subprocess.Popen[bytes] | None) -> bool:
    """Whether a process has ended. A zombie has: its parent (PID 1 in some
    containers) may never reap it, and it holds nothing but its pid."""
    import psutil

    if popen is not None and process.pid == popen.pid:
        return popen.poll() is not None  # reaped by its Popen, which keeps the exit code for wait()
    try:
        return not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True


def _wait_some(alive: list[psutil.Process], popen: subprocess.Popen[bytes] | None, seconds: float) -> None:
    """Wait up to `seconds` for processes to end (the caller re-checks which did).
    The launcher's own child is left to its Popen: psutil would reap it and the
    exit code would be lost."""
    import psutil

    others = [p for p in alive if popen is None or p.pid != popen.pid]
    if others:
        psutil.wait_procs(others, timeout=seconds)
    elif popen is not None:
        try:
            popen.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            pass


def _in_group(pid: int, pgid: int) -> bool:
    try:
        return os.getpgid(pid) == pgid
    except OSError:
        return False


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def int_or_none(value: Any) -> int | None:
    """A tag's value as an int, or None when it is missing or not a number."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def float_or_none(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
