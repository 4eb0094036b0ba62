"""The sensor loop (Dagster's sensor daemon) and what the `oprun sensor` commands
do without a daemon: start, stop, set or delete a cursor, preview an evaluation.

Each iteration reads every sensor's stored state in one call, then, for each
sensor of each loaded code location that is running (its stored RUNNING/STOPPED
status, else its `default_status`) and due (`minimum_interval_seconds` since its
last tick started, by `oprun.clock`), evaluates one tick:

1. the tick is stored STARTED (or, if the last tick was left STARTED by a crash,
   that tick is finished now: the sensor is evaluated again from the stored
   cursor, as Dagster resumes an interrupted tick);
2. the sensor is evaluated with its stored cursor, last run key, last tick times,
   the instance and the Definitions' resources; a user error makes the tick
   FAILURE with the user's traceback, and the cursor is kept (but a run status
   sensor whose function failed for a run moves past it, as in Dagster);
3. each run request is checked (its job, its run config) before any is
   submitted; a request whose `run_key` already has a run (looked up among the
   stored runs, so this holds across daemon restarts) is not launched again;
4. the runs are submitted, then the tick is finished (SUCCESS, or SKIPPED when
   nothing was launched) and only then the new cursor is stored, so a crash in
   between re-evaluates from the old cursor and run keys prevent duplicates.

Nothing here knows about the CLI or the daemon controller.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from oprun import clock
from oprun.daemon.base import DaemonContext, StateCache, error_info, stored_or_default_status
from oprun.daemon.requests import RUN_KEY_TAG, SENSOR_NAME_TAG, TICK_ID_TAG, existing_run_id, submit_request
from oprun.definitions.automation.run_request import RunRequest
from oprun.definitions.automation.run_status_sensors import RunStatusSensorExecutionError
from oprun.definitions.automation.sensors import DefaultSensorStatus, SensorDefinition, SensorEvaluationContext, SensorResult
from oprun.errors import DagsterError, DagsterInvalidConfigError, DagsterInvariantViolationError
from oprun.instigation import InstigatorState, InstigatorStatus, InstigatorTick, InstigatorType, TickStatus, instigator_id
from oprun.loading import CodeLocation

SENSOR_DAEMON_TYPE = "SENSOR"

_log = logging.getLogger("oprun.daemon.sensors")


# -- status --


def sensor_status(sensor: SensorDefinition, state: InstigatorState | None) -> tuple[InstigatorStatus, bool]:
    """(RUNNING or STOPPED, whether that comes from the code's `default_status`)."""
    status: tuple[InstigatorStatus, bool] = stored_or_default_status(state, sensor.default_status is DefaultSensorStatus.RUNNING)
    return status


def is_running(sensor: SensorDefinition, state: InstigatorState | None) -> bool:
    return sensor_status(sensor, state)[0] is InstigatorStatus.RUNNING


def _new_state(location_name: str, sensor: SensorDefinition) -> InstigatorState:
    return InstigatorState(
        id=instigator_id(location_name, sensor.name), name=sensor.name, location_name=location_name,
        instigator_type=InstigatorType.SENSOR, status=InstigatorStatus.DECLARED_IN_CODE,
    )


def _stored_or_new(instance: Any, location_name: str, sensor: SensorDefinition) -> InstigatorState:
    state = instance.get_instigator_state(instigator_id(location_name, sensor.name))
    return state if state is not None else _new_state(location_name, sensor)


def start_sensor(instance: Any, location_name: str, sensor: SensorDefinition) -> InstigatorState:
    """Mark the sensor RUNNING (its cursor is kept); the loop evaluates it on its
    next iteration."""
    state = _stored_or_new(instance, location_name, sensor)
    changed = state.with_status(InstigatorStatus.RUNNING).with_data(last_sensor_start_timestamp=clock.timestamp())
    stored: InstigatorState = instance.add_instigator_state(changed)
    return stored


def stop_sensor(instance: Any, location_name: str, sensor: SensorDefinition) -> InstigatorState:
    """Mark the sensor STOPPED (its cursor is kept for when it is started again)."""
    state = _stored_or_new(instance, location_name, sensor)
    stored: InstigatorState = instance.add_instigator_state(state.with_status(InstigatorStatus.STOPPED))
    return stored


def set_sensor_cursor(instance: Any, location_name: str, sensor: SensorDefinition, cursor: str | None) -> InstigatorState:
    """Set (or with None, delete) the cursor the sensor's next evaluation gets."""
    if cursor is not None and not isinstance(cursor, str):
        raise DagsterInvariantViolationError(f"A sensor cursor must be a string, got {type(cursor).__name__}.")
    state = _stored_or_new(instance, location_name, sensor)
    stored: InstigatorState = instance.add_instigator_state(state.with_data(cursor=cursor))
    return stored


# -- one evaluation --


def build_context(
    instance: Any, definitions: Any, sensor: SensorDefinition, state: InstigatorState | None, cursor: str | None
) -> SensorEvaluationContext:
    data: Mapping[str, Any] = state.data if state is not None else {}
    return SensorEvaluationContext(
        last_tick_completion_time=data.get("last_tick_timestamp"),
        last_run_key=data.get("last_run_key"),
        cursor=cursor,
        instance=instance,
        sensor_name=sensor.name,
        resources=getattr(definitions, "resources", None) or None,
        definitions=definitions,
        last_sensor_start_time=data.get("last_sensor_start_timestamp"),
    )


@dataclass(frozen=True)
class _Outcome:
    """An evaluation: its result, or its error, or both (a run status sensor
    whose function failed for some runs: its cursor is past them all the same)."""

    result: SensorResult | None
    error: dict[str, Any] | None = None


def _evaluate(
    instance: Any, definitions: Any, sensor: SensorDefinition, state: InstigatorState | None, cursor: str | None
) -> _Outcome:
    try:
        with build_context(instance, definitions, sensor, state, cursor) as context:
            return _Outcome(sensor.evaluate_tick(context))
    except RunStatusSensorExecutionError as error:
        return _Outcome(SensorResult(run_requests=error.run_requests, cursor=error.cursor), error_info(error))
    except Exception as error:  # noqa: BLE001 - any failure of a sensor is its tick's FAILURE, never the loop's
        if not isinstance(error, DagsterError):
            _log.exception("Sensor %s failed inside oprun", sensor.name)
        return _Outcome(None, error_info(error))


@dataclass(frozen=True)
class PlannedRun:
    """A run request as the loop will act on it: the job it runs and, when its
    run key was launched before, the run made then."""

    request: RunRequest
    job_def: Any
    existing_run_id: str | None = None


def plan_requests(instance: Any, definitions: Any, sensor: SensorDefinition, requests: Sequence[RunRequest]) -> list[PlannedRun]:
    """Check every request before any is submitted: its job exists and its run
    config is valid (a request whose key already has a run is not checked again).
    Raises DagsterInvariantViolationError naming the sensor, the job and each
    config path."""
    from oprun.execution.resolve import resolve_run_config

    planned = []
    for request in requests:
        job_name = request.job_name or ""
        try:
            job_def = definitions.resolve_job_def(job_name)
        except DagsterError as error:
            raise DagsterInvariantViolationError(f"Sensor '{sensor.name}' requested a run of job '{job_name}': {error}") from error
        found = None
        if request.run_key is not None:
            found = existing_run_id(instance, SENSOR_NAME_TAG, sensor.name, RUN_KEY_TAG, request.run_key)
        if found is None:
            try:
                resolve_run_config(job_def, request.run_config, request.partition_key)
            except DagsterInvalidConfigError as error:
                raise DagsterInvariantViolationError(
                    f"Sensor '{sensor.name}' requested a run of job '{job_name}'"
                    f"{f' (run_key {request.run_key!r})' if request.run_key is not None else ''} with invalid run config: "
                    f"{_config_error_text(error)}"
                ) from error
        planned.append(PlannedRun(request, job_def, found))
    return planned


def _config_error_text(error: DagsterInvalidConfigError) -> str:
    lines = [error.preamble.rstrip() + ":"] if error.errors else [str(error)]
    for item in error.errors or ():
        lines.append(f"  - {getattr(item, 'path_str', '')}: {getattr(item, 'message', item)}")
    return "\n".join(lines)


def evaluate_sensor(
    instance: Any,
    location: CodeLocation,
    definitions: Any,
    sensor: SensorDefinition,
    state: InstigatorState | None = None,
    now: float | None = None,
    resume: bool = True,
) -> InstigatorTick:
    """Evaluate one tick of `sensor` as of `now`, storing the tick, submitting its
    runs and then storing its new cursor; returns the finished tick. `resume=False`
    says the caller finished the sensor's last tick itself (no STARTED one to look for)."""
    now = clock.timestamp() if now is None else now
    sid = instigator_id(location.name, sensor.name)
    latest = instance.get_ticks(sid, limit=1) if resume else []
    # A tick left unfinished by a crash is finished now, from the stored cursor.
    # A new one is stored STARTED only once the evaluation asks for runs, before
    # they are made (what a resumed tick needs to find them): a tick that makes
    # no run is stored once, finished, and a crash during the evaluation just
    # means it is evaluated again.
    resumed: InstigatorTick | None = latest[0] if latest and latest[0].status is TickStatus.STARTED else None
    tick = resumed if resumed is not None else InstigatorTick(0, sid, sensor.name, InstigatorType.SENSOR, TickStatus.STARTED, now)
    cursor = state.cursor if state is not None else None
    outcome = _evaluate(instance, definitions, sensor, state, cursor)
    result = outcome.result
    changes: dict[str, Any] = {"last_tick_start_timestamp": now}
    if result is None:
        tick = tick.with_status(TickStatus.FAILURE, error=outcome.error)
    elif result.run_requests:
        if resumed is None:
            tick = instance.create_tick(tick)
        tick, last_run_key = _submit(instance, location, definitions, sensor, result, tick)
        if tick.status is not TickStatus.FAILURE:
            changes["cursor"] = result.cursor
            if last_run_key is not None:
                changes["last_run_key"] = last_run_key
    else:
        tick = tick.with_status(TickStatus.SKIPPED, skip_reason=result.skip_message)
        changes["cursor"] = result.cursor
    if result is not None and outcome.error is not None and tick.status is not TickStatus.FAILURE:
        tick = tick.with_status(TickStatus.FAILURE, error=outcome.error, skip_reason=None)
    end = clock.timestamp()
    # The tick's cursor is the one the next tick gets: the old one after a failure.
    finished = tick.with_status(tick.status, end_timestamp=end, cursor=changes.get("cursor", cursor))
    stored_tick: InstigatorTick = instance.update_tick(finished) if finished.tick_id else instance.create_tick(finished)
    tick = stored_tick
    changes["last_tick_timestamp"] = end
    # Read again: a start/stop or a cursor set while the tick ran is kept.
    stored = instance.get_instigator_state(sid)
    if stored is not None and "cursor" in changes and stored.cursor != cursor:
        del changes["cursor"]
    base = stored if stored is not None else (state if state is not None else _new_state(location.name, sensor))
    instance.add_instigator_state(base.with_data(**changes))
    return tick


def _submit(
    instance: Any, location: CodeLocation, definitions: Any, sensor: SensorDefinition, result: SensorResult, tick: InstigatorTick
) -> tuple[InstigatorTick, str | None]:
    """Submit the result's runs; the tick with its runs and final status, and the
    last run key launched."""
    requests = list(result.run_requests or ())
    keys = tuple(dict.fromkeys(r.run_key for r in requests if r.run_key is not None))
    try:
        planned = plan_requests(instance, definitions, sensor, requests)
    except DagsterError as error:
        return tick.with_status(TickStatus.FAILURE, error=error_info(error), run_keys=keys), None
    run_ids: list[str] = list(tick.run_ids)
    skipped: list[str] = []
    last_key = None
    for item in planned:
        try:
            submitted = submit_request(
                instance, location, item.job_def, item.request, owner_tag=SENSOR_NAME_TAG, owner_name=sensor.name,
                dedup_key=item.request.run_key, extra_tags={TICK_ID_TAG: str(tick.tick_id)},
            )
        except Exception as error:  # noqa: BLE001 - a run that cannot be made fails the tick, not the loop
            failed = tick.with_status(TickStatus.FAILURE, error=error_info(error), run_ids=tuple(run_ids), run_keys=keys)
            return failed, None
        if submitted.created or _made_by_tick(instance, submitted.run_id, tick):
            if submitted.run_id not in run_ids:
                run_ids.append(submitted.run_id)
            last_key = item.request.run_key if item.request.run_key is not None else last_key
        elif item.request.run_key is not None:
            skipped.append(item.request.run_key)
    if not run_ids:
        reason = (
            f"Run requests were skipped: runs for their run keys exist already ({', '.join(skipped)})."
            if skipped else result.skip_message
        )
        return tick.with_status(TickStatus.SKIPPED, run_keys=keys, skip_reason=reason), None
    return tick.with_status(TickStatus.SUCCESS, run_ids=tuple(run_ids), run_keys=keys), last_key


def _made_by_tick(instance: Any, run_id: str, tick: InstigatorTick) -> bool:
    """Whether an existing run was made by this tick before a crash interrupted it."""
    run = instance.get_run_by_id(run_id)
    return run is not None and run.tags.get(TICK_ID_TAG) == str(tick.tick_id)


# -- preview --


STORED_CURSOR = object()


@dataclass(frozen=True)
class SensorPreview:
    """What one evaluation would do, stored nowhere: the requests (each with the
    run already made for its key, if any), the skip reason or error, the cursor."""

    sensor_name: str
    cursor_before: str | None
    run_requests: Sequence[RunRequest] = ()
    existing_runs: Mapping[str, str] = field(default_factory=dict)
    skip_reason: str | None = None
    error: Mapping[str, Any] | None = None
    cursor: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "sensor": self.sensor_name,
            "cursor_before": self.cursor_before,
            "run_requests": [
                {
                    "run_key": r.run_key, "job_name": r.job_name, "run_config": dict(r.run_config), "tags": dict(r.tags),
                    "partition_key": r.partition_key, "existing_run_id": self.existing_runs.get(r.run_key or ""),
                }
                for r in self.run_requests
            ],
            "skip_reason": self.skip_reason,
            "error": dict(self.error) if self.error is not None else None,
            "cursor": self.cursor,
        }


