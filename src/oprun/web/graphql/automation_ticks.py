"""A schedule's or sensor's stored state and its ticks as GraphQL (Dagster's
`InstigationState`, `InstigationTick`), and evaluations that store nothing
(`DryRunInstigationTick`: a schedule's future ticks, the dry runs).

Identity: a schedule or sensor is known in storage as `<location>:<name>`
(`oprun.instigation.instigator_id`); that string is the InstigationState's
`id` and `selectorId`, the Schedule's and Sensor's `id` and the Sensor's
`jobOriginId`, so every id Dagster's mutations take (`stopRunningSchedule(id:)`,
`stopSensor(jobOriginId:)`, ...) is that one string. A tick's `id` is
`<instigator id>:<timestamp>`, which is also the `cursor` of `ticks(...)`: the
ticks before it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from oprun import clock
from oprun.instigation import InstigatorState, InstigatorStatus, InstigatorTick, InstigatorType as StoredType, TickStatus
from oprun.web.context import WebContext
from oprun.web.graphql import common as c
from oprun.web.graphql.automation_shared import (
    BigInt,
    InstigationStatus,
    InstigationTickStatus,
    InstigationType,
    clamp_limit,
    repository_origin,
    tags_of,
    tick_error,
    valid_timestamp,
)
from oprun.web.graphql.run_object import PipelineTag, RepositoryOrigin
from oprun.web.graphql.runs import Run, run_type

# ---------- evaluations that store nothing ----------


@strawberry.type(name="RunRequest")
class RunRequest:
    run_key: str | None
    tags: list[PipelineTag]
    run_config_yaml: str
    job_name: str | None


@strawberry.type(name="TickEvaluation")
class TickEvaluation:
    run_requests: list[RunRequest] | None
    skip_reason: str | None
    error: c.PythonError | None
    cursor: str | None


@strawberry.type(name="DryRunInstigationTick")
class DryRunInstigationTick:
    timestamp: float | None
    # Evaluated only when asked for: a schedule's future ticks list many times.
    _evaluate: strawberry.Private[Callable[[], TickEvaluation | None] | None] = None

    @strawberry.field
    def evaluation_result(self) -> TickEvaluation | None:
        return self._evaluate() if self._evaluate is not None else None

    def evaluated_now(self) -> DryRunInstigationTick:
        """The same tick, evaluated now rather than when its result is asked for."""
        if self._evaluate is None:
            return self
        evaluation = self._evaluate()
        return DryRunInstigationTick(timestamp=self.timestamp, _evaluate=lambda: evaluation)


@strawberry.type(name="DryRunInstigationTicks")
class DryRunInstigationTicks:
    results: list[DryRunInstigationTick]
    cursor: float


def run_config_yaml(run_config: Any) -> str:
    import yaml

    return str(yaml.safe_dump(dict(run_config or {}), default_flow_style=False, sort_keys=False))


def run_request_type(request: Any) -> RunRequest:
    return RunRequest(
        run_key=request.run_key, tags=tags_of(request.tags), run_config_yaml=run_config_yaml(request.run_config),
        job_name=request.job_name,
    )


def tick_evaluation(run_requests: Any, skip_reason: str | None, error: Any, cursor: str | None = None) -> TickEvaluation:
    return TickEvaluation(
        run_requests=[run_request_type(r) for r in run_requests] if run_requests else None if error else [],
        skip_reason=skip_reason, error=tick_error(error), cursor=cursor,
    )


def schedule_dry_run(context: WebContext, definitions: Any, schedule: Any, after: float) -> DryRunInstigationTick:
    """The schedule's first tick after `after`, evaluated (run config checked),
    launching and storing nothing; no tick left: a null timestamp."""
    from oprun.daemon.schedules import next_tick_time

    moment = next_tick_time(schedule, after)
    if moment is None:
        return DryRunInstigationTick(timestamp=None)
    return schedule_tick_at(context, definitions, schedule, moment.timestamp())


def schedule_tick_at(context: WebContext, definitions: Any, schedule: Any, timestamp: float) -> DryRunInstigationTick:
    """A tick of the schedule at its first fire time at or after `timestamp`,
    evaluated when its `evaluationResult` is asked for."""
    from oprun.daemon.schedules import preview_schedule

    if valid_timestamp(timestamp) is None:
        error = {"message": f"Timestamp {timestamp} is not a moment a date can hold (years 1 to 9999).", "class": "ValueError"}
        return DryRunInstigationTick(timestamp=timestamp, _evaluate=lambda: tick_evaluation(None, None, error))

    def evaluate() -> TickEvaluation | None:
        # Fire times are whole seconds: "strictly after a moment just before" is "at or after".
        found = preview_schedule(context.instance, definitions, schedule, 1, after=timestamp - 0.5)
        if not found:
            return None
        return tick_evaluation(found[0].run_requests, found[0].skip_reason, found[0].error)

    return DryRunInstigationTick(timestamp=timestamp, _evaluate=evaluate)


def sensor_dry_run(context: WebContext, location_name: str, definitions: Any, sensor: Any, cursor: Any) -> DryRunInstigationTick:
    """Evaluate the sensor once now, from `cursor` (`STORED_CURSOR`: its stored
    one), launching and storing nothing."""
    from oprun.daemon.sensors import preview_sensor

    preview = preview_sensor(context.instance, location_name, definitions, sensor, cursor)
    evaluation = tick_evaluation(preview.run_requests, preview.skip_reason, preview.error, preview.cursor)
    return DryRunInstigationTick(timestamp=clock.timestamp(), _evaluate=lambda: evaluation)


# ---------- ticks ----------


@strawberry.type(name="InstigationTick")
class InstigationTick:
    id: strawberry.ID
    tick_id: strawberry.ID
    status: InstigationTickStatus
    timestamp: float
    end_timestamp: float | None
    cursor: str | None
    instigation_type: InstigationType
    skip_reason: str | None
    run_ids: list[str]
    run_keys: list[str]
    error: c.PythonError | None
    origin_run_ids: list[str]
    log_key: list[str] | None

    @strawberry.field
    def runs(self, info: Info) -> list[Run]:
        return runs_by_id(info.context, self.run_ids)


def tick_type(tick: InstigatorTick) -> InstigationTick:
    return InstigationTick(
        id=strawberry.ID(f"{tick.instigator_id}:{tick.timestamp}"), tick_id=strawberry.ID(str(tick.tick_id)),
        status=InstigationTickStatus(tick.status.value), timestamp=tick.timestamp, end_timestamp=tick.end_timestamp,
        cursor=tick.cursor, instigation_type=InstigationType(tick.instigator_type.value), skip_reason=tick.skip_reason,
        run_ids=list(tick.run_ids), run_keys=list(tick.run_keys), error=tick_error(tick.error), origin_run_ids=[],
        log_key=None,
    )


def runs_by_id(context: WebContext, run_ids: list[str]) -> list[Run]:
    """The stored runs among `run_ids`, in that order (a deleted run is left out)."""
    from oprun.runs import RunsFilter

    if not run_ids:
        return []
    found = {run.run_id: run for run in context.instance.get_runs(RunsFilter(run_ids=list(run_ids)))}
    return [run_type(found[run_id]) for run_id in run_ids if run_id in found]


# ---------- state ----------


@strawberry.type(name="SensorData")
class SensorData:
    last_tick_timestamp: float | None
    last_run_key: str | None
    last_cursor: str | None


@strawberry.type(name="ScheduleData")
class ScheduleData:
    cron_schedule: str
    start_timestamp: float | None


InstigationTypeSpecificData = Annotated[ScheduleData | SensorData, strawberry.union("InstigationTypeSpecificData")]


@dataclass(frozen=True)
class Instigator:
    """What an InstigationState is built from: a schedule's or sensor's stored
    state (None: never stored), and its definition when its location is loaded."""

    instigator_id: str
    name: str
    location_name: str
    kind: StoredType
    stored: InstigatorState | None
    definition: Any = None
    definitions: Any = None

    @property
    def data(self) -> dict[str, Any]:
        return dict(self.stored.data) if self.stored is not None else {}

    @property
    def running(self) -> bool:
        if self.definition is None:
            return self.stored is not None and self.stored.status is InstigatorStatus.RUNNING
        if self.kind is StoredType.SCHEDULE:
            from oprun.daemon.schedules import schedule_status

            return schedule_status(self.definition, self.stored)[0] is InstigatorStatus.RUNNING
        from oprun.daemon.sensors import is_running

        return is_running(self.definition, self.stored)

    @property
    def owner_tag(self) -> str:
        from oprun.daemon.requests import SCHEDULE_NAME_TAG, SENSOR_NAME_TAG

        return SCHEDULE_NAME_TAG if self.kind is StoredType.SCHEDULE else SENSOR_NAME_TAG


@strawberry.type(name="InstigationState")
class InstigationState:
    id: strawberry.ID
    selector_id: str
    name: str
    instigation_type: InstigationType
    status: InstigationStatus
    repository_name: str
    repository_location_name: str
    running_count: int
    has_start_permission: bool
    has_stop_permission: bool
    _instigator: strawberry.Private[Instigator]

    @strawberry.field
    def repository_origin(self) -> RepositoryOrigin:
        return repository_origin(self._instigator.location_name)

    @strawberry.field
    def type_specific_data(self) -> InstigationTypeSpecificData | None:
        item = self._instigator
        data = item.data
        if item.kind is StoredType.SENSOR:
            return SensorData(
                last_tick_timestamp=data.get("last_tick_timestamp"), last_run_key=data.get("last_run_key"),
                last_cursor=None if data.get("cursor") is None else str(data["cursor"]),
            )
        cron = item.definition.cron_schedule if item.definition is not None else ""
        return ScheduleData(cron_schedule=cron if isinstance(cron, str) else ", ".join(cron), start_timestamp=data.get("start_timestamp"))

    @strawberry.field
    def runs(self, info: Info, limit: int | None = None) -> list[Run]:
        from oprun.runs import RunsFilter

        found = info.context.instance.get_runs(RunsFilter(tags={self._instigator.owner_tag: self.name}), limit=clamp_limit(limit))
        return [run_type(run) for run in found]

    @strawberry.field
    def runs_count(self, info: Info) -> int:
        from oprun.runs import RunsFilter

        return int(info.context.instance.get_runs_count(RunsFilter(tags={self._instigator.owner_tag: self.name})))

    @strawberry.field
    def tick(self, info: Info, tick_id: BigInt) -> InstigationTick | None:
        for tick in info.context.instance.get_ticks(self._instigator.instigator_id):
            if tick.tick_id == int(tick_id):
                return tick_type(tick)
        return None

    @strawberry.field
    def ticks(
        self,
        info: Info,
        day_range: int | None = None,
        day_offset: int | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        statuses: list[InstigationTickStatus] | None = None,
        before_timestamp: float | None = None,
        after_timestamp: float | None = None,
    ) -> list[InstigationTick]:
        """Newest first. `cursor` (a tick's id): the ticks before that one;
        `dayOffset`/`dayRange`: a window of days back from now (the clock)."""
        now = clock.timestamp()
        day = 24 * 3600.0
        before = valid_timestamp(before_timestamp)
        if day_offset:
            before = valid_timestamp(now - day_offset * day)
        elif cursor:
            try:
                before = valid_timestamp(float(cursor.rsplit(":", 1)[-1]))
            except ValueError:
                before = None  # not one of ours: as Dagster, ignored
        after = valid_timestamp(after_timestamp)
        if day_range:
            after = valid_timestamp(now - (day_range + (day_offset or 0)) * day)
        chosen = [TickStatus(s.value) for s in statuses] if statuses else None
        found = info.context.instance.get_ticks(
            self._instigator.instigator_id, before=before, after=after, limit=clamp_limit(limit), statuses=chosen
        )
        return [tick_type(tick) for tick in found]

    @strawberry.field
    def next_tick(self, info: Info) -> DryRunInstigationTick | None:
        return next_tick_of(info.context, self._instigator)


def next_tick_of(context: WebContext, item: Instigator) -> DryRunInstigationTick | None:
    """A running schedule's next fire time (evaluated when asked for), a running
    sensor's next evaluation (its last one plus its interval); else None."""
    if item.definition is None or not item.running:
        return None
    if item.kind is StoredType.SCHEDULE:
        from oprun.daemon.schedules import next_tick_time

        moment = next_tick_time(item.definition, clock.timestamp())
        return schedule_tick_at(context, item.definitions, item.definition, moment.timestamp()) if moment else None
    last = item.data.get("last_tick_start_timestamp")
    if last is None:
        return None  # evaluated as soon as the daemon sees it
    return DryRunInstigationTick(timestamp=float(last) + item.definition.minimum_interval_seconds)


def state_type(context: WebContext, item: Instigator) -> InstigationState:
    running = item.running
    allowed = not context.read_only
    return InstigationState(
        id=strawberry.ID(item.instigator_id), selector_id=item.instigator_id, name=item.name,
        instigation_type=InstigationType(item.kind.value),
        status=InstigationStatus.RUNNING if running else InstigationStatus.STOPPED,
        repository_name=c.REPOSITORY_NAME, repository_location_name=item.location_name, running_count=int(running),
        has_start_permission=allowed, has_stop_permission=allowed, _instigator=item,
    )


READ_NOW: Any = object()  # `instigator(stored=...)` not given: read the stored state now


def instigator(
    context: WebContext, kind: StoredType, location_name: str, definitions: Any, definition: Any, stored: Any = READ_NOW
) -> Instigator:
    """A schedule or sensor of a loaded location, with its stored state (read
    now unless the caller read it already: `stored`, None for none)."""
    from oprun.instigation import instigator_id

    sid = instigator_id(location_name, definition.name)
    state = context.instance.get_instigator_state(sid) if stored is READ_NOW else stored
    return Instigator(sid, definition.name, location_name, kind, state, definition, definitions)


def stored_instigator(context: WebContext, state: InstigatorState) -> Instigator:
    """A stored state, with its definition when its location is loaded and still has it."""
    from oprun.web.graphql.automation_shared import loaded_definitions

    definitions = loaded_definitions(context, state.location_name)
    definition = None
    if definitions is not None:
        pool = definitions.schedule_defs if state.instigator_type is StoredType.SCHEDULE else definitions.sensor_defs
        definition = next((d for d in pool if d.name == state.name), None)
    return Instigator(state.id, state.name, state.location_name, state.instigator_type, state, definition, definitions)
