"""What every daemon loop stands on: the context a loop's iteration gets, the
workspace of code locations (reloaded when their files change), and creating and
submitting a run of a job in a location.

A loop is an object with a `daemon_type` (the name its heartbeat is stored under,
Dagster's: SCHEDULER, SENSOR, QUEUED_RUN_COORDINATOR, MONITORING, BACKFILL), an
`interval_seconds` (how long the controller waits between iterations) and
`run_iteration(context) -> str | None`, which does one pass and returns a short
summary for the heartbeat. An iteration reads the time from `context.now()` (the
settable clock in `oprun.clock`), so tests evaluate it "as of" any moment, and
checks `context.stopping` between units of work: a shutdown never leaves half a
tick behind (each tick is stored STARTED before its runs are made, and resumed
after a crash).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from oprun import clock
from oprun.errors import DagsterCodeLocationLoadError, DagsterInvariantViolationError
from oprun.loading import CodeLocation


class DaemonLoop(Protocol):
    daemon_type: str
    interval_seconds: float

    def run_iteration(self, context: DaemonContext) -> str | None: ...


class Workspace:
    """The daemon's code locations. `refresh()` reloads a location whose source
    files changed on disk since it was loaded (its Python file, or every module
    file under its working directory that it imported), so an edited schedule is
    evaluated as edited without restarting the daemon."""

    def __init__(self, locations: Sequence[CodeLocation]) -> None:
        self._locations = list(locations)
        self._stamps: dict[str, dict[str, float]] = {}
        self._lock = threading.Lock()
        # Loops (threads) read definitions while the controller reloads: a
        # location is loaded or reloaded by one thread at a time.
        self._load_lock = threading.RLock()

    @property
    def locations(self) -> list[CodeLocation]:
        return list(self._locations)

    def location(self, name: str) -> CodeLocation:
        for location in self._locations:
            if location.name == name:
                return location
        from oprun.errors import did_you_mean

        names = [loc.name for loc in self._locations]
        raise DagsterInvariantViolationError(
            f"No code location named '{name}' in the daemon's workspace.{did_you_mean(name, names)} Locations: {', '.join(names) or 'none'}."
        )

    def loaded(self) -> list[tuple[CodeLocation, Any]]:
        """(location, definitions) for each location that loads; a location that
        fails to load is left out (its error is in `load_errors()`)."""
        found = []
        for location in self._locations:
            try:
                with self._load_lock:
                    definitions = location.load()
            except DagsterCodeLocationLoadError:
                continue
            with self._lock:
                if location.name not in self._stamps:
                    self._stamps[location.name] = _source_stamps(location)
            found.append((location, definitions))
        return found

    def load_errors(self) -> dict[str, DagsterCodeLocationLoadError]:
        errors = {}
        for location in self._locations:
            error = location.load_error
            if error is not None:
                errors[location.name] = error
        return errors

    def reload(self, name: str) -> Any:
        """Import a location's code again now (on request: GraphQL's
        reloadRepositoryLocation); returns its definitions, raises its load error."""
        location = self.location(name)
        with self._load_lock:
            definitions = location.reload()
        with self._lock:
            self._stamps[location.name] = _source_stamps(location)
        return definitions

    def refresh(self) -> list[str]:
        """Reload the locations whose files changed; returns their names."""
        reloaded = []
        for location in self._locations:
            with self._lock:
                before = self._stamps.get(location.name)
            if before is not None and _source_stamps(location, before) == before:
                continue
            if before is None and location.load_error is None:
                continue  # loaded now for the first time: nothing to compare with yet
            try:
                with self._load_lock:
                    location.reload()
            except DagsterCodeLocationLoadError:
                pass  # kept as the location's load error; the others go on
            with self._lock:
                self._stamps[location.name] = _source_stamps(location)
            reloaded.append(location.name)
        return reloaded


def _source_stamps(location: CodeLocation, previous: Mapping[str, float] | None = None) -> dict[str, float]:
    """Modification times of the files a location's code comes from."""
    pointer = location.pointer
    paths: set[str] = set(previous or ())
    if pointer.python_file:
        paths.add(os.path.abspath(pointer.python_file))
    root = os.path.abspath(pointer.working_directory or (os.path.dirname(pointer.python_file) if pointer.python_file else os.getcwd()))
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if path and path.endswith(".py") and os.path.abspath(path).startswith(root + os.sep) and "site-packages" not in path:
            paths.add(os.path.abspath(path))
    stamps = {}
    for path in paths:
        try:
            stamps[path] = os.stat(path).st_mtime_ns / 1e9
        except OSError:
            stamps[path] = -1.0  # gone: a change too
    return stamps


