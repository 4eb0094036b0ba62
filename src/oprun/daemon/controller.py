"""The daemon process: a thread per loop, a lease, heartbeats, code reloads and
a clean shutdown.

- **One active daemon per instance.** The controller holds the lease
  `oprun-daemon` in storage (renewed every few seconds; it expires
  `LEASE_SECONDS` after the last renewal). A second daemon on the same instance
  waits on standby and runs no loop until the lease is free, so two daemons
  never both evaluate a tick. A holder on this machine whose process is gone
  (SIGKILL, a crash) is replaced at once rather than after the expiry.
- **Each loop on its own.** A loop's iteration runs in its own thread; an
  exception in it (user code, storage) is caught, stored with the heartbeat and
  the loop goes on at its next interval. One slow loop never delays another.
- **Heartbeats.** After each iteration a loop stores a heartbeat (at most one
  a second): the daemon's id, the time (real time: liveness is not measured by
  the settable clock), the iteration's summary, its error if any.
  `oprun daemon status` reads them.
- **Code reloads.** Every second the workspace reloads the code locations whose
  files changed on disk.
- **Shutdown.** SIGTERM or SIGINT sets `stopping`: each loop finishes the unit
  of work in hand (a tick is never left half-submitted), the threads are joined,
  the lease released.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Sequence
from types import FrameType
from typing import Any

from oprun.daemon.base import DaemonContext, DaemonLoop, Workspace
from oprun.instigation import DAEMON_LEASE, DaemonHeartbeat

LEASE_NAME = DAEMON_LEASE
LEASE_SECONDS = 10.0
RENEW_SECONDS = 2.0
# The least time between two heartbeats of one loop (its iterations may be faster).
HEARTBEAT_SECONDS = 1.0
RELOAD_SECONDS = 1.0
_log = logging.getLogger("oprun.daemon")


def new_daemon_id() -> str:
    """`host:pid:random`: which process holds the lease, and a check that its pid
    was not reused (the random part)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _dead_local_owner(owner: str) -> bool:
    """Whether `owner` is a daemon of this machine whose process is gone."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class DaemonController:
    def __init__(
        self,
        instance: Any,
        workspace: Workspace,
        loops: Sequence[DaemonLoop],
        daemon_id: str | None = None,
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        self.instance = instance
        self.workspace = workspace
        self.loops = list(loops)
        self.daemon_id = daemon_id or new_daemon_id()
        self.lease_seconds = lease_seconds
        self.stopping = threading.Event()
        self.active = threading.Event()  # set while this daemon holds the lease
        self.context = DaemonContext(instance, workspace, self.daemon_id, self.stopping, _log)
        self._threads: list[threading.Thread] = []

    # -- the lease --

    def _claim(self) -> bool:
        storage = self.instance.automation_storage
        now = time.time()
        replacing = None
        current = storage.get_lease(LEASE_NAME)
        if current is not None and current[0] != self.daemon_id and current[1] > now and _dead_local_owner(current[0]):
            replacing = current[0]
        held = bool(storage.claim_lease(LEASE_NAME, self.daemon_id, now, self.lease_seconds, replacing))
        if held and not self.active.is_set():
            _log.info("daemon %s is active (holds the lease)", self.daemon_id)
        elif not held and self.active.is_set():
            _log.warning("daemon %s lost the lease: another daemon is active; standing by", self.daemon_id)
        if held:
            self.active.set()
        else:
            self.active.clear()
        return held

    # -- the loops --

    def _loop_thread(self, loop: DaemonLoop) -> None:
        last_beat = 0.0
        while not self.stopping.is_set():
            started = time.monotonic()
            if self.active.is_set():
                summary: str | None = None
                errors: tuple[str, ...] = ()
                try:
                    summary = loop.run_iteration(self.context)
                except Exception as error:  # noqa: BLE001 - a loop outlives its errors; they go in its heartbeat
                    errors = ("".join(traceback.format_exception(error)),)
                    _log.error("%s loop: %s: %s", loop.daemon_type, type(error).__name__, error)
                if errors or time.monotonic() - last_beat >= HEARTBEAT_SECONDS:
                    try:
                        self.instance.add_daemon_heartbeat(DaemonHeartbeat(loop.daemon_type, self.daemon_id, time.time(), summary, errors))
                        last_beat = time.monotonic()
                    except Exception as error:  # noqa: BLE001 - storage down: the next beat tries again
                        _log.error("%s loop: cannot store its heartbeat: %s", loop.daemon_type, error)
            self.stopping.wait(max(0.0, loop.interval_seconds - (time.monotonic() - started)))

    def start(self) -> None:
        """Claim the lease and start a thread per loop (returns at once)."""
        self._claim_quietly()
        for loop in self.loops:
            thread = threading.Thread(target=self._loop_thread, args=(loop,), name=f"oprun-daemon-{loop.daemon_type.lower()}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _claim_quietly(self) -> None:
        try:
            self._claim()
        except Exception as error:  # noqa: BLE001 - storage down: stand by and try again
            self.active.clear()
            _log.error("daemon %s cannot claim the lease: %s", self.daemon_id, error)

    def serve(self) -> None:
        """Run until `stopping` is set: renew the lease, reload changed code."""
        next_renew = next_reload = time.monotonic()
        while not self.stopping.is_set():
            now = time.monotonic()
            if now >= next_renew:
                self._claim_quietly()
                next_renew = now + RENEW_SECONDS
            if now >= next_reload:
                try:
                    reloaded = self.workspace.refresh()
                    if reloaded:
                        _log.info("reloaded code locations: %s", ", ".join(reloaded))
                except Exception as error:  # noqa: BLE001 - a broken edit: the location keeps its load error
                    _log.error("reloading code locations failed: %s", error)
                next_reload = now + RELOAD_SECONDS
            self.stopping.wait(max(0.0, min(next_renew, next_reload) - time.monotonic()))

    def shutdown(self, timeout: float = 60.0) -> None:
        """Stop the loops (each finishes the unit of work in hand) and give the lease up."""
        self.stopping.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        for loop in self.loops:
            close = getattr(loop, "close", None)
            if close is not None:
                try:
                    close()  # the run queue's warm pool: runs in flight go on
                except Exception as error:  # noqa: BLE001 - shutting down all the same
                    _log.error("%s loop: closing failed: %s", loop.daemon_type, error)
        try:
            self.instance.automation_storage.release_lease(LEASE_NAME, self.daemon_id)
        except Exception as error:  # noqa: BLE001 - it expires by itself
            _log.error("daemon %s cannot release the lease: %s", self.daemon_id, error)
        self.active.clear()

    def run(self) -> None:
        """The daemon process's main: start, serve until SIGTERM/SIGINT, shut down."""
        def stop(_signum: int, _frame: FrameType | None) -> None:
            self.stopping.set()

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.start()
            self.serve()
        finally:
            self.shutdown()
            for sig, handler in previous.items():
                signal.signal(sig, handler)


