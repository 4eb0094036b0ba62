"""The web application: GraphQL at `{prefix}/graphql`, health at
`{prefix}/server_info` and `{prefix}/health`, as a Starlette app.

Secure by default (docs/web.md): requests whose Host header names another host
are refused while the server listens on a loopback address (DNS rebinding); no
CORS headers are sent; a POST must be JSON (a cross-site form cannot send one
without a preflight, which fails); bodies are capped; GraphQL runs only over
POST, and GraphiQL is served only by `oprun dev`. A client's mistake is a 4xx
with a GraphQL-shaped `{"errors": [...]}` body, never a 500.

This module knows nothing of GraphQL types: it mounts `oprun.web.schema`'s
schema and hands every resolver the `WebContext`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import re
import sys
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.graphql import OperationType

from oprun import __version__
from oprun.web.context import WebContext

MAX_BODY_BYTES = 10 * 1024 * 1024
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
RELOAD_INTERVAL_SECONDS = 1.0


class AsciiJSONResponse(JSONResponse):
    """JSON with every non-ASCII character escaped: a string the client sent
    (echoed in an error message) may hold a lone surrogate, which has no UTF-8
    encoding but is valid JSON as `\\ud800`."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, separators=(",", ":")).encode("ascii")


def errors_response(message: str, status_code: int, headers: dict[str, str] | None = None) -> JSONResponse:
    """A GraphQL-shaped error body: the client reads `errors` whatever the status."""
    return AsciiJSONResponse({"errors": [{"message": message}]}, status_code=status_code, headers=headers)


def normalize_path_prefix(path_prefix: str | None) -> str:
    """'' or '/a/b' (leading '/', no trailing one), as Dagster's `--path-prefix`."""
    prefix = (path_prefix or "").strip()
    if not prefix or prefix == "/":
        return ""
    if not prefix.startswith("/"):
        raise ValueError(f"The path prefix must start with '/': got {prefix!r}.")
    return prefix.rstrip("/")


def is_loopback(host: str) -> bool:
    return host in LOOPBACK_HOSTS or host.startswith("127.")


class _OprunGraphQL(GraphQL):
    """Strawberry's ASGI view with oprun's context: a per-request copy of the
    WebContext carrying strawberry's request and response objects."""

    def __init__(self, schema: Any, context: WebContext) -> None:
        super().__init__(schema, graphql_ide="graphiql" if context.dev else None, allow_queries_via_get=False)
        self._web_context = context

    async def get_context(self, request: Any, response: Any) -> Any:
        return dataclasses.replace(self._web_context, request=request, response=response)


class HostGuard:
    """Refuse a request whose Host header is not one of `allowed` (names without
    port; '*' allows all): a page on another site that rebinds its DNS name to
    127.0.0.1 sends its own name as the Host."""

    def __init__(self, app: ASGIApp, allowed: Sequence[str]) -> None:
        self.app = app
        self.allowed = {name.lower() for name in allowed}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and "*" not in self.allowed:
            host = _header(scope, b"host")
            name = _host_name(host)
            if name not in self.allowed:
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                    return
                response = errors_response(
                    f"Invalid Host header {host!r}: this server answers to {', '.join(sorted(self.allowed))}. "
                    "Start it with --allowed-host NAME to accept another name.",
                    400,
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


# Sent with every response: no sniffing, no framing (clickjacking), no referrer;
# a page's content only from this server (GraphiQL, in `oprun dev`, loads its
# scripts from its CDN, so HTML pages also allow that origin).
_SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)
_CSP_JSON = b"default-src 'none'; frame-ancestors 'none'"
_CSP_HTML = (
    b"default-src 'self'; script-src 'self' 'unsafe-inline' https://unpkg.com; style-src 'self' 'unsafe-inline' https://unpkg.com; "
    b"img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"
)


