"""The run queue loop (Dagster's QUEUED_RUN_COORDINATOR daemon): launches QUEUED
runs when the instance's limits allow.

Each iteration reads the queued runs and the runs in progress (STARTING, STARTED,
CANCELING) and launches, highest `dagster/priority` first (ties: oldest first),
every queued run that fits under `max_concurrent_runs` and each of the
`tag_concurrency_limits` buckets it belongs to. A run held back by a tag limit
does not hold back the runs behind it; once `max_concurrent_runs` is reached the
iteration stops.

One pass dequeues at a time per instance (a storage lease), so the limits count
every launch even with two daemons. A run is launched at most once, even if two
passes overlap (a pass outliving its lease): a run is claimed (a lease named
after it) and re-read before it is launched, and launched only if still QUEUED; RUN_DEQUEUED and RUN_STARTING
are recorded before the launcher is called, so no later reader sees it QUEUED.
A launch that fails ends the run FAILURE with the error: a run is never left
stuck between the queue and a worker.

The loop knows runs, tags and a launcher; what a launcher starts (a run worker
process, a warm one) is the launcher's business.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from oprun.events import DagsterEventType
from oprun.runs import IN_PROGRESS_RUN_STATUSES, DagsterRun, DagsterRunStatus, RunsFilter

DAEMON_TYPE = "QUEUED_RUN_COORDINATOR"
PRIORITY_TAG = "dagster/priority"
DEFAULT_INTERVAL_SECONDS = 0.25
# Dagster's default when `max_concurrent_runs` is not set; -1 means no limit.
DEFAULT_MAX_CONCURRENT_RUNS = 10
# How long a loop's claims last (on the queue for a pass, on one run while it is
# launched): if the daemon dies holding one, another may take over after this.
CLAIM_SECONDS = 60.0
QUEUE_LEASE = "oprun-run-queue"


@dataclass(frozen=True)
class TagLimit:
    """One of `tag_concurrency_limits`: runs with tag `key` (equal to `value` if
    given; a bucket per value with `per_unique_value`) may be `limit` at once."""

    key: str
    value: str | None
    per_unique_value: bool
    limit: int

    @staticmethod
    def parse(spec: Mapping[str, Any]) -> TagLimit:
        value = spec.get("value")
        per_value = isinstance(value, Mapping) and bool(value.get("applyLimitPerUniqueValue"))
        return TagLimit(
            key=str(spec["key"]),
            value=None if value is None or isinstance(value, Mapping) else str(value),
            per_unique_value=per_value,
            limit=int(spec.get("limit", 0)),
        )

    def bucket(self, tags: Mapping[str, str]) -> Hashable | None:
        """Which of this limit's buckets a run with `tags` counts toward, if any."""
        if self.key not in tags:
            return None
        found = str(tags[self.key])
        if self.per_unique_value:
            return (self.key, "value", found)
        if self.value is not None:
            return (self.key, "value", found) if found == self.value else None
        return (self.key, "any")


class QueueLimits:
    """The limits of one iteration, counting the runs in progress and those it
    launches."""

    def __init__(self, settings: Mapping[str, Any], in_progress: Sequence[DagsterRun]) -> None:
        raw_max = settings.get("max_concurrent_runs")
        self.max_runs: int | None = DEFAULT_MAX_CONCURRENT_RUNS if raw_max is None else int(raw_max)
        if self.max_runs is not None and self.max_runs < 0:
            self.max_runs = None  # -1: no limit
        self.tag_limits = [TagLimit.parse(spec) for spec in settings.get("tag_concurrency_limits") or ()]
        self.running = 0
        self.counts: Counter[tuple[int, Hashable]] = Counter()
        for run in in_progress:
            self.add(run)

    def add(self, run: DagsterRun) -> None:
        self.running += 1
        for index, limit in enumerate(self.tag_limits):
            bucket = limit.bucket(run.tags)
            if bucket is not None:
                self.counts[(index, bucket)] += 1

    @property
    def full(self) -> bool:
        return self.max_runs is not None and self.running >= self.max_runs

    def fits(self, run: DagsterRun) -> bool:
        for index, limit in enumerate(self.tag_limits):
            bucket = limit.bucket(run.tags)
            if bucket is not None and self.counts[(index, bucket)] >= limit.limit:
                return False
        return True


