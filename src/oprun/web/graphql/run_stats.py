"""A run's statistics as GraphQL, from its event log: `RunStatsSnapshot` (steps
succeeded and failed, materializations, expectations, the run's queued, launch,
start and end times) and `RunStepStats` per step (status, times, attempts,
markers), Dagster's types and semantics.

Both come from one read of the run's lifecycle events only (step start, restart,
retry, success, failure, skip; run queue, start, end; materializations and
expectations; resource and step-worker markers): the storage reads them by
(run id, event type) through its index, and log messages, inputs and outputs,
most of a run's events, are never loaded.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from oprun.events import DagsterEventType as E

if TYPE_CHECKING:
    from oprun.web.graphql.events import ExpectationResult, MaterializationEvent

# The events the statistics are made of.
STATS_EVENT_TYPES = frozenset({
    E.RUN_ENQUEUED, E.RUN_STARTING, E.RUN_START, E.RUN_SUCCESS, E.RUN_FAILURE, E.RUN_CANCELED,
    E.STEP_START, E.STEP_RESTARTED, E.STEP_UP_FOR_RETRY, E.STEP_SUCCESS, E.STEP_FAILURE, E.STEP_SKIPPED,
    E.ASSET_MATERIALIZATION, E.STEP_EXPECTATION_RESULT,
    E.RESOURCE_INIT_STARTED, E.RESOURCE_INIT_SUCCESS, E.RESOURCE_INIT_FAILURE,
    E.STEP_WORKER_STARTING, E.STEP_WORKER_STARTED,
})
_MARKER_STARTS = {E.RESOURCE_INIT_STARTED.value, E.STEP_WORKER_STARTING.value}
_MARKER_ENDS = {E.RESOURCE_INIT_SUCCESS.value, E.RESOURCE_INIT_FAILURE.value, E.STEP_WORKER_STARTED.value}
_RUN_ENDS = {E.RUN_SUCCESS.value, E.RUN_FAILURE.value, E.RUN_CANCELED.value}


@strawberry.enum(name="StepEventStatus")
class StepEventStatus(enum.Enum):
    SKIPPED = "SKIPPED"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    IN_PROGRESS = "IN_PROGRESS"


@strawberry.type(name="RunMarker")
class RunMarker:
    start_time: float | None = None
    end_time: float | None = None


@strawberry.interface(name="PipelineRunStepStats")
class PipelineRunStepStats:
    run_id: str
    step_key: str
    status: StepEventStatus | None = None
    start_time: float | None = None
    end_time: float | None = None

    @strawberry.field
    def materializations(self) -> list[Annotated["MaterializationEvent", strawberry.lazy("oprun.web.graphql.events")]]:  # noqa: UP037 - strawberry resolves the lazy name
        raise NotImplementedError

    @strawberry.field
    def expectation_results(self) -> list[Annotated["ExpectationResult", strawberry.lazy("oprun.web.graphql.events")]]:  # noqa: UP037 - strawberry resolves the lazy name
        raise NotImplementedError


@strawberry.type(name="RunStepStats")
class RunStepStats(PipelineRunStepStats):
    attempts: list[RunMarker] = strawberry.field(default_factory=list)
    markers: list[RunMarker] = strawberry.field(default_factory=list)
    # The step's materialization and expectation entries, made into events when asked for.
    _materialized: strawberry.Private[list[Any]] = field(default_factory=list)
    _expected: strawberry.Private[list[Any]] = field(default_factory=list)

    def materialization_events(self) -> list[Any]:
        from oprun.web.graphql.events import graphql_event

        return [graphql_event(entry) for entry in self._materialized]

    @strawberry.field
    def materializations(self) -> list[Annotated["MaterializationEvent", strawberry.lazy("oprun.web.graphql.events")]]:  # noqa: UP037 - strawberry resolves the lazy name
        return self.materialization_events()

    @strawberry.field
    def expectation_results(self) -> list[Annotated["ExpectationResult", strawberry.lazy("oprun.web.graphql.events")]]:  # noqa: UP037 - strawberry resolves the lazy name
        from oprun.web.graphql.events import graphql_event

        return [graphql_event(entry).expectation_result for entry in self._expected]


@strawberry.type(name="RunStatsSnapshot")
class RunStatsSnapshot:
    id: str
    run_id: str
    steps_succeeded: int
    steps_failed: int
    materializations: int
    expectations: int
    enqueued_time: float | None = None
    launch_time: float | None = None
    start_time: float | None = None
    end_time: float | None = None


@dataclass
class _Step:
    key: str
    status: StepEventStatus | None = None
    start: float | None = None
    end: float | None = None
    attempts: list[RunMarker] = field(default_factory=list)
    markers: list[RunMarker] = field(default_factory=list)
    materialized: list[Any] = field(default_factory=list)
    expected: list[Any] = field(default_factory=list)


def _open_marker(markers: list[RunMarker], at: float) -> None:
    markers.append(RunMarker(start_time=at))


def _close_marker(markers: list[RunMarker], at: float) -> None:
    if markers and markers[-1].end_time is None:
        markers[-1].end_time = at
    else:  # an end without its start (a partial log): a marker that only ends
        markers.append(RunMarker(end_time=at))


def _step_event(step: _Step, kind: str, at: float) -> None:
    if kind == E.STEP_START.value:
        step.status = StepEventStatus.IN_PROGRESS
        step.start = at if step.start is None else step.start
        _open_marker(step.attempts, at)
    elif kind == E.STEP_RESTARTED.value:
        step.status = StepEventStatus.IN_PROGRESS
        _open_marker(step.attempts, at)
    elif kind == E.STEP_UP_FOR_RETRY.value:
        _close_marker(step.attempts, at)
    elif kind in (E.STEP_SUCCESS.value, E.STEP_FAILURE.value, E.STEP_SKIPPED.value):
        step.status = {
            E.STEP_SUCCESS.value: StepEventStatus.SUCCESS,
            E.STEP_FAILURE.value: StepEventStatus.FAILURE,
            E.STEP_SKIPPED.value: StepEventStatus.SKIPPED,
        }[kind]
        step.end = at
        if step.attempts and step.attempts[-1].end_time is None:
            step.attempts[-1].end_time = at
    elif kind in _MARKER_STARTS:
        _open_marker(step.markers, at)
    elif kind in _MARKER_ENDS:
        _close_marker(step.markers, at)


def compute_stats(run_id: str, entries: list[Any]) -> tuple[RunStatsSnapshot, list[RunStepStats]]:
    """The run's stats and its steps' stats (in the order steps first appear) from
    its lifecycle events (`STATS_EVENT_TYPES`), oldest first."""
    stats = RunStatsSnapshot(id=f"stats-{run_id}", run_id=run_id, steps_succeeded=0, steps_failed=0, materializations=0, expectations=0)
    steps: dict[str, _Step] = {}
    for entry in entries:
        event = entry.dagster_event
        if event is None:
            continue
        kind, at = event.event_type_value, entry.timestamp
        if kind == E.STEP_SUCCESS.value:
            stats.steps_succeeded += 1
        elif kind == E.STEP_FAILURE.value:
            stats.steps_failed += 1
        elif kind == E.ASSET_MATERIALIZATION.value:
            stats.materializations += 1
        elif kind == E.STEP_EXPECTATION_RESULT.value:
            stats.expectations += 1
        elif kind == E.RUN_ENQUEUED.value:
            stats.enqueued_time = at
        elif kind == E.RUN_STARTING.value:
            stats.launch_time = at
        elif kind == E.RUN_START.value:
            stats.start_time = at
        elif kind in _RUN_ENDS:
            stats.end_time = at
        step_key = entry.step_key or event.step_key
        if step_key:
            step = steps.setdefault(step_key, _Step(step_key))
            _step_event(step, kind, at)
            if kind == E.ASSET_MATERIALIZATION.value:
                step.materialized.append(entry)
            elif kind == E.STEP_EXPECTATION_RESULT.value:
                step.expected.append(entry)
    step_stats = [
        RunStepStats(
            run_id=run_id, step_key=s.key, status=s.status, start_time=s.start, end_time=s.end, attempts=s.attempts, markers=s.markers,
            _materialized=s.materialized, _expected=s.expected,
        )
        for s in steps.values()
    ]
    return stats, step_stats


def read_stats(instance: Any, run_id: str) -> tuple[RunStatsSnapshot, list[RunStepStats]]:
    """`compute_stats` over what the instance stores: one query."""
    connection = instance.get_records_for_run(run_id, of_type=set(STATS_EVENT_TYPES))
    return compute_stats(run_id, [record.event_log_entry for record in connection.records])
