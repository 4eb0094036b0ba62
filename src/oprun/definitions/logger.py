"""Logger definitions: `@logger`, the default `console` logger
(`colored_console_logger`) and `json_console_logger`.

A logger definition builds, per run, an object with Python logging's `log(level,
msg)` interface. The built-in console loggers build a light writer rather than a
`logging.Logger`: every event of a run goes through them, so they stay cheap.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from oprun.config.types import Field, Scalar

if TYPE_CHECKING:
    import logging


class LoggerDefinition:
    """How to build a run's logger from its config (`loggers.<name>.config`)."""

    def __init__(self, logger_fn: Callable[[Any], Any], config_schema: Any = None, description: str | None = None) -> None:
        self.logger_fn = logger_fn
        self.config_schema = config_schema
        self.description = description

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Direct invocation, as in tests: `my_logger(None)` or
        `my_logger(build_init_logger_context(logger_config=...))`. As in Dagster,
        the config is checked against the schema (defaults filled in) first."""
        from oprun.errors import DagsterInvalidInvocationError

        if len(args) + len(kwargs) != 1:
            raise DagsterInvalidInvocationError(
                "A logger is invoked with one argument, its context: None or build_init_logger_context(...)."
                if args or kwargs else
                "Logger initialization function has context argument, but no context argument was provided when invoking."
            )
        context = args[0] if args else next(iter(kwargs.values()))
        if context is None:
            context = UnboundInitLoggerContext(None, None)
        if not isinstance(context, InitLoggerContext):
            raise DagsterInvalidInvocationError(
                f"A logger's context must be None or build_init_logger_context(...), got {type(context).__name__}."
            )
        config = context.logger_config
        if self.config_schema is not None:
            from oprun.definitions.jobs.configured import _check_against

            config = _check_against(self.config_schema, config, "logger")
        return self.logger_fn(InitLoggerContext(config, self, context.run_id, context.job_name, job_def=context.job_def))

    def configured(self, config_or_config_fn: Any, config_schema: Any = None, description: str | None = None) -> LoggerDefinition:
        """A copy whose config is fixed (or mapped from a new, smaller schema)."""
        from oprun.definitions.jobs.configured import configured_logger

        return configured_logger(self, config_or_config_fn, config_schema, description)


def logger(config_schema: Any = None, description: str | None = None) -> Any:
    """Decorator: `@logger(config_schema=...)` on `fn(init_context) -> logging.Logger`."""
    if callable(config_schema) and not isinstance(config_schema, type) and not hasattr(config_schema, "config_type"):
        return LoggerDefinition(config_schema)

    def wrap(fn: Callable[[Any], Any]) -> LoggerDefinition:
        return LoggerDefinition(fn, config_schema, description or fn.__doc__)

    return wrap


class InitLoggerContext:
    def __init__(
        self, logger_config: Any, logger_def: LoggerDefinition | None = None, run_id: str | None = None,
        job_name: str | None = None, job_def: Any = None,
    ) -> None:
        self.logger_config = logger_config
        self.logger_def = logger_def
        self.run_id = run_id
        self.job_def = job_def
        self.job_name = job_name if job_name is not None else getattr(job_def, "name", None)


class UnboundInitLoggerContext(InitLoggerContext):
    """What `build_init_logger_context` gives: config not yet checked against a
    logger definition (invoking the logger with it does that)."""

    def __init__(self, logger_config: Any, job_def: Any) -> None:
        super().__init__(logger_config, None, None, job_def=job_def)


def build_init_logger_context(logger_config: Any = None, job_def: Any = None) -> UnboundInitLoggerContext:
    """A context for invoking a logger definition directly in a test:
    `my_logger(build_init_logger_context(logger_config={...}))`."""
    from oprun.definitions.jobs.job import JobDefinition

    if job_def is not None and not isinstance(job_def, JobDefinition):
        from oprun.errors import DagsterInvalidInvocationError

        raise DagsterInvalidInvocationError(f"build_init_logger_context: job_def must be a JobDefinition, got {job_def!r}.")
    return UnboundInitLoggerContext(logger_config, job_def)


_LEVELS = {"CRITICAL": 50, "FATAL": 50, "ERROR": 40, "WARNING": 30, "WARN": 30, "INFO": 20, "DEBUG": 10, "NOTSET": 0}
_COLOURS = {10: "\033[34m", 20: "\033[32m", 30: "\033[33m", 40: "\033[31m", 50: "\033[1;31m"}
_RESET = "\033[0m"


def coerce_level(level: Any) -> int:
    if isinstance(level, int):
        return level
    return _LEVELS.get(str(level).upper(), _LEVELS["DEBUG"])


class ConsoleLogWriter:
    """Writes one line per log record to stderr, coloured when stderr is a terminal.

    Speaks the subset of `logging.Logger` the engine uses (`isEnabledFor`, `log`),
    plus `write_line`, the engine's fast path for its own events.
    """

    def __init__(self, name: str, level: int, as_json: bool = False) -> None:
        self.name = name
        self.level = level
        self.as_json = as_json
        self._tty_of: tuple[int, bool] = (0, False)
        self._stream_of: tuple[Any, Any] = (None, None)  # (sys.stderr, where its lines go)
        # "time - name - LEVEL - job - run" is the same for every line of a run
        # within one second: built once per (second, level, job, run).
        self._prefix_key: tuple[Any, ...] = ()
        self._prefix = ""

    def isEnabledFor(self, level: int) -> bool:  # noqa: N802 - logging's name
        return level >= self.level

    def log(self, level: int, msg: str, *args: Any, extra: dict[str, Any] | None = None, **_: Any) -> None:
        meta = extra or {}
        self.write_line(level, msg % args if args else msg, meta.get("job_name"), meta.get("run_id"), meta.get("step_key"), meta.get("event_type"))

    def write_line(self, level: int, msg: str, job_name: str | None, run_id: str | None, step_key: str | None, event_type: str | None) -> None:
        if level < self.level:
            return
        stream = sys.stderr
        if stream is not self._stream_of[0]:
            # A step's captured stderr holds what the step printed, not the engine's
            # lines about it (those are in the event log): write past the capture.
            self._stream_of = (stream, getattr(stream, "console_stream", stream))
        stream = self._stream_of[1]
        if self.as_json:
            import json

            line = json.dumps({
                "time": time.time(), "name": self.name, "level": _LEVEL_NAMES.get(level) or f"Level {level}",
                "job_name": job_name, "run_id": run_id, "step_key": step_key, "event_type": event_type, "msg": msg,
            })
        else:
            key = (int(time.time()), level, job_name, run_id)
            if key != self._prefix_key:
                self._set_prefix(key)
            if step_key and event_type:  # the engine's own step events: one format
                line = f"{self._prefix} - {step_key} - {event_type} - {msg}"
            else:
                line = " - ".join(part for part in (self._prefix, step_key, event_type) if part) + f" - {msg}"
            # Checked inline: a method call per line shows up on the step path.
            if (self._tty_of[0] != id(stream) or self._tty_of[1]) and self._is_tty(stream):
                line = f"{_COLOURS.get(level, '')}{line}{_RESET}"
        try:
            stream.write(line + "\n")
        except (ValueError, OSError):  # a closed stream must not fail the run
            pass

    def _set_prefix(self, key: tuple[Any, ...]) -> None:
        # "time - name - LEVEL - job - run": the same for every line of a run within
        # one second, so built once per (second, level, job, run).
        second, level, job_name, run_id = key
        self._prefix_key = key
        level_name = _LEVEL_NAMES.get(level) or f"Level {level}"
        # A context built for a test has no run: its lines name `system` alone.
        self._prefix = " - ".join(part for part in (_stamp(second), self.name, level_name, job_name, run_id) if part)

    def _is_tty(self, stream: Any) -> bool:
        # Asked once per stream: tests and tools swap sys.stderr.
        if self._tty_of[0] != id(stream):
            self._tty_of = (id(stream), _is_tty(stream))
        return self._tty_of[1]


_LEVEL_NAMES = {10: "DEBUG", 20: "INFO", 30: "WARNING", 40: "ERROR", 50: "CRITICAL"}


class _LastStamp:
    __slots__ = ("second", "text")

    def __init__(self) -> None:
        self.second: int | None = None
        self.text = ""


_STAMP = _LastStamp()


def _stamp(now: int) -> str:
    """A time to the second, formatted once per second (it is on every line)."""
    if _STAMP.second != now:
        _STAMP.second = now
        _STAMP.text = time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(now))
    return _STAMP.text


def _is_tty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


# The events whose payload may carry an error (`.error`, a SerializableErrorInfo):
# as Dagster's console, their printed line is followed by the error.
ERROR_CARRYING_EVENTS = frozenset(
    {"STEP_FAILURE", "STEP_UP_FOR_RETRY", "RUN_FAILURE", "ENGINE_EVENT", "HOOK_ERRORED", "RESOURCE_INIT_FAILURE"}
)


def event_error(event: Any) -> Any:
    """The error an event's payload carries (a SerializableErrorInfo), or None."""
    data = getattr(event, "event_specific_data", None)
    return getattr(data, "error", None) if data is not None else None


