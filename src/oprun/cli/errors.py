"""How commands fail: `CliFailure` carries the message and the exit status, so no
user mistake ends in a traceback."""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from contextlib import contextmanager


class CliFailure(Exception):
    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


_VERBOSE = [False]


def verbose_requested(args: list[str]) -> bool:
    """`--verbose` before the command name (`oprun --verbose job ...`); after it,
    `--verbose` belongs to the command (e.g. `job print --verbose`)."""
    for arg in args:
        if arg == "--verbose":
            _VERBOSE[0] = True
            return True
        if not arg.startswith("-"):
            break
    _VERBOSE[0] = False
    return False


@contextmanager
def user_errors(what: str | None = None) -> Iterator[None]:
    """Turn oprun's errors into one clear message (exit 2); tracebacks only with --verbose."""
    from oprun.errors import DagsterError

    try:
        yield
    except CliFailure:
        raise
    except DagsterError as exc:
        if _VERBOSE[0]:
            traceback.print_exc()
        prefix = f"{what}: " if what else ""
        raise CliFailure(f"Error: {prefix}{_describe(exc)}", 2) from exc


def _describe(exc: Exception) -> str:
    from oprun.errors import DagsterInvalidConfigError

    if isinstance(exc, DagsterInvalidConfigError) and exc.errors:
        lines = [exc.preamble.rstrip() + ":"]
        for error in exc.errors:
            path = getattr(error, "path_str", "")
            reason = getattr(error, "reason", "")
            lines.append(f"  - {path} [{reason}] {getattr(error, 'message', error)}")
        return "\n".join(lines)
    return str(exc)
