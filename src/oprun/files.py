"""Owner-only files and directories: how oprun creates what it keeps on disk.

An instance's database, step outputs and captured logs hold run configs, data and
whatever ops print (secrets included), so what oprun creates is for its owner
alone: directories 0700, files 0600, whatever the umask would allow. What exists
already keeps its mode: a directory or file the user made is theirs to set.

A leaf like `events.py`: the instance, the filesystem IO manager and execution all
use it; it imports nothing from oprun.
"""

from __future__ import annotations

import os

PRIVATE_DIRECTORY_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def makedirs_private(path: str) -> None:
    """`os.makedirs(path, exist_ok=True)`, with every directory it creates 0700.

    Not `os.makedirs(path, mode=0o700)`: since Python 3.7 its mode applies to the
    last directory only, and the parents it creates get the umask's default.
    """
    path = os.path.abspath(path)
    if os.path.isdir(path):
        return
    parent = os.path.dirname(path)
    if parent != path:
        makedirs_private(parent)
    try:
        os.mkdir(path, PRIVATE_DIRECTORY_MODE)
    except FileExistsError:
        if not os.path.isdir(path):  # a file in the way, as os.makedirs reports it
            raise
        # else another process created it first


def private_opener(path: str, flags: int) -> int:
    """An `opener` for `open()` that creates a missing file 0600."""
    return os.open(path, flags, PRIVATE_FILE_MODE)


def create_private_file(path: str) -> None:
    """Create `path` empty and 0600 if it does not exist; an existing file is left
    as it is (not opened, so a read-only one is no error)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        return
    os.close(fd)