def format_error(error: Any, _depth: int = 0) -> str:
    """An error as Dagster's console prints it: class and message, its stack trace,
    then each exception it was caused by (or raised while handling)."""
    message = str(getattr(error, "message", "") or "").rstrip()
    cls_name = getattr(error, "cls_name", None)
    if cls_name and not message.split(":", 1)[0].endswith(cls_name):
        message = f"{cls_name}: {message}" if message else cls_name
    stack = getattr(error, "stack", None) or []
    text = message + ("\n\nStack Trace:\n" + "".join(stack).rstrip("\n") if stack else "")
    if _depth < 10:
        cause = getattr(error, "cause", None)
        if cause is not None:
            text += "\n\nThe above exception was caused by the following exception:\n" + format_error(cause, _depth + 1)
        context = getattr(error, "context", None)
        if context is not None:
            text += "\n\nThe above exception occurred during handling of the following exception:\n" + format_error(context, _depth + 1)
    return text


def with_event_error(message: str, event: Any) -> str:
    """`message`, followed (after a blank line) by the error the event carries, if any."""
    error = event_error(event)
    return f"{message}\n\n{format_error(error)}\n" if error is not None else message


# The levels the console loggers' `log_level` takes, in any case: Dagster's
# (which fails the run at logger init on any other; oprun refuses the config).
LOG_LEVEL_NAMES = ("CRITICAL", "FATAL", "ERROR", "WARNING", "WARN", "INFO", "DEBUG")


