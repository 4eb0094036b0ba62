"""The records the daemon keeps on the instance, with Dagster's names: the state
of each schedule and sensor (`InstigatorState`), each of their evaluations
(`InstigatorTick`), the daemon's heartbeats (`DaemonHeartbeat`) and partition
backfills (`PartitionBackfill`).

Plain immutable data with a JSON form; the instance stores them and every
surface (CLI, GraphQL, UI) reads them. Nothing here evaluates or launches.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any


class InstigatorType(str, Enum):
    SCHEDULE = "SCHEDULE"
    SENSOR = "SENSOR"


class InstigatorStatus(str, Enum):
    """RUNNING/STOPPED: started or stopped by someone (stored). DECLARED_IN_CODE:
    no one has started or stopped it; its `default_status` decides."""

    RUNNING = "RUNNING"
    STOPPED = "STOPPED"
    DECLARED_IN_CODE = "DECLARED_IN_CODE"


class TickStatus(str, Enum):
    STARTED = "STARTED"
    SKIPPED = "SKIPPED"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"


class BulkActionStatus(str, Enum):
    """A backfill's status, as Dagster names them."""

    REQUESTED = "REQUESTED"
    COMPLETED = "COMPLETED"
    COMPLETED_SUCCESS = "COMPLETED_SUCCESS"
    COMPLETED_FAILED = "COMPLETED_FAILED"
    FAILED = "FAILED"
    CANCELING = "CANCELING"
    CANCELED = "CANCELED"


# The lease the active daemon holds (released when it stops, expiring soon after
# it dies): with a fresh heartbeat, what says a daemon is alive.
DAEMON_LEASE = "oprun-daemon"


def instigator_id(location_name: str, name: str) -> str:
    """How a schedule or sensor is known in storage: its code location and name
    (two locations may each have a schedule called `nightly`)."""
    return f"{location_name}:{name}"


@dataclasses.dataclass(frozen=True)
class InstigatorState:
    """A schedule's or sensor's stored state. `data` holds what its loop keeps
    between ticks: for a schedule the last tick's time (`last_tick_timestamp`)
    and when it was started (`start_timestamp`); for a sensor its `cursor`,
    `last_tick_timestamp`, `last_run_key` and `last_tick_start_timestamp`."""

    id: str
    name: str
    location_name: str
    instigator_type: InstigatorType
    status: InstigatorStatus
    data: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    update_timestamp: float = 0.0

    @property
    def is_running(self) -> bool:
        return self.status is InstigatorStatus.RUNNING

    @property
    def cursor(self) -> str | None:
        value = self.data.get("cursor")
        return None if value is None else str(value)

    def with_status(self, status: InstigatorStatus) -> InstigatorState:
        return dataclasses.replace(self, status=status)

    def with_data(self, **changes: Any) -> InstigatorState:
        return dataclasses.replace(self, data={**self.data, **changes})

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "location_name": self.location_name,
            "instigator_type": self.instigator_type.value, "status": self.status.value,
            "data": dict(self.data), "update_timestamp": self.update_timestamp,
        }

    @staticmethod
    def from_dict(value: Mapping[str, Any]) -> InstigatorState:
        return InstigatorState(
            id=value["id"], name=value["name"], location_name=value["location_name"],
            instigator_type=InstigatorType(value["instigator_type"]), status=InstigatorStatus(value["status"]),
            data=dict(value.get("data") or {}), update_timestamp=float(value.get("update_timestamp") or 0.0),
        )


