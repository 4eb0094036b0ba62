"""The storage interface for runs, events and job snapshots, and the in-memory
store that ephemeral instances use.

Every backend (memory, SQLite, PostgreSQL) implements `RunStorage`; one
conformance suite runs against all of them. Status rules live here, once: run
events move a run's status, and a finished run's status never changes again.
"""

from __future__ import annotations

import abc
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from oprun.events import EventLogEntry
from oprun.runs import (
    FINISHED_RUN_STATUSES,
    STATUS_FOR_RUN_EVENT,
    DagsterRun,
    DagsterRunStatus,
    RunRecord,
    RunsFilter,
)

if TYPE_CHECKING:
    from datetime import datetime


class EventLogRecord(NamedTuple):
    storage_id: int
    event_log_entry: EventLogEntry

    @property
    def run_id(self) -> str:
        return self.event_log_entry.run_id


class EventLogConnection(NamedTuple):
    records: list[EventLogRecord]
    cursor: str
    has_more: bool


def snapshot_id(snapshot: dict[str, Any] | str) -> str:
    return snapshot_id_and_body(snapshot)[0]


def snapshot_id_and_body(snapshot: dict[str, Any] | str) -> tuple[str, str]:
    """The snapshot's id (a hash of its canonical JSON) and that JSON, made once:
    a large job's snapshot is megabytes. A string is the canonical JSON already
    (`JobDefinition.get_snapshot_json`)."""
    import hashlib  # loads OpenSSL: only when a snapshot is stored

    if isinstance(snapshot, str):
        canonical = snapshot
    else:
        import json

        canonical = json.dumps(snapshot, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:40], canonical


def now() -> datetime:
    from datetime import UTC, datetime

    return datetime.now(UTC)


class _StoredRun(NamedTuple):
    """A `RunRecord` as the in-memory store keeps it: times are epoch seconds until
    read (`_with_datetimes`), so a run kept in memory never pays for importing
    datetime."""

    storage_id: int
    dagster_run: DagsterRun
    create_timestamp: float
    update_timestamp: float
    start_time: float | None = None
    end_time: float | None = None


def _with_datetimes(record: _StoredRun) -> RunRecord:
    from datetime import UTC, datetime

    return RunRecord(
        record.storage_id,
        record.dagster_run,
        datetime.fromtimestamp(record.create_timestamp, UTC),
        datetime.fromtimestamp(record.update_timestamp, UTC),
        record.start_time,
        record.end_time,
    )


def status_change(run: DagsterRun, entries: Sequence[EventLogEntry]) -> tuple[DagsterRunStatus | None, float | None, float | None]:
    """(new status, start time, end time) that a batch of events implies for a run;
    a finished run keeps its status."""
    status = None
    start = end = None
    current = run.status
    for entry in entries:
        event = entry.dagster_event
        if event is None:
            continue
        new = STATUS_FOR_RUN_EVENT.get(event.event_type_value)
        if new is None or current in FINISHED_RUN_STATUSES:
            continue
        current = status = new
        if new == DagsterRunStatus.STARTED:
            start = entry.timestamp
        if new in FINISHED_RUN_STATUSES:
            end = entry.timestamp
    return status, start, end


def matches(record: RunRecord, filters: RunsFilter | None) -> bool:
    if filters is None:
        return True
    run = record.dagster_run
    if filters.run_ids is not None and run.run_id not in filters.run_ids:
        return False
    if filters.job_name is not None and run.job_name != filters.job_name:
        return False
    if filters.statuses is not None and run.status not in [DagsterRunStatus(s) for s in filters.statuses]:
        return False
    for key, wanted in (filters.tags or {}).items():
        value = run.tags.get(key)
        allowed = [wanted] if isinstance(wanted, str) else list(wanted)
        if value not in allowed:
            return False
    if filters.created_before is not None and not record.create_timestamp < filters.created_before:
        return False
    if filters.created_after is not None and not record.create_timestamp > filters.created_after:
        return False
    if filters.updated_before is not None and not record.update_timestamp < filters.updated_before:
        return False
    if filters.updated_after is not None and not record.update_timestamp > filters.updated_after:
        return False
    return True