# The loops of `default_loops`, by the names their heartbeats are stored under.
DAEMON_TYPES = ("SCHEDULER", "SENSOR", "QUEUED_RUN_COORDINATOR", "MONITORING", "BACKFILL")


def daemon_status(instance: Any) -> dict[str, Any]:
    """What `oprun daemon status` and GraphQL's `instance.daemonHealth` show: the
    daemon holding the lease, and for each loop whether it is alive (as
    `DagsterInstance.daemon_is_alive`: a fresh heartbeat from the daemon that
    holds the lease), its last heartbeat (`last_heartbeat_timestamp`, real
    time), what its last iteration did and its errors."""
    from oprun.instance.instance import DAEMON_HEARTBEAT_TOLERANCE_SECONDS

    now = time.time()
    beats = instance.get_daemon_heartbeats()
    lease = instance.automation_storage.get_lease(LEASE_NAME)
    holder = lease[0] if lease is not None and lease[1] > now else None
    loops = {}
    for daemon_type in sorted(set(DAEMON_TYPES) | set(beats)):
        beat = beats.get(daemon_type)
        loops[daemon_type] = {
            "alive": beat is not None and now - beat.timestamp <= DAEMON_HEARTBEAT_TOLERANCE_SECONDS and beat.daemon_id == holder,
            "last_heartbeat_seconds_ago": round(now - beat.timestamp, 1) if beat is not None else None,
            "last_heartbeat_timestamp": beat.timestamp if beat is not None else None,
            "daemon_id": beat.daemon_id if beat is not None else None,
            "last_iteration": beat.info if beat is not None else None,
            "errors": list(beat.errors) if beat is not None else [],
        }
    return {
        "active_daemon": holder,
        "healthy": all(loop["alive"] for loop in loops.values()),
        "loops": loops,
    }


def default_loops(instance: Any) -> list[DaemonLoop]:
    """Every loop `oprun daemon run` runs, configured from the instance."""
    from oprun.daemon.backfills import BackfillLoop
    from oprun.daemon.monitor import RunMonitorLoop
    from oprun.daemon.run_queue import RunQueueLoop
    from oprun.daemon.schedules import ScheduleLoop
    from oprun.daemon.sensors import SensorLoop

    return [ScheduleLoop(), SensorLoop(), RunQueueLoop(launcher=queue_launcher(instance)), RunMonitorLoop(), BackfillLoop()]


def queue_launcher(instance: Any) -> Any:
    """What the run queue starts runs with: with oprun's own run launcher (the
    default), a warm pool, so a dequeued run starts in tens of milliseconds; a
    launcher the instance config names is used as it is."""
    from oprun.execution.launcher import DefaultRunLauncher
    from oprun.execution.warm_pool import WarmRunLauncher

    launcher = instance.run_launcher
    if type(launcher) is DefaultRunLauncher:
        return WarmRunLauncher(instance, grace_seconds=launcher.grace_seconds)
    return None  # the loop uses instance.run_launcher
