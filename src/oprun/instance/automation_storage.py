"""Storage for what the daemon keeps: schedule and sensor state, their ticks, the
daemon's heartbeats, backfills, and leases (who may run a daemon loop).

`AutomationStorage` is the interface; `InMemoryAutomationStorage` serves
ephemeral instances (tests that build contexts); the SQL one (`automation_sql`)
shares the run storage's database. One conformance suite runs against all.
"""

from __future__ import annotations

import abc
import dataclasses
import threading
from collections.abc import Sequence

from oprun.instigation import (
    BulkActionStatus,
    DaemonHeartbeat,
    InstigatorState,
    InstigatorTick,
    InstigatorType,
    PartitionBackfill,
    TickStatus,
)


class AutomationStorage(abc.ABC):
    # -- schedule and sensor state --

    @abc.abstractmethod
    def get_instigator_state(self, instigator_id: str) -> InstigatorState | None:
        """The stored state of one schedule or sensor, or None."""

    @abc.abstractmethod
    def all_instigator_state(self, instigator_type: InstigatorType | None = None, updated_after: float | None = None) -> list[InstigatorState]:
        """Every stored state (of one type; stored after `updated_after`, a POSIX
        time, when given: how a loop keeps its copy fresh), by id."""

    @abc.abstractmethod
    def save_instigator_state(self, state: InstigatorState) -> InstigatorState:
        """Insert or replace a state (its update_timestamp is set by the caller)."""

    @abc.abstractmethod
    def delete_instigator_state(self, instigator_id: str) -> None:
        """Forget a state (and keep its ticks)."""

    # -- ticks --

    @abc.abstractmethod
    def create_tick(self, tick: InstigatorTick) -> InstigatorTick:
        """Store a new tick; returns it with its storage id."""

    @abc.abstractmethod
    def update_tick(self, tick: InstigatorTick) -> InstigatorTick:
        """Replace a stored tick (by tick_id)."""

    @abc.abstractmethod
    def get_ticks(
        self,
        instigator_id: str,
        before: float | None = None,
        after: float | None = None,
        limit: int | None = None,
        statuses: Sequence[TickStatus] | None = None,
    ) -> list[InstigatorTick]:
        """A schedule's or sensor's ticks, newest first (by timestamp, then id);
        `before`/`after` bound the timestamp (exclusive)."""

    # -- daemon heartbeats --

    @abc.abstractmethod
    def add_daemon_heartbeat(self, heartbeat: DaemonHeartbeat) -> None:
        """Replace the heartbeat of `heartbeat.daemon_type`."""

    @abc.abstractmethod
    def get_daemon_heartbeats(self) -> dict[str, DaemonHeartbeat]:
        """The latest heartbeat of each daemon type."""

    @abc.abstractmethod
    def wipe_daemon_heartbeats(self) -> None:
        """Forget every heartbeat."""

    # -- backfills --

    @abc.abstractmethod
    def add_backfill(self, backfill: PartitionBackfill) -> None:
        """Store a new backfill; a duplicate id raises DagsterInvariantViolationError."""

    @abc.abstractmethod
    def update_backfill(self, backfill: PartitionBackfill) -> None:
        """Replace a stored backfill (by backfill_id)."""

    @abc.abstractmethod
    def get_backfill(self, backfill_id: str) -> PartitionBackfill | None:
        """One backfill, or None."""

    @abc.abstractmethod
    def get_backfills(self, status: BulkActionStatus | None = None, limit: int | None = None) -> list[PartitionBackfill]:
        """Backfills, newest first."""

    # -- leases --

    @abc.abstractmethod
    def claim_lease(self, name: str, owner: str, now: float, duration: float, replacing: str | None = None) -> bool:
        """Take or renew the lease `name` for `owner` until `now + duration`:
        True if `owner` holds it now (it was free, expired, already its own, or
        held by `replacing`, an owner the caller knows to be dead). Atomic across
        processes: two claimants never both get True for one unexpired lease."""

    @abc.abstractmethod
    def release_lease(self, name: str, owner: str) -> None:
        """Give the lease up, if `owner` holds it."""

    @abc.abstractmethod
    def get_lease(self, name: str) -> tuple[str, float] | None:
        """(owner, expiry) of a lease, or None."""


