"""A run's event log and compute logs as GraphQL: Dagster's event types (the
`MessageEvent` interface and one concrete type per kind of oprun event, in the
`DagsterRunEvent` union), metadata entries, pages of a run's events
(`logsForRun`, `Run.eventConnection`), the captured stdout/stderr of a step
(`capturedLogs`, `capturedLogsMetadata`), and the live subscriptions
(`pipelineRunLogs`, `capturedLogs`) that `oprun.web.streams` also serves as
server-sent events.

Pages are read with the storage's own cursor (its event ids, keyset paging):
no resolver ever loads a whole log. Query resolvers are plain functions (they
run on a worker thread); subscription resolvers are async generators that read
storage on a worker thread between polls.
"""

from __future__ import annotations

import enum
import json
import math
import os
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from oprun.events import DagsterEventType as OprunEventType, EventLogEntry, SerializableErrorInfo
from oprun.web.context import WebContext
from oprun.web.graphql import common as c

if TYPE_CHECKING:
    from oprun.web.graphql.runs import Run

# A page of logsForRun holds at most this many events (Dagster returns the
# whole log when no limit is given; oprun never does: follow `cursor` while `hasMore`).
MAX_PAGE_SIZE = 10_000
# Events read per storage query while a filter (step, level) is applied in
# Python, and how many such reads one page may make before it answers with
# fewer events than asked and `hasMore: true`.
SCAN_CHUNK = 1_000
MAX_SCAN_CHUNKS = 20
# Dagster's DAGSTER_UI_EVENT_LOAD_CHUNK_SIZE: the backlog of a subscription is sent in chunks of this many events.
SUBSCRIPTION_CHUNK = 1_000
# Bytes of one compute log stream read at once (capturedLogs without a limit, and each chunk streamed).
LOG_CHUNK_BYTES = 1024 * 1024
COMPUTE_LOGS = "compute_logs"  # the middle part of a step's log key: [runId, "compute_logs", fileKey]


# ---------- enums ----------


@strawberry.enum(name="LogLevel")
class LogLevel(enum.Enum):
    CRITICAL = "CRITICAL"
    ERROR = "ERROR"
    INFO = "INFO"
    WARNING = "WARNING"
    DEBUG = "DEBUG"


_LEVEL_NUMBERS = {LogLevel.DEBUG: 10, LogLevel.INFO: 20, LogLevel.WARNING: 30, LogLevel.ERROR: 40, LogLevel.CRITICAL: 50}


def log_level(number: int) -> LogLevel:
    if number >= 50:
        return LogLevel.CRITICAL
    if number >= 40:
        return LogLevel.ERROR
    if number >= 30:
        return LogLevel.WARNING
    if number >= 20:
        return LogLevel.INFO
    return LogLevel.DEBUG


@strawberry.enum(name="DagsterEventType")
class DagsterEventType(enum.Enum):
    """oprun's closed set of event kinds (oprun.events), under Dagster's names;
    a test checks the two lists match."""

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
    OBJECT_STORE_OPERATION = "OBJECT_STORE_OPERATION"  # Dagster's; oprun records none


@strawberry.enum(name="ErrorSource")
class ErrorSource(enum.Enum):
    FRAMEWORK_ERROR = "FRAMEWORK_ERROR"
    USER_CODE_ERROR = "USER_CODE_ERROR"
    UNEXPECTED_ERROR = "UNEXPECTED_ERROR"
    INTERRUPT = "INTERRUPT"


@strawberry.enum(name="ObjectStoreOperationType")
class ObjectStoreOperationType(enum.Enum):
    SET_OBJECT = "SET_OBJECT"
    GET_OBJECT = "GET_OBJECT"
    RM_OBJECT = "RM_OBJECT"
    CP_OBJECT = "CP_OBJECT"


# ---------- metadata entries ----------


@strawberry.interface(name="MetadataEntry")
class MetadataEntry:
    label: str
    description: str | None = None


@strawberry.type(name="TextMetadataEntry")
class TextMetadataEntry(MetadataEntry):
    text: str


@strawberry.type(name="JsonMetadataEntry")
class JsonMetadataEntry(MetadataEntry):
    json_string: str


@strawberry.type(name="IntMetadataEntry")
class IntMetadataEntry(MetadataEntry):
    int_value: int | None = strawberry.field(description="Nullable to allow graceful degrade on > 32 bit numbers")
    int_repr: str = strawberry.field(description="String representation of the int to support greater than 32 bit")


@strawberry.type(name="FloatMetadataEntry")
class FloatMetadataEntry(MetadataEntry):
    float_value: float | None = None


@strawberry.type(name="BoolMetadataEntry")
class BoolMetadataEntry(MetadataEntry):
    bool_value: bool | None = None


@strawberry.type(name="UrlMetadataEntry")
class UrlMetadataEntry(MetadataEntry):
    url: str


@strawberry.type(name="PathMetadataEntry")
class PathMetadataEntry(MetadataEntry):
    path: str


@strawberry.type(name="NotebookMetadataEntry")
class NotebookMetadataEntry(MetadataEntry):
    path: str


