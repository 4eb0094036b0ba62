"""Live updates against `oprun webserver` in a subprocess: a run's events as
server-sent events (httpx), resumed with Last-Event-ID mid-run with nothing lost
or repeated, a step's compute logs streamed, and the GraphQL subscriptions over
a real websocket in both subprotocols (the legacy `graphql-ws` that Dagster's UI
speaks, and `graphql-transport-ws`); and the guards over both: the token, a
foreign Origin, the Host check.

The runs execute in this test's process, on the same instance as the server's,
so a test decides when a step may finish (`web_event_jobs.GO`)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from oprun import DagsterInstance
from oprun.runs import make_new_run_id
from tests.fixtures import web_event_jobs
from tests.waiting import wait_for
from tests.web.test_server import Server, start

websockets_sync = pytest.importorskip(
    "websockets.sync.client", reason="the `websockets` package serves and speaks websockets (uvicorn's websocket support)"
)

RUN_LOGS = """
subscription RunLogs($runId: ID!, $cursor: String) {
  pipelineRunLogs(runId: $runId, cursor: $cursor) {
    __typename
    ... on PipelineRunLogsSubscriptionSuccess {
      run { runId status }
      hasMorePastEvents
      cursor
      messages { __typename ... on MessageEvent { eventType message stepKey } }
    }
    ... on PipelineRunLogsSubscriptionFailure { message missingRunId }
  }
}
"""


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[Server, Any]]:
    """A server and the instance it serves, open in this process too."""
    server = start(tmp_path)
    instance = DagsterInstance.from_directory(str(tmp_path / "home"))
    web_event_jobs.GO.clear()
    try:
        yield server, instance
    finally:
        web_event_jobs.GO.set()  # never leave a run waiting
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()
        instance.dispose()


def _start_run(instance: Any, job: Any) -> tuple[str, threading.Thread]:
    run_id = make_new_run_id()
    thread = threading.Thread(target=lambda: job.execute_in_process(instance=instance, run_id=run_id, raise_on_error=False), daemon=True)
    thread.start()
    wait_for(lambda: instance.get_run_by_id(run_id) is not None, 30)
    return run_id, thread


def _sse_events(response: httpx.Response) -> Iterator[dict[str, str]]:
    """Each server-sent event of a streamed response: {"event", "data", "id"?}."""
    fields: dict[str, str] = {}
    for line in response.iter_lines():
        if not line:
            if "event" in fields or "data" in fields:
                yield fields
            fields = {}
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        fields[name] = value.removeprefix(" ")


def _stored_ids(instance: Any, run_id: str) -> list[str]:
    return [str(r.storage_id) for r in instance.get_records_for_run(run_id).records]


# ---------- server-sent events ----------


def test_run_events_stream_live_and_resume_with_last_event_id(live: tuple[Server, Any]) -> None:
    server, instance = live
    run_id, thread = _start_run(instance, web_event_jobs.gated_job)
    url = f"{server.url}/api/runs/{run_id}/events"

    first: list[dict[str, str]] = []
    statuses: list[str] = []
    with httpx.stream("GET", url, timeout=30) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for event in _sse_events(response):
            if event["event"] == "status":
                statuses.append(json.loads(event["data"])["status"])
                continue
            assert event["event"] == "event"
            first.append(event)
            if json.loads(event["data"])["message"] == "waiting for the test":
                break  # the step is blocked: drop the connection mid-run
    assert statuses and statuses[0] == "STARTED"
    assert thread.is_alive()
    last_id = first[-1]["id"]

    second: list[dict[str, str]] = []
    with httpx.stream("GET", url, headers={"last-event-id": last_id}, timeout=30) as response:
        web_event_jobs.GO.set()  # let the run finish while this stream tails it
        for event in _sse_events(response):
            if event["event"] == "status":
                statuses.append(json.loads(event["data"])["status"])
            elif event["event"] == "event":
                second.append(event)
            else:
                assert event["event"] == "end"
                assert json.loads(event["data"])["status"] == "SUCCESS"
                break
    thread.join(30)

    received = [e["id"] for e in first + second]
    assert received == _stored_ids(instance, run_id)  # every event, once, in order
    assert statuses[-1] == "SUCCESS"
    summaries = [json.loads(e["data"]) for e in first + second]
    assert summaries[0]["__typename"] == "RunStartEvent" and summaries[-1]["eventType"] == "RUN_SUCCESS"
    assert all(s["cursor"] == e["id"] and s["runId"] == run_id for s, e in zip(summaries, first + second, strict=True))
    assert {"timestamp", "level", "stepKey", "message", "error"} <= set(summaries[0])


def test_after_query_resumes_and_a_finished_run_stream_ends(live: tuple[Server, Any]) -> None:
    server, instance = live
    result = web_event_jobs.failing_job.execute_in_process(instance=instance, raise_on_error=False)
    ids = _stored_ids(instance, result.run_id)
    with httpx.stream("GET", f"{server.url}/api/runs/{result.run_id}/events", params={"after": ids[4]}, timeout=30) as response:
        events = list(_sse_events(response))
    assert [e["id"] for e in events if e["event"] == "event"] == ids[5:]
    assert events[0]["event"] == "status" and json.loads(events[0]["data"])["status"] == "FAILURE"
    assert events[-1]["event"] == "end"
    failure = next(json.loads(e["data"]) for e in events if e["event"] == "event" and '"STEP_FAILURE"' in e["data"])
    assert "explode got 41" in failure["error"]["message"]


def test_stream_errors_are_4xx(live: tuple[Server, Any]) -> None:
    server, _instance = live
    missing = httpx.get(f"{server.url}/api/runs/no-such-run/events", timeout=30)
    assert missing.status_code == 404 and "could not be found" in missing.json()["errors"][0]["message"]
    bad = httpx.get(f"{server.url}/api/runs/x/events", params={"after": "abc"}, timeout=30)
    assert bad.status_code == 400
    # a subscription sent over POST: told where subscriptions are served
    posted = server.post(json.dumps({"query": 'subscription { pipelineRunLogs(runId: "x") { __typename } }'}))
    assert posted.status_code == 400 and "websocket" in posted.json()["errors"][0]["message"]


def test_compute_logs_stream_and_download(live: tuple[Server, Any]) -> None:
    server, instance = live
    run_id, thread = _start_run(instance, web_event_jobs.gated_job)
    url = f"{server.url}/api/runs/{run_id}/logs/wait_for_go"
    wait_for(lambda: any(e.message == "waiting for the test" for e in instance.all_logs(run_id)), 30)
    stdout = ""
    cursors: list[str] = []
    with httpx.stream("GET", url, timeout=30) as response:
        assert response.status_code == 200
        for event in _sse_events(response):
            if event["event"] == "stdout":
                stdout += json.loads(event["data"])
                cursors.append(event["id"])
                if "waiting" in stdout:
                    web_event_jobs.GO.set()
            if event["event"] == "end":
                break
    thread.join(30)
    assert stdout == "waiting\ngoing\n"
    # resuming from the first cursor sends only what came after it
    with httpx.stream("GET", url, headers={"last-event-id": cursors[0]}, timeout=30) as response:
        rest = "".join(json.loads(e["data"]) for e in _sse_events(response) if e["event"] == "stdout")
    assert stdout.startswith("waiting\n") and rest == stdout[int(cursors[0].split(":")[0]):]

    download = httpx.get(f"{server.url}/download/{run_id}/wait_for_go/stdout", timeout=30)
    assert download.status_code == 200 and download.text == "waiting\ngoing\n"
    assert httpx.get(f"{server.url}/download/{run_id}/wait_for_go/other", timeout=30).status_code == 404
    assert httpx.get(f"{server.url}/download/{run_id}/..%2F..%2Fx/stdout", timeout=30).status_code == 404


# ---------- GraphQL subscriptions over a websocket ----------


def _ws_url(server: Server) -> str:
    return server.url.replace("http://", "ws://") + "/graphql"


def _legacy_subscription(
    server: Server, query: str, variables: dict[str, Any], on_payload: Any = None, **connect: Any
) -> list[dict[str, Any]]:
    """Every payload of one subscription over subscriptions-transport-ws (`graphql-ws`);
    `on_payload(payload)` is called as each arrives."""
    payloads = []
    with websockets_sync.connect(_ws_url(server), subprotocols=["graphql-ws"], open_timeout=30, **connect) as ws:
        assert ws.subprotocol == "graphql-ws"
        ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(ws.recv(timeout=30))["type"] == "connection_ack"
        ws.send(json.dumps({"id": "1", "type": "start", "payload": {"query": query, "variables": variables}}))
        while True:
            message = json.loads(ws.recv(timeout=30))
            if message["type"] == "ka":
                continue
            if message["type"] == "complete":
                return payloads
            assert message["type"] == "data", message
            assert "errors" not in message["payload"], message
            payloads.append(message["payload"]["data"])
            if on_payload is not None:
                on_payload(payloads[-1])


def test_pipeline_run_logs_over_the_legacy_graphql_ws_protocol(live: tuple[Server, Any]) -> None:
    server, instance = live
    run_id, thread = _start_run(instance, web_event_jobs.gated_job)
    wait_for(lambda: any(e.message == "waiting for the test" for e in instance.all_logs(run_id)), 30)
    # the backlog arrives while the step waits; then the run goes on, and the subscription tails it
    payloads = _legacy_subscription(server, RUN_LOGS, {"runId": run_id}, on_payload=lambda _payload: web_event_jobs.GO.set())
    thread.join(30)
    chunks = [p["pipelineRunLogs"] for p in payloads]
    assert all(c["__typename"] == "PipelineRunLogsSubscriptionSuccess" for c in chunks)
    assert chunks[0]["run"]["status"] == "STARTED" and chunks[-1]["run"]["status"] == "SUCCESS"
    types = [m["eventType"] for c in chunks for m in c["messages"]]
    assert len(types) == len(_stored_ids(instance, run_id))
    assert types[0] == "RUN_START" and types[-1] == "RUN_SUCCESS"
    assert chunks[-1]["cursor"] == _stored_ids(instance, run_id)[-1]


def test_subscriptions_over_graphql_transport_ws(live: tuple[Server, Any]) -> None:
    server, instance = live
    result = web_event_jobs.failing_job.execute_in_process(instance=instance, raise_on_error=False)
    with websockets_sync.connect(_ws_url(server), subprotocols=["graphql-transport-ws"], open_timeout=30) as ws:
        assert ws.subprotocol == "graphql-transport-ws"
        ws.send(json.dumps({"type": "connection_init"}))
        assert json.loads(ws.recv(timeout=30))["type"] == "connection_ack"
        ws.send(json.dumps({"id": "a", "type": "subscribe", "payload": {"query": RUN_LOGS, "variables": {"runId": result.run_id, "cursor": "3"}}}))
        ws.send(json.dumps({"id": "b", "type": "subscribe", "payload": {
            "query": "subscription($k: [String!]!) { capturedLogs(logKey: $k) { stdout stderr cursor } }",
            "variables": {"k": [result.run_id, "compute_logs", "produce"]},
        }}))
        ws.send(json.dumps({"id": "c", "type": "subscribe", "payload": {"query": RUN_LOGS, "variables": {"runId": "missing"}}}))
        # queries and mutations go over POST only
        ws.send(json.dumps({"id": "d", "type": "subscribe", "payload": {"query": "{ __typename }"}}))
        done: dict[str, list[Any]] = {}
        while len([k for k in done if done[k][-1] in ("complete", "error")]) < 4:
            message = json.loads(ws.recv(timeout=30))
            done.setdefault(message["id"], []).append(message.get("payload"))
            if message["type"] in ("complete", "error"):  # an error ends its operation too
                done[message["id"]].append(message["type"])
    logs = [p["data"]["pipelineRunLogs"] for p in done["a"][:-2]]
    assert logs[0]["hasMorePastEvents"] is False and logs[0]["run"]["status"] == "FAILURE"
    assert [m["eventType"] for m in logs[0]["messages"]][-2:] == ["STEP_FAILURE", "RUN_FAILURE"]
    assert len(logs[0]["messages"]) == len(_stored_ids(instance, result.run_id)) - 3
    captured = done["b"][0]["data"]["capturedLogs"]
    assert captured["stdout"] == "hello from produce\n" and captured["stderr"] == "a warning on stderr\n"
    assert captured["cursor"] == "19:20"
    assert done["c"][0]["data"]["pipelineRunLogs"] == {"__typename": "PipelineRunLogsSubscriptionFailure", "message": "Could not load run with id missing", "missingRunId": "missing"}
    assert done["d"][-1] == "error" and done["d"][0][0]["message"]  # a query is not run over the websocket


# ---------- the guards cover the streams ----------


def test_a_foreign_origin_is_refused_on_the_websocket_and_the_streams(live: tuple[Server, Any]) -> None:
    from websockets.exceptions import InvalidStatus

    server, instance = live
    result = web_event_jobs.failing_job.execute_in_process(instance=instance, raise_on_error=False)
    with pytest.raises(InvalidStatus) as refused:
        websockets_sync.connect(_ws_url(server), subprotocols=["graphql-ws"], origin="https://evil.example", open_timeout=30)
    assert refused.value.response.status_code == 403
    same_origin = server.url
    payloads = _legacy_subscription(server, RUN_LOGS, {"runId": result.run_id}, origin=same_origin)
    assert payloads[0]["pipelineRunLogs"]["run"]["status"] == "FAILURE"

    # the Host check covers the websocket too (a handshake by hand: the client sets Host itself)
    handshake = {"connection": "Upgrade", "upgrade": "websocket", "sec-websocket-version": "13",
                 "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-protocol": "graphql-ws"}
    assert httpx.get(_ws_url(server).replace("ws://", "http://"), headers={**handshake, "host": "attacker.example"}, timeout=30).status_code == 403
    assert httpx.get(_ws_url(server).replace("ws://", "http://"), headers=handshake, timeout=30).status_code == 101

    sse = httpx.get(f"{server.url}/api/runs/{result.run_id}/events", headers={"origin": "https://evil.example"}, timeout=30)
    assert sse.status_code == 403
    assert httpx.get(f"{server.url}/api/runs/{result.run_id}/events", headers={"host": "attacker.example"}, timeout=30).status_code == 400


def test_with_a_token_the_websocket_and_the_streams_need_it(tmp_path: Path) -> None:
    from websockets.exceptions import InvalidStatus

    server = start(tmp_path, "--token", "s3cret-token")
    instance = DagsterInstance.from_directory(str(tmp_path / "home"))
    try:
        result = web_event_jobs.failing_job.execute_in_process(instance=instance, raise_on_error=False)
        with pytest.raises(InvalidStatus) as refused:
            websockets_sync.connect(_ws_url(server), subprotocols=["graphql-ws"], open_timeout=30)
        assert refused.value.response.status_code == 403
        payloads = _legacy_subscription(server, RUN_LOGS, {"runId": result.run_id}, additional_headers={"authorization": "Bearer s3cret-token"})
        assert payloads[0]["pipelineRunLogs"]["run"]["status"] == "FAILURE"
        payloads = _legacy_subscription(server, RUN_LOGS, {"runId": result.run_id}, additional_headers={"cookie": "oprun_token=s3cret-token"})
        assert payloads[0]["pipelineRunLogs"]["__typename"] == "PipelineRunLogsSubscriptionSuccess"

        url = f"{server.url}/api/runs/{result.run_id}/events"
        assert httpx.get(url, timeout=30).status_code == 401
        assert httpx.get(f"{server.url}/api/runs/{result.run_id}/logs/produce", timeout=30).status_code == 401
        assert httpx.get(f"{server.url}/download/{result.run_id}/produce/stdout", timeout=30).status_code == 401
        with httpx.stream("GET", url, headers={"authorization": "Bearer s3cret-token"}, timeout=30) as response:
            assert response.status_code == 200
            assert list(_sse_events(response))[-1]["event"] == "end"
    finally:
        server.process.kill()
        server.process.wait()
        instance.dispose()


def test_a_compute_log_stream_resumes_between_stdout_and_stderr(live: tuple[Server, Any]) -> None:
    server, instance = live
    result = web_event_jobs.failing_job.execute_in_process(instance=instance, raise_on_error=False)
    url = f"{server.url}/api/runs/{result.run_id}/logs/produce"
    with httpx.stream("GET", url, timeout=30) as response:
        events = [e for e in _sse_events(response) if e["event"] != "end"]
    assert [(e["event"], json.loads(e["data"]), e["id"]) for e in events] == [
        ("stdout", "hello from produce\n", "19:0"),
        ("stderr", "a warning on stderr\n", "19:20"),
    ]
    # dropped right after the stdout event: the reconnect still gets the stderr part, and nothing twice
    with httpx.stream("GET", url, headers={"last-event-id": "19:0"}, timeout=30) as response:
        rest = [(e["event"], json.loads(e["data"])) for e in _sse_events(response) if e["event"] != "end"]
    assert rest == [("stderr", "a warning on stderr\n")]
    assert httpx.get(url, params={"after": "bad"}, timeout=30).status_code == 400
    assert httpx.get(f"{server.url}/api/runs/nope/logs/produce", timeout=30).status_code == 404


def test_a_tail_reports_a_status_change_and_keeps_an_idle_stream_alive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In process: a run that stores no event still shows its status changes,
    and an idle stream yields its heartbeat; the stream ends once the run is finished."""
    import asyncio

    import anyio.to_thread

    from oprun.runs import DagsterRunStatus
    from oprun.web import streams

    monkeypatch.setattr(streams, "POLL_INTERVAL_SECONDS", 0.01)
    instance = DagsterInstance.from_directory(str(tmp_path))
    try:
        run = instance.create_run_for_job(web_event_jobs.gated_job)

        async def collect() -> list[tuple[str, int]]:
            seen: list[tuple[str, int]] = []
            async for current, pairs, _cursor, _more in streams.tail_events(instance, run.run_id, None, 10, heartbeat_seconds=0):
                seen.append((current.status.value, len(pairs)))
                if len(seen) == 3:  # finished without an event of its own
                    await anyio.to_thread.run_sync(instance.update_run_status, run.run_id, DagsterRunStatus.CANCELED)
            return seen

        seen = asyncio.run(collect())
        assert seen[:3] == [("NOT_STARTED", 0)] * 3
        assert seen[-1] == ("CANCELED", 0) and len(seen) <= 5
    finally:
        instance.dispose()
