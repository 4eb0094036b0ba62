"""Where a run's event log entries go: `InstanceSink`, the sink a run's log
manager writes to, which stores the entries on the instance.

A persistent instance gets them from a writer thread, in order, in batches as
large as what accumulated while the previous batch was being written: a commit
costs about the same for one entry as for hundreds, so a run of fast steps does
not wait for the disk after each one, and what is stored is always a prefix of
what the run emitted (never an entry missing in the middle).

How much a crash can lose is bounded in time, not in entries: a step boundary
(STEP_START, a step's end) waits until everything before it is stored when the
last such wait is more than `OPRUN_EVENT_WRITE_LAG_MS` old (50 ms by default; 0
waits at every boundary). A step that ran longer than that has its end stored
before the next step starts, so a crash never makes re-execution redo more than
the last few milliseconds of work. The run's own boundaries (RUN_START, the
terminal event) always wait, and so does leaving the sink. An in-memory
instance is written only at the run's boundaries.

A write that fails (disk full, a read-only file, the database gone) is kept: the
next entry the run emits raises it as an `EventStorageFailed` (a
`DagsterStorageError`) naming the storage
and the cause, and nothing more is written, so the stored stream stays a prefix.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from oprun.errors import DagsterStorageError
from oprun.events import DagsterEventType, EventLogEntry

E = DagsterEventType

# Entries that wait until everything emitted so far is stored.
RUN_BOUNDARIES = frozenset(k.value for k in (E.RUN_START, E.RUN_SUCCESS, E.RUN_FAILURE, E.RUN_CANCELED))
# Entries that wait when the last wait is older than the write lag.
STEP_BOUNDARIES = frozenset(
    k.value for k in (E.STEP_START, E.STEP_SUCCESS, E.STEP_FAILURE, E.STEP_SKIPPED, E.STEP_UP_FOR_RETRY, E.ENGINE_EVENT)
)


# The most entries queued for the writer before the run waits for them.
MAX_PENDING = 2000


def write_lag_seconds() -> float:
    return max(0.0, float(os.environ.get("OPRUN_EVENT_WRITE_LAG_MS", "50"))) / 1000


class EventStorageFailed(DagsterStorageError):
    """The run's events could not be stored: the run stops, as nothing after
    this point could be recorded."""


class InstanceSink:
    """A run's entries to the instance. `keep` collects every entry (the result
    of execute_in_process); `listener` sees each one (the CLI's progress display).
    `write` is the sink the run's log manager calls. Use it as a context manager:
    leaving it stores what is left and stops the writer thread."""

    def __init__(
        self, instance: Any, keep: list[EventLogEntry] | None = None, listener: Callable[[EventLogEntry], None] | None = None,
        *, clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._instance = instance
        self._writer = None if instance.is_ephemeral else _Writer(instance.handle_new_events)
        self._batch: list[EventLogEntry] = []
        keep_append = keep.append if keep is not None else None
        writer = self._writer
        # Closures with their lookups bound once: they run for every entry of the run.
        if writer is None:
            batch_append = self._batch.append

            def write(entry: EventLogEntry) -> None:
                if keep_append is not None:
                    keep_append(entry)
                if listener is not None:
                    listener(entry)
                batch_append(entry)
                event = entry.dagster_event
                if event is not None and event.event_type_value in RUN_BOUNDARIES:
                    self.flush()
        else:
            submit = writer.submit
            lag = write_lag_seconds()
            last_wait = clock()  # when the run last waited for everything to be stored

            pending = 0  # entries submitted since the last wait

            def write(entry: EventLogEntry) -> None:
                nonlocal last_wait, pending
                if keep_append is not None:
                    keep_append(entry)
                if listener is not None:
                    listener(entry)
                submit(entry)
                pending += 1
                event = entry.dagster_event
                if event is not None:
                    kind = event.event_type_value
                    if kind in RUN_BOUNDARIES or (kind in STEP_BOUNDARIES and clock() - last_wait >= lag):
                        writer.wait_stored()
                        last_wait, pending = clock(), 0
                        return
                if pending >= MAX_PENDING:
                    # An op logging faster than the disk takes it: wait, so that
                    # what is queued (the run's memory) stays bounded.
                    writer.wait_stored()
                    last_wait, pending = clock(), 0

        self.write = write

    def flush(self) -> None:
        """Store everything written so far (raises the writer's error, if any)."""
        if self._writer is not None:
            self._writer.wait_stored()
        elif self._batch:
            self._instance.handle_new_events(self._batch)
            self._batch.clear()

    def __enter__(self) -> InstanceSink:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        try:
            if exc is None or not isinstance(exc, EventStorageFailed):
                self.flush()
        finally:
            if self._writer is not None:
                self._writer.stop()


class _Flushed:
    """A marker in the writer's queue: set once every entry before it is stored."""

    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = threading.Event()


_STOP = object()
# How long the writer gathers entries before a commit when nobody waits for it.
GATHER_SECONDS = 0.02


class _Writer:
    """The writer thread: stores queued entries in order, in batches."""

    def __init__(self, store: Callable[[list[EventLogEntry]], None]) -> None:
        self._store = store
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.error: EventStorageFailed | None = None
        self._thread = threading.Thread(target=self._run, name="oprun-event-writer", daemon=True)
        self._thread.start()

    def submit(self, entry: EventLogEntry) -> None:
        if self.error is not None:
            raise self.error
        self._queue.put(entry)

    def wait_stored(self) -> None:
        marker = _Flushed()
        self._queue.put(marker)
        marker.done.wait()
        if self.error is not None:
            raise self.error

    def stop(self) -> None:
        self._queue.put(_STOP)
        self._thread.join()

    def _run(self) -> None:
        get, get_nowait = self._queue.get, self._queue.get_nowait
        while True:
            batch: list[EventLogEntry] = []
            markers: list[_Flushed] = []
            item = get()
            # Gather for up to GATHER_SECONDS after the first entry, unless the run
            # waits: fewer, larger commits, and less contention for the disk with
            # the steps' own files.
            deadline = time.monotonic() + GATHER_SECONDS
            stop = False
            while True:
                if item is _STOP:
                    stop = True
                    break
                if isinstance(item, _Flushed):
                    markers.append(item)
                    break  # the run is waiting: write now (what came after waits its turn)
                batch.append(item)
                remaining = deadline - time.monotonic()
                try:
                    item = get(timeout=remaining) if remaining > 0 else get_nowait()
                except queue.Empty:
                    break
            if batch and self.error is None:
                try:
                    self._store(batch)
                except Exception as exc:  # noqa: BLE001 - kept and raised in the run's thread
                    self.error = _storage_error(exc)
            for marker in markers:
                marker.done.set()
            if stop:
                return


def _storage_error(exc: Exception) -> EventStorageFailed:
    cause = str(exc) if isinstance(exc, DagsterStorageError) else f"{type(exc).__name__}: {exc}."
    error = EventStorageFailed(f"The run's events can no longer be stored: {cause} Events stored before are kept; the run stops here.")
    error.__cause__ = exc
    return error
