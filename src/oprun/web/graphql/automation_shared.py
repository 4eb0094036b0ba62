"""What the automation part of the schema shares (schedules, sensors, ticks,
backfills): the selector inputs, the instigation enums, the "not found" errors
(Dagster's names and fields), the small object types Dagster names once for
the whole schema (`PipelineTag`, `DefinitionTag`, `RepositoryOrigin`,
`AssetKey`), and finding a schedule or sensor of a loaded code location.

Knows the workspace and the instance; builds no run and evaluates nothing."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, NewType

import strawberry

from oprun.web.context import WebContext
from oprun.web.graphql import common as c
from oprun.web.graphql.run_object import PipelineTag, RepositoryOrigin

# ---------- inputs ----------


@strawberry.input(name="RepositorySelector")
class RepositorySelector:
    repository_name: str
    repository_location_name: str


@strawberry.input(name="ScheduleSelector")
class ScheduleSelector:
    repository_name: str
    repository_location_name: str
    schedule_name: str


@strawberry.input(name="SensorSelector")
class SensorSelector:
    repository_name: str
    repository_location_name: str
    sensor_name: str


@strawberry.input(name="InstigationSelector")
class InstigationSelector:
    repository_name: str
    repository_location_name: str
    name: str


@strawberry.input(name="PartitionSetSelector")
class PartitionSetSelector:
    partition_set_name: str
    repository_selector: RepositorySelector


# ---------- enums ----------


@strawberry.enum(name="InstigationStatus")
class InstigationStatus(enum.Enum):
    RUNNING = "RUNNING"
    STOPPED = "STOPPED"


@strawberry.enum(name="InstigationType")
class InstigationType(enum.Enum):
    SCHEDULE = "SCHEDULE"
    SENSOR = "SENSOR"
    AUTO_MATERIALIZE = "AUTO_MATERIALIZE"


@strawberry.enum(name="InstigationTickStatus")
class InstigationTickStatus(enum.Enum):
    STARTED = "STARTED"
    SKIPPED = "SKIPPED"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"


@strawberry.enum(name="SensorType")
class SensorType(enum.Enum):
    STANDARD = "STANDARD"
    RUN_STATUS = "RUN_STATUS"
    ASSET = "ASSET"
    MULTI_ASSET = "MULTI_ASSET"
    FRESHNESS_POLICY = "FRESHNESS_POLICY"
    AUTO_MATERIALIZE = "AUTO_MATERIALIZE"
    AUTOMATION = "AUTOMATION"
    UNKNOWN = "UNKNOWN"


# Dagster's tick ids are 64-bit: a scalar of its own, sent as a number.
BigInt = NewType("BigInt", int)
c.SCALAR_MAP[BigInt] = strawberry.scalar(name="BigInt", description="A 64-bit integer (a tick id).", serialize=int, parse_value=int)


# ---------- errors ----------


@strawberry.type(name="ScheduleNotFoundError")
class ScheduleNotFoundError:
    message: str
    schedule_name: str


@strawberry.type(name="SensorNotFoundError")
class SensorNotFoundError:
    message: str
    sensor_name: str


@strawberry.type(name="InstigationStateNotFoundError")
class InstigationStateNotFoundError:
    message: str
    name: str


# ---------- types named once for the whole schema ----------
#
# A GraphQL type is defined once: run tags and repository origins are the runs
# module's, asset keys the events module's; the definition tags of schedules
# and sensors, and RepositoryNotFoundError, are defined here (for the jobs and
# workspace modules too).


@strawberry.type(name="DefinitionTag")
class DefinitionTag:
    key: str
    value: str


@strawberry.type(name="RepositoryNotFoundError")
class RepositoryNotFoundError:
    message: str
    repository_name: str
    repository_location_name: str


def tags_of(mapping: Any, kind: Any = PipelineTag) -> list[Any]:
    """Tags as `PipelineTag`s (or `kind`), in their order."""
    return [kind(key=str(key), value=str(value)) for key, value in dict(mapping or {}).items()]


def repository_origin(location_name: str) -> RepositoryOrigin:
    """The origin of a location's one repository; its id is Dagster's repository
    label, `__repository__@<location>` (what `instigationStatesOrError` takes)."""
    return RepositoryOrigin(
        id=repository_label(location_name), repository_location_name=location_name, repository_name=c.REPOSITORY_NAME,
        repository_location_metadata=[],
    )


def repository_label(location_name: str) -> str:
    return f"{c.REPOSITORY_NAME}@{location_name}"


def repository_not_found(repository_name: str, location_name: str) -> RepositoryNotFoundError:
    return RepositoryNotFoundError(
        message=f"Could not find a repository named '{repository_name}' in code location '{location_name}': "
        f"each loaded code location has one repository, '{c.REPOSITORY_NAME}'.",
        repository_name=repository_name, repository_location_name=location_name,
    )


def tick_error(error: Any) -> c.PythonError | None:
    """A stored tick's (or an evaluation's) error dict as a PythonError: its
    message and the user's traceback, one frame a line."""
    if not error:
        return None
    message = str(error.get("message") or "")
    name = error.get("class")
    if name and f"{name}:" not in message:  # a wrapped user error names its class already
        message = f"{name}: {message}"
    stack = [line for line in str(error.get("traceback") or "").splitlines(keepends=True) if line.strip()]
    return c.PythonError(message=message, stack=stack)