class _LogLevel(Scalar):
    """A String naming a log level (`LOG_LEVEL_NAMES`, any case); shown as String,
    as in Dagster's schema."""

    def __init__(self) -> None:
        super().__init__("String", (str,), False, "string")

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str) and value.upper() in LOG_LEVEL_NAMES

    def explain_rejection(self, value: Any) -> tuple[str, str] | None:
        """The validator's message for a string that names no level (None: the
        usual one, for a value that is not a string)."""
        if not isinstance(value, str):
            return None
        from oprun.errors import did_you_mean

        shown = repr(value if len(value) <= 40 else value[:37] + "...")
        levels = ", ".join(repr(name) for name in LOG_LEVEL_NAMES)
        return f"bad value for log level {shown}: permissible values are {levels} (in any case).", did_you_mean(value.upper(), LOG_LEVEL_NAMES)


_CONSOLE_SCHEMA = {
    "log_level": Field(_LogLevel(), default_value="DEBUG", is_required=False, description="The logger's threshold."),
    "name": Field(str, default_value="oprun", is_required=False),
}


def _colored_console(init_context: Any) -> ConsoleLogWriter:
    config = init_context.logger_config or {}
    return ConsoleLogWriter(config.get("name", "oprun"), coerce_level(config.get("log_level", "DEBUG")))


def _json_console(init_context: Any) -> ConsoleLogWriter:
    config = init_context.logger_config or {}
    return ConsoleLogWriter(config.get("name", "oprun"), coerce_level(config.get("log_level", "DEBUG")), as_json=True)


colored_console_logger = LoggerDefinition(_colored_console, _CONSOLE_SCHEMA, "The default colored console logger.")
json_console_logger = LoggerDefinition(_json_console, _CONSOLE_SCHEMA, "A console logger that prints JSON lines.")
default_loggers = {"console": colored_console_logger}


# How records of `get_dagster_logger()` reach the active run: the engine registers
# it here, so that neither side imports `logging` before someone logs through it.
capture_installers: list[Callable[[], None]] = []


def get_dagster_logger(name: str | None = None) -> logging.Logger:
    """A Python logger whose records, inside a run, are captured into the run's
    event log (and printed by the run's loggers)."""
    import logging  # here, not at the top: `import oprun` does not need it

    for install in capture_installers:
        install()
    base = logging.getLogger("oprun")
    return base.getChild(name) if name else base