@strawberry.type(name="MarkdownMetadataEntry")
class MarkdownMetadataEntry(MetadataEntry):
    md_str: str


@strawberry.type(name="PythonArtifactMetadataEntry")
class PythonArtifactMetadataEntry(MetadataEntry):
    module: str
    name: str


@strawberry.type(name="TimestampMetadataEntry")
class TimestampMetadataEntry(MetadataEntry):
    timestamp: float


@strawberry.type(name="NullMetadataEntry")
class NullMetadataEntry(MetadataEntry):
    pass


METADATA_ENTRY_TYPES: tuple[type, ...] = (
    TextMetadataEntry, JsonMetadataEntry, IntMetadataEntry, FloatMetadataEntry, BoolMetadataEntry, UrlMetadataEntry,
    PathMetadataEntry, NotebookMetadataEntry, MarkdownMetadataEntry, PythonArtifactMetadataEntry,
    TimestampMetadataEntry, NullMetadataEntry,
)

_INT32 = 2**31


def metadata_entry(label: str, value: Any) -> MetadataEntry:
    """One metadata value as Dagster's MetadataEntry type of its kind. `value` is
    a MetadataEntryValue, its stored form `{"kind", "value"}`, or a raw primitive."""
    kind, raw = _kind_and_value(value)
    if kind == "text":
        return TextMetadataEntry(label=label, text=str(raw))
    if kind == "int" and isinstance(raw, int):
        return IntMetadataEntry(label=label, int_value=raw if -_INT32 <= raw < _INT32 else None, int_repr=str(raw))
    if kind == "float" and isinstance(raw, (int, float)):
        return FloatMetadataEntry(label=label, float_value=float(raw) if math.isfinite(raw) else None)
    if kind == "bool":
        return BoolMetadataEntry(label=label, bool_value=bool(raw))
    if kind == "url":
        return UrlMetadataEntry(label=label, url=str(raw))
    if kind == "path":
        return PathMetadataEntry(label=label, path=str(raw))
    if kind == "notebook":
        return NotebookMetadataEntry(label=label, path=str(raw))
    if kind == "md":
        return MarkdownMetadataEntry(label=label, md_str=str(raw))
    if kind == "python_artifact":
        module, _, name = str(raw).rpartition(".")
        return PythonArtifactMetadataEntry(label=label, module=module, name=name)
    if kind == "timestamp" and isinstance(raw, (int, float)):
        return TimestampMetadataEntry(label=label, timestamp=float(raw))
    if kind == "null" or raw is None:
        return NullMetadataEntry(label=label)
    # json, table and anything else: its JSON (a table has no richer type here yet).
    return JsonMetadataEntry(label=label, json_string=json.dumps(raw, default=str, sort_keys=True))


def metadata_entries(metadata: Mapping[str, Any] | None) -> list[MetadataEntry]:
    return [metadata_entry(str(label), value) for label, value in (metadata or {}).items()]


def _kind_and_value(value: Any) -> tuple[str, Any]:
    if isinstance(value, Mapping) and "kind" in value and "value" in value:
        return str(value["kind"]), value["value"]
    kind = getattr(value, "kind", None)
    if isinstance(kind, str) and hasattr(value, "value"):
        return kind, value.value
    if value is None:
        return "null", None
    if isinstance(value, bool):
        return "bool", value
    if isinstance(value, int):
        return "int", value
    if isinstance(value, float):
        return "float", value
    if isinstance(value, str):
        return "text", value
    return "json", value


# ---------- interfaces ----------


@strawberry.interface(name="MessageEvent")
class MessageEvent:
    run_id: str
    message: str
    timestamp: str  # milliseconds since the epoch, as Dagster sends it
    level: LogLevel
    step_key: str | None = None
    solid_handle_id: str | None = strawberry.field(name="solidHandleID", default=None)
    event_type: DagsterEventType | None = None


@strawberry.interface(name="DisplayableEvent")
class DisplayableEvent:
    label: str | None = None
    description: str | None = None
    metadata_entries: list[MetadataEntry] = strawberry.field(default_factory=list)


@strawberry.interface(name="MarkerEvent")
class MarkerEvent:
    marker_start: str | None = None
    marker_end: str | None = None


@strawberry.interface(name="ErrorEvent")
class ErrorEvent:
    error: c.PythonError | None = None


@strawberry.interface(name="StepEvent")
class StepEvent:
    step_key: str | None = None
    solid_handle_id: str | None = strawberry.field(name="solidHandleID", default=None)


@strawberry.interface(name="RunEvent")
class RunEvent:
    pipeline_name: str


# ---------- payload objects ----------


@strawberry.type(name="TypeCheck")
class TypeCheck(DisplayableEvent):
    success: bool


@strawberry.type(name="FailureMetadata")
class FailureMetadata(DisplayableEvent):
    pass


@strawberry.type(name="ExpectationResult")
class ExpectationResult(DisplayableEvent):
    success: bool


@strawberry.type(name="ObjectStoreOperationResult")
class ObjectStoreOperationResult(DisplayableEvent):
    op: ObjectStoreOperationType


@strawberry.type(name="AssetKey")
class AssetKey:
    path: list[str]


@strawberry.type(name="EventTag")
class EventTag:
    key: str
    value: str


