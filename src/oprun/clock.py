"""The one clock that time-based logic reads: schedules, sensors' intervals, the
run queue, the run monitor and heartbeats all call `now()` (or `timestamp()`)
here, never `time.time()` themselves, so a test can say what time it is.

Two ways to set it, both for tests:

- in this process, `set_clock(fn)` (or the `frozen_clock`/`clock_at` helpers):
  `fn()` returns the POSIX timestamp to use;
- for another process (a daemon started as a subprocess), the environment
  variable `OPRUN_CLOCK_FILE` names a file holding a POSIX timestamp; each
  reading of the clock reads the file (the test rewrites it to move time on). A
  missing or empty file means the real time.

Intervals that measure waiting (how long to sleep until the next loop) use the
monotonic clock and are not affected: the loops wake up in real time and
evaluate "as of" this clock.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

CLOCK_FILE_ENV = "OPRUN_CLOCK_FILE"

_override: Callable[[], float] | None = None


def timestamp() -> float:
    """Seconds since the epoch, as this clock says."""
    if _override is not None:
        return _override()
    path = os.environ.get(CLOCK_FILE_ENV)
    if path:
        value = _read_clock_file(path)
        if value is not None:
            return value
    return time.time()


def now() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.fromtimestamp(timestamp(), tz=UTC)


def set_clock(fn: Callable[[], float] | None) -> None:
    """Make `fn` the clock of this process (None: the real time again)."""
    global _override
    _override = fn


@contextlib.contextmanager
def clock_at(moment: float | datetime) -> Iterator[Callable[[float | datetime], None]]:
    """Freeze this process's clock at `moment` for the block; yields a function
    that moves it to another moment."""
    current = [_as_timestamp(moment)]

    def move(to: float | datetime) -> None:
        current[0] = _as_timestamp(to)

    previous = _override
    set_clock(lambda: current[0])
    try:
        yield move
    finally:
        set_clock(previous)


def write_clock_file(path: str, moment: float | datetime) -> None:
    """Set the clock of processes started with OPRUN_CLOCK_FILE=path (written
    whole, then renamed, so a reader never sees half a number)."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="ascii") as f:
        f.write(repr(_as_timestamp(moment)))
    os.replace(tmp, path)


def _read_clock_file(path: str) -> float | None:
    try:
        with open(path, encoding="ascii") as f:
            text = f.read().strip()
    except OSError:
        return None
    try:
        return float(text) if text else None
    except ValueError:
        return None


def _as_timestamp(moment: float | datetime) -> float:
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            raise ValueError("A clock moment must be an aware datetime (give it a tzinfo) or a POSIX timestamp.")
        return moment.timestamp()
    return float(moment)