def preview_sensor(instance: Any, location_name: str, definitions: Any, sensor: SensorDefinition, cursor: Any = STORED_CURSOR) -> SensorPreview:
    """Evaluate `sensor` once now, from its stored cursor (or `cursor`), storing
    nothing and launching nothing."""
    state = instance.get_instigator_state(instigator_id(location_name, sensor.name))
    start = (state.cursor if state is not None else None) if cursor is STORED_CURSOR else cursor
    outcome = _evaluate(instance, definitions, sensor, state, start)
    result = outcome.result
    if result is None:
        return SensorPreview(sensor.name, start, error=outcome.error, cursor=start)
    requests = list(result.run_requests or ())
    try:
        planned = plan_requests(instance, definitions, sensor, requests)
    except DagsterError as error:
        return SensorPreview(sensor.name, start, run_requests=requests, error=error_info(error), cursor=start)
    existing = {p.request.run_key: p.existing_run_id for p in planned if p.request.run_key and p.existing_run_id}
    skip = result.skip_message if not requests else None
    return SensorPreview(sensor.name, start, requests, existing, skip, outcome.error, result.cursor)


# -- the loop --


class SensorLoop:
    """The daemon loop that evaluates every running sensor when it is due."""

    daemon_type = SENSOR_DAEMON_TYPE

    def __init__(self, interval_seconds: float = 0.5) -> None:
        self.interval_seconds = interval_seconds
        # Sensors whose last tick this loop finished: no interrupted tick to look for.
        self._finished: set[str] = set()
        self._states = StateCache(InstigatorType.SENSOR)

    def run_iteration(self, context: DaemonContext) -> str | None:
        instance = context.instance
        now = context.timestamp()
        states = self._states.refresh(instance)
        running = evaluated = launched = failed = 0
        errors: list[str] = []
        for location, definitions in context.workspace.loaded():
            for sensor in _sensor_defs(definitions):
                if context.stopping.is_set():
                    break
                sid = instigator_id(location.name, sensor.name)
                state = states.get(sid)
                if not is_running(sensor, state):
                    continue
                running += 1
                if not _is_due(sensor, state, now):
                    continue
                resume = sid not in self._finished
                self._finished.discard(sid)
                try:
                    tick = evaluate_sensor(instance, location, definitions, sensor, state, now, resume=resume)
                except Exception as error:  # one sensor's storage trouble must not stop the others
                    context.log.exception("Sensor %s of %s could not be evaluated", sensor.name, location.name)
                    errors.append(f"{location.name}:{sensor.name}: {error}")
                    continue
                self._finished.add(sid)
                evaluated += 1
                launched += len(tick.run_ids)
                failed += tick.status is TickStatus.FAILURE
        summary = f"{running} sensor(s) running, {evaluated} evaluated, {launched} run(s) launched, {failed} failed"
        if errors:
            summary += f"; errors: {'; '.join(errors)}"
        return summary


def _sensor_defs(definitions: Any) -> Iterable[SensorDefinition]:
    return list(getattr(definitions, "sensor_defs", None) or ())


def _is_due(sensor: SensorDefinition, state: InstigatorState | None, now: float) -> bool:
    last = state.data.get("last_tick_start_timestamp") if state is not None else None
    return last is None or now - float(last) >= sensor.minimum_interval_seconds
