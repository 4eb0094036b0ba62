"""`file_relative_path`: a path next to the module that names it, so that code
locations can point at their config files and data whatever the working directory.

Pure path arithmetic; touches no file.
"""

from __future__ import annotations

import os
from pathlib import Path

from oprun.errors import DagsterInvalidInvocationError


def file_relative_path(dunderfile: str, relative_path: str) -> str:
    """The absolute path of `relative_path` taken from the directory of `dunderfile`
    (pass `__file__`): `file_relative_path(__file__, "config/prod.yaml")`."""
    for name, value in (("dunderfile", dunderfile), ("relative_path", relative_path)):
        if not isinstance(value, (str, os.PathLike)):
            raise DagsterInvalidInvocationError(
                f"file_relative_path: {name} must be a path string, got {value!r} of type {type(value).__name__}. "
                "Call it as file_relative_path(__file__, 'relative/path')."
            )
    # As Dagster: `<file>/../<relative>`, resolved, so `..` and symlinks are followed.
    return os.fspath(Path(dunderfile, "..", relative_path).resolve())