# ---------- the event types ----------


@strawberry.type(name="LogMessageEvent")
class LogMessageEvent(MessageEvent):
    pass


@strawberry.type(name="RunEnqueuedEvent")
class RunEnqueuedEvent(MessageEvent, RunEvent):
    pass


@strawberry.type(name="RunDequeuedEvent")
class RunDequeuedEvent(MessageEvent, RunEvent):
    pass


@strawberry.type(name="RunStartingEvent")
class RunStartingEvent(MessageEvent, RunEvent):
    pass


@strawberry.type(name="RunStartEvent")
class RunStartEvent(MessageEvent, RunEvent):
    pass


@strawberry.type(name="RunSuccessEvent")
class RunSuccessEvent(MessageEvent, RunEvent):
    pass


@strawberry.type(name="RunFailureEvent")
class RunFailureEvent(MessageEvent, RunEvent, ErrorEvent):
    pass


@strawberry.type(name="RunCancelingEvent")
class RunCancelingEvent(MessageEvent, RunEvent):
    pass


@strawberry.type(name="RunCanceledEvent")
class RunCanceledEvent(MessageEvent, RunEvent):
    pass


@strawberry.type(name="ExecutionStepStartEvent")
class ExecutionStepStartEvent(MessageEvent, StepEvent):
    pass


@strawberry.type(name="ExecutionStepRestartEvent")
class ExecutionStepRestartEvent(MessageEvent, StepEvent):
    pass


@strawberry.type(name="ExecutionStepSuccessEvent")
class ExecutionStepSuccessEvent(MessageEvent, StepEvent):
    pass


@strawberry.type(name="ExecutionStepSkippedEvent")
class ExecutionStepSkippedEvent(MessageEvent, StepEvent):
    pass


@strawberry.type(name="ExecutionStepUpForRetryEvent")
class ExecutionStepUpForRetryEvent(MessageEvent, StepEvent, ErrorEvent):
    seconds_to_wait: int | None = None


@strawberry.type(name="ExecutionStepFailureEvent")
class ExecutionStepFailureEvent(MessageEvent, StepEvent, ErrorEvent):
    error_source: ErrorSource | None = None
    failure_metadata: FailureMetadata | None = None


@strawberry.type(name="ExecutionStepInputEvent")
class ExecutionStepInputEvent(MessageEvent, StepEvent):
    input_name: str
    type_check: TypeCheck


@strawberry.type(name="ExecutionStepOutputEvent")
class ExecutionStepOutputEvent(MessageEvent, StepEvent, DisplayableEvent):
    output_name: str
    type_check: TypeCheck


@strawberry.type(name="LoadedInputEvent")
class LoadedInputEvent(MessageEvent, StepEvent, DisplayableEvent):
    input_name: str
    manager_key: str
    upstream_output_name: str | None = None
    upstream_step_key: str | None = None


@strawberry.type(name="HandledOutputEvent")
class HandledOutputEvent(MessageEvent, StepEvent, DisplayableEvent):
    output_name: str
    manager_key: str


@strawberry.type(name="ObjectStoreOperationEvent")
class ObjectStoreOperationEvent(MessageEvent, StepEvent):
    operation_result: ObjectStoreOperationResult


@strawberry.type(name="StepExpectationResultEvent")
class StepExpectationResultEvent(MessageEvent, StepEvent):
    expectation_result: ExpectationResult


@strawberry.type(name="MaterializationEvent")
class MaterializationEvent(MessageEvent, StepEvent, DisplayableEvent):
    asset_key: AssetKey | None = None
    partition: str | None = None
    tags: list[EventTag] = strawberry.field(default_factory=list)


@strawberry.type(name="ObservationEvent")
class ObservationEvent(MessageEvent, StepEvent, DisplayableEvent):
    asset_key: AssetKey | None = None
    partition: str | None = None
    tags: list[EventTag] = strawberry.field(default_factory=list)


@strawberry.type(name="HookCompletedEvent")
class HookCompletedEvent(MessageEvent, StepEvent):
    pass


@strawberry.type(name="HookSkippedEvent")
class HookSkippedEvent(MessageEvent, StepEvent):
    pass


@strawberry.type(name="HookErroredEvent")
class HookErroredEvent(MessageEvent, StepEvent, ErrorEvent):
    pass


@strawberry.type(name="LogsCapturedEvent")
class LogsCapturedEvent(MessageEvent):
    file_key: str
    step_keys: list[str] | None = None
    external_url: str | None = None
    external_stdout_url: str | None = None
    external_stderr_url: str | None = None
    pid: int | None = None
    # Dagster's legacy name of fileKey, still in its schema for older UIs.
    log_key: str


@strawberry.type(name="EngineEvent")
class EngineEvent(MessageEvent, DisplayableEvent, StepEvent, MarkerEvent, ErrorEvent):
    pass


@strawberry.type(name="ResourceInitStartedEvent")
class ResourceInitStartedEvent(MessageEvent, DisplayableEvent, StepEvent, MarkerEvent):
    pass


@strawberry.type(name="ResourceInitSuccessEvent")
class ResourceInitSuccessEvent(MessageEvent, DisplayableEvent, StepEvent, MarkerEvent):
    pass


