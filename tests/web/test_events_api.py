"""A run's event log and compute logs through the GraphQL schema, on a real
SQLite instance: `logsForRun` pages by the storage cursor (with oprun's
filters), every event becomes its Dagster type with its fields and metadata
entries, `capturedLogs` reads a step's stdout and stderr from a cursor, and the
`pipelineRunLogs` subscription sends a long backlog in chunks."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from oprun import DagsterInstance
from oprun.daemon.base import Workspace
from oprun.events import DagsterEventType as OprunEventType, EventLogEntry
from oprun.web.context import WebContext
from oprun.web.graphql import events as ev
from oprun.web.schema import build_schema
from tests.fixtures import web_event_jobs

SCHEMA = build_schema()

LOGS = """
query Logs($runId: ID!, $after: String, $limit: Int, $minLevel: LogLevel, $stepKeys: [String!], $types: [DagsterEventType!]) {
  logsForRun(runId: $runId, afterCursor: $after, limit: $limit, minLevel: $minLevel, stepKeys: $stepKeys, eventTypes: $types) {
    __typename
    ... on EventConnection {
      cursor
      hasMore
      events {
        __typename
        ... on MessageEvent { runId message timestamp level stepKey solidHandleID eventType }
        ... on ErrorEvent { error { message stack } }
        ... on ExecutionStepFailureEvent { errorSource failureMetadata { description } }
        ... on DisplayableEvent {
          label
          metadataEntries {
            __typename label description
            ... on TextMetadataEntry { text }
            ... on IntMetadataEntry { intValue intRepr }
            ... on FloatMetadataEntry { floatValue }
            ... on BoolMetadataEntry { boolValue }
            ... on UrlMetadataEntry { url }
            ... on PathMetadataEntry { path }
            ... on MarkdownMetadataEntry { mdStr }
            ... on JsonMetadataEntry { jsonString }
          }
        }
        ... on ExecutionStepOutputEvent { outputName typeCheck { success label } }
        ... on ExecutionStepInputEvent { inputName typeCheck { success } }
        ... on LoadedInputEvent { inputName managerKey upstreamOutputName upstreamStepKey }
        ... on HandledOutputEvent { outputName managerKey }
        ... on LogsCapturedEvent { fileKey logKey stepKeys pid }
        ... on RunEvent { pipelineName }
      }
    }
    ... on RunNotFoundError { runId message }
    ... on PythonError { message }
  }
}
"""

CAPTURED = """
query Captured($key: [String!]!, $cursor: String, $limit: Int) {
  capturedLogs(logKey: $key, cursor: $cursor, limit: $limit) { logKey stdout stderr cursor }
  capturedLogsMetadata(logKey: $key) { stdoutDownloadUrl stdoutLocation stderrDownloadUrl stderrLocation }
}
"""


@pytest.fixture(scope="module")
def failed_run(tmp_path_factory: pytest.TempPathFactory) -> Any:
    instance = DagsterInstance.from_directory(str(tmp_path_factory.mktemp("home")))
    result = web_event_jobs.failing_job.execute_in_process(instance=instance, raise_on_error=False)
    yield instance, result.run_id
    instance.dispose()


def _ask(instance: Any, query: str, **variables: Any) -> dict[str, Any]:
    result = SCHEMA.execute_sync(query, variable_values=variables, context_value=WebContext(instance=instance, workspace=Workspace([])))
    assert result.errors is None, result.errors
    assert result.data is not None
    return result.data


def _logs(instance: Any, run_id: str, **variables: Any) -> dict[str, Any]:
    return _ask(instance, LOGS, runId=run_id, **variables)["logsForRun"]


def test_every_event_is_its_dagster_type(failed_run: Any) -> None:
    instance, run_id = failed_run
    page = _logs(instance, run_id)
    assert page["__typename"] == "EventConnection" and page["hasMore"] is False
    events = page["events"]
    stored = instance.get_records_for_run(run_id).records
    assert page["cursor"] == str(stored[-1].storage_id) and len(events) == len(stored)
    assert [e["__typename"] for e in events] == [
        "RunStartEvent", "ResourceInitStartedEvent", "ResourceInitSuccessEvent",
        "LogsCapturedEvent", "ExecutionStepStartEvent", "LogMessageEvent", "ExecutionStepOutputEvent",
        "HandledOutputEvent", "ExecutionStepSuccessEvent",
        "LogsCapturedEvent", "ExecutionStepStartEvent", "LoadedInputEvent", "ExecutionStepInputEvent",
        "ExecutionStepFailureEvent", "RunFailureEvent",
    ]
    for event, record in zip(events, stored, strict=True):
        assert event["runId"] == run_id
        assert event["timestamp"] == str(int(record.event_log_entry.timestamp * 1000))
    start = events[0]
    assert start["eventType"] == "RUN_START" and start["pipelineName"] == "failing_job" and start["stepKey"] is None
    log = events[5]
    assert log == {**log, "message": "produced a number", "level": "INFO", "stepKey": "produce", "eventType": None}
    failure = events[13]
    assert failure["level"] == "ERROR" and failure["stepKey"] == "explode" and failure["solidHandleID"] == "explode"
    assert failure["errorSource"] == "USER_CODE_ERROR" and failure["failureMetadata"] is None
    assert failure["error"]["message"] == "ValueError: explode got 41" and any("explode" in line for line in failure["error"]["stack"])
    # a run that failed because a step did carries no error of its own (the step's event has it)
    assert events[14]["error"] is None and "Steps failed: ['explode']" in events[14]["message"]
    captured = events[3]
    assert captured["fileKey"] == captured["logKey"] == "produce" and captured["stepKeys"] == ["produce"] and captured["pid"]
    loaded = events[11]
    assert loaded["inputName"] == "number" and loaded["managerKey"] == "io_manager"
    assert loaded["upstreamOutputName"] == "result" and loaded["upstreamStepKey"] == "produce"
    assert events[12]["inputName"] == "number" and events[12]["typeCheck"]["success"] is True


def test_metadata_entries_render_as_their_dagster_types(failed_run: Any) -> None:
    instance, run_id = failed_run
    output = next(e for e in _logs(instance, run_id)["events"] if e["__typename"] == "ExecutionStepOutputEvent")
    assert output["outputName"] == "result" and output["typeCheck"] == {"success": True, "label": "result"}
    entries = {e["label"]: e for e in output["metadataEntries"]}
    assert entries["text"] == {"__typename": "TextMetadataEntry", "label": "text", "description": None, "text": "some text"}
    assert entries["count"] == {"__typename": "IntMetadataEntry", "label": "count", "description": None, "intValue": 3, "intRepr": "3"}
    assert entries["ratio"]["floatValue"] == 0.5 and entries["ok"]["boolValue"] is True
    assert entries["doc"] == {"__typename": "MarkdownMetadataEntry", "label": "doc", "description": None, "mdStr": "# Title"}
    assert entries["link"]["url"] == "https://example.com" and entries["where"]["path"] == "/tmp/file.csv"
    assert json.loads(entries["payload"]["jsonString"]) == {"a": [1, 2]}


def test_metadata_values_of_every_kind() -> None:
    from oprun import MetadataValue

    big = ev.metadata_entry("big", MetadataValue.int(2**40))
    assert isinstance(big, ev.IntMetadataEntry) and big.int_value is None and big.int_repr == str(2**40)
    assert ev.metadata_entry("nan", MetadataValue.float(float("nan"))).float_value is None  # type: ignore[attr-defined]
    assert isinstance(ev.metadata_entry("none", None), ev.NullMetadataEntry)
    artifact = ev.metadata_entry("fn", MetadataValue.python_artifact(json.dumps))
    assert isinstance(artifact, ev.PythonArtifactMetadataEntry) and (artifact.module, artifact.name) == ("json", "dumps")
    table = ev.metadata_entry("t", MetadataValue.table([{"a": 1}]))
    assert isinstance(table, ev.JsonMetadataEntry) and json.loads(table.json_string)["records"] == [{"a": 1}]
    assert isinstance(ev.metadata_entry("raw", "text"), ev.TextMetadataEntry)


def test_pages_follow_the_storage_cursor(failed_run: Any) -> None:
    instance, run_id = failed_run
    seen: list[str] = []
    cursor = None
    while True:
        page = _logs(instance, run_id, after=cursor, limit=4)
        seen += [e["message"] for e in page["events"]]
        assert len(page["events"]) <= 4
        cursor = page["cursor"]
        if not page["hasMore"]:
            break
    assert seen == [e["message"] for e in _logs(instance, run_id)["events"]]
    # after the last event: nothing more, and the same cursor back
    last = _logs(instance, run_id, after=cursor)
    assert last["events"] == [] and last["cursor"] == cursor and last["hasMore"] is False


def test_server_side_filters(failed_run: Any) -> None:
    instance, run_id = failed_run
    errors = _logs(instance, run_id, minLevel="ERROR")["events"]
    assert [e["eventType"] for e in errors] == ["STEP_FAILURE", "RUN_FAILURE"]
    infos = _logs(instance, run_id, minLevel="INFO")["events"]
    assert [e["__typename"] for e in infos] == ["LogMessageEvent", "ExecutionStepFailureEvent", "RunFailureEvent"]
    explode = _logs(instance, run_id, stepKeys=["explode"])["events"]
    assert {e["stepKey"] for e in explode} == {"explode"} and len(explode) == 5
    typed = _logs(instance, run_id, types=["STEP_START", "STEP_SUCCESS"])["events"]
    assert [(e["eventType"], e["stepKey"]) for e in typed] == [("STEP_START", "produce"), ("STEP_SUCCESS", "produce"), ("STEP_START", "explode")]
    # a filtered page resumes after the last event it looked at
    first = _logs(instance, run_id, stepKeys=["explode"], limit=2)
    rest = _logs(instance, run_id, stepKeys=["explode"], after=first["cursor"])
    assert first["hasMore"] is True and [e["message"] for e in first["events"] + rest["events"]] == [e["message"] for e in explode]
    assert _logs(instance, run_id, types=["OBJECT_STORE_OPERATION"]) == {"__typename": "EventConnection", "cursor": "", "hasMore": False, "events": []}


def test_a_missing_run_and_a_bad_cursor_are_data(failed_run: Any) -> None:
    instance, run_id = failed_run
    missing = _logs(instance, "no-such-run")
    assert missing == {"__typename": "RunNotFoundError", "runId": "no-such-run", "message": "Pipeline run no-such-run could not be found."}
    bad = _logs(instance, run_id, after="not-a-cursor")
    assert bad["__typename"] == "PythonError" and "Invalid event cursor 'not-a-cursor'" in bad["message"]


def test_captured_logs_of_a_step(failed_run: Any) -> None:
    instance, run_id = failed_run
    key = [run_id, "compute_logs", "produce"]
    data = _ask(instance, CAPTURED, key=key)
    assert data["capturedLogs"] == {"logKey": key, "stdout": "hello from produce\n", "stderr": "a warning on stderr\n", "cursor": "19:20"}
    meta = data["capturedLogsMetadata"]
    assert meta["stdoutDownloadUrl"] == f"/download/{run_id}/produce/stdout" and meta["stderrDownloadUrl"].endswith("/produce/stderr")
    assert meta["stdoutLocation"].endswith("produce.out") and meta["stderrLocation"].endswith("produce.err")
    # in pieces, from a cursor
    part = _ask(instance, CAPTURED, key=key, limit=6)["capturedLogs"]
    assert (part["stdout"], part["stderr"], part["cursor"]) == ("hello ", "a warn", "6:6")
    rest = _ask(instance, CAPTURED, key=key, cursor=part["cursor"])["capturedLogs"]
    assert (rest["stdout"], rest["stderr"]) == ("from produce\n", "ing on stderr\n")
    # a step that wrote only stdout; and keys that name no step's logs
    explode = _ask(instance, CAPTURED, key=[run_id, "compute_logs", "explode"])["capturedLogs"]
    assert explode["stdout"] == "about to fail with 41\n" and explode["stderr"] is None
    for nowhere in ([run_id, "compute_logs", "nope"], ["no-run", "compute_logs", "produce"], [run_id, "produce"], [run_id, "compute_logs", "../../x"]):
        answer = _ask(instance, CAPTURED, key=nowhere)
        assert answer["capturedLogs"]["stdout"] is None and answer["capturedLogs"]["stderr"] is None, nowhere
    assert _ask(instance, CAPTURED, key=["no-run", "compute_logs", "produce"])["capturedLogsMetadata"]["stdoutLocation"] is None


def test_a_character_cut_by_the_limit_waits_for_the_next_read(tmp_path: Path) -> None:
    path = tmp_path / "log.out"
    path.write_text("añb€c", encoding="utf-8")  # ñ is 2 bytes, € is 3
    assert ev.read_log_chunk(str(path), 0, 2) == ("a", 1)
    assert ev.read_log_chunk(str(path), 1, 2) == ("ñ", 3)
    assert ev.read_log_chunk(str(path), 3, 3) == ("b", 4)
    assert ev.read_log_chunk(str(path), 4, 100) == ("€c", 8)
    assert ev.read_log_chunk(str(tmp_path / "none"), 0, 10) == (None, 0)


def test_the_event_type_enum_is_oprun_s_closed_set() -> None:
    oprun_names = {t.name for t in OprunEventType}
    graphql_names = {t.name for t in ev.DagsterEventType}
    assert graphql_names - oprun_names == {"OBJECT_STORE_OPERATION"}  # Dagster's; oprun records none
    assert oprun_names <= graphql_names
    # and every kind has its own GraphQL type
    for kind in OprunEventType:
        typed = ev._STEP_EVENT_TYPES.get(kind.value) or ev._RUN_EVENT_TYPES.get(kind.value)
        assert typed is not None or kind.value == "LOGS_CAPTURED", kind


def test_the_subscription_sends_a_long_backlog_in_chunks(tmp_path: Path) -> None:
    instance = DagsterInstance.from_directory(str(tmp_path))
    try:
        result = web_event_jobs.failing_job.execute_in_process(instance=instance, raise_on_error=False)
        stored = len(instance.get_records_for_run(result.run_id).records)
        now = time.time()
        instance.handle_new_events([EventLogEntry(result.run_id, now, 20, f"line {i}", "failing_job") for i in range(2500)])
        query = """subscription($runId: ID!, $cursor: String) { pipelineRunLogs(runId: $runId, cursor: $cursor) {
          ... on PipelineRunLogsSubscriptionSuccess { hasMorePastEvents cursor run { status } messages { __typename } } } }"""

        async def collect(cursor: str | None) -> list[dict[str, Any]]:
            context = WebContext(instance=instance, workspace=Workspace([]))
            stream = await SCHEMA.subscribe(query, variable_values={"runId": result.run_id, "cursor": cursor}, context_value=context)
            return [item.data["pipelineRunLogs"] async for item in stream]  # type: ignore[union-attr]

        chunks = asyncio.run(collect(None))
        assert [len(c["messages"]) for c in chunks] == [1000, 1000, stored + 500]
        assert [c["hasMorePastEvents"] for c in chunks] == [True, True, False]
        assert chunks[-1]["run"]["status"] == "FAILURE"
        head = asyncio.run(collect("HEAD"))
        assert head == [{"hasMorePastEvents": False, "cursor": chunks[-1]["cursor"], "run": {"status": "FAILURE"}, "messages": []}]
    finally:
        instance.dispose()


def test_bad_cursors_and_impossible_keys_are_data(failed_run: Any) -> None:
    instance, run_id = failed_run
    key = [run_id, "compute_logs", "produce"]
    assert _ask(instance, CAPTURED, key=key, cursor="nope")["capturedLogs"] == {"logKey": key, "stdout": None, "stderr": None, "cursor": None}
    assert _ask(instance, CAPTURED, key=["\ud800", "compute_logs", "x"])["capturedLogs"]["stdout"] is None
    query = """subscription($runId: ID!, $cursor: String) { pipelineRunLogs(runId: $runId, cursor: $cursor) {
      __typename ... on PipelineRunLogsSubscriptionFailure { message missingRunId } } }"""

    async def first(run: str, cursor: str | None) -> dict[str, Any]:
        context = WebContext(instance=instance, workspace=Workspace([]))
        stream = await SCHEMA.subscribe(query, variable_values={"runId": run, "cursor": cursor}, context_value=context)
        items = [item async for item in stream]  # type: ignore[union-attr]
        assert len(items) == 1 and items[0].errors is None, items
        return items[0].data["pipelineRunLogs"]  # type: ignore[no-any-return]

    bad_cursor = asyncio.run(first(run_id, "x1"))
    assert bad_cursor["__typename"] == "PipelineRunLogsSubscriptionFailure" and "Invalid cursor 'x1'" in bad_cursor["message"]
    impossible = asyncio.run(first("\ud800", None))
    assert impossible["__typename"] == "PipelineRunLogsSubscriptionFailure" and impossible["missingRunId"] == "\ud800"


def test_asset_expectation_retry_hook_and_failure_events(tmp_path: Path) -> None:
    instance = DagsterInstance.from_directory(str(tmp_path))
    try:
        run_id = web_event_jobs.reporting_job.execute_in_process(instance=instance, raise_on_error=False).run_id
        query = LOGS.replace("... on RunEvent { pipelineName }", """... on RunEvent { pipelineName }
          ... on MaterializationEvent { assetKey { path } partition tags { key value } }
          ... on ObservationEvent { assetKey { path } }
          ... on StepExpectationResultEvent { expectationResult { success label description metadataEntries { label } } }
          ... on ExecutionStepUpForRetryEvent { secondsToWait }""")
        events = _ask(instance, query, runId=run_id)["logsForRun"]["events"]
        by_type: dict[str, list[dict[str, Any]]] = {}
        for event in events:
            by_type.setdefault(event["__typename"], []).append(event)
        materialized = by_type["MaterializationEvent"][0]
        assert materialized["assetKey"] == {"path": ["warehouse", "table"]} and materialized["label"] == "warehouse table"
        assert materialized["partition"] == "2024-01-01" and materialized["tags"] == [{"key": "t", "value": "v"}]
        assert materialized["metadataEntries"][0] == {"__typename": "IntMetadataEntry", "label": "rows", "description": None, "intValue": 10, "intRepr": "10"}
        assert by_type["ObservationEvent"][0]["metadataEntries"][0]["boolValue"] is True
        expectation = by_type["StepExpectationResultEvent"][0]["expectationResult"]
        assert expectation == {"success": False, "label": "non_empty", "description": "rows > 0", "metadataEntries": [{"label": "rows"}]}
        retry = by_type["ExecutionStepUpForRetryEvent"][0]
        assert retry["error"]["message"] == "Exception: first attempt fails" and retry["secondsToWait"] == 0
        assert by_type["ExecutionStepRestartEvent"][0]["stepKey"] == "report"
        assert by_type["HookCompletedEvent"][0]["stepKey"] == "report" and by_type["HookSkippedEvent"][0]["stepKey"] == "give_up"
        failure = by_type["ExecutionStepFailureEvent"][0]
        assert failure["failureMetadata"] == {"description": "gave up on purpose"} and failure["errorSource"] == "USER_CODE_ERROR"
    finally:
        instance.dispose()
