"""Schedules and sensors as GraphQL (Dagster's `Schedule`, `Sensor`, their root
queries and mutations): listing them with their state, starting, stopping and
resetting them, a sensor's cursor, and dry runs that launch and store nothing.

What each mutation does is the daemon's (`oprun.daemon.schedules`,
`oprun.daemon.sensors`), the same functions `oprun schedule ...` and
`oprun sensor ...` call; the daemon's loops act on the stored state on their
next iteration. Backfills are in `automation_backfills`, ticks and states in
`automation_ticks`, daemon health in `instance_health`."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry import UNSET
from strawberry.types import Info

from oprun import clock
from oprun.instigation import InstigatorState, InstigatorStatus, InstigatorType as StoredType
from oprun.web.context import WebContext
from oprun.web.graphql import common as c
from oprun.web.graphql.automation_shared import (
    DefinitionTag,
    Found,
    InstigationSelector,
    InstigationStateNotFoundError,
    InstigationStatus,
    InstigationType,
    RepositoryNotFoundError,
    RepositorySelector,
    ScheduleNotFoundError,
    ScheduleSelector,
    SensorNotFoundError,
    SensorSelector,
    SensorType,
    clamp_limit,
    find_repository,
    find_schedule,
    find_sensor,
    loaded_definitions,
    tags_of,
    valid_timestamp,
)
from oprun.web.graphql.automation_ticks import (
    READ_NOW,
    DryRunInstigationTick,
    DryRunInstigationTicks,
    InstigationState,
    Instigator,
    instigator,
    next_tick_of,
    schedule_dry_run,
    schedule_tick_at,
    sensor_dry_run,
    state_type,
    stored_instigator,
)
from oprun.web.graphql.events import AssetKey

# ---------- Schedule ----------


@strawberry.type(name="Schedule")
class Schedule:
    id: strawberry.ID
    name: str
    cron_schedule: str
    execution_timezone: str | None
    pipeline_name: str
    solid_selection: list[str | None] | None
    mode: str
    description: str | None
    default_status: InstigationStatus
    can_reset: bool
    schedule_state: InstigationState
    tags: list[DefinitionTag]
    _item: strawberry.Private[Instigator]

    @strawberry.field
    def future_ticks(
        self, info: Info, cursor: float | None = None, limit: int | None = None, until: float | None = None
    ) -> DryRunInstigationTicks:
        """The fire times after `cursor` (default now): `limit` of them (default
        10), or those before `until`; each evaluated when its result is asked for."""
        schedule = self._item.definition
        given = valid_timestamp(cursor)
        start = clock.timestamp() if given is None else given
        until = valid_timestamp(until)
        count = clamp_limit(limit) if limit is not None else (None if until is not None else 10)
        times: list[float] = []
        moment = start - 0.5  # a fire time equal to the cursor is included, as Dagster's iterator does
        while count is None or len(times) < count:
            found = schedule.next_fire_times(_utc(moment), 1)
            if not found or (until is not None and found[0].timestamp() >= until):
                break
            times.append(found[0].timestamp())
            moment = found[0].timestamp()
            if len(times) >= 1000:  # an open-ended `until` far away: a page at most
                break
        ticks = [schedule_tick_at(info.context, self._item.definitions, schedule, t) for t in times]
        return DryRunInstigationTicks(results=ticks, cursor=times[-1] + 1 if times else start)

    @strawberry.field
    def future_tick(self, info: Info, tick_timestamp: int) -> DryRunInstigationTick:
        return schedule_tick_at(info.context, self._item.definitions, self._item.definition, float(tick_timestamp))


def _utc(timestamp: float) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(timestamp, UTC)


def schedule_type(context: WebContext, location_name: str, definitions: Any, schedule: Any, states: dict[str, Any] | None = None) -> Schedule:
    """`states`: the stored states by id, when the caller read them all at once."""
    from oprun.definitions.automation.schedules import DefaultScheduleStatus
    from oprun.instigation import instigator_id

    stored = states.get(instigator_id(location_name, schedule.name)) if states is not None else READ_NOW
    item = instigator(context, StoredType.SCHEDULE, location_name, definitions, schedule, stored)
    cron = schedule.cron_schedule
    return Schedule(
        id=strawberry.ID(item.instigator_id), name=schedule.name, cron_schedule=cron if isinstance(cron, str) else ", ".join(cron),
        execution_timezone=schedule.execution_timezone or "UTC", pipeline_name=schedule.job_name, solid_selection=None,
        mode="default", description=schedule.description,
        default_status=InstigationStatus.RUNNING if schedule.default_status is DefaultScheduleStatus.RUNNING else InstigationStatus.STOPPED,
        can_reset=_can_reset(item.stored), schedule_state=state_type(context, item), tags=tags_of(schedule.tags, DefinitionTag),
        _item=item,
    )


def _can_reset(stored: InstigatorState | None) -> bool:
    """Dagster's: someone started or stopped it (a stored status that overrides the code's default)."""
    return stored is not None and stored.status is not InstigatorStatus.DECLARED_IN_CODE


def repository_schedules(context: WebContext, location_name: str, job_name: str | None = None) -> list[Schedule]:
    """The schedules of the loaded location `location_name` (its one repository);
    with `job_name`, those of that job (Dagster's `Pipeline.schedules`)."""
    definitions = loaded_definitions(context, location_name)
    if definitions is None:
        return []
    chosen = [s for s in definitions.schedule_defs if job_name is None or s.job_name == job_name]
    states = _states(context, StoredType.SCHEDULE) if chosen else {}
    return [schedule_type(context, location_name, definitions, s, states) for s in chosen]


def _states(context: WebContext, kind: StoredType) -> dict[str, Any]:
    """Every stored state of one kind, in one read (a list of many schedules)."""
    return {state.id: state for state in context.instance.all_instigator_state(kind)}


# ---------- Sensor ----------


@strawberry.type(name="Target")
class Target:
    pipeline_name: str
    mode: str
    solid_selection: list[str] | None


@strawberry.type(name="SensorMetadata")
class SensorMetadata:
    asset_keys: list[AssetKey] | None


@strawberry.type(name="Sensor")
class Sensor:
    id: strawberry.ID
    job_origin_id: str
    name: str
    targets: list[Target] | None
    default_status: InstigationStatus
    can_reset: bool
    sensor_state: InstigationState
    min_interval_seconds: int
    description: str | None
    metadata: SensorMetadata
    sensor_type: SensorType
    tags: list[DefinitionTag]
    _item: strawberry.Private[Instigator]

    @strawberry.field
    def next_tick(self, info: Info) -> DryRunInstigationTick | None:
        return next_tick_of(info.context, self._item)


def sensor_type(context: WebContext, location_name: str, definitions: Any, sensor: Any, states: dict[str, Any] | None = None) -> Sensor:
    """`states`: the stored states by id, when the caller read them all at once."""
    from oprun.definitions.automation.sensors import DefaultSensorStatus
    from oprun.instigation import instigator_id

    stored = states.get(instigator_id(location_name, sensor.name)) if states is not None else READ_NOW
    item = instigator(context, StoredType.SENSOR, location_name, definitions, sensor, stored)
    kind = sensor.sensor_type if sensor.sensor_type in SensorType.__members__ else "UNKNOWN"
    return Sensor(
        id=strawberry.ID(item.instigator_id), job_origin_id=item.instigator_id, name=sensor.name,
        targets=[Target(pipeline_name=name, mode="default", solid_selection=None) for name in sensor.job_names],
        default_status=InstigationStatus.RUNNING if sensor.default_status is DefaultSensorStatus.RUNNING else InstigationStatus.STOPPED,
        can_reset=_can_reset(item.stored), sensor_state=state_type(context, item),
        min_interval_seconds=int(sensor.minimum_interval_seconds), description=sensor.description,
        metadata=SensorMetadata(asset_keys=None), sensor_type=SensorType[kind], tags=tags_of(sensor.tags, DefinitionTag), _item=item,
    )


def repository_sensors(
    context: WebContext, location_name: str, sensor_type_filter: SensorType | None = None, job_name: str | None = None
) -> list[Sensor]:
    """The sensors of the loaded location `location_name` (its one repository):
    of one `SensorType` (Dagster's `Repository.sensors(sensorType:)`), or those
    that target `job_name` (Dagster's `Pipeline.sensors`)."""
    definitions = loaded_definitions(context, location_name)
    if definitions is None:
        return []
    chosen = [s for s in definitions.sensor_defs if job_name is None or job_name in s.job_names]
    states = _states(context, StoredType.SENSOR) if chosen else {}
    found = [sensor_type(context, location_name, definitions, s, states) for s in chosen]
    return [s for s in found if sensor_type_filter is None or s.sensor_type is sensor_type_filter]


# ---------- results ----------


@strawberry.type(name="Schedules")
class Schedules:
    results: list[Schedule]


@strawberry.type(name="Sensors")
class Sensors:
    results: list[Sensor]


@strawberry.type(name="InstigationStates")
class InstigationStates:
    results: list[InstigationState]


@strawberry.type(name="ScheduleStateResult")
class ScheduleStateResult:
    schedule_state: InstigationState


@strawberry.type(name="StopSensorMutationResult")
class StopSensorMutationResult:
    instigation_state: InstigationState | None


ScheduleOrError = Annotated[Schedule | ScheduleNotFoundError | c.PythonError, strawberry.union("ScheduleOrError")]
SchedulesOrError = Annotated[Schedules | RepositoryNotFoundError | c.PythonError, strawberry.union("SchedulesOrError")]
SensorOrError = Annotated[Sensor | SensorNotFoundError | c.UnauthorizedError | c.PythonError, strawberry.union("SensorOrError")]
SensorsOrError = Annotated[Sensors | RepositoryNotFoundError | c.PythonError, strawberry.union("SensorsOrError")]
InstigationStateOrError = Annotated[
    InstigationState | InstigationStateNotFoundError | c.PythonError, strawberry.union("InstigationStateOrError")
]
InstigationStatesOrError = Annotated[InstigationStates | c.PythonError, strawberry.union("InstigationStatesOrError")]
ScheduleMutationResult = Annotated[
    c.PythonError | c.UnauthorizedError | ScheduleStateResult | ScheduleNotFoundError, strawberry.union("ScheduleMutationResult")
]
StopSensorMutationResultOrError = Annotated[
    StopSensorMutationResult | c.UnauthorizedError | c.PythonError, strawberry.union("StopSensorMutationResultOrError")
]
# UnauthorizedError: beyond Dagster's members, what a read-only server answers
# (a dry run runs the user's code).
ScheduleDryRunResult = Annotated[
    DryRunInstigationTick | c.PythonError | ScheduleNotFoundError | c.UnauthorizedError, strawberry.union("ScheduleDryRunResult")
]
SensorDryRunResult = Annotated[
    c.PythonError | SensorNotFoundError | DryRunInstigationTick | c.UnauthorizedError, strawberry.union("SensorDryRunResult")
]


# ---------- queries ----------


@c.or_python_error
def schedules_or_error(context: WebContext, selector: RepositorySelector, status: InstigationStatus | None) -> SchedulesOrError:
    found = find_repository(context, selector.repository_name, selector.repository_location_name)
    if isinstance(found, RepositoryNotFoundError):
        return found
    states = _states(context, StoredType.SCHEDULE)
    schedules = [schedule_type(context, selector.repository_location_name, found, s, states) for s in found.schedule_defs]
    return Schedules(results=[s for s in schedules if status is None or s.schedule_state.status is status])


@c.or_python_error
def sensors_or_error(context: WebContext, selector: RepositorySelector, status: InstigationStatus | None) -> SensorsOrError:
    found = find_repository(context, selector.repository_name, selector.repository_location_name)
    if isinstance(found, RepositoryNotFoundError):
        return found
    states = _states(context, StoredType.SENSOR)
    sensors = [sensor_type(context, selector.repository_location_name, found, s, states) for s in found.sensor_defs]
    return Sensors(results=[s for s in sensors if status is None or s.sensor_state.status is status])


@c.or_python_error
def schedule_or_error(context: WebContext, selector: ScheduleSelector) -> ScheduleOrError:
    found = find_schedule(context, selector)
    if isinstance(found, ScheduleNotFoundError):
        return found
    return schedule_type(context, found.location_name, found.definitions, found.definition)


@c.or_python_error
def sensor_or_error(context: WebContext, selector: SensorSelector) -> SensorOrError:
    found = find_sensor(context, selector)
    if isinstance(found, SensorNotFoundError):
        return found
    return sensor_type(context, found.location_name, found.definitions, found.definition)


@c.or_python_error
def instigation_state_or_error(context: WebContext, selector: InstigationSelector, state_id: str | None) -> InstigationStateOrError:
    """By id (a stored state) or by selector: a schedule or sensor of a loaded
    location (stored or not), else a stored state of that location and name."""
    from oprun.instigation import instigator_id

    if state_id:
        stored = context.instance.get_instigator_state(state_id)
        if stored is not None:
            return state_type(context, stored_instigator(context, stored))
    location_name = selector.repository_location_name
    definitions = loaded_definitions(context, location_name) if selector.repository_name == c.REPOSITORY_NAME else None
    if definitions is not None:
        for kind, pool in ((StoredType.SCHEDULE, definitions.schedule_defs), (StoredType.SENSOR, definitions.sensor_defs)):
            for definition in pool:
                if definition.name == selector.name:
                    return state_type(context, instigator(context, kind, location_name, definitions, definition))
    stored = context.instance.get_instigator_state(instigator_id(location_name, selector.name))
    if stored is not None:
        return state_type(context, stored_instigator(context, stored))
    return InstigationStateNotFoundError(
        message=f"Could not find a schedule or sensor named '{selector.name}' in code location '{location_name}'.",
        name=selector.name,
    )


@c.or_python_error
def instigation_states_or_error(context: WebContext, repository_id: str) -> InstigationStatesOrError:
    """The stored states of one repository: `repositoryID` is its origin id
    (`__repository__@<location>`) or the location's name."""
    location_name = repository_id.split("@", 1)[1] if repository_id.startswith(f"{c.REPOSITORY_NAME}@") else repository_id
    states = [s for s in context.instance.all_instigator_state() if s.location_name == location_name]
    return InstigationStates(results=[state_type(context, stored_instigator(context, s)) for s in states])


@c.or_python_error
def unloadable_states_or_error(context: WebContext, kind: InstigationType | None) -> InstigationStatesOrError:
    """Dagster's: the stored states of schedules and sensors started by someone
    whose definition no loaded code location has (a removed schedule, a
    location gone): what still needs stopping."""
    if kind is InstigationType.AUTO_MATERIALIZE:
        return InstigationStates(results=[])  # oprun runs op jobs: no asset automation
    states = context.instance.all_instigator_state(StoredType(kind.value) if kind is not None else None)
    items = [stored_instigator(context, s) for s in states if s.status is InstigatorStatus.RUNNING]
    return InstigationStates(results=[state_type(context, item) for item in items if item.definition is None])


# ---------- mutations ----------


@c.or_python_error
def start_schedule(context: WebContext, selector: ScheduleSelector) -> ScheduleMutationResult:
    from oprun.daemon import schedules

    refused = c.read_only_refusal(context, f"start schedule {selector.schedule_name}")
    if refused is not None:
        return refused
    found = find_schedule(context, selector)
    if isinstance(found, ScheduleNotFoundError):
        return found
    schedules.start_schedule(context.instance, found.location_name, found.definition)
    return _schedule_state_result(context, found)


@c.or_python_error
def stop_running_schedule(
    context: WebContext, state_id: str | None, origin_id: str | None, selector_id: str | None
) -> ScheduleMutationResult:
    from oprun.daemon import schedules

    wanted = state_id or origin_id or selector_id
    refused = c.read_only_refusal(context, f"stop schedule {wanted}")
    if refused is not None:
        return refused
    if not wanted:
        return c.PythonError(message="Pass the schedule's id (or scheduleOriginId, or scheduleSelectorId) to stop it.", stack=[])
    stored = context.instance.get_instigator_state(wanted)
    if stored is None or stored.instigator_type is not StoredType.SCHEDULE:
        location_name, _, name = wanted.partition(":")
        definitions = loaded_definitions(context, location_name)
        schedule = next((s for s in definitions.schedule_defs if s.name == name), None) if definitions is not None else None
        if schedule is None:
            return ScheduleNotFoundError(
                message=f"Could not find a schedule with id '{wanted}' (ids are '<code location>:<schedule name>').",
                schedule_name=name or wanted,
            )
        schedules.stop_schedule(context.instance, location_name, schedule)
        return _schedule_state_result(context, Found(location_name, definitions, schedule))
    item = stored_instigator(context, stored)
    # Stored STOPPED as `oprun schedule stop` does; a schedule whose code is gone is stopped all the same.
    stopped = schedules.stop_schedule(context.instance, stored.location_name, item.definition or _named(stored.name))
    return ScheduleStateResult(schedule_state=state_type(context, stored_instigator(context, stopped)))


def _named(name: str) -> Any:
    """What stop_schedule and stop_sensor read of a definition: its name (the
    definition itself is gone from its code location)."""
    from types import SimpleNamespace

    return SimpleNamespace(name=name)


@c.or_python_error
def reset_schedule(context: WebContext, selector: ScheduleSelector) -> ScheduleMutationResult:
    refused = c.read_only_refusal(context, f"reset schedule {selector.schedule_name}")
    if refused is not None:
        return refused
    found = find_schedule(context, selector)
    if isinstance(found, ScheduleNotFoundError):
        return found
    _reset(context, StoredType.SCHEDULE, found)
    return _schedule_state_result(context, found)


def _reset(context: WebContext, kind: StoredType, found: Found) -> None:
    """Back to the code's `default_status` (Dagster's reset): the stored status
    becomes DECLARED_IN_CODE. A schedule or sensor that this starts begins now,
    as `start` does, so nothing before is caught up."""
    from oprun.daemon import schedules, sensors

    item = instigator(context, kind, found.location_name, found.definitions, found.definition)
    if item.stored is None or item.stored.status is InstigatorStatus.DECLARED_IN_CODE:
        return
    was_running = item.running
    state = item.stored.with_status(InstigatorStatus.DECLARED_IN_CODE)
    if kind is StoredType.SCHEDULE:
        starts = not was_running and schedules.schedule_status(found.definition, state)[0] is InstigatorStatus.RUNNING
        if starts:
            state = state.with_data(start_timestamp=clock.timestamp())
    elif not was_running and sensors.is_running(found.definition, state):
        state = state.with_data(last_sensor_start_timestamp=clock.timestamp())
    context.instance.add_instigator_state(state)


def _schedule_state_result(context: WebContext, found: Found) -> ScheduleStateResult:
    item = instigator(context, StoredType.SCHEDULE, found.location_name, found.definitions, found.definition)
    return ScheduleStateResult(schedule_state=state_type(context, item))


@c.or_python_error
def start_sensor(context: WebContext, selector: SensorSelector) -> SensorOrError:
    from oprun.daemon import sensors

    refused = c.read_only_refusal(context, f"start sensor {selector.sensor_name}")
    if refused is not None:
        return refused
    found = find_sensor(context, selector)
    if isinstance(found, SensorNotFoundError):
        return found
    sensors.start_sensor(context.instance, found.location_name, found.definition)
    return sensor_type(context, found.location_name, found.definitions, found.definition)


@c.or_python_error
def stop_sensor(context: WebContext, state_id: str | None, origin_id: str | None, selector_id: str | None) -> StopSensorMutationResultOrError:
    from oprun.daemon import sensors

    wanted = state_id or origin_id or selector_id
    refused = c.read_only_refusal(context, f"stop sensor {wanted}")
    if refused is not None:
        return refused
    if not wanted:
        return c.PythonError(message="Pass the sensor's id (or jobOriginId, or jobSelectorId) to stop it.", stack=[])
    stored = context.instance.get_instigator_state(wanted)
    location_name, _, name = wanted.partition(":")
    if stored is not None and stored.instigator_type is StoredType.SENSOR:
        location_name, name = stored.location_name, stored.name
    definitions = loaded_definitions(context, location_name)
    sensor = next((s for s in definitions.sensor_defs if s.name == name), None) if definitions is not None else None
    if sensor is None and (stored is None or stored.instigator_type is not StoredType.SENSOR):
        return c.PythonError(message=f"Could not find a sensor with id '{wanted}' (ids are '<code location>:<sensor name>').", stack=[])
    stopped = sensors.stop_sensor(context.instance, location_name, sensor or _named(name))
    return StopSensorMutationResult(instigation_state=state_type(context, stored_instigator(context, stopped)))


@c.or_python_error
def reset_sensor(context: WebContext, selector: SensorSelector) -> SensorOrError:
    refused = c.read_only_refusal(context, f"reset sensor {selector.sensor_name}")
    if refused is not None:
        return refused
    found = find_sensor(context, selector)
    if isinstance(found, SensorNotFoundError):
        return found
    _reset(context, StoredType.SENSOR, found)
    return sensor_type(context, found.location_name, found.definitions, found.definition)


@c.or_python_error
def set_sensor_cursor(context: WebContext, selector: SensorSelector, cursor: str | None) -> SensorOrError:
    from oprun.daemon import sensors

    refused = c.read_only_refusal(context, f"set the cursor of sensor {selector.sensor_name}")
    if refused is not None:
        return refused
    found = find_sensor(context, selector)
    if isinstance(found, SensorNotFoundError):
        return found
    sensors.set_sensor_cursor(context.instance, found.location_name, found.definition, cursor)
    return sensor_type(context, found.location_name, found.definitions, found.definition)


@c.or_python_error
def schedule_dry_run_result(context: WebContext, selector: ScheduleSelector, timestamp: float | None) -> ScheduleDryRunResult:
    refused = c.read_only_refusal(context, f"test schedule {selector.schedule_name}")
    if refused is not None:
        return refused
    found = find_schedule(context, selector)
    if isinstance(found, ScheduleNotFoundError):
        return found
    moment = clock.timestamp() if timestamp is None else timestamp
    if valid_timestamp(moment) is None:
        return c.PythonError(message=f"Timestamp {moment} is not a moment a date can hold (years 1 to 9999).", stack=[])
    tick = schedule_dry_run(context, found.definitions, found.definition, moment)
    return tick.evaluated_now()  # so an error raised inside oprun is this mutation's PythonError


@c.or_python_error
def sensor_dry_run_result(context: WebContext, selector: SensorSelector, cursor: Any) -> SensorDryRunResult:
    from oprun.daemon.sensors import STORED_CURSOR

    refused = c.read_only_refusal(context, f"test sensor {selector.sensor_name}")
    if refused is not None:
        return refused
    found = find_sensor(context, selector)
    if isinstance(found, SensorNotFoundError):
        return found
    start = STORED_CURSOR if cursor is UNSET else cursor
    return sensor_dry_run(context, found.location_name, found.definitions, found.definition, start)


# ---------- root fields ----------


def _schedules_or_error(info: Info, repository_selector: RepositorySelector, schedule_status: InstigationStatus | None = None) -> SchedulesOrError:
    return schedules_or_error(info.context, repository_selector, schedule_status)


def _schedule_or_error(info: Info, schedule_selector: ScheduleSelector) -> ScheduleOrError:
    return schedule_or_error(info.context, schedule_selector)


def _sensors_or_error(info: Info, repository_selector: RepositorySelector, sensor_status: InstigationStatus | None = None) -> SensorsOrError:
    return sensors_or_error(info.context, repository_selector, sensor_status)


def _sensor_or_error(info: Info, sensor_selector: SensorSelector) -> SensorOrError:
    return sensor_or_error(info.context, sensor_selector)


def _instigation_state_or_error(info: Info, instigation_selector: InstigationSelector, id: str | None = None) -> InstigationStateOrError:
    return instigation_state_or_error(info.context, instigation_selector, id)


def _instigation_states_or_error(info: Info, repository_id: Annotated[str, strawberry.argument(name="repositoryID")]) -> InstigationStatesOrError:
    return instigation_states_or_error(info.context, repository_id)


def _unloadable_instigation_states_or_error(info: Info, instigation_type: InstigationType | None = None) -> InstigationStatesOrError:
    return unloadable_states_or_error(info.context, instigation_type)


@strawberry.type
class AutomationQueries:
    schedules_or_error: SchedulesOrError = strawberry.field(resolver=_schedules_or_error)
    schedule_or_error: ScheduleOrError = strawberry.field(resolver=_schedule_or_error)
    sensors_or_error: SensorsOrError = strawberry.field(resolver=_sensors_or_error)
    sensor_or_error: SensorOrError = strawberry.field(resolver=_sensor_or_error)
    instigation_state_or_error: InstigationStateOrError = strawberry.field(resolver=_instigation_state_or_error)
    instigation_states_or_error: InstigationStatesOrError = strawberry.field(resolver=_instigation_states_or_error)
    unloadable_instigation_states_or_error: InstigationStatesOrError = strawberry.field(resolver=_unloadable_instigation_states_or_error)


def _start_schedule(info: Info, schedule_selector: ScheduleSelector) -> ScheduleMutationResult:
    return start_schedule(info.context, schedule_selector)


def _stop_running_schedule(
    info: Info, id: str | None = None, schedule_origin_id: str | None = None, schedule_selector_id: str | None = None
) -> ScheduleMutationResult:
    return stop_running_schedule(info.context, id, schedule_origin_id, schedule_selector_id)


def _reset_schedule(info: Info, schedule_selector: ScheduleSelector) -> ScheduleMutationResult:
    return reset_schedule(info.context, schedule_selector)


def _start_sensor(info: Info, sensor_selector: SensorSelector) -> SensorOrError:
    return start_sensor(info.context, sensor_selector)


def _stop_sensor(
    info: Info, id: str | None = None, job_origin_id: str | None = None, job_selector_id: str | None = None
) -> StopSensorMutationResultOrError:
    return stop_sensor(info.context, id, job_origin_id, job_selector_id)


def _reset_sensor(info: Info, sensor_selector: SensorSelector) -> SensorOrError:
    return reset_sensor(info.context, sensor_selector)


def _set_sensor_cursor(info: Info, sensor_selector: SensorSelector, cursor: str | None = None) -> SensorOrError:
    return set_sensor_cursor(info.context, sensor_selector, cursor)


def _schedule_dry_run(info: Info, selector_data: ScheduleSelector, timestamp: float | None = None) -> ScheduleDryRunResult:
    return schedule_dry_run_result(info.context, selector_data, timestamp)


def _sensor_dry_run(info: Info, selector_data: SensorSelector, cursor: str | None = UNSET) -> SensorDryRunResult:
    return sensor_dry_run_result(info.context, selector_data, cursor)


@strawberry.type
class AutomationMutations:
    start_schedule: ScheduleMutationResult = strawberry.mutation(resolver=_start_schedule)
    stop_running_schedule: ScheduleMutationResult = strawberry.mutation(resolver=_stop_running_schedule)
    reset_schedule: ScheduleMutationResult = strawberry.mutation(resolver=_reset_schedule)
    start_sensor: SensorOrError = strawberry.mutation(resolver=_start_sensor)
    stop_sensor: StopSensorMutationResultOrError = strawberry.mutation(resolver=_stop_sensor)
    reset_sensor: SensorOrError = strawberry.mutation(resolver=_reset_sensor)
    set_sensor_cursor: SensorOrError = strawberry.mutation(resolver=_set_sensor_cursor)
    schedule_dry_run: ScheduleDryRunResult = strawberry.mutation(resolver=_schedule_dry_run)
    sensor_dry_run: SensorDryRunResult = strawberry.mutation(resolver=_sensor_dry_run)