def priority(run: DagsterRun) -> int:
    """The run's `dagster/priority` (0 if absent or not an integer)."""
    try:
        return int(str(run.tags.get(PRIORITY_TAG, 0)).strip())
    except ValueError:
        return 0


class RunQueueLoop:
    daemon_type = DAEMON_TYPE

    def __init__(self, launcher: Any = None, interval_seconds: float | None = None) -> None:
        """`launcher`: what starts a dequeued run (`launch_run(run_id)`); by default
        the instance's run launcher."""
        self._launcher = launcher
        self._fixed_interval = interval_seconds
        self.interval_seconds = interval_seconds if interval_seconds is not None else DEFAULT_INTERVAL_SECONDS
        # This loop's claims on runs; unique, so two loops of one daemon never share one.
        self._owner = f"run-queue:{uuid.uuid4().hex}"

    def close(self) -> None:
        """Close the launcher this loop was given (the daemon's warm pool)."""
        close = getattr(self._launcher, "close", None)
        if close is not None:
            close()

    def run_iteration(self, context: Any) -> str | None:
        instance = context.instance
        settings = instance.run_queue_settings()
        if self._fixed_interval is None:
            configured = settings.get("dequeue_interval_seconds")
            self.interval_seconds = float(configured) if configured is not None else DEFAULT_INTERVAL_SECONDS
        storage = instance.automation_storage
        if not instance.get_runs_count(RunsFilter(statuses=[DagsterRunStatus.QUEUED])):
            return "0 queued"  # the usual idle pass: one read, no write
        # One dequeuing pass at a time per instance, so the limits count every
        # launch (leases are kept in real time, as the daemon's own).
        if not storage.claim_lease(QUEUE_LEASE, self._owner, time.time(), CLAIM_SECONDS):
            return "another run queue loop is dequeuing"
        try:
            return self._dequeue_all(context, settings)
        finally:
            storage.release_lease(QUEUE_LEASE, self._owner)

    def _dequeue_all(self, context: Any, settings: Mapping[str, Any]) -> str:
        instance = context.instance
        queued = [r.dagster_run for r in instance.get_run_records(RunsFilter(statuses=[DagsterRunStatus.QUEUED]), ascending=True)]
        in_progress = instance.get_runs(RunsFilter(statuses=list(IN_PROGRESS_RUN_STATUSES)))
        limits = QueueLimits(settings, in_progress)
        # Stable sort: oldest first among equal priorities.
        ordered = sorted(queued, key=lambda run: -priority(run))
        launched = 0
        for run in ordered:
            if context.stopping.is_set() or limits.full:
                break
            if not limits.fits(run):
                continue
            if self.launch_if_queued(context, run):
                limits.add(run)
                launched += 1
        return f"{len(queued)} queued, {launched} launched, {limits.running} in progress"

    def launch_if_queued(self, context: Any, run: DagsterRun) -> bool:
        """Claim, re-check and launch one run; True if this loop launched it."""
        instance = context.instance
        storage = instance.automation_storage
        lease = f"dequeue:{run.run_id}"
        if not storage.claim_lease(lease, self._owner, time.time(), CLAIM_SECONDS):
            return False  # another loop is dequeuing it
        try:
            current = instance.get_run_by_id(run.run_id)
            if current is None or current.status is not DagsterRunStatus.QUEUED:
                return False  # canceled, or launched by another loop, since it was read
            instance.report_run_event(current, DagsterEventType.RUN_DEQUEUED, "Run dequeued: the run queue's limits allow it to start.")
            instance.report_run_event(current, DagsterEventType.RUN_STARTING, "Launching the run.")
            launcher = self._launcher if self._launcher is not None else instance.run_launcher
            try:
                launcher.launch_run(current.run_id)
            except Exception as exc:  # noqa: BLE001 - a launch failure ends the run, never the loop
                context.log.error("run queue: launching run %s failed: %s: %s", current.run_id, type(exc).__name__, exc)
                instance.report_run_failed(
                    current, f"The run could not be launched from the queue: {type(exc).__name__}: {exc}"
                )
            return True
        finally:
            storage.release_lease(lease, self._owner)
