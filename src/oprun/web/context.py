"""What every GraphQL resolver gets: the instance and the workspace of code
locations the server was started on (reloaded on request, and in `oprun dev`
when their files change)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from oprun.daemon.base import Workspace


@dataclass
class WebContext:
    """`instance`: the DagsterInstance of `$OPRUN_HOME`; `workspace`: the code
    locations (`Workspace.locations`, `.location(name)`, `.loaded()`, and
    `.reload(name)` for reloadRepositoryLocation); `dev`: started by
    `oprun dev` (GraphiQL is served, code reloads on change); `read_only`: started
with `--read-only` (queries only)."""

    instance: Any
    workspace: Workspace
    dev: bool = False
    # `--read-only`: every mutation answers Dagster's UnauthorizedError.
    read_only: bool = False
    # Set per request by the app (strawberry's request/response objects).
    request: Any = None
    response: Any = None
