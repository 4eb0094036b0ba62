"""A run's log manager: turns events and `context.log` calls into event log
entries, sends them to the run's loggers and to the run's event sink.

It also captures records of `get_dagster_logger()` (the `oprun` Python logger)
made while a run is active in this thread, so they land in the run's event log;
and, as Dagster's `python_logs: {managed_python_loggers, python_log_level}` in
the instance config asks, those of the managed Python loggers, whose handlers
are attached only while a run is active (and their levels set, then restored).
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
_ERROR_CARRYING = logger_definitions.ERROR_CARRYING_EVENTS


class RunLogManager:
    """Writes one run's entries: `emit(event)` for structured events, `log(...)` for
    messages. `sink(entry)` stores the entry (a list, an instance buffer...)."""

    def __init__(
        self, run_id: str, job_name: str, loggers: list[Any], sink: Callable[[EventLogEntry], None], instance: Any = None,
    ) -> None:
        self.run_id = run_id
        # The Python loggers the instance config manages (`python_logs`), and their level.
        self.managed_loggers: frozenset[str] = frozenset(getattr(instance, "managed_python_loggers", None) or ())
        level = getattr(instance, "python_log_level", None)
        self.python_log_level: int | None = (
            logger_definitions.coerce_level({"FATAL": "CRITICAL"}.get(str(level).upper(), level)) if level is not None else None
        )
        handler_config = getattr(instance, "python_log_handler_config", None)
        if handler_config and loggers:  # only where the run prints: workers print nothing
            loggers = [*loggers, _yaml_handlers_logger(handler_config)]
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
            if kind in _ERROR_CARRYING:  # printed with its error under the line, as Dagster's console
                message = logger_definitions.with_event_error(message, event)
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
            kind = event.event_type_value if event is not None else None
            message = logger_definitions.with_event_error(entry.message, event) if kind in _ERROR_CARRYING else entry.message
            self._print(entry.level, message, entry.step_key, kind)

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
        if self.managed_loggers or self.python_log_level is not None:
            _manage_loggers(self.managed_loggers, self.python_log_level, +1)
        return self

    def __exit__(self, *exc: Any) -> None:
        _ACTIVE.stack.pop()
        if self.managed_loggers or self.python_log_level is not None:
            _manage_loggers(self.managed_loggers, self.python_log_level, -1)


def _discard(_entry: EventLogEntry) -> None:
    pass


def direct_log() -> StepLog:
    """The `log` of a context built for a test (`build_op_context`,
    `build_init_resource_context`, `build_input_context`, `build_output_context`,
    `build_hook_context`, `build_resources`, or an op or resource invoked with
    `None`): as in Dagster, every message is printed to stderr by the default
    console logger, whatever its level, with `system` where a run's line names
    the job and the run; nothing is stored."""
    writer = logger_definitions.ConsoleLogWriter("oprun", DEBUG)
    return RunLogManager("", "system", [writer], _discard).for_step(None)


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


def _capture_record(record: Any, logger_name: str | None = None) -> None:
    """Record `record` in this thread's active run: always for the `oprun` logger
    (`logger_name` None), for another logger if the run manages it. A record that
    propagates through several managed loggers is recorded once; one made while a
    record is being recorded (by a run's logger that propagates) is not."""
    stack = getattr(_ACTIVE, "stack", None)
    if not stack or getattr(_ACTIVE, "emitting", False) or getattr(record, "oprun_captured", False):
        return
    manager = stack[-1]
    if logger_name is not None and logger_name not in manager.managed_loggers:
        return
    record.oprun_captured = True
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a bad format string must not fail the run
        message = str(record.msg)
    _ACTIVE.emitting = True
    try:
        manager.log_message(record.levelno, message, getattr(_ACTIVE, "step_key", None))
    finally:
        _ACTIVE.emitting = False


# Managed loggers by name: [logger, capture handler, runs active, level before].
# Runs in several threads share one handler per logger.
_MANAGED: dict[str, list[Any]] = {}
_MANAGED_LOCK = threading.Lock()


_YAML_HANDLERS: dict[str, Any] = {}  # handler config (as text) -> the logger holding its handlers


def _yaml_handlers_logger(handler_config: Any) -> Any:
    """A logger holding the handlers of `python_logs.dagster_handler_config` (the
    `handlers`, `formatters` and `filters` of `logging.config.dictConfig`): each
    receives every message of the run. Built once per config, and without
    `dictConfig` itself, which would close every other handler of the process."""
    import logging
    import logging.config

    key = repr(sorted(handler_config.items()))
    made = _YAML_HANDLERS.get(key)
    if made is None:
        conf = logging.config.DictConfigurator({"version": 1, **dict(handler_config)})
        config = conf.config
        for section, build in (("formatters", conf.configure_formatter), ("filters", conf.configure_filter)):
            specs = config.get(section) or {}
            config[section] = {name: build(specs[name]) for name in list(specs)}
        made = logging.Logger("oprun_yaml_handlers")  # noqa: LOG001 - unregistered: no parent to propagate to
        handlers = config.get("handlers") or {}
        for name in list(handlers):
            made.addHandler(conf.configure_handler(handlers[name]))
        made.setLevel(min((h.level for h in made.handlers if h.level), default=DEBUG))
        _YAML_HANDLERS[key] = made
    return made


def _emitter(name: str) -> Callable[[Any], None]:
    def emit(record: Any) -> None:
        _capture_record(record, name)

    return emit


def _manage_loggers(names: frozenset[str], level: int | None, delta: int) -> None:
    """Attach (delta +1) or, after the last active run, detach (-1) the capture
    handler of each managed logger; with a level, set it on them and on `oprun`
    (as Dagster does) while runs are active, then restore it."""
    import logging

    with _MANAGED_LOCK:
        for name in sorted(names | ({"oprun"} if level is not None else set())):
            entry = _MANAGED.get(name)
            if entry is None:
                if delta < 0:
                    continue
                target = logging.getLogger() if name == "root" else logging.getLogger(name)
                handler = None
                if name in names and name != "oprun":
                    handler = logging.Handler()
                    handler.emit = _emitter(name)  # type: ignore[method-assign,assignment]
                    target.addHandler(handler)
                entry = _MANAGED[name] = [target, handler, 0, target.level]
            entry[2] += delta
            if delta > 0 and level is not None:
                entry[0].setLevel(level)
            if entry[2] <= 0:
                target, handler, _, before = _MANAGED.pop(name)
                if handler is not None:
                    target.removeHandler(handler)
                target.setLevel(before)


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