class RunStorage(abc.ABC):
    """Runs, their events, and job snapshots."""

    @abc.abstractmethod
    def add_run(self, run: DagsterRun, snapshot: dict[str, Any] | str | None) -> DagsterRun:
        """Store a new run (and its job snapshot, deduplicated: a snapshot already
        stored, even by a concurrent writer, is not an error); a duplicate run id
        raises `DagsterInvariantViolationError` ("A run with id ... already exists")."""

    @abc.abstractmethod
    def get_run_records(
        self,
        filters: RunsFilter | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        ascending: bool = False,
    ) -> list[RunRecord]:
        """Matching runs, newest first (oldest first when ascending); `cursor` is a run id."""

    @abc.abstractmethod
    def get_runs_count(self, filters: RunsFilter | None = None) -> int:
        """How many runs match."""

    @abc.abstractmethod
    def get_snapshot(self, snapshot_id: str) -> dict[str, Any] | None:
        """A stored job snapshot by id."""

    @abc.abstractmethod
    def add_run_tags(self, run_id: str, tags: dict[str, str]) -> None:
        """Merge tags into a run's tags."""

    @abc.abstractmethod
    def set_status(self, run_id: str, status: DagsterRunStatus) -> None:
        """Set a run's status unless it is finished."""

    @abc.abstractmethod
    def delete_run(self, run_id: str) -> None:
        """Delete a run and its events."""

    @abc.abstractmethod
    def store_events(self, entries: Sequence[EventLogEntry]) -> None:
        """Append entries (one transaction) and apply the run status they imply."""

    @abc.abstractmethod
    def get_records(
        self,
        run_id: str,
        after_id: int | None = None,
        of_types: set[str] | None = None,
        limit: int | None = None,
        ascending: bool = True,
    ) -> list[EventLogRecord]:
        """A run's events in write order, after a storage id."""

    @abc.abstractmethod
    def automation_storage(self) -> Any:
        """The storage of schedule and sensor state, ticks, heartbeats, backfills
        and leases beside these runs (`automation_storage.AutomationStorage`)."""

    def dispose(self) -> None:  # noqa: B027 - optional: a store without connections or files keeps this no-op
        """Release connections and files."""


