"""The run record: `DagsterRun`, its statuses, and the filter used to query runs.

A leaf like `events.py`: execution creates runs, the instance stores them, every
surface reads them. It imports nothing else from oprun.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import Enum
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from datetime import datetime


class DagsterRunStatus(str, Enum):
    QUEUED = "QUEUED"
    NOT_STARTED = "NOT_STARTED"
    MANAGED = "MANAGED"
    STARTING = "STARTING"
    STARTED = "STARTED"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    CANCELING = "CANCELING"
    CANCELED = "CANCELED"

    def __str__(self) -> str:
        return self.value


IN_PROGRESS_RUN_STATUSES = frozenset(
    {DagsterRunStatus.STARTING, DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING}
)
FINISHED_RUN_STATUSES = frozenset(
    {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
)

# Which status each run event moves a run to.
STATUS_FOR_RUN_EVENT: dict[str, DagsterRunStatus] = {
    "RUN_ENQUEUED": DagsterRunStatus.QUEUED,
    "RUN_STARTING": DagsterRunStatus.STARTING,
    "RUN_START": DagsterRunStatus.STARTED,
    "RUN_SUCCESS": DagsterRunStatus.SUCCESS,
    "RUN_FAILURE": DagsterRunStatus.FAILURE,
    "RUN_CANCELING": DagsterRunStatus.CANCELING,
    "RUN_CANCELED": DagsterRunStatus.CANCELED,
}


class RunFailureReason(str, Enum):
    UNEXPECTED_TERMINATION = "UNEXPECTED_TERMINATION"
    RUN_EXCEPTION = "RUN_EXCEPTION"
    STEP_FAILURE = "STEP_FAILURE"
    JOB_INITIALIZATION_FAILURE = "JOB_INITIALIZATION_FAILURE"
    START_TIMEOUT = "START_TIMEOUT"
    RUN_WORKER_RESTART = "RUN_WORKER_RESTART"
    UNKNOWN = "UNKNOWN"


def make_new_run_id() -> str:
    """A random (version 4) UUID, as text; built by hand because importing `uuid`
    costs milliseconds."""
    import os

    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class _DagsterRunFields(NamedTuple):
    job_name: str
    run_id: str
    run_config: Mapping[str, Any]
    tags: Mapping[str, str]
    status: DagsterRunStatus
    op_selection: Sequence[str] | None
    step_keys_to_execute: Sequence[str] | None
    parent_run_id: str | None
    root_run_id: str | None
    job_snapshot_id: str | None
    job_code_origin: Mapping[str, Any] | None
    partition_key: str | None


class DagsterRun(_DagsterRunFields):
    """One run of a job, as the instance records it; immutable (`with_status`,
    `with_tags` and `_replace` make changed copies), as Dagster's.

    `run_config` is stored with secrets (values that came from environment
    variables) masked.
    """

    __slots__ = ()

    def __new__(
        cls,
        job_name: str,
        run_id: str | None = None,
        run_config: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        status: DagsterRunStatus = DagsterRunStatus.NOT_STARTED,
        op_selection: Sequence[str] | None = None,
        step_keys_to_execute: Sequence[str] | None = None,
        parent_run_id: str | None = None,
        root_run_id: str | None = None,
        job_snapshot_id: str | None = None,
        job_code_origin: Mapping[str, Any] | None = None,
        partition_key: str | None = None,
    ) -> DagsterRun:
        return super().__new__(
            cls, job_name, run_id or make_new_run_id(), run_config if run_config is not None else {},
            tags if tags is not None else {}, status, op_selection, step_keys_to_execute, parent_run_id,
            root_run_id, job_snapshot_id, job_code_origin, partition_key,
        )

    @property
    def pipeline_name(self) -> str:
        return self.job_name

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_RUN_STATUSES

    @property
    def is_success(self) -> bool:
        return self.status == DagsterRunStatus.SUCCESS

    @property
    def is_failure(self) -> bool:
        return self.status == DagsterRunStatus.FAILURE

    @property
    def is_cancelable(self) -> bool:
        return self.status in IN_PROGRESS_RUN_STATUSES or self.status in (
            DagsterRunStatus.QUEUED,
            DagsterRunStatus.NOT_STARTED,
        )

    @property
    def previous_run_id(self) -> str | None:
        return self.parent_run_id

    def with_status(self, status: DagsterRunStatus) -> DagsterRun:
        return self._replace(status=status)

    def with_tags(self, tags: Mapping[str, str]) -> DagsterRun:
        return self._replace(tags={**self.tags, **tags})


class RunRecord(NamedTuple):
    """A run plus the times the storage keeps about it."""

    storage_id: int
    dagster_run: DagsterRun
    create_timestamp: datetime
    update_timestamp: datetime
    start_time: float | None = None
    end_time: float | None = None


class RunsFilter(NamedTuple):
    """Which runs `get_runs` returns; every given field must match."""

    run_ids: Sequence[str] | None = None
    job_name: str | None = None
    statuses: Sequence[DagsterRunStatus] | None = None
    tags: Mapping[str, str | Sequence[str]] | None = None
    created_before: datetime | None = None
    created_after: datetime | None = None
    updated_before: datetime | None = None
    updated_after: datetime | None = None
