"""Compute logs: each step's stdout and stderr, captured to files under the
instance (`<compute logs dir>/<run_id>/<step_key>.out|.err`).

In the run's own process, Python-level writes are teed: they still reach the
terminal, so `print` and interactive debugging keep working; a step's files are
created when it first writes (a step that prints nothing has none). In a worker process
the file descriptors themselves are redirected, so output from C extensions and
subprocesses is captured too.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import IO, Any

from oprun.files import PRIVATE_FILE_MODE, makedirs_private


def log_paths(directory: str, run_id: str, step_key: str) -> tuple[str, str]:
    base = os.path.join(directory, run_id)
    safe = step_key.replace(os.sep, "_")
    return os.path.join(base, f"{safe}.out"), os.path.join(base, f"{safe}.err")


class _Tee:
    """A text stream writing to the original stream and to a capture file, which
    is created on the first write: most steps print nothing, and creating two
    files per step would cost more than the step."""

    def __init__(self, original: IO[str], path: str) -> None:
        self._original = original
        self._path = path
        self._capture: IO[str] | None = None

    def write(self, text: str) -> int:
        if text:
            if self._capture is None:
                self._capture = _open_log(self._path)
            self._capture.write(text)
        return self._original.write(text)

    def flush(self) -> None:
        if self._capture is not None:
            self._capture.flush()
        self._original.flush()

    @property
    def console_stream(self) -> IO[str]:
        """The stream under the capture, where the engine's console lines go."""
        return self._original

    def close_capture(self) -> None:
        if self._capture is not None:
            self._capture.close()

    def isatty(self) -> bool:
        return self._original.isatty()

    def fileno(self) -> int:
        return self._original.fileno()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._original, name)


def _open_log(path: str) -> IO[str]:
    makedirs_private(os.path.dirname(path))  # owner-only, like everything under the home
    # Line-buffered: a live view of the step's output (the web UI's compute logs)
    # sees each line as it is printed, not when the step ends.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_FILE_MODE)
    return os.fdopen(fd, "a", buffering=1, encoding="utf-8")


@contextlib.contextmanager
def capture_in_process(directory: str, run_id: str, step_key: str) -> Iterator[tuple[str, str]]:
    out_path, err_path = log_paths(directory, run_id, step_key)
    saved = sys.stdout, sys.stderr
    out, err = _Tee(saved[0], out_path), _Tee(saved[1], err_path)
    sys.stdout, sys.stderr = out, err
    try:
        yield out_path, err_path
    finally:
        sys.stdout, sys.stderr = saved
        out.close_capture()
        err.close_capture()


@contextlib.contextmanager
def capture_file_descriptors(directory: str, run_id: str, step_key: str) -> Iterator[tuple[str, str]]:
    """Redirect fds 1 and 2 to the step's files (for worker processes)."""
    out_path, err_path = log_paths(directory, run_id, step_key)
    makedirs_private(os.path.dirname(out_path))
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    out_fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_FILE_MODE)
    err_fd = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_FILE_MODE)
    # A worker's stdout is block-buffered (not a terminal): line-buffer it while
    # captured, so each printed line reaches the file, and a live view, at once.
    buffered = [s for s in (sys.stdout, sys.stderr) if not getattr(s, "line_buffering", True) and hasattr(s, "reconfigure")]
    try:
        os.dup2(out_fd, 1)
        os.dup2(err_fd, 2)
        for stream in buffered:
            stream.reconfigure(line_buffering=True)
        yield out_path, err_path
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for stream in buffered:
            stream.reconfigure(line_buffering=False)
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