@strawberry.type(name="ResourceInitFailureEvent")
class ResourceInitFailureEvent(MessageEvent, DisplayableEvent, StepEvent, MarkerEvent, ErrorEvent):
    pass


@strawberry.type(name="StepWorkerStartingEvent")
class StepWorkerStartingEvent(MessageEvent, DisplayableEvent, StepEvent, MarkerEvent):
    pass


@strawberry.type(name="StepWorkerStartedEvent")
class StepWorkerStartedEvent(MessageEvent, DisplayableEvent, StepEvent, MarkerEvent):
    pass


DagsterRunEvent = Annotated[
    ExecutionStepFailureEvent | ExecutionStepInputEvent | ExecutionStepOutputEvent | ExecutionStepSkippedEvent
    | ExecutionStepStartEvent | ExecutionStepSuccessEvent | ExecutionStepUpForRetryEvent | ExecutionStepRestartEvent
    | LogMessageEvent | ResourceInitFailureEvent | ResourceInitStartedEvent | ResourceInitSuccessEvent
    | RunFailureEvent | RunStartEvent | RunEnqueuedEvent | RunDequeuedEvent | RunStartingEvent | RunCancelingEvent
    | RunCanceledEvent | RunSuccessEvent | StepWorkerStartedEvent | StepWorkerStartingEvent | HandledOutputEvent
    | LoadedInputEvent | LogsCapturedEvent | ObjectStoreOperationEvent | StepExpectationResultEvent
    | MaterializationEvent | ObservationEvent | EngineEvent | HookCompletedEvent | HookSkippedEvent | HookErroredEvent,
    strawberry.union("DagsterRunEvent"),
]


@strawberry.type(name="EventConnection")
class EventConnection:
    events: list[DagsterRunEvent]
    cursor: str
    has_more: bool


EventConnectionOrError = Annotated[EventConnection | c.RunNotFoundError | c.PythonError, strawberry.union("EventConnectionOrError")]


# ---------- from stored entries to event types ----------


def _field(data: Any, name: str, default: Any = None) -> Any:
    """A payload's field, whether it is a record or (a user object stored as) a dict."""
    if isinstance(data, Mapping):
        return data.get(name, default)
    return getattr(data, name, default)


def python_error_of(error: Any) -> c.PythonError | None:
    if error is None:
        return None
    if isinstance(error, SerializableErrorInfo):
        return _stored_error(error)
    return c.PythonError(message=str(_field(error, "message", "")), stack=[str(s) for s in _field(error, "stack", None) or []])


def _stored_error(error: SerializableErrorInfo) -> c.PythonError:
    """A stored error and its chain: `cause` (raise ... from) is an explicit link,
    `context` (raised while handling another) an implicit one."""
    links: list[c.ErrorChainLink] = []
    link: SerializableErrorInfo | None = error
    while link is not None and len(links) < c.MAX_ERROR_CHAIN:
        nxt, explicit = (link.cause, True) if link.cause is not None else (link.context, False)
        if nxt is None:
            break
        links.append(c.ErrorChainLink(message=nxt.message, error=_stored_single(nxt), is_explicit_link=explicit))
        link = nxt
    return c.error_with_chain(_stored_single(error), links)


def _stored_single(error: SerializableErrorInfo) -> c.PythonError:
    return c.PythonError(message=error.message, stack=list(error.stack), class_name=error.cls_name)


def _type_check(data: Any, fallback_label: str) -> TypeCheck:
    if data is None:
        return TypeCheck(success=True, label=fallback_label)
    return TypeCheck(
        success=bool(_field(data, "success", True)),
        label=_field(data, "label") or fallback_label,
        description=_field(data, "description"),
        metadata_entries=metadata_entries(_field(data, "metadata")),
    )


def _displayable(data: Any) -> dict[str, Any]:
    return {"metadata_entries": metadata_entries(_field(data, "metadata"))}


def _asset_event(data: Any, key: str) -> dict[str, Any]:
    item = _field(data, key)
    path = _field(item, "asset_key")
    path = _field(path, "path", path) if path is not None and not isinstance(path, list) else path
    return {
        "asset_key": AssetKey(path=[str(p) for p in path]) if path else None,
        "label": " ".join(str(p) for p in path) if path else None,
        "description": _field(item, "description"),
        "metadata_entries": metadata_entries(_field(item, "metadata")),
        "partition": _field(item, "partition"),
        "tags": [EventTag(key=str(k), value=str(v)) for k, v in (_field(item, "tags") or {}).items()],
    }


def _failure(data: Any) -> dict[str, Any]:
    source = _field(data, "error_source")
    user = _field(data, "user_failure_data")
    return {
        "error": python_error_of(_field(data, "error")),
        "error_source": ErrorSource(source) if source in ErrorSource._value2member_map_ else None,
        "failure_metadata": FailureMetadata(description=_field(user, "description"), **_displayable(user)) if user is not None else None,
    }


def _retry(data: Any) -> dict[str, Any]:
    wait = _field(data, "seconds_to_wait")
    return {"error": python_error_of(_field(data, "error")), "seconds_to_wait": int(wait) if wait is not None else None}


