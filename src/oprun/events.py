"""The typed event records: the one contract between execution, storage and every
surface (CLI, GraphQL, UI).

Events are a closed set: `DagsterEventType` names every kind, and each kind that
carries data has one immutable payload type here. The stored name of a kind is its
enum name (`RUN_START`, not Dagster's legacy `PIPELINE_START`).

Records are NamedTuples: immutable, cheap to build on the per-step hot path, and
convertible to plain dicts for storage (`event_to_dict` / `event_from_dict`).

This module is a leaf: it imports nothing else from oprun.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any, NamedTuple, cast


class DagsterEventType(str, Enum):
    """Every kind of event a run can record."""

    RUN_ENQUEUED = "RUN_ENQUEUED"
    RUN_DEQUEUED = "RUN_DEQUEUED"
    RUN_STARTING = "RUN_STARTING"
    RUN_START = "RUN_START"
    RUN_SUCCESS = "RUN_SUCCESS"
    RUN_FAILURE = "RUN_FAILURE"
    RUN_CANCELING = "RUN_CANCELING"
    RUN_CANCELED = "RUN_CANCELED"

    STEP_WORKER_STARTING = "STEP_WORKER_STARTING"
    STEP_WORKER_STARTED = "STEP_WORKER_STARTED"
    RESOURCE_INIT_STARTED = "RESOURCE_INIT_STARTED"
    RESOURCE_INIT_SUCCESS = "RESOURCE_INIT_SUCCESS"
    RESOURCE_INIT_FAILURE = "RESOURCE_INIT_FAILURE"

    STEP_START = "STEP_START"
    STEP_RESTARTED = "STEP_RESTARTED"
    LOADED_INPUT = "LOADED_INPUT"
    STEP_INPUT = "STEP_INPUT"
    STEP_OUTPUT = "STEP_OUTPUT"
    HANDLED_OUTPUT = "HANDLED_OUTPUT"
    STEP_SUCCESS = "STEP_SUCCESS"
    STEP_FAILURE = "STEP_FAILURE"
    STEP_UP_FOR_RETRY = "STEP_UP_FOR_RETRY"
    STEP_SKIPPED = "STEP_SKIPPED"

    ASSET_MATERIALIZATION = "ASSET_MATERIALIZATION"
    ASSET_OBSERVATION = "ASSET_OBSERVATION"
    STEP_EXPECTATION_RESULT = "STEP_EXPECTATION_RESULT"

    HOOK_COMPLETED = "HOOK_COMPLETED"
    HOOK_ERRORED = "HOOK_ERRORED"
    HOOK_SKIPPED = "HOOK_SKIPPED"

    LOGS_CAPTURED = "LOGS_CAPTURED"
    ENGINE_EVENT = "ENGINE_EVENT"

    def __str__(self) -> str:
        return self.value


STEP_EVENTS = frozenset(
    t for t in DagsterEventType if t.name.startswith(("STEP_", "LOADED_", "HANDLED_", "HOOK_", "ASSET_"))
)
RUN_TERMINAL_EVENTS = frozenset(
    {DagsterEventType.RUN_SUCCESS, DagsterEventType.RUN_FAILURE, DagsterEventType.RUN_CANCELED}
)
FAILURE_EVENTS = frozenset(
    {
        DagsterEventType.RUN_FAILURE,
        DagsterEventType.STEP_FAILURE,
        DagsterEventType.RUN_CANCELED,
        DagsterEventType.HOOK_ERRORED,
        DagsterEventType.RESOURCE_INIT_FAILURE,
    }
)


# --- payloads -----------------------------------------------------------------


class SerializableErrorInfo(NamedTuple):
    """An exception as data: message, formatted stack, class name, and its cause."""

    message: str
    stack: list[str]
    cls_name: str | None
    cause: SerializableErrorInfo | None = None
    context: SerializableErrorInfo | None = None

    @staticmethod
    def from_exception(exc: BaseException, _depth: int = 0) -> SerializableErrorInfo:
        cause = context = None
        if exc.__cause__ is not None and _depth < 5:
            cause = SerializableErrorInfo.from_exception(exc.__cause__, _depth + 1)
        elif exc.__context__ is not None and not exc.__suppress_context__ and _depth < 5:
            # raised while handling another exception, as Python's traceback says
            context = SerializableErrorInfo.from_exception(exc.__context__, _depth + 1)
        import traceback  # only when something failed: it is slow to import

        stack = traceback.format_tb(exc.__traceback__) if exc.__traceback__ else []
        message = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return SerializableErrorInfo(message, stack, type(exc).__name__, cause, context)

    def to_string(self) -> str:
        text = "".join(self.stack) + self.message
        if self.cause is not None:
            text = (
                self.cause.to_string()
                + "\n\nThe above exception was the direct cause of the following exception:\n\n"
                + text
            )
        elif self.context is not None:
            text = (
                self.context.to_string()
                + "\n\nDuring handling of the above exception, another exception occurred:\n\n"
                + text
            )
        return text


class TypeCheckData(NamedTuple):
    success: bool
    label: str
    description: str | None = None
    metadata: Mapping[str, Any] = {}


class StepInputData(NamedTuple):
    input_name: str
    type_check_data: TypeCheckData | None = None


class StepOutputData(NamedTuple):
    output_name: str
    mapping_key: str | None = None
    type_check_data: TypeCheckData | None = None
    metadata: Mapping[str, Any] = {}


class LoadedInputData(NamedTuple):
    input_name: str
    manager_key: str
    upstream_output_name: str | None = None
    upstream_step_key: str | None = None
    metadata: Mapping[str, Any] = {}


class HandledOutputData(NamedTuple):
    output_name: str
    manager_key: str
    metadata: Mapping[str, Any] = {}


class StepSuccessData(NamedTuple):
    duration_ms: float


class UserFailureData(NamedTuple):
    description: str | None
    metadata: Mapping[str, Any] = {}


class StepFailureData(NamedTuple):
    error: SerializableErrorInfo | None
    user_failure_data: UserFailureData | None = None
    error_source: str | None = None  # "USER_CODE_ERROR", "FRAMEWORK_ERROR" or "INTERRUPT" (a canceled run)


class StepRetryData(NamedTuple):
    error: SerializableErrorInfo | None
    seconds_to_wait: float | None = None


class StepSkippedData(NamedTuple):
    reason: str


class StepMaterializationData(NamedTuple):
    materialization: Any


class StepExpectationResultData(NamedTuple):
    expectation_result: Any


class HookErroredData(NamedTuple):
    error: SerializableErrorInfo


class EngineEventData(NamedTuple):
    metadata: Mapping[str, Any] = {}
    error: SerializableErrorInfo | None = None


class JobFailureData(NamedTuple):
    error: SerializableErrorInfo | None
    failure_reason: str | None = None  # RunFailureReason name


class LogsCapturedData(NamedTuple):
    file_key: str
    step_keys: list[str]
    stdout_path: str | None = None
    stderr_path: str | None = None


# --- the records ----------------------------------------------------------------


class DagsterEvent(NamedTuple):
    """One structured event: its kind, where it happened, a message and a payload."""

    event_type_value: str
    job_name: str
    step_key: str | None = None
    node_handle: str | None = None
    event_specific_data: Any = None
    message: str | None = None
    pid: int | None = None

    @property
    def event_type(self) -> DagsterEventType:
        return DagsterEventType(self.event_type_value)

    @property
    def node_name(self) -> str | None:
        return self.node_handle.rsplit(".", 1)[-1] if self.node_handle else None

    @property
    def is_step_event(self) -> bool:
        return self.event_type in STEP_EVENTS

    @property
    def is_step_success(self) -> bool:
        return self.event_type_value == "STEP_SUCCESS"

    @property
    def is_step_failure(self) -> bool:
        return self.event_type_value == "STEP_FAILURE"

    @property
    def is_step_skipped(self) -> bool:
        return self.event_type_value == "STEP_SKIPPED"

    @property
    def is_step_up_for_retry(self) -> bool:
        return self.event_type_value == "STEP_UP_FOR_RETRY"

    @property
    def is_successful_output(self) -> bool:
        return self.event_type_value == "STEP_OUTPUT"

    @property
    def is_run_success(self) -> bool:
        return self.event_type_value == "RUN_SUCCESS"

    @property
    def is_run_failure(self) -> bool:
        return self.event_type_value == "RUN_FAILURE"

    @property
    def is_failure(self) -> bool:
        return self.event_type in FAILURE_EVENTS

    @property
    def is_hook_event(self) -> bool:
        return self.event_type_value.startswith("HOOK_")

    @property
    def is_asset_materialization(self) -> bool:
        return self.event_type_value == "ASSET_MATERIALIZATION"

    @property
    def is_asset_observation(self) -> bool:
        return self.event_type_value == "ASSET_OBSERVATION"

    @property
    def step_output_data(self) -> StepOutputData:
        return cast(StepOutputData, self.event_specific_data)

    @property
    def step_input_data(self) -> StepInputData:
        return cast(StepInputData, self.event_specific_data)

    @property
    def step_failure_data(self) -> StepFailureData:
        return cast(StepFailureData, self.event_specific_data)

    @property
    def step_retry_data(self) -> StepRetryData:
        return cast(StepRetryData, self.event_specific_data)

    @property
    def step_materialization_data(self) -> StepMaterializationData:
        return cast(StepMaterializationData, self.event_specific_data)

    @property
    def asset_materialization(self) -> Any:
        return self.event_specific_data.materialization

    @property
    def expectation_result(self) -> Any:
        return self.event_specific_data.expectation_result

    @property
    def job_failure_data(self) -> JobFailureData:
        return cast(JobFailureData, self.event_specific_data)

    @property
    def hook_errored_data(self) -> HookErroredData:
        return cast(HookErroredData, self.event_specific_data)

    @property
    def engine_event_data(self) -> EngineEventData:
        return cast(EngineEventData, self.event_specific_data)

    @property
    def logs_captured_data(self) -> LogsCapturedData:
        return cast(LogsCapturedData, self.event_specific_data)


class EventLogEntry(NamedTuple):
    """What the event log stores: a structured event, or a plain log message
    (`dagster_event` is None for `context.log.info(...)` lines)."""

    run_id: str
    timestamp: float
    level: int
    user_message: str
    job_name: str | None = None
    step_key: str | None = None
    error_info: SerializableErrorInfo | None = None
    dagster_event: DagsterEvent | None = None

    @property
    def is_dagster_event(self) -> bool:
        return self.dagster_event is not None

    @property
    def dagster_event_type(self) -> DagsterEventType | None:
        return self.dagster_event.event_type if self.dagster_event is not None else None

    @property
    def message(self) -> str:
        if self.dagster_event is not None and self.dagster_event.message:
            return self.dagster_event.message
        return self.user_message

    def get_dagster_event(self) -> DagsterEvent:
        assert self.dagster_event is not None, "this entry is a log message, not an event"
        return self.dagster_event


_ERROR_LEVEL_EVENTS = frozenset(
    {"STEP_FAILURE", "RUN_FAILURE", "HOOK_ERRORED", "RESOURCE_INIT_FAILURE"}
)
_PID = os.getpid()


def event_level(event_type_value: str) -> int:
    """Failure events are logged at ERROR, everything else at DEBUG (as Dagster)."""
    return 40 if event_type_value in _ERROR_LEVEL_EVENTS else 10  # logging.ERROR, logging.DEBUG


def entry_for_event(run_id: str, event: DagsterEvent) -> EventLogEntry:
    return EventLogEntry(
        run_id,
        time.time(),
        event_level(event.event_type_value),
        event.message or "",
        event.job_name,
        event.step_key,
        None,
        event,
    )


def current_pid() -> int:
    """This process's pid (kept current across forks by the hook below)."""
    return _PID


