"""Live updates: a run's events and a step's compute logs as they are stored,
over server-sent events (oprun's own, simple endpoints) and over GraphQL
subscriptions on a websocket (Dagster's `pipelineRunLogs` and `capturedLogs`).

Both read storage the same way: the backlog after a cursor in chunks, then a
poll every `POLL_INTERVAL_SECONDS` for what is new, ending once the run is
finished and everything is sent. Storage is read on a worker thread, a chunk at
a time, so the event loop never blocks and memory stays flat however long the
log. A server-sent event's `id:` is the storage cursor, so a browser that
reconnects sends `Last-Event-ID` and resumes with nothing lost or repeated.

Routes (mounted by `oprun.web.app`, behind its Host and token guards):
- `GET {prefix}/api/runs/{run_id}/events[?after=CURSOR]`: `text/event-stream`;
- `GET {prefix}/api/runs/{run_id}/logs/{step_key}[?after=CURSOR]`: the same for compute logs;
- `GET {prefix}/download/{run_id}/{step_key}/{stdout|stderr}`: a compute log file;
- `WS {prefix}/graphql`: subscriptions, `graphql-transport-ws` and the legacy
  `graphql-ws` subprotocol; a handshake from a foreign Origin is refused.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import anyio
import anyio.to_thread
from starlette.requests import HTTPConnection, Request
from starlette.responses import FileResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import Receive, Scope, Send

from oprun.web.context import WebContext

# How often a live stream asks storage for what is new (the one place to set it).
POLL_INTERVAL_SECONDS = 0.25
# An idle stream still sends something this often, so proxies keep it open.
HEARTBEAT_SECONDS = 15.0
# Events sent in one chunk of a server-sent event stream.
SSE_CHUNK = 1_000


async def _in_thread(function: Any, *args: Any) -> Any:
    return await anyio.to_thread.run_sync(lambda: function(*args))


def _latest_cursor(instance: Any, run_id: str) -> str:
    page = instance.get_records_for_run(run_id, None, None, 1, ascending=False)
    return str(page.records[0].storage_id) if page.records else ""


async def tail_events(
    instance: Any, run_id: str, cursor: str | None, chunk: int, *, heartbeat_seconds: float = HEARTBEAT_SECONDS
) -> AsyncIterator[tuple[Any, list[tuple[int, Any]], str, bool]]:
    """(run, [(storage id, entry)], cursor, more already stored) for the events of
    `run_id` after `cursor`: the backlog in chunks (the first yielded even when
    empty), then new events as they are stored, a yield with no events when the
    run's status changes or the stream has been idle `heartbeat_seconds`. Ends
    once the run is finished and drained, or deleted. A run that does not exist:
    one (None, [], "", False). `cursor` "HEAD" starts after the newest event."""
    from oprun.web.graphql.events import read_events

    run = await _in_thread(instance.get_run_by_id, run_id)
    if run is None:
        yield None, [], "", False
        return
    if cursor == "HEAD":
        cursor = await _in_thread(_latest_cursor, instance, run_id)
    first = True
    status = run.status
    quiet_since = time.monotonic()
    while True:
        # The status is read before the events: when it says finished, the
        # read that follows finds every event the run stored.
        current = await _in_thread(instance.get_run_by_id, run_id)
        pairs, cursor, more = await _in_thread(read_events, instance, run_id, cursor, chunk)
        run = current or run
        changed = current is not None and current.status != status
        if pairs or first or changed or time.monotonic() - quiet_since >= heartbeat_seconds:
            yield run, pairs, cursor or "", more
            first = False
            quiet_since = time.monotonic()
            status = run.status
        if more:
            continue
        if not pairs and (current is None or current.is_finished):
            return
        if not pairs:
            await anyio.sleep(POLL_INTERVAL_SECONDS)


async def tail_compute_logs(
    instance: Any, log_key: Sequence[str], cursor: str | None, *, heartbeat_seconds: float = HEARTBEAT_SECONDS
) -> AsyncIterator[tuple[str | None, str | None, str]]:
    """(stdout text, stderr text, cursor) of a step's log key as the step writes
    them: what is there first (yielded even when empty), then what is appended;
    ends once the run is finished and both files are read. A key that names no
    step: one (None, None, cursor)."""
    from oprun.web.graphql.events import LOG_CHUNK_BYTES, compute_log_paths, parse_log_cursor, read_log_chunk

    out_at, err_at = parse_log_cursor(cursor)
    paths = await _in_thread(compute_log_paths, instance, list(log_key))
    if paths is None:
        yield None, None, f"{out_at}:{err_at}"
        return
    run_id = log_key[0]
    first = True
    quiet_since = time.monotonic()
    while True:
        current = await _in_thread(instance.get_run_by_id, run_id)
        out, new_out = await _in_thread(read_log_chunk, paths[0], out_at, LOG_CHUNK_BYTES)
        err, new_err = await _in_thread(read_log_chunk, paths[1], err_at, LOG_CHUNK_BYTES)
        grew = new_out > out_at or new_err > err_at
        if grew or first or time.monotonic() - quiet_since >= heartbeat_seconds:
            yield (out if new_out > out_at or first else ""), (err if new_err > err_at or first else ""), f"{new_out}:{new_err}"
            first = False
            quiet_since = time.monotonic()
        full = new_out - out_at >= LOG_CHUNK_BYTES or new_err - err_at >= LOG_CHUNK_BYTES
        out_at, err_at = new_out, new_err
        if full:
            continue
        if not grew and (current is None or current.is_finished):
            return
        if not grew:
            await anyio.sleep(POLL_INTERVAL_SECONDS)


# ---------- server-sent events ----------


def _sse(event: str, data: Any, event_id: str | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def _resume_cursor(request: Request) -> str | None:
    """Where a stream resumes: the browser's Last-Event-ID on a reconnect, else `?after=`."""
    return request.headers.get("last-event-id") or request.query_params.get("after") or None


