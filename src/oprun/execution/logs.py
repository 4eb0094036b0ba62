"""A run's log manager: turns events and `context.log` calls into event log
entries, sends them to the run's loggers and to the run's event sink.

It also captures records of `get_dagster_logger()` (the `oprun` Python logger)
made while a run is active in this thread, so they land in the run's event log.
Python's `logging` is imported only once someone uses it: a run starts after it
was imported, or `get_dagster_logger()` is called; the engine's own levels are
the standard numbers.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from oprun.definitions import logger as logger_definitions
from oprun.events import _ERROR_LEVEL_EVENTS as _ERROR_EVENTS, DagsterEvent, EventLogEntry

# logging's levels
DEBUG, INFO, WARNING, ERROR, CRITICAL = 10, 20, 30, 40, 50
_ERROR, _DEBUG = ERROR, DEBUG
_new_tuple = tuple.__new__

_ACTIVE = threading.local()


class RunLogManager:
    """Writes one run's entries: `emit(event)` for structured events, `log(...)` for
    messages. `sink(entry)` stores the entry (a list, an instance buffer...)."""

    def __init__(self, run_id: str, job_name: str, loggers: list[Any], sink: Callable[[EventLogEntry], None]) -> None:
        self.run_id = run_id
        self.job_name = job_name
        self.loggers = loggers
        self.sink = sink
        # The lowest level any logger prints: below it, skip formatting entirely.
        self._floor = min((_logger_level(lg) for lg in loggers), default=CRITICAL + 1)
        # oprun's own console writers take a fast path; other loggers get `log(...)`.
        self._writers = [lg.write_line for lg in loggers if hasattr(lg, "write_line")]
        self._others = [lg for lg in loggers if not hasattr(lg, "write_line")]
        # The usual case, the console logger alone: called directly.
        self._only_writer = self._writers[0] if len(self._writers) == 1 and not self._others else None

    def emit(self, event: DagsterEvent) -> EventLogEntry:
        kind = event.event_type_value
        level = _ERROR if kind in _ERROR_EVENTS else _DEBUG
        message = event.message or ""
        step_key = event.step_key
        # Every field given: build the tuple directly, skipping NamedTuple's
        # Python-level __new__ (this runs several times per step).
        entry = _new_tuple(EventLogEntry, (self.run_id, time.time(), level, message, self.job_name, step_key, None, event))
        self.sink(entry)
        if level >= self._floor:
            if self._only_writer is not None:
                self._only_writer(level, message, self.job_name, self.run_id, step_key, kind)
            else:
                self._print(level, message, step_key, kind)
        return entry

    def forward(self, entry: EventLogEntry) -> None:
        """Record an entry made elsewhere (a worker process) as if made here."""
        self.sink(entry)
        if entry.level >= self._floor:
            event = entry.dagster_event
            self._print(entry.level, entry.message, entry.step_key, event.event_type_value if event else None)

    def log_message(self, level: int, message: str, step_key: str | None = None) -> None:
        entry = EventLogEntry(self.run_id, time.time(), level, message, self.job_name, step_key, None, None)
        self.sink(entry)
        if level >= self._floor:
            self._print(level, message, step_key, None)

    def _print(self, level: int, message: str, step_key: str | None, event_type: str | None) -> None:
        for write_line in self._writers:
            write_line(level, message, self.job_name, self.run_id, step_key, event_type)
        for lg in self._others:
            try:
                if lg.isEnabledFor(level):
                    extra = {"job_name": self.job_name, "run_id": self.run_id, "step_key": step_key, "event_type": event_type}
                    lg.log(level, message, extra=extra)
            except Exception:  # noqa: BLE001 - a broken logger must not fail the run
                pass

    def for_step(self, step_key: str | None) -> StepLog:
        return StepLog(self, step_key)

    # -- capturing `get_dagster_logger()` records --

    def __enter__(self) -> RunLogManager:
        stack = getattr(_ACTIVE, "stack", None)
        if stack is None:
            stack = _ACTIVE.stack = []
        stack.append(self)
        if "logging" in sys.modules:  # else nothing can log through it yet
            _install_capture()
        return self

    def __exit__(self, *exc: Any) -> None:
        _ACTIVE.stack.pop()


def _logger_level(lg: Any) -> int:
    level = getattr(lg, "level", None)
    if isinstance(level, int) and level > 0:
        return level
    get_level = getattr(lg, "getEffectiveLevel", None)
    return get_level() if callable(get_level) else DEBUG


class StepLog:
    """`context.log`: the `logging.Logger`-like interface users call inside ops."""

    __slots__ = ("_manager", "_step_key")

    def __init__(self, manager: RunLogManager, step_key: str | None) -> None:
        self._manager = manager
        self._step_key = step_key

    def log(self, level: int, msg: Any, *args: Any, **_kwargs: Any) -> None:
        text = str(msg) % args if args else str(msg)
        self._manager.log_message(level, text, self._step_key)

    def debug(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self.log(DEBUG, msg, *args, **kwargs)

    def info(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self.log(INFO, msg, *args, **kwargs)

    def warning(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self.log(WARNING, msg, *args, **kwargs)

    warn = warning

    def error(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self.log(ERROR, msg, *args, **kwargs)

    def exception(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self.log(ERROR, msg, *args, **kwargs)

    def critical(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self.log(CRITICAL, msg, *args, **kwargs)

    def isEnabledFor(self, level: int) -> bool:  # noqa: N802 - logging's name
        return True


def _capture_record(record: Any) -> None:
    stack = getattr(_ACTIVE, "stack", None)
    if not stack:
        return
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a bad format string must not fail the run
        message = str(record.msg)
    stack[-1].log_message(record.levelno, message, getattr(_ACTIVE, "step_key", None))


_CAPTURE: list[Any] = []  # the handler, once made


def _install_capture() -> None:
    import logging

    if not _CAPTURE:
        handler = logging.Handler()
        handler.emit = _capture_record  # type: ignore[method-assign]
        _CAPTURE.append(handler)
    base = logging.getLogger("oprun")
    if _CAPTURE[0] not in base.handlers:
        base.addHandler(_CAPTURE[0])
        base.setLevel(logging.DEBUG)
        # Records stop here: the run's loggers print them, not the root logger's handlers.
        base.propagate = False


if _install_capture not in logger_definitions.capture_installers:
    logger_definitions.capture_installers.append(_install_capture)


def set_current_step(step_key: str | None) -> None:
    _ACTIVE.step_key = step_key