def _after_fork() -> None:
    global _PID
    _PID = os.getpid()


os.register_at_fork(after_in_child=_after_fork)


# --- plain-dict conversion, for storage and the wire ----------------------------

# Class name -> (constructor, field names) of each record `from_plain` rebuilds.
_PAYLOADS: dict[str, tuple[Callable[..., object], tuple[str, ...]]] = {
    cls.__name__: (cls, cls._fields)
    for cls in (
        SerializableErrorInfo,
        TypeCheckData,
        StepInputData,
        StepOutputData,
        LoadedInputData,
        HandledOutputData,
        StepSuccessData,
        UserFailureData,
        StepFailureData,
        StepRetryData,
        StepSkippedData,
        StepMaterializationData,
        StepExpectationResultData,
        HookErroredData,
        EngineEventData,
        JobFailureData,
        LogsCapturedData,
        DagsterEvent,
        EventLogEntry,
    )
}


_PLAIN_SCALARS = frozenset((str, int, float, bool, type(None)))
# The field names of each record class seen, so that a record converts without
# `hasattr`/`getattr` per field (this runs for every stored event).
_RECORD_FIELDS: dict[type, tuple[str, ...] | None] = {}


def to_plain(value: Any) -> Any:
    """Convert records (and user objects such as AssetMaterialization) to JSON-able data."""
    kind = type(value)
    if kind in _PLAIN_SCALARS:
        return value
    fields = _RECORD_FIELDS.get(kind, ())
    if fields == ():
        fields = _RECORD_FIELDS[kind] = kind._fields if issubclass(kind, tuple) and hasattr(kind, "_fields") else None
    if fields is not None:
        data = {name: (v if type(v) in _PLAIN_SCALARS else to_plain(v)) for name, v in zip(fields, value, strict=True)}
        data["__class__"] = kind.__name__
        return data
    if isinstance(value, dict):
        return {str(k): (v if type(v) in _PLAIN_SCALARS else to_plain(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_plain(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    as_plain = getattr(value, "to_plain", None)
    if callable(as_plain):
        return as_plain()
    return repr(value)


_json_parts: tuple[Callable[[Any], str], Callable[[str], str]] | None = None


def _json_tools() -> tuple[Callable[[Any], str], Callable[[str], str]]:
    # json is imported when the first event is stored, not by `import oprun`.
    global _json_parts
    if _json_parts is None:
        import json
        from json.encoder import encode_basestring_ascii

        _json_parts = (json.JSONEncoder(separators=(",", ":")).encode, encode_basestring_ascii)
    return _json_parts


def entry_json(entry: EventLogEntry) -> str:
    """`json.dumps(to_plain(entry), separators=(",", ":"))`, the same text made
    faster: the entry and its event are written field by field, and only their
    payloads go through `to_plain` (this runs for every stored event)."""
    encode, quote = _json_tools()
    event = entry.dagster_event
    if type(entry) is not EventLogEntry or (event is not None and type(event) is not DagsterEvent):
        return encode(to_plain(entry))

    def value(v: Any) -> str:
        kind = type(v)
        if kind is str:
            return quote(v)
        if v is None:
            return "null"
        if kind is int:
            return int.__repr__(v)
        return encode(to_plain(v))

    if event is None:
        event_text = "null"
    else:
        event_text = (
            '{"event_type_value":' + value(event.event_type_value) + ',"job_name":' + value(event.job_name)
            + ',"step_key":' + value(event.step_key) + ',"node_handle":' + value(event.node_handle)
            + ',"event_specific_data":' + value(event.event_specific_data) + ',"message":' + value(event.message)
            + ',"pid":' + value(event.pid) + ',"__class__":"DagsterEvent"}'
        )
    return (
        '{"run_id":' + value(entry.run_id) + ',"timestamp":' + encode(entry.timestamp) + ',"level":' + value(entry.level)
        + ',"user_message":' + value(entry.user_message) + ',"job_name":' + value(entry.job_name)
        + ',"step_key":' + value(entry.step_key) + ',"error_info":' + value(entry.error_info)
        + ',"dagster_event":' + event_text + ',"__class__":"EventLogEntry"}'
    )


def from_plain(value: Any) -> Any:
    """Inverse of `to_plain` for oprun's own records; user objects stay dicts."""
    if isinstance(value, dict):
        cls_name = value.get("__class__")
        data = {k: from_plain(v) for k, v in value.items() if k != "__class__"}
        payload = _PAYLOADS.get(cls_name) if isinstance(cls_name, str) else None
        if payload is not None:
            make, fields = payload
            return make(**{k: data[k] for k in fields if k in data})
        if cls_name is not None:
            data["__class__"] = cls_name
        return data
    if isinstance(value, list):
        return [from_plain(v) for v in value]
    return value