def _error(message: str, status_code: int) -> Response:
    from oprun.web.app import errors_response

    return errors_response(message, status_code)


def _refusal(request: Request) -> Response | None:
    """A browser page of another origin may not read a stream (the token cookie
    is SameSite=Strict already; this also covers a server without a token)."""
    from oprun.web.app import _foreign_origin

    foreign = _foreign_origin(request)
    if foreign is None:
        return None
    return _error(f"Cross-origin request refused: Origin {foreign!r} is not this server's own.", 403)


_STREAM_HEADERS = {"cache-control": "no-store", "x-accel-buffering": "no"}


def _run_events_endpoint(context: WebContext) -> Any:
    async def endpoint(request: Request) -> Response:
        refused = _refusal(request)
        if refused is not None:
            return refused
        run_id = request.path_params["run_id"]
        after = _resume_cursor(request)
        if after is not None and not after.isdigit():
            return _error(f"Invalid cursor {after!r}: resume from an event's id (a number).", 400)
        instance = context.instance
        if await _in_thread(instance.get_run_by_id, run_id) is None:
            return _error(f"Run {run_id} could not be found.", 404)

        async def stream() -> AsyncIterator[str]:
            from oprun.web.graphql.events import event_summary

            yield "retry: 1000\n\n"
            status = None
            async for run, pairs, _cursor, _more in tail_events(instance, run_id, after, SSE_CHUNK):
                if run.status != status:
                    status = run.status
                    yield _sse("status", {"runId": run_id, "status": status.value})
                if not pairs:
                    yield ": keep-alive\n\n"
                for storage_id, entry in pairs:
                    yield _sse("event", event_summary(storage_id, entry), str(storage_id))
            yield _sse("end", {"runId": run_id, "status": status.value if status is not None else None})

        return StreamingResponse(stream(), media_type="text/event-stream", headers=_STREAM_HEADERS)

    return endpoint