class InMemoryAutomationStorage(AutomationStorage):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._states: dict[str, InstigatorState] = {}
        self._ticks: dict[int, InstigatorTick] = {}
        self._next_tick = 1
        self._heartbeats: dict[str, DaemonHeartbeat] = {}
        self._backfills: dict[str, PartitionBackfill] = {}
        self._leases: dict[str, tuple[str, float]] = {}

    def get_instigator_state(self, instigator_id: str) -> InstigatorState | None:
        with self._lock:
            return self._states.get(instigator_id)

    def all_instigator_state(self, instigator_type: InstigatorType | None = None, updated_after: float | None = None) -> list[InstigatorState]:
        with self._lock:
            states = sorted(self._states.values(), key=lambda s: s.id)
        return [
            s for s in states
            if (instigator_type is None or s.instigator_type is instigator_type) and (updated_after is None or s.update_timestamp > updated_after)
        ]

    def save_instigator_state(self, state: InstigatorState) -> InstigatorState:
        with self._lock:
            self._states[state.id] = state
        return state

    def delete_instigator_state(self, instigator_id: str) -> None:
        with self._lock:
            self._states.pop(instigator_id, None)

    def create_tick(self, tick: InstigatorTick) -> InstigatorTick:
        with self._lock:
            stored = dataclasses.replace(tick, tick_id=self._next_tick)
            self._ticks[stored.tick_id] = stored
            self._next_tick += 1
        return stored

    def update_tick(self, tick: InstigatorTick) -> InstigatorTick:
        with self._lock:
            if tick.tick_id not in self._ticks:
                raise KeyError(f"no tick {tick.tick_id}")
            self._ticks[tick.tick_id] = tick
        return tick

    def get_ticks(
        self,
        instigator_id: str,
        before: float | None = None,
        after: float | None = None,
        limit: int | None = None,
        statuses: Sequence[TickStatus] | None = None,
    ) -> list[InstigatorTick]:
        with self._lock:
            ticks = [t for t in self._ticks.values() if t.instigator_id == instigator_id]
        if before is not None:
            ticks = [t for t in ticks if t.timestamp < before]
        if after is not None:
            ticks = [t for t in ticks if t.timestamp > after]
        if statuses is not None:
            wanted = {TickStatus(s) for s in statuses}
            ticks = [t for t in ticks if t.status in wanted]
        ticks.sort(key=lambda t: (t.timestamp, t.tick_id), reverse=True)
        return ticks[:limit] if limit is not None else ticks

    def add_daemon_heartbeat(self, heartbeat: DaemonHeartbeat) -> None:
        with self._lock:
            self._heartbeats[heartbeat.daemon_type] = heartbeat

    def get_daemon_heartbeats(self) -> dict[str, DaemonHeartbeat]:
        with self._lock:
            return dict(self._heartbeats)

    def wipe_daemon_heartbeats(self) -> None:
        with self._lock:
            self._heartbeats.clear()

    def add_backfill(self, backfill: PartitionBackfill) -> None:
        from oprun.errors import DagsterInvariantViolationError

        with self._lock:
            if backfill.backfill_id in self._backfills:
                raise DagsterInvariantViolationError(f"A backfill with id {backfill.backfill_id} already exists.")
            self._backfills[backfill.backfill_id] = backfill

    def update_backfill(self, backfill: PartitionBackfill) -> None:
        with self._lock:
            if backfill.backfill_id not in self._backfills:
                raise KeyError(f"no backfill {backfill.backfill_id}")
            self._backfills[backfill.backfill_id] = backfill

    def get_backfill(self, backfill_id: str) -> PartitionBackfill | None:
        with self._lock:
            return self._backfills.get(backfill_id)

    def get_backfills(self, status: BulkActionStatus | None = None, limit: int | None = None) -> list[PartitionBackfill]:
        with self._lock:
            found = list(reversed(self._backfills.values()))  # insertion order: newest last
        found = [b for b in found if status is None or b.status is status]
        return found[:limit] if limit is not None else found

    def claim_lease(self, name: str, owner: str, now: float, duration: float, replacing: str | None = None) -> bool:
        with self._lock:
            current = self._leases.get(name)
            if current is not None and current[0] not in (owner, replacing) and current[1] > now:
                return False
            self._leases[name] = (owner, now + duration)
            return True

    def release_lease(self, name: str, owner: str) -> None:
        with self._lock:
            current = self._leases.get(name)
            if current is not None and current[0] == owner:
                del self._leases[name]

    def get_lease(self, name: str) -> tuple[str, float] | None:
        with self._lock:
            return self._leases.get(name)
