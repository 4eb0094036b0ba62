"""Serving the web app with uvicorn, in the calling thread, until SIGINT or
SIGTERM (uvicorn's own handlers: in-flight requests finish, then it returns).

`serve` prints "Serving oprun on http://HOST:PORT" once the socket is bound
(port 0 prints the port the system chose), and runs `on_exit` on the first
stop signal, before uvicorn starts shutting down (`oprun dev` stops its daemon
there). A stop signal is a normal stop: the process then exits 0.
"""

from __future__ import annotations

from collections.abc import Callable
from types import FrameType
from typing import Any

import uvicorn


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, on_bound: Callable[[str, int], None], on_exit: Callable[[], None] | None) -> None:
        super().__init__(config)
        self._on_bound = on_bound
        self._on_exit = on_exit
        self._exiting = False

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            host, port = self.config.host, self.config.port
            for server in self.servers:
                for sock in server.sockets:
                    port = sock.getsockname()[1]
                    break
            self._on_bound(host, port)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if not self._exiting:
            self._exiting = True
            if self._on_exit is not None:
                self._on_exit()
        super().handle_exit(sig, frame)
        # uvicorn re-raises a captured signal once it has shut down, so the
        # process would die of it; a stop signal is how a server is stopped, so
        # `serve` returns and the command exits 0.
        self._captured_signals.clear()


def url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def print_bound(host: str, port: int) -> None:
    print(f"Serving oprun on http://{url_host(host)}:{port}", flush=True)


def make_server(
    app: Any,
    host: str = "127.0.0.1",
    port: int = 3000,
    *,
    log_level: str = "warning",
    on_bound: Callable[[str, int], None] = print_bound,
    on_exit: Callable[[], None] | None = None,
) -> uvicorn.Server:
    config = uvicorn.Config(
        app, host=host, port=port, log_level=log_level, lifespan="on",
        access_log=False, server_header=False, timeout_graceful_shutdown=5,
    )
    return _Server(config, on_bound, on_exit)