@dataclasses.dataclass(frozen=True)
class InstigatorTick:
    """One evaluation of a schedule or sensor. `timestamp` is the time it was
    evaluated as of (a schedule's scheduled time, a sensor's evaluation time);
    `tick_id` is given by storage (0 before it is stored). `error` is the user's
    error (message and traceback) of a FAILURE tick; `run_keys` and `run_ids`
    are those the tick requested and launched; `cursor` is a sensor's cursor
    after the tick."""

    tick_id: int
    instigator_id: str
    name: str
    instigator_type: InstigatorType
    status: TickStatus
    timestamp: float
    run_ids: Sequence[str] = ()
    run_keys: Sequence[str] = ()
    skip_reason: str | None = None
    error: Mapping[str, Any] | None = None
    cursor: str | None = None
    end_timestamp: float | None = None
    log_messages: Sequence[str] = ()

    def with_status(self, status: TickStatus, **changes: Any) -> InstigatorTick:
        return dataclasses.replace(self, status=status, **changes)

    def with_run(self, run_id: str, run_key: str | None = None) -> InstigatorTick:
        keys = (*self.run_keys, run_key) if run_key is not None and run_key not in self.run_keys else tuple(self.run_keys)
        return dataclasses.replace(self, run_ids=(*self.run_ids, run_id), run_keys=keys)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tick_id": self.tick_id, "instigator_id": self.instigator_id, "name": self.name,
            "instigator_type": self.instigator_type.value, "status": self.status.value, "timestamp": self.timestamp,
            "run_ids": list(self.run_ids), "run_keys": list(self.run_keys), "skip_reason": self.skip_reason,
            "error": dict(self.error) if self.error is not None else None, "cursor": self.cursor,
            "end_timestamp": self.end_timestamp, "log_messages": list(self.log_messages),
        }

    @staticmethod
    def from_dict(value: Mapping[str, Any]) -> InstigatorTick:
        return InstigatorTick(
            tick_id=int(value.get("tick_id") or 0), instigator_id=value["instigator_id"], name=value["name"],
            instigator_type=InstigatorType(value["instigator_type"]), status=TickStatus(value["status"]),
            timestamp=float(value["timestamp"]), run_ids=tuple(value.get("run_ids") or ()),
            run_keys=tuple(value.get("run_keys") or ()), skip_reason=value.get("skip_reason"),
            error=value.get("error"), cursor=value.get("cursor"), end_timestamp=value.get("end_timestamp"),
            log_messages=tuple(value.get("log_messages") or ()),
        )


@dataclasses.dataclass(frozen=True)
class DaemonHeartbeat:
    """A daemon loop's latest heartbeat: when, which daemon process, and what it
    last did (`info`: a short summary) or the errors of its last iteration."""

    daemon_type: str
    daemon_id: str
    timestamp: float
    info: str | None = None
    errors: Sequence[str] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"daemon_type": self.daemon_type, "daemon_id": self.daemon_id, "timestamp": self.timestamp, "info": self.info, "errors": list(self.errors)}

    @staticmethod
    def from_dict(value: Mapping[str, Any]) -> DaemonHeartbeat:
        return DaemonHeartbeat(
            daemon_type=value["daemon_type"], daemon_id=value["daemon_id"], timestamp=float(value["timestamp"]),
            info=value.get("info"), errors=tuple(value.get("errors") or ()),
        )


@dataclasses.dataclass(frozen=True)
class PartitionBackfill:
    """A backfill: one run per partition of a partitioned job. `run_ids` maps a
    partition key to the run made for it (made by the daemon's backfill loop, a
    few at a time); `job_origin` is what a run worker needs to load the job."""

    backfill_id: str
    job_name: str
    location_name: str
    partition_names: Sequence[str]
    status: BulkActionStatus
    backfill_timestamp: float
    job_origin: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    run_config: Mapping[str, Any] | None = None
    tags: Mapping[str, str] = dataclasses.field(default_factory=dict)
    run_ids: Mapping[str, str] = dataclasses.field(default_factory=dict)
    error: str | None = None
    end_timestamp: float | None = None

    @property
    def pending_partitions(self) -> list[str]:
        return [p for p in self.partition_names if p not in self.run_ids]

    def with_status(self, status: BulkActionStatus, **changes: Any) -> PartitionBackfill:
        return dataclasses.replace(self, status=status, **changes)

    def with_run(self, partition: str, run_id: str) -> PartitionBackfill:
        return dataclasses.replace(self, run_ids={**self.run_ids, partition: run_id})

    def to_dict(self) -> dict[str, Any]:
        return {
            "backfill_id": self.backfill_id, "job_name": self.job_name, "location_name": self.location_name,
            "partition_names": list(self.partition_names), "status": self.status.value,
            "backfill_timestamp": self.backfill_timestamp, "job_origin": dict(self.job_origin),
            "run_config": dict(self.run_config) if self.run_config is not None else None, "tags": dict(self.tags),
            "run_ids": dict(self.run_ids), "error": self.error, "end_timestamp": self.end_timestamp,
        }

    @staticmethod
    def from_dict(value: Mapping[str, Any]) -> PartitionBackfill:
        return PartitionBackfill(
            backfill_id=value["backfill_id"], job_name=value["job_name"], location_name=value.get("location_name") or "",
            partition_names=tuple(value.get("partition_names") or ()), status=BulkActionStatus(value["status"]),
            backfill_timestamp=float(value["backfill_timestamp"]), job_origin=dict(value.get("job_origin") or {}),
            run_config=value.get("run_config"), tags=dict(value.get("tags") or {}), run_ids=dict(value.get("run_ids") or {}),
            error=value.get("error"), end_timestamp=value.get("end_timestamp"),
        )
