"""What every GraphQL resolver gets: the instance and the workspace of code
locations the server was started on (reloaded on request, and in `oprun dev`
when their files change)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from oprun.daemon.base import Workspace


@dataclass
class WebContext:
    """`instance`: the DagsterInstance of `$OPRUN_HOME`; `workspace`: the code
    locations (`Workspace.locations`, `.location(name)`, `.loaded()`, and
    `.reload(name)` for reloadRepositoryLocation); `dev`: started by
    `oprun dev` (GraphiQL is served, code reloads on change); `read_only`: started
with `--read-only` (queries only)."""

    instance: Any
    workspace: Workspace
    dev: bool = False
    # `--read-only`: every mutation answers Dagster's UnauthorizedError.
    read_only: bool = False
    # Set per request by the app (strawberry's request/response objects).
    request: Any = None
    response: Any = None


class OpeningInstance:
    """The instance of a server that is starting up, opened on a thread from
    `start()` (called once the port is bound): loading the storage (SQLAlchemy,
    the database file, its schema check) takes about a fifth of a second, and
    the server's first answers (the workspace, jobs, config schemas) need none
    of it. Any use of the instance (`context.instance.get_runs(...)`) waits for
    it to be open; if it cannot be opened, every use raises the error, and
    `on_failure` (given to `start`) is told once, so the server can stop and
    say why. The instance's config file is checked before, by the caller."""

    def __init__(self, open_instance: Callable[[], Any]) -> None:
        self._open = open_instance
        self._ready = threading.Event()
        self._lock = threading.Lock()
        self._started = False
        self._value: Any = None
        self._error: BaseException | None = None

    def start(self, on_failure: Callable[[BaseException], None] | None = None) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
        threading.Thread(target=self._opening, args=(on_failure,), name="oprun-open-instance", daemon=True).start()

    def _opening(self, on_failure: Callable[[BaseException], None] | None) -> None:
        try:
            self._value = self._open()
        except BaseException as error:  # noqa: BLE001 - kept, raised at every use
            self._error = error
        finally:
            self._ready.set()
        if self._error is not None and on_failure is not None:
            on_failure(self._error)

    def get(self) -> Any:
        """The open instance (waits for it; opens it if nobody started to)."""
        if not self._ready.is_set():  # only while it opens: every resolver comes through here
            self.start()
            self._ready.wait()
        if self._error is not None:
            raise self._error
        return self._value

    def dispose(self) -> None:
        """Dispose of the instance if it was opened (never opens it to do so)."""
        if self._started:
            self._ready.wait()
            if self._value is not None:
                self._value.dispose()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.get(), name)