def _input(data: Any) -> dict[str, Any]:
    name = str(_field(data, "input_name", ""))
    return {"input_name": name, "type_check": _type_check(_field(data, "type_check_data"), name)}


def _output(data: Any) -> dict[str, Any]:
    name = str(_field(data, "output_name", ""))
    return {"output_name": name, "type_check": _type_check(_field(data, "type_check_data"), name), **_displayable(data)}


def _loaded_input(data: Any) -> dict[str, Any]:
    return {
        "input_name": str(_field(data, "input_name", "")),
        "manager_key": str(_field(data, "manager_key", "")),
        "upstream_output_name": _field(data, "upstream_output_name"),
        "upstream_step_key": _field(data, "upstream_step_key"),
        **_displayable(data),
    }


def _handled_output(data: Any) -> dict[str, Any]:
    return {"output_name": str(_field(data, "output_name", "")), "manager_key": str(_field(data, "manager_key", "")), **_displayable(data)}


def _expectation(data: Any) -> dict[str, Any]:
    item = _field(data, "expectation_result")
    return {
        "expectation_result": ExpectationResult(
            success=bool(_field(item, "success", False)), label=_field(item, "label"),
            description=_field(item, "description"), metadata_entries=metadata_entries(_field(item, "metadata")),
        )
    }


def _engine(data: Any) -> dict[str, Any]:
    return {"error": python_error_of(_field(data, "error")), **_displayable(data)}


def _logs_captured(data: Any) -> dict[str, Any]:
    key = str(_field(data, "file_key", ""))
    return {"file_key": key, "log_key": key, "step_keys": list(_field(data, "step_keys", None) or [])}


def _nothing(_data: Any) -> dict[str, Any]:
    return {}


_RUN_EVENT_TYPES: dict[str, type] = {
    "RUN_ENQUEUED": RunEnqueuedEvent, "RUN_DEQUEUED": RunDequeuedEvent, "RUN_STARTING": RunStartingEvent,
    "RUN_START": RunStartEvent, "RUN_SUCCESS": RunSuccessEvent, "RUN_FAILURE": RunFailureEvent,
    "RUN_CANCELING": RunCancelingEvent, "RUN_CANCELED": RunCanceledEvent,
}
# Kind -> (type, the payload's fields as keyword arguments of the type).
_STEP_EVENT_TYPES: dict[str, tuple[type, Callable[[Any], dict[str, Any]]]] = {
    "STEP_START": (ExecutionStepStartEvent, _nothing),
    "STEP_RESTARTED": (ExecutionStepRestartEvent, _nothing),
    "STEP_SUCCESS": (ExecutionStepSuccessEvent, _nothing),
    "STEP_SKIPPED": (ExecutionStepSkippedEvent, _nothing),
    "STEP_FAILURE": (ExecutionStepFailureEvent, _failure),
    "STEP_UP_FOR_RETRY": (ExecutionStepUpForRetryEvent, _retry),
    "STEP_INPUT": (ExecutionStepInputEvent, _input),
    "STEP_OUTPUT": (ExecutionStepOutputEvent, _output),
    "LOADED_INPUT": (LoadedInputEvent, _loaded_input),
    "HANDLED_OUTPUT": (HandledOutputEvent, _handled_output),
    "STEP_EXPECTATION_RESULT": (StepExpectationResultEvent, _expectation),
    "ASSET_MATERIALIZATION": (MaterializationEvent, lambda d: _asset_event(d, "materialization")),
    "ASSET_OBSERVATION": (ObservationEvent, lambda d: _asset_event(d, "materialization")),
    "HOOK_COMPLETED": (HookCompletedEvent, _nothing),
    "HOOK_SKIPPED": (HookSkippedEvent, _nothing),
    "HOOK_ERRORED": (HookErroredEvent, lambda d: {"error": python_error_of(_field(d, "error"))}),
    "ENGINE_EVENT": (EngineEvent, _engine),
    "RESOURCE_INIT_STARTED": (ResourceInitStartedEvent, _displayable),
    "RESOURCE_INIT_SUCCESS": (ResourceInitSuccessEvent, _displayable),
    "RESOURCE_INIT_FAILURE": (ResourceInitFailureEvent, _engine),
    "STEP_WORKER_STARTING": (StepWorkerStartingEvent, _displayable),
    "STEP_WORKER_STARTED": (StepWorkerStartedEvent, _displayable),
}