def _compute_logs_endpoint(context: WebContext) -> Any:
    async def endpoint(request: Request) -> Response:
        from oprun.web.graphql.events import COMPUTE_LOGS, compute_log_paths, parse_log_cursor

        refused = _refusal(request)
        if refused is not None:
            return refused
        run_id, step_key = request.path_params["run_id"], request.path_params["step_key"]
        after = _resume_cursor(request)
        try:
            parse_log_cursor(after)
        except ValueError as error:
            return _error(str(error), 400)
        log_key = [run_id, COMPUTE_LOGS, step_key]
        if await _in_thread(compute_log_paths, context.instance, log_key) is None:
            return _error(f"No compute logs for step {step_key!r} of run {run_id}: no such run, or no persistent log folder.", 404)

        async def stream() -> AsyncIterator[str]:
            yield "retry: 1000\n\n"
            _, err_at = parse_log_cursor(after)
            async for out, err, cursor in tail_compute_logs(context.instance, log_key, after):
                out_at, new_err_at = parse_log_cursor(cursor)
                if out:  # its id leaves stderr where it was: a reconnect right after it still gets the stderr part
                    yield _sse("stdout", out, f"{out_at}:{err_at}")
                if err:
                    yield _sse("stderr", err, cursor)
                err_at = new_err_at
                if not out and not err:
                    yield ": keep-alive\n\n"
            yield _sse("end", {"runId": run_id, "stepKey": step_key})

        return StreamingResponse(stream(), media_type="text/event-stream", headers=_STREAM_HEADERS)

    return endpoint


def _download_endpoint(context: WebContext) -> Any:
    async def endpoint(request: Request) -> Response:
        from oprun.web.graphql.events import COMPUTE_LOGS, compute_log_paths

        refused = _refusal(request)
        if refused is not None:
            return refused
        run_id, step_key, io_type = (request.path_params[k] for k in ("run_id", "step_key", "io_type"))
        if io_type not in ("stdout", "stderr"):
            return _error(f"Unknown log {io_type!r}: ask for stdout or stderr.", 404)
        paths = await _in_thread(compute_log_paths, context.instance, [run_id, COMPUTE_LOGS, step_key])
        import os

        path = paths[0 if io_type == "stdout" else 1] if paths is not None else None
        if path is None or not os.path.isfile(path):
            return _error(f"No {io_type} was captured for step {step_key!r} of run {run_id}.", 404)
        return FileResponse(path, media_type="text/plain; charset=utf-8", filename=f"{run_id}_{step_key}.{'out' if io_type == 'stdout' else 'err'}")

    return endpoint


# ---------- GraphQL subscriptions over a websocket ----------


class _SubscriptionsOnly:
    """The schema, but a websocket runs subscriptions only: queries and
    mutations go over POST, where the JSON and CSRF rules apply and blocking
    resolvers run on a worker thread."""

    def __init__(self, schema: Any) -> None:
        self._schema = schema

    def __getattr__(self, name: str) -> Any:
        return getattr(self._schema, name)

    async def stream(self, *args: Any, **kwargs: Any) -> Any:
        from strawberry.types.graphql import OperationType

        kwargs["allowed_operation_types"] = {OperationType.SUBSCRIPTION}
        return await self._schema.stream(*args, **kwargs)


class GraphQLWebSocket:
    """`WS {prefix}/graphql`: strawberry's websocket handler (both
    subprotocols), after refusing a handshake whose Origin is another site's
    (cross-site websocket hijacking: a browser sends the cookie along)."""

    def __init__(self, schema: Any, context: WebContext) -> None:
        from oprun.web.app import _OprunGraphQL

        self.view = _OprunGraphQL(_SubscriptionsOnly(schema), context)
        self.view.keep_alive = True  # graphql-ws "ka" messages, as Dagster's server sends
        self.view.keep_alive_interval = HEARTBEAT_SECONDS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        from oprun.web.app import _foreign_origin

        if scope["type"] == "websocket" and _foreign_origin(HTTPConnection(scope)) is not None:
            await send({"type": "websocket.close", "code": 1008})  # before accept: the handshake is answered 403
            return
        await self.view(scope, receive, send)


def routes(prefix: str, schema: Any, context: WebContext) -> list[BaseRoute]:
    return [
        WebSocketRoute(f"{prefix}/graphql", GraphQLWebSocket(schema, context)),
        Route(f"{prefix}/api/runs/{{run_id}}/events", _run_events_endpoint(context), methods=["GET"]),
        Route(f"{prefix}/api/runs/{{run_id}}/logs/{{step_key}}", _compute_logs_endpoint(context), methods=["GET"]),
        Route(f"{prefix}/download/{{run_id}}/{{step_key}}/{{io_type}}", _download_endpoint(context), methods=["GET"]),
    ]
