"""Compute logs: each step's stdout and stderr, captured to files under the
instance (`<compute logs dir>/<run_id>/<step_key>.out|.err`).

In the run's own process, Python-level writes are teed: they still reach the
terminal, so `print` and interactive debugging keep working. In a worker process
the file descriptors themselves are redirected, so output from C extensions and
subprocesses is captured too.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import IO, Any


def log_paths(directory: str, run_id: str, step_key: str) -> tuple[str, str]:
    base = os.path.join(directory, run_id)
    safe = step_key.replace(os.sep, "_")
    return os.path.join(base, f"{safe}.out"), os.path.join(base, f"{safe}.err")


class _Tee:
    """A text stream writing to the original stream and to a capture file."""

    def __init__(self, original: IO[str], capture: IO[str]) -> None:
        self._original = original
        self._capture = capture

    def write(self, text: str) -> int:
        self._capture.write(text)
        return self._original.write(text)

    def flush(self) -> None:
        self._capture.flush()
        self._original.flush()

    def isatty(self) -> bool:
        return self._original.isatty()

    def fileno(self) -> int:
        return self._original.fileno()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._original, name)


@contextlib.contextmanager
def capture_in_process(directory: str, run_id: str, step_key: str) -> Iterator[tuple[str, str]]:
    out_path, err_path = log_paths(directory, run_id, step_key)
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    with open(out_path, "a", encoding="utf-8") as out, open(err_path, "a", encoding="utf-8") as err:
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _Tee(saved[0], out), _Tee(saved[1], err)
        try:
            yield out_path, err_path
        finally:
            sys.stdout, sys.stderr = saved


@contextlib.contextmanager
def capture_file_descriptors(directory: str, run_id: str, step_key: str) -> Iterator[tuple[str, str]]:
    """Redirect fds 1 and 2 to the step's files (for worker processes)."""
    out_path, err_path = log_paths(directory, run_id, step_key)
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    out_fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    err_fd = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.dup2(out_fd, 1)
        os.dup2(err_fd, 2)
        yield out_path, err_path
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (out_fd, err_fd, *saved):
            os.close(fd)


def read_compute_logs(directory: str, run_id: str, step_key: str) -> tuple[str, str]:
    """The captured stdout and stderr of a step ("" when nothing was captured)."""
    texts = []
    for path in log_paths(directory, run_id, step_key):
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                texts.append(f.read())
        except FileNotFoundError:
            texts.append("")
    return texts[0], texts[1]