class StateCache:
    """A loop's copy of the stored states of its schedules or sensors, kept fresh
    cheaply: each `refresh()` reads only the states stored since the previous
    refresh began, less `MARGIN_SECONDS` (a write stamped just before that read
    but committed after it is still seen), and everything again every
    `FULL_SECONDS` (what a deletion needs). An idle loop over a thousand
    schedules then reads almost nothing. Stamps are real time
    (`DagsterInstance.add_instigator_state`)."""

    MARGIN_SECONDS = 5.0
    FULL_SECONDS = 30.0

    def __init__(self, instigator_type: Any, wallclock: Callable[[], float] = time.time) -> None:
        self._type = instigator_type
        self._wallclock = wallclock  # real time, as the stamps; a test may pass its own
        self._states: dict[str, Any] = {}
        self._last_full: float | None = None
        self._last_read = 0.0

    def refresh(self, instance: Any) -> dict[str, Any]:
        now = self._wallclock()
        if self._last_full is None or now - self._last_full >= self.FULL_SECONDS:
            self._states = {state.id: state for state in instance.all_instigator_state(self._type)}
            self._last_full = now
        else:
            for state in instance.all_instigator_state(self._type, updated_after=self._last_read - self.MARGIN_SECONDS):
                self._states[state.id] = state
        self._last_read = now
        return self._states


@dataclass
class DaemonContext:
    """What a loop's iteration gets."""

    instance: Any
    workspace: Workspace
    daemon_id: str
    stopping: threading.Event = field(default_factory=threading.Event)
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("oprun.daemon"))

    def now(self) -> datetime:
        return clock.now()

    def timestamp(self) -> float:
        return clock.timestamp()


def stored_or_default_status(state: Any, running_by_default: bool) -> tuple[Any, bool]:
    """A schedule's or sensor's (RUNNING or STOPPED, whether that comes from the
    code's `default_status`): a stored RUNNING/STOPPED (someone started or
    stopped it) wins."""
    from oprun.instigation import InstigatorStatus

    if state is not None and state.status in (InstigatorStatus.RUNNING, InstigatorStatus.STOPPED):
        return state.status, False
    return (InstigatorStatus.RUNNING if running_by_default else InstigatorStatus.STOPPED), True


_OPRUN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def error_info(error: BaseException) -> dict[str, Any]:
    """A FAILURE tick's error: the message, the class and the traceback of the
    user's exception (from its first frame outside oprun) when there is one."""
    import traceback

    from oprun.errors import DagsterUserCodeExecutionError

    cause = error.user_exception if isinstance(error, DagsterUserCodeExecutionError) and error.user_exception else error
    frames = traceback.extract_tb(cause.__traceback__)
    skip = 0
    if cause is not error:
        while skip < len(frames) - 1 and os.path.abspath(frames[skip].filename).startswith(_OPRUN_DIR):
            skip += 1
    lines = ["Traceback (most recent call last):\n", *traceback.format_list(frames[skip:])]
    lines += traceback.format_exception_only(type(cause), cause)
    return {"message": str(error), "traceback": "".join(lines), "class": type(cause).__name__}


def reconstructable_job(location: CodeLocation, job_name: str, op_selection: Sequence[str] | None = None) -> Any:
    """The pointer a run worker follows to load `job_name` of `location`."""
    from oprun.execution.reconstruct import ReconstructableJob

    pointer = location.pointer
    return ReconstructableJob(
        attribute=pointer.attribute or "*",
        python_file=pointer.python_file,
        module_name=pointer.module_name,
        working_directory=pointer.working_directory or os.getcwd(),
        job_name=job_name,
        op_selection=list(op_selection) if op_selection else None,
    )


def create_run(
    instance: Any,
    location: CodeLocation,
    job_def: Any,
    run_config: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
    op_selection: Sequence[str] | None = None,
) -> Any:
    """Record a NOT_STARTED run of `job_def` (a job of `location`), with the
    pointer a run worker needs; the run config is validated here, so a bad one
    is an error before anything is recorded."""
    from oprun.execution.execute_job import create_run_for_job

    recon = reconstructable_job(location, job_def.name, op_selection)
    job = job_def.get_subset(op_selection=list(op_selection)) if op_selection else job_def
    return create_run_for_job(recon, job, instance, dict(run_config or {}), dict(tags or {}))


def submit_run(instance: Any, run_id: str) -> Any:
    """Hand a recorded run to the instance's run coordinator (the queue)."""
    return instance.submit_run(run_id)