def graphql_event(entry: EventLogEntry) -> Any:
    """The DagsterRunEvent member for one stored entry (a plain log line is a LogMessageEvent)."""
    event = entry.dagster_event
    kind = event.event_type_value if event is not None else None
    base: dict[str, Any] = {
        "run_id": entry.run_id,
        "message": entry.message,
        "timestamp": str(int(entry.timestamp * 1000)),
        "level": log_level(entry.level),
        "step_key": entry.step_key or (event.step_key if event is not None else None),
        "solid_handle_id": event.node_handle if event is not None else None,
        "event_type": DagsterEventType(kind) if kind in DagsterEventType._value2member_map_ else None,
    }
    if event is None or kind is None:
        return LogMessageEvent(**base)
    data = event.event_specific_data
    run_type = _RUN_EVENT_TYPES.get(kind)
    if run_type is not None:
        extra: dict[str, Any] = {"error": python_error_of(_field(data, "error"))} if kind == "RUN_FAILURE" else {}
        return run_type(pipeline_name=entry.job_name or event.job_name, **base, **extra)
    if kind == "LOGS_CAPTURED":
        return LogsCapturedEvent(pid=event.pid, **base, **_logs_captured(data))
    typed = _STEP_EVENT_TYPES.get(kind)
    if typed is None:  # a kind this module does not know yet: still shown, as a message
        return LogMessageEvent(**base)
    cls, fields = typed
    return cls(**base, **fields(data))


def event_summary(storage_id: int, entry: EventLogEntry) -> dict[str, Any]:
    """One event as the JSON that the server-sent event stream sends (docs/graphql.md)."""
    event = graphql_event(entry)
    error = getattr(event, "error", None)
    return {
        "cursor": str(storage_id),
        "__typename": type(event).__strawberry_definition__.name,
        "runId": entry.run_id,
        "timestamp": event.timestamp,
        "level": event.level.value,
        "stepKey": event.step_key,
        "eventType": event.event_type.value if event.event_type is not None else None,
        "message": event.message,
        "error": {"message": error.message, "stack": error.stack} if error is not None else None,
    }


# ---------- pages of a run's events ----------


def _min_level_number(level: LogLevel | None) -> int | None:
    return _LEVEL_NUMBERS[level] if level is not None else None


def read_events(
    instance: Any,
    run_id: str,
    after_cursor: str | None,
    limit: int | None,
    *,
    min_level: LogLevel | None = None,
    step_keys: Sequence[str] | None = None,
    event_types: Sequence[DagsterEventType] | None = None,
) -> tuple[list[tuple[int, EventLogEntry]], str, bool]:
    """(storage id, entry) pairs after `after_cursor`, at most `limit`
    (capped at MAX_PAGE_SIZE), the cursor to continue from, and whether more
    may follow. Event types filter in storage; step keys and level in Python,
    reading SCAN_CHUNK events at a time, at most MAX_SCAN_CHUNKS reads."""
    size = MAX_PAGE_SIZE if limit is None or limit <= 0 else min(limit, MAX_PAGE_SIZE)
    of_type = {OprunEventType(t.value) for t in event_types if t.value in OprunEventType._value2member_map_} if event_types else None
    if event_types and not of_type:
        return [], after_cursor or "", False
    cursor = _storage_cursor(after_cursor)
    lowest = _min_level_number(min_level)
    steps = set(step_keys) if step_keys else None
    if lowest is None and steps is None:
        page = instance.get_records_for_run(run_id, cursor, of_type, size)
        return [(r.storage_id, r.event_log_entry) for r in page.records], page.cursor, page.has_more
    found: list[tuple[int, EventLogEntry]] = []
    for _ in range(MAX_SCAN_CHUNKS):
        page = instance.get_records_for_run(run_id, cursor, of_type, SCAN_CHUNK)
        for record in page.records:
            entry = record.event_log_entry
            cursor = str(record.storage_id)
            if (lowest is None or entry.level >= lowest) and (steps is None or entry.step_key in steps):
                found.append((record.storage_id, entry))
                if len(found) == size:
                    return found, cursor, True
        if not page.has_more:
            return found, page.cursor or (cursor or ""), False
    return found, cursor or "", True


def _storage_cursor(cursor: str | None) -> str | None:
    """A storage cursor (an event id) as given, or None; anything else is the
    caller's mistake, said plainly."""
    if cursor in (None, ""):
        return None
    assert cursor is not None
    if not cursor.isdigit():
        raise ValueError(f"Invalid event cursor {cursor!r}: a cursor is the `cursor` of a previous page (a number).")
    return cursor


def event_connection(
    context: WebContext,
    run_id: str,
    after_cursor: str | None,
    limit: int | None,
    *,
    min_level: LogLevel | None = None,
    step_keys: Sequence[str] | None = None,
    event_types: Sequence[DagsterEventType] | None = None,
) -> EventConnection:
    """A page of run `run_id`'s events after `after_cursor` (Dagster's
    Run.eventConnection and logsForRun). A cursor this server never gave reads
    as the end of the log (logsForRun reports it as a PythonError)."""
    if after_cursor and not after_cursor.isdigit():
        return EventConnection(events=[], cursor=after_cursor, has_more=False)
    pairs, cursor, has_more = read_events(
        context.instance, run_id, after_cursor, limit, min_level=min_level, step_keys=step_keys, event_types=event_types
    )
    return EventConnection(events=[graphql_event(entry) for _, entry in pairs], cursor=cursor, has_more=has_more)


@c.or_python_error
def logs_for_run(
    context: WebContext,
    run_id: str,
    after_cursor: str | None,
    limit: int | None,
    min_level: LogLevel | None = None,
    step_keys: Sequence[str] | None = None,
    event_types: Sequence[DagsterEventType] | None = None,
) -> EventConnectionOrError:
    if not context.instance.has_run(run_id):
        return c.run_not_found(run_id)
    _storage_cursor(after_cursor)  # a bad cursor is said plainly here
    return event_connection(context, run_id, after_cursor, limit, min_level=min_level, step_keys=step_keys, event_types=event_types)


