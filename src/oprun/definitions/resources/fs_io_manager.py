"""The filesystem pickle IO manager behind `fs_io_manager` and
`FilesystemIOManager` (a definition like any user's IOManager class; it touches
files only when a run calls it).

Each output is pickled to `<base_dir>/<run_id>/<step_key>/<output>` (plus the
mapping key for dynamic outputs). A write goes to a temporary file first and is
renamed into place, so a crash never leaves a half-written output behind.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pickle
import tempfile
from typing import Any

from oprun.definitions.resources.resource import IOManager
from oprun.errors import DagsterInvariantViolationError
from oprun.files import PRIVATE_DIRECTORY_MODE, PRIVATE_FILE_MODE, makedirs_private

_TMP_COUNTER = itertools.count()
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


class PickledObjectFilesystemIOManager(IOManager):
    def __init__(self, base_dir: str | None = None) -> None:
        self.base_dir = os.path.abspath(base_dir or os.path.join(tempfile.gettempdir(), "oprun-storage"))

    def _path(self, context: Any) -> str:
        return os.path.join(self.base_dir, *context.get_identifier())

    def handle_output(self, context: Any, obj: Any) -> None:
        if context.dagster_type is not None and context.dagster_type.is_nothing:
            return
        path = self._path(context)
        directory, name = os.path.split(path)
        # Unique while this process lives (pid and a counter): no random names to draw.
        tmp = os.path.join(directory, f".tmp-{name}-{os.getpid()}-{next(_TMP_COUNTER)}")
        # Each step has a directory of its own, new at its first output: made
        # first (one syscall while the run's directory exists), owner-only like the file.
        try:
            os.mkdir(directory, PRIVATE_DIRECTORY_MODE)
        except FileExistsError:
            pass
        except FileNotFoundError:
            makedirs_private(directory)
        fd = os.open(tmp, _CREATE_FLAGS, PRIVATE_FILE_MODE)
        try:
            with os.fdopen(fd, "wb") as f:
                pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        context.add_output_metadata({"path": path})

    def load_input(self, context: Any) -> Any:
        if context.dagster_type is not None and context.dagster_type.is_nothing:
            return None
        upstream = context.upstream_output
        if upstream is None:
            raise DagsterInvariantViolationError(
                f"Input '{context.name}' is not connected to an upstream output: the filesystem IO "
                "manager can only load outputs of other steps."
            )
        path = self._path(upstream)
        try:
            with open(path, "rb") as f:
                return pickle.load(f)
        except FileNotFoundError:
            raise DagsterInvariantViolationError(
                f"Output '{upstream.name}' of step '{upstream.step_key}' (run {upstream.run_id}) is missing: "
                f"no file at {path}. It was never stored, or its run's storage was deleted or pruned."
            ) from None


class FilesystemIOManager(PickledObjectFilesystemIOManager):
    """The IO manager class for use as a resource value: `FilesystemIOManager(base_dir=...)`."""