class InMemoryRunStorage(RunStorage):
    """Everything in dicts: for ephemeral instances (nothing outlives the process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._automation: Any = None
        self._runs: dict[str, _StoredRun] = {}
        self._order: list[str] = []
        # Per run: entries and their storage ids, in write order (records are built
        # when read: writes are on the engine's hot path).
        self._events: dict[str, list[EventLogEntry]] = {}
        self._ids: dict[str, list[int]] = {}
        self._snapshots: dict[str, dict[str, Any]] = {}
        self._next_id = 1

    def automation_storage(self) -> Any:
        if self._automation is None:
            from oprun.instance.automation_storage import InMemoryAutomationStorage

            self._automation = InMemoryAutomationStorage()
        return self._automation

    def add_run(self, run: DagsterRun, snapshot: dict[str, Any] | str | None) -> DagsterRun:
        from oprun.errors import DagsterInvariantViolationError

        with self._lock:
            if run.run_id in self._runs:
                raise DagsterInvariantViolationError(f"A run with id {run.run_id} already exists.")
            if snapshot is not None:
                snap_id = snapshot_id(snapshot)
                if isinstance(snapshot, str):
                    import json

                    self._snapshots.setdefault(snap_id, json.loads(snapshot))
                else:
                    self._snapshots.setdefault(snap_id, snapshot)
                run = run._replace(job_snapshot_id=snap_id)
            stamp = time.time()
            self._runs[run.run_id] = _StoredRun(len(self._order) + 1, run, stamp, stamp)
            self._order.append(run.run_id)
            self._events[run.run_id] = []
            self._ids[run.run_id] = []
        return run

    def get_run_records(
        self,
        filters: RunsFilter | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        ascending: bool = False,
    ) -> list[RunRecord]:
        with self._lock:
            ids = list(self._order) if ascending else list(reversed(self._order))
            if cursor is not None and cursor in ids:
                ids = ids[ids.index(cursor) + 1:]
            out = []
            for run_id in ids:
                record = _with_datetimes(self._runs[run_id])
                if matches(record, filters):
                    out.append(record)
                    if limit is not None and len(out) >= limit:
                        break
            return out

    def get_runs_count(self, filters: RunsFilter | None = None) -> int:
        return len(self.get_run_records(filters))

    def get_snapshot(self, snapshot_id: str) -> dict[str, Any] | None:
        return self._snapshots.get(snapshot_id)

    def _update(self, run_id: str, **changes: Any) -> None:
        record = self._runs.get(run_id)
        if record is None:
            return
        run_changes = {k: v for k, v in changes.items() if k in ("status", "tags")}
        time_changes = {k: v for k, v in changes.items() if k in ("start_time", "end_time")}
        self._runs[run_id] = record._replace(dagster_run=record.dagster_run._replace(**run_changes), update_timestamp=time.time(), **time_changes)

    def add_run_tags(self, run_id: str, tags: dict[str, str]) -> None:
        with self._lock:
            record = self._runs.get(run_id)
            if record is not None:
                self._update(run_id, tags={**record.dagster_run.tags, **tags})

    def set_status(self, run_id: str, status: DagsterRunStatus) -> None:
        with self._lock:
            record = self._runs.get(run_id)
            if record is not None and record.dagster_run.status not in FINISHED_RUN_STATUSES:
                self._update(run_id, status=status)

    def delete_run(self, run_id: str) -> None:
        with self._lock:
            self._runs.pop(run_id, None)
            self._events.pop(run_id, None)
            self._ids.pop(run_id, None)
            if run_id in self._order:
                self._order.remove(run_id)

    def store_events(self, entries: Sequence[EventLogEntry]) -> None:
        with self._lock:
            run_events: dict[str, list[EventLogEntry]] = {}
            next_id = self._next_id
            run_id = None
            for entry in entries:
                if entry.run_id != run_id:
                    run_id = entry.run_id
                    if run_id not in self._events:
                        self._events[run_id] = []
                        self._ids[run_id] = []
                self._events[run_id].append(entry)
                self._ids[run_id].append(next_id)
                next_id += 1
                event = entry.dagster_event
                if event is not None and event.step_key is None and event.event_type_value.startswith("RUN_"):
                    run_events.setdefault(entry.run_id, []).append(entry)
            self._next_id = next_id
            for rid, changes_in in run_events.items():
                record = self._runs.get(rid)
                if record is None:
                    continue
                status, start, end = status_change(record.dagster_run, changes_in)
                if status is not None:
                    changes: dict[str, Any] = {"status": status}
                    if start is not None:
                        changes["start_time"] = start
                    if end is not None:
                        changes["end_time"] = end
                    self._update(rid, **changes)

    def get_records(
        self,
        run_id: str,
        after_id: int | None = None,
        of_types: set[str] | None = None,
        limit: int | None = None,
        ascending: bool = True,
    ) -> list[EventLogRecord]:
        with self._lock:
            records = [EventLogRecord(i, e) for i, e in zip(self._ids.get(run_id, []), self._events.get(run_id, []), strict=True)]
        if after_id is not None:
            records = [r for r in records if r.storage_id > after_id] if ascending else [r for r in records if r.storage_id < after_id]
        if of_types is not None:
            records = [r for r in records if r.event_log_entry.dagster_event is not None and r.event_log_entry.dagster_event.event_type_value in of_types]
        if not ascending:
            records.reverse()
        return records[:limit] if limit is not None else records