# ---------- compute logs ----------


@strawberry.type(name="CapturedLogs")
class CapturedLogs:
    log_key: list[str]
    stdout: str | None = None
    stderr: str | None = None
    cursor: str | None = None


@strawberry.type(name="CapturedLogsMetadata")
class CapturedLogsMetadata:
    stdout_download_url: str | None = None
    stdout_location: str | None = None
    stderr_download_url: str | None = None
    stderr_location: str | None = None


def compute_log_paths(instance: Any, log_key: Sequence[str]) -> tuple[str, str] | None:
    """The stdout and stderr files of a step's log key `[runId, "compute_logs",
    fileKey]`, or None when the key names no step of a stored run (the paths
    never leave the run's own log folder)."""
    if len(log_key) != 3 or log_key[1] != COMPUTE_LOGS or instance.is_ephemeral:
        return None
    run_id, _, file_key = log_key
    from oprun.execution.compute_logs import log_paths

    try:
        if not file_key or "\x00" in file_key or "\x00" in run_id or not instance.has_run(run_id):
            return None
        directory = instance.compute_logs_directory()
        paths = log_paths(directory, run_id, file_key)
        folder = os.path.realpath(os.path.join(directory, run_id))
        if any(os.path.dirname(os.path.realpath(p)) != folder for p in paths):
            return None
    except (UnicodeError, ValueError):  # a key no run or file can have (a lone surrogate, ...)
        return None
    return paths


def parse_log_cursor(cursor: str | None) -> tuple[int, int]:
    """A compute log cursor, "STDOUT_OFFSET:STDERR_OFFSET" in bytes ("" or None: the start)."""
    if not cursor:
        return 0, 0
    out, sep, err = cursor.partition(":")
    if not sep or not out.isdigit() or not err.isdigit():
        raise ValueError(f"Invalid compute log cursor {cursor!r}: it is the `cursor` of a previous answer (\"N:M\").")
    return int(out), int(err)