# ---------- arguments a client may get wrong ----------

# The moments a datetime can hold (years 1 to 9999, a day's margin each side).
_EARLIEST, _LATEST = -62135510400.0, 253402214400.0


def clamp_limit(limit: int | None) -> int | None:
    """A page size: a negative one is an empty page, not "all" (or a storage error)."""
    return None if limit is None else max(0, limit)


def valid_timestamp(value: float | None) -> float | None:
    """`value` if it is a moment a date can hold, else None (ignored)."""
    if value is None or not _EARLIEST < value < _LATEST:
        return None
    return float(value)


# ---------- finding what a selector names ----------


@dataclass(frozen=True)
class Found:
    """A schedule or sensor definition, where it lives."""

    location_name: str
    definitions: Any
    definition: Any


def loaded_definitions(context: WebContext, location_name: str) -> Any | None:
    """The Definitions of a loaded code location, or None (unknown, or fails to load)."""
    for location, definitions in context.workspace.loaded():
        if location.name == location_name:
            return definitions
    return None


def find_repository(context: WebContext, repository_name: str, location_name: str) -> Any:
    """The location's Definitions, or Dagster's RepositoryNotFoundError."""
    definitions = loaded_definitions(context, location_name) if repository_name == c.REPOSITORY_NAME else None
    if definitions is None:
        return repository_not_found(repository_name, location_name)
    return definitions


def find_schedule(context: WebContext, selector: ScheduleSelector) -> Found | ScheduleNotFoundError:
    definitions = loaded_definitions(context, selector.repository_location_name)
    if selector.repository_name == c.REPOSITORY_NAME and definitions is not None:
        for schedule in definitions.schedule_defs:
            if schedule.name == selector.schedule_name:
                return Found(selector.repository_location_name, definitions, schedule)
    return schedule_not_found(selector.schedule_name, selector.repository_location_name, definitions)


def find_sensor(context: WebContext, selector: SensorSelector) -> Found | SensorNotFoundError:
    definitions = loaded_definitions(context, selector.repository_location_name)
    if selector.repository_name == c.REPOSITORY_NAME and definitions is not None:
        for sensor in definitions.sensor_defs:
            if sensor.name == selector.sensor_name:
                return Found(selector.repository_location_name, definitions, sensor)
    return sensor_not_found(selector.sensor_name, selector.repository_location_name, definitions)


def schedule_not_found(name: str, location_name: str, definitions: Any) -> ScheduleNotFoundError:
    names = [s.name for s in definitions.schedule_defs] if definitions is not None else []
    return ScheduleNotFoundError(message=_not_found("schedule", name, location_name, definitions, names), schedule_name=name)


def sensor_not_found(name: str, location_name: str, definitions: Any) -> SensorNotFoundError:
    names = [s.name for s in definitions.sensor_defs] if definitions is not None else []
    return SensorNotFoundError(message=_not_found("sensor", name, location_name, definitions, names), sensor_name=name)


def _not_found(kind: str, name: str, location_name: str, definitions: Any, names: list[str]) -> str:
    from oprun.errors import did_you_mean

    if definitions is None:
        return f"Could not find {kind} '{name}': code location '{location_name}' is not loaded (unknown, or it fails to load)."
    listed = ", ".join(sorted(names)) or "none"
    return f"Could not find {kind} '{name}' in code location '{location_name}'.{did_you_mean(name, names)} {kind.capitalize()}s: {listed}."
