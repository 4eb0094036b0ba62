"""The event log of a 10,000-op run, streamed to a client: the time until every
event is delivered, and how much the server's memory grows meanwhile.

The finished run and its events (RUN_START; STEP_START, STEP_OUTPUT and
STEP_SUCCESS per op; RUN_SUCCESS) are stored through each package's instance
(web_seed.py; not timed, kept for the later samples). Then the server is
started on that home and the whole log is read from the start:

- Dagster: the UI's `pipelineRunLogs` subscription over a websocket, in the
  legacy `graphql-ws` protocol Dagster's UI speaks; the backlog comes in chunks.
- oprun: the same subscription over a websocket when the server offers one
  (its own `graphql-transport-ws` or the legacy protocol), else the server-sent
  events endpoint `GET /api/runs/{runId}/events`.

`rss_growth_bytes` is the server process's peak RSS while streaming (sampled
every 10 ms) less its RSS just before: flat memory means the server does not
hold the whole log. `events_missing` must be 0.

Usage: ``web_event_stream.py PACKAGE [OPS=10000]``.
"""

import json
import os
import time
import urllib.request

from _common import Unavailable, check, int_arg, run
from web_common import RssSampler, lists_job, prepare_home, quiet_stdout, rss_bytes, serving
from web_seed import read_mark, seed_run_events, seeded

SUBSCRIPTION = """
subscription RunLogs($runId: ID!, $cursor: String) {
  pipelineRunLogs(runId: $runId, cursor: $cursor) {
    __typename
    ... on PipelineRunLogsSubscriptionSuccess {
      messages { __typename ... on MessageEvent { runId message timestamp level stepKey eventType } }
      hasMorePastEvents
      cursor
    }
    ... on PipelineRunLogsSubscriptionFailure { message missingRunId }
  }
}
"""

STREAM_TIMEOUT_S = 600.0


def _websocket_count(server, run_id, expected, protocol):
    """Events delivered over the `pipelineRunLogs` subscription until `expected`
    have come (or the time-out)."""
    from websockets.sync.client import connect

    url = server.url.replace("http://", "ws://") + "/graphql"
    legacy = protocol == "graphql-ws"
    seen = 0
    with connect(url, subprotocols=[protocol], max_size=None, open_timeout=30) as ws:
        ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        payload = {"query": SUBSCRIPTION, "variables": {"runId": run_id, "cursor": None}}
        ws.send(json.dumps({"id": "1", "type": "start" if legacy else "subscribe", "payload": payload}))
        deadline = time.monotonic() + STREAM_TIMEOUT_S
        while seen < expected and time.monotonic() < deadline:
            message = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if message.get("type") in ("error", "connection_error"):
                raise AssertionError(f"subscription refused: {message}")
            if message.get("type") not in ("data", "next"):
                continue
            body = message["payload"]
            check(not body.get("errors"), f"subscription errors: {body.get('errors')}")
            result = body["data"]["pipelineRunLogs"]
            check(result["__typename"] == "PipelineRunLogsSubscriptionSuccess", f"subscription failed: {result}")
            seen += len(result["messages"])
    return seen


def _sse_count(server, run_id, expected):
    """Events delivered by `GET /api/runs/{runId}/events` (server-sent events):
    each message named `event` (or unnamed) carries one event, or a list of them;
    other names (`status`, `end`) are not events; `end` closes the stream."""
    request = urllib.request.Request(f"{server.url}/api/runs/{run_id}/events", headers={"Accept": "text/event-stream"})
    seen = 0
    deadline = time.monotonic() + STREAM_TIMEOUT_S
    name, data = None, []
    with urllib.request.urlopen(request, timeout=60) as response:
        check("text/event-stream" in response.headers.get("content-type", ""), "not an event stream")
        for raw in response:
            line = raw.decode().rstrip("\r\n")
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
            elif not line:  # the end of one message
                if data and name in (None, "event", "message", "events"):
                    value = json.loads("\n".join(data))
                    seen += len(value) if isinstance(value, list) else 1
                ended = name == "end"
                name, data = None, []
                if ended or seen >= expected or time.monotonic() > deadline:
                    break
    return seen


def _oprun_transport(server):
    """How this oprun server streams: ('ws', protocol) or ('sse', None)."""
    try:
        import websockets.sync.client  # noqa: F401 - only to know whether the client can speak websockets
    except ImportError:
        websockets_client = False
    else:
        websockets_client = True
    if websockets_client:
        from websockets.sync.client import connect

        for protocol in ("graphql-ws", "graphql-transport-ws"):  # Dagster's UI's protocol first, as on its side
            try:
                with connect(server.url.replace("http://", "ws://") + "/graphql", subprotocols=[protocol], open_timeout=5):
                    return "ws", protocol
            except Exception:  # noqa: BLE001 - refused: try the next way
                continue
    try:
        with urllib.request.urlopen(urllib.request.Request(f"{server.url}/api/runs/none/events", method="GET"), timeout=10):
            return "sse", None
    except urllib.error.HTTPError as error:
        if error.code != 404 or "text/event-stream" in error.headers.get("content-type", ""):
            return "sse", None
        body = error.read().decode(errors="replace")
        if "Not found. GraphQL is at" in body:  # the app's catch-all: no such route
            raise Unavailable("the server streams events neither over a websocket nor at /api/runs/{id}/events yet") from None
        return "sse", None


def _measure(server, stream):
    """(seconds, events delivered, peak RSS growth) of one full read of the log."""
    baseline = rss_bytes(server.process.pid)
    start = time.perf_counter()
    with RssSampler(server.process.pid) as sampler:
        seen = stream()
    return time.perf_counter() - start, seen, max(0, sampler.peak - baseline), baseline


def scenario(package):
    ops = int_arg(1, 10_000)
    home = os.path.join(os.getcwd(), f"web_events_{ops}")
    module = prepare_home(home, package)
    if not seeded(home):
        restore = quiet_stdout()
        try:
            seed_run_events(package, home, ops)
        finally:
            restore()
    facts = read_mark(home)
    run_id, expected = facts["run_id"], facts["events"]
    unavailable = {}
    with serving(package, module, home) as server:
        server.wait_first_answer(ready=lists_job("tiny_job"))
        transport, protocol = ("ws", "graphql-ws") if package == "dagster" else _oprun_transport(server)
        if transport == "ws":
            elapsed, seen, growth, baseline = _measure(server, lambda: _websocket_count(server, run_id, expected, protocol))
        else:
            elapsed, seen, growth, baseline = _measure(server, lambda: _sse_count(server, run_id, expected))
        metrics = {
            "transport": [transport if protocol is None else f"{transport} ({protocol})"],
            "stream_s": elapsed,
            "events": expected,
            "events_missing": max(0, expected - seen),
            "rss_growth_bytes": growth,
            "rss_before_bytes": baseline,
        }
        if package == "oprun" and transport == "ws":  # its server-sent events too
            sse_s, sse_seen, sse_growth, _ = _measure(server, lambda: _sse_count(server, run_id, expected))
            metrics.update(sse_stream_s=sse_s, sse_events_missing=max(0, expected - sse_seen), sse_rss_growth_bytes=sse_growth)
        elif package == "oprun":
            unavailable.update(dict.fromkeys(("sse_stream_s", "sse_events_missing", "sse_rss_growth_bytes"), "no websocket: the figures above are its SSE"))
    return metrics, unavailable


if __name__ == "__main__":
    run(scenario, import_first=False)