def read_log_chunk(path: str, offset: int, max_bytes: int) -> tuple[str | None, int]:
    """Up to `max_bytes` of the file from `offset`, as text, and the offset after
    it; a multi-byte character cut by the limit is left for the next read.
    (None, offset) when the file does not exist (yet)."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read(max_bytes)
    except FileNotFoundError:
        return None, offset
    keep = len(data)
    if keep == max_bytes:  # maybe cut inside a character: back off its leading bytes
        for back in range(1, min(4, keep) + 1):
            byte = data[keep - back]
            if byte & 0xC0 != 0x80:  # the first byte of the last character
                width = 4 if byte >= 0xF0 else 3 if byte >= 0xE0 else 2 if byte >= 0xC0 else 1
                if width > back:
                    keep -= back
                break
    return data[:keep].decode("utf-8", errors="replace"), offset + keep


def read_captured_logs(instance: Any, log_key: Sequence[str], cursor: str | None, limit: int | None) -> CapturedLogs:
    """Dagster's capturedLogs: the text after `cursor` (at most `limit` bytes of
    each stream), and the cursor after it; nulls for a key with no logs."""
    key = list(log_key)
    paths = compute_log_paths(instance, key)
    try:
        out_at, err_at = parse_log_cursor(cursor)
    except ValueError:  # not a cursor this server gave: there are no logs at it
        return CapturedLogs(log_key=key)
    if paths is None:
        return CapturedLogs(log_key=key)
    size = LOG_CHUNK_BYTES if limit is None or limit <= 0 else min(limit, LOG_CHUNK_BYTES)
    stdout, out_at = read_log_chunk(paths[0], out_at, size)
    stderr, err_at = read_log_chunk(paths[1], err_at, size)
    return CapturedLogs(log_key=key, stdout=stdout, stderr=stderr, cursor=f"{out_at}:{err_at}")


def _path_prefix(context: WebContext) -> str:
    """The server's path prefix, read off the request's own path (…/graphql)."""
    request = context.request
    path = str(getattr(getattr(request, "url", None), "path", "") or "")
    return path[: -len("/graphql")] if path.endswith("/graphql") else ""


def captured_logs_metadata(context: WebContext, log_key: Sequence[str]) -> CapturedLogsMetadata:
    paths = compute_log_paths(context.instance, log_key)
    if paths is None:
        return CapturedLogsMetadata()
    from urllib.parse import quote

    run_id, _, file_key = log_key
    base = f"{_path_prefix(context)}/download/{quote(run_id, safe='')}/{quote(file_key, safe='')}"
    return CapturedLogsMetadata(
        stdout_download_url=f"{base}/stdout", stdout_location=paths[0],
        stderr_download_url=f"{base}/stderr", stderr_location=paths[1],
    )


# ---------- subscriptions ----------


@strawberry.type(name="PipelineRunLogsSubscriptionSuccess")
class PipelineRunLogsSubscriptionSuccess:
    run: Annotated["Run", strawberry.lazy("oprun.web.graphql.runs")]  # noqa: UP037 - Run is not imported at run time
    messages: list[DagsterRunEvent]
    has_more_past_events: bool
    cursor: str


@strawberry.type(name="PipelineRunLogsSubscriptionFailure")
class PipelineRunLogsSubscriptionFailure:
    message: str
    missing_run_id: str | None = None


PipelineRunLogsSubscriptionPayload = Annotated[
    PipelineRunLogsSubscriptionSuccess | PipelineRunLogsSubscriptionFailure, strawberry.union("PipelineRunLogsSubscriptionPayload")
]


async def run_log_chunks(context: WebContext, run_id: str, cursor: str | None) -> AsyncGenerator[PipelineRunLogsSubscriptionPayload, None]:
    """Dagster's pipelineRunLogs: the backlog after `cursor` in chunks, then the
    events as they are stored; ends once the run is finished and every event sent.
    `cursor` "HEAD" skips the backlog."""
    from oprun.web.graphql.runs import run_type
    from oprun.web.streams import tail_events

    if cursor not in (None, "", "HEAD") and not str(cursor).isdigit():
        yield PipelineRunLogsSubscriptionFailure(message=f"Invalid cursor {cursor!r}: pass a `cursor` this server sent, or HEAD.")
        return
    try:
        async for run, pairs, next_cursor, has_more in tail_events(context.instance, run_id, cursor, SUBSCRIPTION_CHUNK):
            if run is None:
                yield PipelineRunLogsSubscriptionFailure(message=f"Could not load run with id {run_id}", missing_run_id=run_id)
                return
            yield PipelineRunLogsSubscriptionSuccess(
                run=run_type(run), messages=[graphql_event(entry) for _, entry in pairs], has_more_past_events=has_more, cursor=next_cursor,
            )
    except (UnicodeError, ValueError) as error:  # a run id no run can have: said as the union's failure, not a GraphQL error
        yield PipelineRunLogsSubscriptionFailure(message=f"Could not load run with id {run_id!r}: {error}", missing_run_id=run_id)


async def captured_log_chunks(context: WebContext, log_key: list[str], cursor: str | None) -> AsyncGenerator[CapturedLogs, None]:
    """Dagster's capturedLogs subscription: what the step wrote after `cursor`,
    as it is written; ends once the run is finished and both files are read."""
    from oprun.web.streams import tail_compute_logs

    try:
        parse_log_cursor(cursor)
    except ValueError:  # not a cursor this server gave: no logs at it (as the capturedLogs query)
        yield CapturedLogs(log_key=list(log_key))
        return
    async for stdout, stderr, next_cursor in tail_compute_logs(context.instance, log_key, cursor):
        yield CapturedLogs(log_key=list(log_key), stdout=stdout, stderr=stderr, cursor=next_cursor)


# ---------- root fields ----------


def _logs_for_run(
    info: Info,
    run_id: strawberry.ID,
    after_cursor: str | None = None,
    limit: int | None = None,
    min_level: Annotated[LogLevel | None, strawberry.argument(description="oprun: only events at this level or above.")] = None,
    step_keys: Annotated[list[str] | None, strawberry.argument(description="oprun: only events of these steps.")] = None,
    event_types: Annotated[list[DagsterEventType] | None, strawberry.argument(description="oprun: only events of these types.")] = None,
) -> EventConnectionOrError:
    return logs_for_run(info.context, str(run_id), after_cursor, limit, min_level, step_keys, event_types)


def _captured_logs(info: Info, log_key: list[str], cursor: str | None = None, limit: int | None = None) -> CapturedLogs:
    return read_captured_logs(info.context.instance, log_key, cursor, limit)


def _captured_logs_metadata(info: Info, log_key: list[str]) -> CapturedLogsMetadata:
    return captured_logs_metadata(info.context, log_key)


@strawberry.type
class EventQueries:
    logs_for_run: EventConnectionOrError = strawberry.field(
        resolver=_logs_for_run, description="Retrieve event logs after applying a run id filter, cursor, and limit."
    )
    captured_logs: CapturedLogs = strawberry.field(
        resolver=_captured_logs, description="Captured logs are the stdout/stderr logs for a given log key"
    )
    captured_logs_metadata: CapturedLogsMetadata = strawberry.field(
        resolver=_captured_logs_metadata, description="Retrieve the captured log metadata for a given log key."
    )


@strawberry.type
class EventSubscriptions:
    @strawberry.subscription(description="Retrieve real-time event logs after applying a filter on run id and cursor.")  # type: ignore[untyped-decorator]
    async def pipeline_run_logs(
        self, info: Info, run_id: strawberry.ID, cursor: str | None = None
    ) -> AsyncGenerator[PipelineRunLogsSubscriptionPayload, None]:
        async for payload in run_log_chunks(info.context, str(run_id), cursor):
            yield payload

    @strawberry.subscription(description="Retrieve real-time compute logs.")  # type: ignore[untyped-decorator]
    async def captured_logs(self, info: Info, log_key: list[str], cursor: str | None = None) -> AsyncGenerator[CapturedLogs, None]:
        async for chunk in captured_log_chunks(info.context, log_key, cursor):
            yield chunk