class SecurityHeaders:
    """Adds the security headers above to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {key.lower() for key, _ in headers}
                html = any(key.lower() == b"content-type" and value.startswith(b"text/html") for key, value in headers)
                for key, value in (*_SECURITY_HEADERS, (b"content-security-policy", _CSP_HTML if html else _CSP_JSON)):
                    if key not in present:
                        headers.append((key, value))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


TOKEN_COOKIE = "oprun_token"


class TokenGuard:
    """With a token set, every request but `{prefix}/health` must carry it: an
    `Authorization: Bearer TOKEN` header (scripts, DagsterGraphQLClient's
    `headers=`), or the cookie that `{prefix}/login?token=TOKEN` sets for a
    browser (HttpOnly, SameSite=Strict). Compared in constant time."""

    def __init__(self, app: ASGIApp, token: str, prefix: str) -> None:
        self.app = app
        self.token = token.encode()
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if path == f"{self.prefix}/health":
            await self.app(scope, receive, send)
            return
        if path == f"{self.prefix}/login" and scope["type"] == "http":
            await self._login(scope, receive, send)
            return
        if self._carries_token(scope):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        response = errors_response(
            "This server needs its token: send `Authorization: Bearer TOKEN`, or open "
            f"{self.prefix}/login?token=TOKEN in the browser once.",
            401, {"WWW-Authenticate": "Bearer"},
        )
        await response(scope, receive, send)

    def _matches(self, given: str) -> bool:
        import hmac

        return hmac.compare_digest(given.encode(), self.token)

    def _carries_token(self, scope: Scope) -> bool:
        authorization = _header(scope, b"authorization")
        if authorization.lower().startswith("bearer ") and self._matches(authorization[7:].strip()):
            return True
        from http.cookies import CookieError, SimpleCookie

        cookies: SimpleCookie = SimpleCookie()
        try:
            cookies.load(_header(scope, b"cookie"))
        except CookieError:
            return False
        morsel = cookies.get(TOKEN_COOKIE)
        return morsel is not None and self._matches(morsel.value)

    async def _login(self, scope: Scope, receive: Receive, send: Send) -> None:
        from urllib.parse import parse_qs

        from starlette.responses import RedirectResponse

        given = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [""])[0]
        if not self._matches(given):
            await errors_response("Wrong or missing token.", 401)(scope, receive, send)
            return
        response = RedirectResponse(f"{self.prefix}/graphql", status_code=303)
        response.set_cookie(TOKEN_COOKIE, given, httponly=True, samesite="strict", path=self.prefix or "/")
        await response(scope, receive, send)


def _foreign_origin(request: HTTPConnection) -> str | None:
    """The request's Origin when a browser sent it from another origin than this
    server's own (what CSRF looks like), else None. Clients that are not
    browsers send no Origin."""
    origin = request.headers.get("origin")
    if not origin:
        return None
    from urllib.parse import urlsplit

    parts = urlsplit(origin)
    host = request.headers.get("host", "")
    if origin != "null" and parts.netloc.lower() == host.lower() and parts.scheme in ("http", "https"):
        return None
    return origin


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def _host_name(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):  # [::1]:3000
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def allowed_hosts_for(bind_host: str, extra: Sequence[str] = ()) -> list[str] | None:
    """The Host names accepted for a server bound to `bind_host`: on loopback, the
    loopback names and the bound host; elsewhere any (None) unless `extra` names some."""
    extra = [name.lower() for name in extra]
    if is_loopback(bind_host):
        return [*LOOPBACK_HOSTS, bind_host.lower(), *extra]
    return [bind_host.lower(), *extra] if extra else None


async def _read_body(request: Request, limit: int) -> bytes | None:
    """The body, or None when it is larger than `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


# A JSON escape of a UTF-16 surrogate (`\ud800` to `\udfff`): paired, it is one
# character (an emoji); alone, it is not text.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _read_graphql_body(body: bytes) -> dict[str, Any] | str:
    """The GraphQL request a POST body holds, or why it is not one."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return f"The request body is not valid JSON: {exc}."
    except RecursionError:
        return "The request body is nested too deeply to be read."
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        return f"The request body could not be read: {exc}."
    try:
        if _SURROGATE_ESCAPE.search(body):  # rare: only then is the whole document checked
            json.dumps(document, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        # `\ud800` alone is valid JSON but not text: no name, id or value can hold it.
        return "The request body holds a lone UTF-16 surrogate escape (such as \\ud800), which is not text."
    except RecursionError:
        return "The request body is nested too deeply to be read."
    if not isinstance(document, dict):
        return 'The request body must be a JSON object: {"query": "...", "variables": {...}}.'
    if not isinstance(document.get("query"), str):
        return 'The request body must hold "query": a GraphQL document as a string.'
    variables = document.get("variables")
    if variables is not None and not isinstance(variables, dict):
        return '"variables" must be a JSON object (or be left out).'
    name = document.get("operationName")
    if name is not None and not isinstance(name, str):
        return '"operationName" must be a string (or be left out).'
    return document


async def _execute_in_thread(view: _OprunGraphQL, request: Request, document: dict[str, Any]) -> Response:
    """Run a query or mutation on a worker thread: resolvers read the instance's
    database and load code, and must not stall the event loop that serves
    every other request and stream."""
    context = await view.get_context(request, None)
    execute = functools.partial(
        view.schema.execute_sync,
        document["query"],
        variable_values=document.get("variables"),
        context_value=context,
        operation_name=document.get("operationName"),
        allowed_operation_types={OperationType.QUERY, OperationType.MUTATION},
    )
    try:
        result = await anyio.to_thread.run_sync(execute)
    except InvalidOperationTypeError:
        return errors_response(
            "Subscriptions are served over a websocket at this same path (subprotocol graphql-transport-ws or graphql-ws), "
            "and a run's events as server-sent events at /api/runs/RUN_ID/events; POST runs queries and mutations.",
            400,
        )
    except RecursionError:
        return errors_response("The request's variables are nested too deeply.", 400)
    except CannotGetOperationTypeError:
        name = document.get("operationName")
        return errors_response(f"The document has no operation named {name!r}." if name else
                               "The document holds several operations: name the one to run with \"operationName\".", 400)
    payload: dict[str, Any] = {"data": result.data}
    if result.errors:
        payload["errors"] = [error.formatted for error in result.errors]
    return AsciiJSONResponse(payload)


def _graphql_endpoint(view: _OprunGraphQL, dev: bool, max_body_bytes: int) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        if request.method == "GET":
            if not dev:
                return errors_response(
                    "GraphQL is served over POST only (send a JSON body). GraphiQL, the in-browser "
                    "explorer, is served only by `oprun dev`.",
                    405, {"Allow": "POST"},
                )
            if "text/html" not in request.headers.get("accept", ""):
                return errors_response("GET serves GraphiQL to a browser only: send queries over POST.", 405, {"Allow": "GET, POST"})
            return await view.run(request)
        foreign = _foreign_origin(request)
        if foreign is not None:
            return errors_response(
                f"Cross-origin request refused: Origin {foreign!r} is not this server's own "
                f"({request.url.scheme}://{request.headers.get('host', '')}).",
                403,
            )
        content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if content_type != "application/json":
            return errors_response(
                f"A GraphQL request must be sent with Content-Type: application/json (got {content_type or 'none'!r}).", 415
            )
        body = await _read_body(request, max_body_bytes)
        if body is None:
            return errors_response(f"The request body is larger than the limit of {max_body_bytes} bytes.", 413)
        document = _read_graphql_body(body)
        if isinstance(document, str):
            return errors_response(document, 400)

        return await _execute_in_thread(view, request, document)

    return endpoint


async def _server_info(_request: Request) -> Response:
    return JSONResponse({"oprun_version": __version__, "status": "ok"})


def _reload_loop(context: WebContext, stopping: threading.Event) -> None:
    """`oprun dev`: reload a code location whose files changed, once a second."""
    try:
        context.workspace.loaded()  # loads now, and records the files' stamps
    except Exception as exc:  # noqa: BLE001 - a broken location must not stop reloading
        print(f"oprun dev: loading code locations failed: {exc}", file=sys.stderr, flush=True)
    while not stopping.wait(RELOAD_INTERVAL_SECONDS):
        try:
            reloaded = context.workspace.refresh()
        except Exception as exc:  # noqa: BLE001
            print(f"oprun dev: reloading code locations failed: {exc}", file=sys.stderr, flush=True)
            continue
        for name in reloaded:
            print(f"oprun dev: reloaded code location {name}", file=sys.stderr, flush=True)


def create_app(
    context: WebContext,
    *,
    schema: Any = None,
    path_prefix: str = "",
    bind_host: str = "127.0.0.1",
    allowed_hosts: Sequence[str] = (),
    max_body_bytes: int = MAX_BODY_BYTES,
    token: str | None = None,
) -> Starlette:
    """The app for `context`. `schema` defaults to `oprun.web.schema.build_schema()`;
    `allowed_hosts` adds Host names (or '*') to those accepted on loopback;
    `token`, when given, is required by every request (`TokenGuard`)."""
    if schema is None:
        from oprun.web.schema import build_schema

        schema = build_schema()
    prefix = normalize_path_prefix(path_prefix)
    view = _OprunGraphQL(schema, context)
    routes: list[BaseRoute] = [
        Route(f"{prefix}/graphql", _graphql_endpoint(view, context.dev, max_body_bytes), methods=["GET", "POST"]),
        Route(f"{prefix}/server_info", _server_info, methods=["GET"]),
        Route(f"{prefix}/health", _server_info, methods=["GET"]),
    ]
    from oprun.web import streams  # live updates: the websocket and the server-sent event routes

    routes += streams.routes(prefix, schema, context)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        stopping = threading.Event()
        reloader = None
        if context.dev:
            reloader = threading.Thread(target=_reload_loop, args=(context, stopping), name="oprun-reload", daemon=True)
            reloader.start()
        try:
            yield
        finally:
            stopping.set()
            if reloader is not None:
                reloader.join(timeout=5)

    async def not_found(_request: Request, _exc: Exception) -> Response:
        return errors_response(f"Not found. GraphQL is at {prefix}/graphql.", 404)

    async def method_not_allowed(request: Request, _exc: Exception) -> Response:
        return errors_response(f"{request.method} is not allowed here.", 405)

    async def server_error(_request: Request, exc: Exception) -> Response:
        return errors_response(f"Internal server error ({type(exc).__name__}).", 500)

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={404: not_found, 405: method_not_allowed, 500: server_error},
    )
    if token:
        app.add_middleware(TokenGuard, token=token, prefix=prefix)
    hosts = allowed_hosts_for(bind_host, allowed_hosts)
    if hosts is not None:
        app.add_middleware(HostGuard, allowed=hosts)
    app.add_middleware(SecurityHeaders)
    return app
