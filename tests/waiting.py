"""Waiting on another process's progress (a file it writes, what it stores in
the instance), with a deadline: polled, as there is nothing to wait on directly."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_for(predicate: Callable[[], Any], seconds: float = 60, interval: float = 0.05) -> Any:
    """`predicate()`'s first true value, polled every `interval` s for up to `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not reached in {seconds} s")
