"""The schedule loop (Dagster's DagsterDaemonScheduler), and what the CLI does to
schedules without a daemon: start, stop, preview, status.

Each iteration reads every schedule's stored state in one call, then, for each
schedule of each loaded code location that is running (its stored status, else
its `default_status`), launches the ticks that fell due since its last tick (at
most `max_catchup_runs` of them, the most recent). A tick is stored STARTED
before its runs are made; each run carries a key (its `run_key`, or the tick's
time and the request's position) so a tick resumed after a crash finds the runs
it made and makes no other. The next fire time of each schedule is kept in
memory, so an iteration with nothing due reads nothing else.

Evaluating a schedule's function is the definitions' job (`evaluate_tick`);
making a run from a request is `oprun.daemon.requests`'. Nothing here prints.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any

from oprun.daemon.base import DaemonContext, StateCache, error_info, stored_or_default_status
from oprun.daemon.requests import (
    RUN_KEY_TAG,
    SCHEDULE_NAME_TAG,
    SCHEDULED_EXECUTION_TIME_TAG,
    TICK_ID_TAG,
    Submitted,
    resume_made_run,
    submit_request,
)
from oprun.definitions.automation.schedules import DefaultScheduleStatus, ScheduleDefinition, ScheduleEvaluationContext
from oprun.errors import DagsterError, DagsterInvalidConfigError
from oprun.instigation import InstigatorState, InstigatorStatus, InstigatorTick, InstigatorType, TickStatus, instigator_id
from oprun.loading import CodeLocation

DEFAULT_MAX_CATCHUP_RUNS = 5


# --- status, start and stop (also used by the CLI) -------------------------------------------


def schedule_status(schedule: ScheduleDefinition, state: InstigatorState | None) -> tuple[InstigatorStatus, bool]:
    """(RUNNING or STOPPED, whether that comes from the code's `default_status`)."""
    status: tuple[InstigatorStatus, bool] = stored_or_default_status(state, schedule.default_status is DefaultScheduleStatus.RUNNING)
    return status


def start_schedule(instance: Any, location_name: str, schedule: ScheduleDefinition, now: float | None = None) -> InstigatorState:
    """Store the schedule RUNNING. Started now (unless it was running already), so
    ticks before now are not caught up."""
    from oprun import clock

    sid = instigator_id(location_name, schedule.name)
    state = instance.get_instigator_state(sid)
    status, _ = schedule_status(schedule, state)
    moment = clock.timestamp() if now is None else now
    if state is None:
        state = InstigatorState(sid, schedule.name, location_name, InstigatorType.SCHEDULE, InstigatorStatus.RUNNING, {"start_timestamp": moment})
    elif status is InstigatorStatus.RUNNING and state.data.get("start_timestamp") is not None:
        state = state.with_status(InstigatorStatus.RUNNING)
    else:
        state = state.with_status(InstigatorStatus.RUNNING).with_data(start_timestamp=moment)
    return instance.add_instigator_state(state)  # type: ignore[no-any-return]


def stop_schedule(instance: Any, location_name: str, schedule: ScheduleDefinition) -> InstigatorState:
    """Store the schedule STOPPED (the daemon evaluates it no more)."""
    sid = instigator_id(location_name, schedule.name)
    state = instance.get_instigator_state(sid)
    if state is None:
        state = InstigatorState(sid, schedule.name, location_name, InstigatorType.SCHEDULE, InstigatorStatus.STOPPED, {})
    return instance.add_instigator_state(state.with_status(InstigatorStatus.STOPPED))  # type: ignore[no-any-return]


def schedule_timezone(schedule: ScheduleDefinition) -> tzinfo:
    if not schedule.execution_timezone:
        return UTC
    from zoneinfo import ZoneInfo

    return ZoneInfo(schedule.execution_timezone)


def next_tick_time(schedule: ScheduleDefinition, after: float) -> datetime | None:
    """The first time the schedule fires strictly after `after` (a timestamp)."""
    found = schedule.next_fire_times(datetime.fromtimestamp(after, UTC), 1)
    return found[0] if found else None


def fire_times_after(schedule: ScheduleDefinition, after: float) -> Iterator[datetime]:
    """Every fire time strictly after `after`, in order, in the schedule's zone."""
    start = datetime.fromtimestamp(after, UTC)
    while True:
        batch = schedule.next_fire_times(start, 64)
        yield from batch
        if len(batch) < 64:
            return
        start = batch[-1]


# --- evaluating one tick ---------------------------------------------------------------------


@dataclass(frozen=True)
class TickEvaluation:
    """What one tick of a schedule asks for: run requests, or a skip reason, or
    the error (`message`, `traceback`, `class`) that evaluating it met."""

    scheduled_time: datetime
    run_requests: list[Any] = field(default_factory=list)
    skip_reason: str | None = None
    error: dict[str, Any] | None = None


def evaluate_schedule(instance: Any, definitions: Any, schedule: ScheduleDefinition, scheduled_time: datetime) -> TickEvaluation:
    """Call the schedule's function for `scheduled_time`, with the instance and the
    resources the Definitions bind; any error is returned, not raised."""
    if not definitions.has_job(schedule.job_name):
        return TickEvaluation(scheduled_time, error={
            "message": f"Schedule '{schedule.name}' targets job '{schedule.job_name}', which is not in its code location. "
            f"Jobs: {', '.join(sorted(definitions.job_names)) or 'none'}.",
            "traceback": "", "class": "DagsterInvariantViolationError",
        })
    context = ScheduleEvaluationContext(
        instance=instance, scheduled_execution_time=scheduled_time, resources=dict(definitions.resources),
        repository_name=None, schedule_name=schedule.name, repository_def=definitions,
    )
    try:
        with context:
            data = schedule.evaluate_tick(context)
    except Exception as error:  # noqa: BLE001 - a user's error becomes the tick's error
        return TickEvaluation(scheduled_time, error=error_info(error))
    if data.skip_message is not None or not data.run_requests:
        return TickEvaluation(scheduled_time, skip_reason=data.skip_message or "Schedule function returned an empty result")
    return TickEvaluation(scheduled_time, run_requests=list(data.run_requests))


def config_error_message(schedule: ScheduleDefinition, job_name: str, error: DagsterInvalidConfigError) -> str:
    lines = [f"Schedule '{schedule.name}' requested a run of job '{job_name}' with invalid run config:"]
    for item in error.errors:
        path = getattr(item, "path_str", "") or "root"
        lines.append(f"  - {path}: {getattr(item, 'message', item)}")
    if not error.errors:
        lines.append(f"  {error}")
    return "\n".join(lines)


def preview_schedule(
    instance: Any, definitions: Any, schedule: ScheduleDefinition, count: int = 1, after: float | None = None
) -> list[TickEvaluation]:
    """The next `count` ticks after `after` (default: now), evaluated without
    launching or storing anything; a run config the job would refuse is the
    tick's error."""
    from oprun import clock
    from oprun.execution.resolve import validate_run_config

    start = clock.timestamp() if after is None else after
    found: list[TickEvaluation] = []
    for moment in fire_times_after(schedule, start):
        if len(found) >= count:
            break
        evaluation = evaluate_schedule(instance, definitions, schedule, moment)
        if evaluation.run_requests:
            try:
                job = definitions.resolve_job_def(schedule.job_name)
                for request in evaluation.run_requests:
                    validate_run_config(job, request.run_config)
            except DagsterInvalidConfigError as error:
                evaluation = TickEvaluation(moment, evaluation.run_requests, error={
                    "message": config_error_message(schedule, schedule.job_name, error), "traceback": "",
                    "class": type(error).__name__,
                })
            except DagsterError as error:
                evaluation = TickEvaluation(moment, evaluation.run_requests, error=error_info(error))
        found.append(evaluation)
    return found


# --- the loop --------------------------------------------------------------------------------


@dataclass
class _Cached:
    schedule: ScheduleDefinition
    cursor: float  # the stored cursor this was computed from
    next_fire: float  # the next fire time after the effective cursor (inf: never)


@dataclass
class _Counts:
    ticks: int = 0
    runs: int = 0
    skipped: int = 0
    failed: int = 0
    missed: int = 0
    schedules: set[str] = field(default_factory=set)


class ScheduleLoop:
    """The daemon's SCHEDULER loop."""

    daemon_type = "SCHEDULER"

    def __init__(self, interval_seconds: float = 1.0) -> None:
        self.interval_seconds = interval_seconds
        self._cache: dict[str, _Cached] = {}
        self._states = StateCache(InstigatorType.SCHEDULE)

    def run_iteration(self, context: DaemonContext) -> str | None:
        instance = context.instance
        now = context.timestamp()
        states = self._states.refresh(instance)
        max_catchup = _max_catchup(instance.scheduler_settings())
        counts = _Counts()
        seen: set[str] = set()
        for location, definitions in context.workspace.loaded():
            for schedule in definitions.schedule_defs:
                if context.stopping.is_set():
                    return _summary(counts)
                sid = instigator_id(location.name, schedule.name)
                seen.add(sid)
                state = states.get(sid)
                status, _ = schedule_status(schedule, state)
                if status is not InstigatorStatus.RUNNING:
                    self._cache.pop(sid, None)
                    continue
                if state is None or state.data.get("start_timestamp") is None:
                    self._first_seen(instance, location, schedule, state, now)
                    continue
                cursor = _cursor(state)
                cached = self._cache.get(sid)
                if cached is None or cached.schedule is not schedule or cached.cursor != cursor:
                    cached = _Cached(schedule, cursor, _next_fire(schedule, cursor))
                    self._cache[sid] = cached
                if cached.next_fire > now:
                    continue
                effective = self._process(context, location, definitions, schedule, state, now, max_catchup, counts)
                self._cache[sid] = _Cached(schedule, cursor, _next_fire(schedule, effective))
        for gone in set(self._cache) - seen:
            del self._cache[gone]
        return _summary(counts)

    def _first_seen(self, instance: Any, location: CodeLocation, schedule: ScheduleDefinition, state: InstigatorState | None, now: float) -> None:
        """A running schedule seen for the first time starts now: no catch-up of before."""
        if state is None:
            state = InstigatorState(
                instigator_id(location.name, schedule.name), schedule.name, location.name, InstigatorType.SCHEDULE,
                InstigatorStatus.DECLARED_IN_CODE, {},
            )
        instance.add_instigator_state(state.with_data(start_timestamp=now))

    def _process(
        self, context: DaemonContext, location: CodeLocation, definitions: Any, schedule: ScheduleDefinition,
        state: InstigatorState, now: float, max_catchup: int, counts: _Counts,
    ) -> float:
        """Run the schedule's due ticks (a STARTED one first); returns the cursor
        after them."""
        instance = context.instance
        cursor = _cursor(state)
        ticks = instance.get_ticks(state.id, limit=1)
        latest: InstigatorTick | None = ticks[0] if ticks else None
        pending: list[tuple[datetime, InstigatorTick | None]] = []
        tz = schedule_timezone(schedule)
        if latest is not None and latest.status is TickStatus.STARTED and latest.timestamp >= float(state.data["start_timestamp"]):
            pending.append((datetime.fromtimestamp(latest.timestamp, tz), latest))
            cursor = max(cursor, latest.timestamp)
        elif latest is not None and latest.timestamp > cursor:
            cursor = latest.timestamp  # finished, but the daemon stopped before storing the cursor
        due: deque[datetime] = deque(maxlen=max_catchup)
        total = 0
        for moment in fire_times_after(schedule, cursor):
            if moment.timestamp() > now:
                break
            due.append(moment)
            total += 1
        if total > len(due):
            missed = total - len(due)
            counts.missed += missed
            context.log.warning(
                "Schedule %s: %d missed ticks older than the %d most recent were skipped (max_catchup_runs).",
                schedule.name, missed, max_catchup,
            )
        pending.extend((moment, None) for moment in due)
        for moment, tick in pending:
            if context.stopping.is_set():
                break
            current = instance.get_instigator_state(state.id)
            if current is not None and schedule_status(schedule, current)[0] is not InstigatorStatus.RUNNING:
                break  # stopped meanwhile
            status = self._run_tick(instance, location, definitions, schedule, state.id, moment, tick, counts)
            cursor = moment.timestamp()
            stored = current or state
            instance.add_instigator_state(stored.with_data(last_tick_timestamp=cursor))
            if status is TickStatus.FAILURE:
                break  # on to the next schedule; the next iteration goes on from here
        return cursor

    def _run_tick(
        self, instance: Any, location: CodeLocation, definitions: Any, schedule: ScheduleDefinition, sid: str,
        moment: datetime, tick: InstigatorTick | None, counts: _Counts,
    ) -> TickStatus:
        # A new tick is stored STARTED once the evaluation asks for runs, before
        # they are made (what a resumed tick needs to find them); a tick that makes
        # no run is stored once, finished (a crash during the evaluation just
        # means it is evaluated again).
        if tick is None:
            tick = InstigatorTick(0, sid, schedule.name, InstigatorType.SCHEDULE, TickStatus.STARTED, moment.timestamp())
        counts.ticks += 1
        counts.schedules.add(sid)
        evaluation = evaluate_schedule(instance, definitions, schedule, moment)
        from oprun import clock

        if evaluation.error is not None:
            tick = tick.with_status(TickStatus.FAILURE, error=evaluation.error)
        elif evaluation.skip_reason is not None:
            tick = tick.with_status(TickStatus.SKIPPED, skip_reason=evaluation.skip_reason)
        else:
            if not tick.tick_id:
                tick = instance.create_tick(tick)
            tick = self._launch(instance, location, definitions, schedule, moment, tick, evaluation.run_requests, counts)
        finished = tick.with_status(tick.status, end_timestamp=clock.timestamp())
        if finished.tick_id:
            instance.update_tick(finished)
        else:
            instance.create_tick(finished)
        if tick.status is TickStatus.FAILURE:
            counts.failed += 1
        elif tick.status is TickStatus.SKIPPED:
            counts.skipped += 1
        return tick.status

    def _launch(
        self, instance: Any, location: CodeLocation, definitions: Any, schedule: ScheduleDefinition,
        moment: datetime, tick: InstigatorTick, requests: list[Any], counts: _Counts,
    ) -> InstigatorTick:
        iso = moment.astimezone(UTC).isoformat()
        extra = {SCHEDULED_EXECUTION_TIME_TAG: iso, TICK_ID_TAG: str(tick.tick_id)}
        job_name = schedule.job_name
        try:
            job = definitions.resolve_job_def(job_name)
            for index, request in enumerate(requests):
                submitted = _submit(instance, location, job, schedule, request, iso, index, extra)
                tick = tick.with_run(submitted.run_id, request.run_key)
                counts.runs += int(submitted.created)
        except DagsterInvalidConfigError as error:
            return tick.with_status(TickStatus.FAILURE, error={
                "message": config_error_message(schedule, job_name, error), "traceback": "", "class": type(error).__name__,
            })
        except DagsterError as error:
            return tick.with_status(TickStatus.FAILURE, error=error_info(error))
        return tick.with_status(TickStatus.SUCCESS)


def _submit(
    instance: Any, location: CodeLocation, job: Any, schedule: ScheduleDefinition, request: Any, iso: str, index: int,
    extra: Mapping[str, str],
) -> Submitted:
    """A schedule's run key is once per tick (Dagster: "for schedules, ensures that
    one run is created per tick, across failure recoveries"), so a request with a
    run key is looked up by key and scheduled time; one without by the tick key."""
    if request.run_key is None:
        return submit_request(
            instance, location, job, request, owner_tag=SCHEDULE_NAME_TAG, owner_name=schedule.name,
            dedup_key=f"{iso}:{index}", extra_tags=extra,
        )
    found = resume_made_run(instance, {SCHEDULE_NAME_TAG: schedule.name, RUN_KEY_TAG: request.run_key, SCHEDULED_EXECUTION_TIME_TAG: iso})
    if found is not None:
        return Submitted(found, request.run_key, created=False)
    return submit_request(
        instance, location, job, request, owner_tag=SCHEDULE_NAME_TAG, owner_name=schedule.name, dedup_key=None,
        extra_tags={**extra, RUN_KEY_TAG: request.run_key},
    )


def _cursor(state: InstigatorState) -> float:
    data = state.data
    return max(float(data.get("start_timestamp") or 0.0), float(data.get("last_tick_timestamp") or 0.0))


def _next_fire(schedule: ScheduleDefinition, after: float) -> float:
    moment = next_tick_time(schedule, after)
    return moment.timestamp() if moment is not None else float("inf")


def _max_catchup(settings: Mapping[str, Any]) -> int:
    value = settings.get("max_catchup_runs", DEFAULT_MAX_CATCHUP_RUNS)
    try:
        return max(1, int(value))
    except (TypeError, ValueError):
        return DEFAULT_MAX_CATCHUP_RUNS


def _summary(counts: _Counts) -> str | None:
    if not counts.ticks and not counts.missed:
        return None
    text = (
        f"{counts.ticks} tick(s) of {len(counts.schedules)} schedule(s): {counts.runs} run(s) launched, "
        f"{counts.skipped} skipped, {counts.failed} failed"
    )
    if counts.missed:
        text += f"; {counts.missed} older missed tick(s) not caught up (max_catchup_runs)"
    return text
