"""The workspace as GraphQL: code locations (`workspaceOrError`, each entry with
its location or its load error), their statuses, their repositories (one per
loaded location, named `__repository__` as Dagster names a Definitions'
repository) with jobs, schedules and sensors; reloading a location or the whole
workspace, and shutting a location down.

`repositoriesOrError` leaves out a location that fails to load, as Dagster does;
`workspaceOrError` shows it, with its error as a `PythonError`.
"""

from __future__ import annotations

import enum
import threading
import weakref
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from oprun import clock
from oprun.loading import CodeLocation
from oprun.web.context import WebContext
from oprun.web.graphql import common as c
from oprun.web.graphql.automation_shared import (
    RepositoryNotFoundError,
    RepositorySelector,
    SensorType,
    repository_not_found,
    repository_origin,
)
from oprun.web.graphql.jobs import Job, Pipeline, pipeline_type
from oprun.web.graphql.run_object import RepositoryMetadata
from oprun.web.graphql.runs import Permission, RepositoryOrigin

if TYPE_CHECKING:
    from oprun.web.graphql.automation import Schedule, Sensor


@strawberry.enum(name="RepositoryLocationLoadStatus")
class RepositoryLocationLoadStatus(enum.Enum):
    LOADING = "LOADING"
    LOADED = "LOADED"


@strawberry.type(name="FeatureFlag")
class FeatureFlag:
    name: str
    enabled: bool


@strawberry.type(name="DagsterLibraryVersion")
class DagsterLibraryVersion:
    name: str
    version: str


@strawberry.type(name="Repository")
class Repository:
    name: str
    location_name: strawberry.Private[str]
    definitions: strawberry.Private[Any]
    graph_location: strawberry.Private[RepositoryLocation]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(f"{self.location_name}:{self.name}")

    @strawberry.field
    def location(self) -> RepositoryLocation:
        return self.graph_location

    @strawberry.field
    def pipelines(self) -> list[Pipeline]:
        return [pipeline_type(self.location_name, self.definitions.get_job_def(n)) for n in self.definitions.job_names]

    @strawberry.field
    def jobs(self) -> list[Job]:
        return [pipeline_type(self.location_name, self.definitions.get_job_def(n), Job) for n in self.definitions.job_names]  # type: ignore[misc]  # a Job is a Pipeline

    @strawberry.field
    def schedules(self, info: Info) -> list[Annotated[Schedule, strawberry.lazy("oprun.web.graphql.automation")]]:
        from oprun.web.graphql.automation import repository_schedules

        return repository_schedules(info.context, self.location_name)

    @strawberry.field
    def sensors(
        self, info: Info, sensor_type: SensorType | None = None
    ) -> list[Annotated[Sensor, strawberry.lazy("oprun.web.graphql.automation")]]:
        from oprun.web.graphql.automation import repository_sensors

        return repository_sensors(info.context, self.location_name, sensor_type_filter=sensor_type)

    @strawberry.field
    def origin(self) -> RepositoryOrigin:
        return repository_origin(self.location_name)

    @strawberry.field
    def display_metadata(self) -> list[RepositoryMetadata]:
        return self.graph_location.display_metadata()


@strawberry.type(name="RepositoryLocation")
class RepositoryLocation:
    name: str
    is_reload_supported: bool
    environment_path: str | None
    server_id: str | None
    repositories: list[Repository]
    code_location: strawberry.Private[CodeLocation]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.name)

    @strawberry.field
    def dagster_library_versions(self) -> list[DagsterLibraryVersion] | None:
        from oprun import __version__

        return [DagsterLibraryVersion(name="oprun", version=__version__)]

    def display_metadata(self) -> list[RepositoryMetadata]:
        return display_metadata(self.code_location)


@strawberry.type(name="RepositoryConnection")
class RepositoryConnection:
    nodes: list[Repository]


@strawberry.type(name="WorkspaceLocationEntry")
class WorkspaceLocationEntry:
    name: str
    location_or_load_error: RepositoryLocationOrLoadError | None
    load_status: RepositoryLocationLoadStatus
    updated_timestamp: float
    code_location: strawberry.Private[CodeLocation]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.name)

    @strawberry.field
    def display_metadata(self) -> list[RepositoryMetadata]:
        return display_metadata(self.code_location)

    @strawberry.field
    def permissions(self, info: Info) -> list[Permission]:
        from oprun.web.graphql.run_actions import permissions

        return permissions(info.context)

    @strawberry.field
    def feature_flags(self) -> list[FeatureFlag]:
        return []


@strawberry.type(name="Workspace")
class Workspace:
    id: str
    location_entries: list[WorkspaceLocationEntry]


@strawberry.type(name="WorkspaceLocationStatusEntry")
class WorkspaceLocationStatusEntry:
    name: str
    load_status: RepositoryLocationLoadStatus
    update_timestamp: float

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.name)

    @strawberry.field
    def permissions(self, info: Info) -> list[Permission]:
        from oprun.web.graphql.run_actions import permissions

        return permissions(info.context)


@strawberry.type(name="WorkspaceLocationStatusEntries")
class WorkspaceLocationStatusEntries:
    entries: list[WorkspaceLocationStatusEntry]


RepositoriesOrError = Annotated[
    RepositoryConnection | RepositoryNotFoundError | c.PythonError, strawberry.union("RepositoriesOrError")
]
RepositoryOrError = Annotated[c.PythonError | Repository | RepositoryNotFoundError, strawberry.union("RepositoryOrError")]
RepositoryLocationOrLoadError = Annotated[
    RepositoryLocation | c.PythonError, strawberry.union("RepositoryLocationOrLoadError")
]
WorkspaceOrError = Annotated[Workspace | c.PythonError, strawberry.union("WorkspaceOrError")]
WorkspaceLocationEntryOrError = Annotated[
    WorkspaceLocationEntry | c.PythonError, strawberry.union("WorkspaceLocationEntryOrError")
]
WorkspaceLocationStatusEntriesOrError = Annotated[
    WorkspaceLocationStatusEntries | c.PythonError, strawberry.union("WorkspaceLocationStatusEntriesOrError")
]
# UnauthorizedError and PythonError here and on shutdown: Dagster's members too
# (what a read-only server answers), beyond the client's minimum.
ReloadRepositoryLocationMutationResult = Annotated[
    WorkspaceLocationEntry | c.ReloadNotSupported | c.RepositoryLocationNotFound | c.UnauthorizedError | c.PythonError,
    strawberry.union("ReloadRepositoryLocationMutationResult"),
]
ShutdownRepositoryLocationMutationResult = Annotated[
    c.ShutdownRepositoryLocationSuccess | c.RepositoryLocationNotFound | c.UnauthorizedError | c.PythonError,
    strawberry.union("ShutdownRepositoryLocationMutationResult"),
]
ReloadWorkspaceMutationResult = Annotated[
    Workspace | c.UnauthorizedError | c.PythonError, strawberry.union("ReloadWorkspaceMutationResult")
]


# ---------- building ----------

# When each location's current definitions were loaded (a reload makes new ones).
_LOADED_AT: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()
# When a location that failed to load met its current load error (by location name).
_FAILED_AT: dict[str, tuple[int, float]] = {}


_STAMPS_LOCK = threading.Lock()  # requests run on worker threads


def _stamp(table: weakref.WeakKeyDictionary[Any, float], key: Any) -> float:
    with _STAMPS_LOCK:
        stamp = table.get(key)
        if stamp is None:
            stamp = table[key] = clock.timestamp()
        return stamp


def _failed_at(name: str, error: BaseException) -> float:
    with _STAMPS_LOCK:
        seen = _FAILED_AT.get(name)
        if seen is None or seen[0] != id(error):
            seen = _FAILED_AT[name] = (id(error), clock.timestamp())
        return seen[1]


def display_metadata(location: CodeLocation) -> list[RepositoryMetadata]:
    """Where the location's code comes from (Dagster shows the same keys)."""
    pointer = location.pointer
    items = {
        "python_file": pointer.python_file,
        "module_name": pointer.module_name,
        "working_directory": pointer.working_directory,
        "attribute": pointer.attribute,
    }
    return [RepositoryMetadata(key=k, value=str(v)) for k, v in items.items() if v]


def location_type(location: CodeLocation, definitions: Any) -> RepositoryLocation:
    loaded_at = _stamp(_LOADED_AT, definitions)
    graph_location = RepositoryLocation(
        name=location.name, is_reload_supported=True, environment_path=None,
        server_id=f"{location.name}@{loaded_at:.6f}", repositories=[], code_location=location,
    )
    graph_location.repositories.append(
        Repository(name=c.REPOSITORY_NAME, location_name=location.name, definitions=definitions, graph_location=graph_location)
    )
    return graph_location


def location_entry(location: CodeLocation) -> WorkspaceLocationEntry:
    """A location with its repository, or with its load error."""
    try:
        definitions = location.load()
    except Exception as error:  # noqa: BLE001 - the location's load error, as data
        return WorkspaceLocationEntry(
            name=location.name, location_or_load_error=c.python_error(error), load_status=RepositoryLocationLoadStatus.LOADED,
            updated_timestamp=_failed_at(location.name, error), code_location=location,
        )
    return WorkspaceLocationEntry(
        name=location.name, location_or_load_error=location_type(location, definitions),
        load_status=RepositoryLocationLoadStatus.LOADED, updated_timestamp=_stamp(_LOADED_AT, definitions),
        code_location=location,
    )


def workspace_type(context: WebContext) -> Workspace:
    return Workspace(id="Workspace", location_entries=[location_entry(loc) for loc in context.workspace.locations])


def repository_of(context: WebContext, location_name: str) -> Repository:
    """The repository of a loaded location (what `Pipeline.repository` shows)."""
    location = context.workspace.location(location_name)
    return location_type(location, location.load()).repositories[0]


# ---------- resolvers ----------


@c.or_python_error
def repositories_or_error(context: WebContext, selector: RepositorySelector | None = None) -> RepositoriesOrError:
    """One repository per loaded location; one that fails to load is left out, as in Dagster."""
    if selector is not None and selector is not strawberry.UNSET:
        found = repository_or_error(context, selector)
        return RepositoryConnection(nodes=[found]) if isinstance(found, Repository) else found
    nodes = [repo for location, defs in context.workspace.loaded() for repo in location_type(location, defs).repositories]
    return RepositoryConnection(nodes=nodes)


@c.or_python_error
def repository_or_error(context: WebContext, selector: RepositorySelector) -> RepositoryOrError:
    location = c.find_location(context, selector.repository_location_name)
    if location is None or selector.repository_name != c.REPOSITORY_NAME:
        return repository_not_found(selector.repository_name, selector.repository_location_name)
    return location_type(location, location.load()).repositories[0]


@c.or_python_error
def location_statuses(context: WebContext) -> WorkspaceLocationStatusEntriesOrError:
    entries = []
    for location in context.workspace.locations:
        entry = location_entry(location)
        entries.append(WorkspaceLocationStatusEntry(name=entry.name, load_status=entry.load_status, update_timestamp=entry.updated_timestamp))
    return WorkspaceLocationStatusEntries(entries=entries)


def workspace_location_entry(context: WebContext, name: str) -> WorkspaceLocationEntryOrError | None:
    location = c.find_location(context, name)
    return location_entry(location) if location is not None else None


def reload_location(context: WebContext, name: str) -> ReloadRepositoryLocationMutationResult:
    """Reload a location's code; a failed load is `locationOrLoadError: PythonError`, never null."""
    refused = c.read_only_refusal(context, f"reload code location {name}")
    if refused is not None:
        return refused
    location = c.find_location(context, name)
    if location is None:
        return c.location_not_found(name)
    try:
        context.workspace.reload(location.name)
    except Exception:  # noqa: BLE001 - kept as the location's load error, shown in its entry
        pass
    return location_entry(location)


@c.or_python_error
def reload_workspace(context: WebContext) -> ReloadWorkspaceMutationResult:
    refused = c.read_only_refusal(context, "reload the workspace")
    if refused is not None:
        return refused
    for location in context.workspace.locations:
        try:
            context.workspace.reload(location.name)
        except Exception:  # noqa: BLE001 - kept as the location's load error, shown in its entry
            pass
    return workspace_type(context)


@c.or_python_error
def shutdown_location(context: WebContext, name: str) -> ShutdownRepositoryLocationMutationResult:
    """A no-op success: oprun loads locations in-process, there is no code server to stop."""
    refused = c.read_only_refusal(context, f"shut down code location {name}")
    if refused is not None:
        return refused
    if c.find_location(context, name) is None:
        return c.location_not_found(name)
    return c.ShutdownRepositoryLocationSuccess(repository_location_name=name)


# ---------- root fields ----------


def _repositories_or_error(info: Info, repository_selector: RepositorySelector | None = None) -> RepositoriesOrError:
    return repositories_or_error(info.context, repository_selector)


def _repository_or_error(info: Info, repository_selector: RepositorySelector) -> RepositoryOrError:
    return repository_or_error(info.context, repository_selector)


@c.or_python_error
def _workspace_or_error(info: Info) -> WorkspaceOrError:
    return workspace_type(info.context)


def _location_statuses_or_error(info: Info) -> WorkspaceLocationStatusEntriesOrError:
    return location_statuses(info.context)


def _workspace_location_entry_or_error(info: Info, name: str) -> WorkspaceLocationEntryOrError | None:
    return workspace_location_entry(info.context, name)


def _reload_repository_location(info: Info, repository_location_name: str) -> ReloadRepositoryLocationMutationResult:
    return reload_location(info.context, repository_location_name)


def _reload_workspace(info: Info) -> ReloadWorkspaceMutationResult:
    return reload_workspace(info.context)


def _shutdown_repository_location(info: Info, repository_location_name: str) -> ShutdownRepositoryLocationMutationResult:
    return shutdown_location(info.context, repository_location_name)


@strawberry.type
class WorkspaceQueries:
    repositories_or_error: RepositoriesOrError = strawberry.field(resolver=_repositories_or_error)
    repository_or_error: RepositoryOrError = strawberry.field(resolver=_repository_or_error)
    workspace_or_error: WorkspaceOrError = strawberry.field(resolver=_workspace_or_error)
    location_statuses_or_error: WorkspaceLocationStatusEntriesOrError = strawberry.field(resolver=_location_statuses_or_error)
    workspace_location_entry_or_error: WorkspaceLocationEntryOrError | None = strawberry.field(
        resolver=_workspace_location_entry_or_error
    )


@strawberry.type
class WorkspaceMutations:
    reload_repository_location: ReloadRepositoryLocationMutationResult = strawberry.mutation(
        resolver=_reload_repository_location
    )
    reload_workspace: ReloadWorkspaceMutationResult = strawberry.mutation(resolver=_reload_workspace)
    shutdown_repository_location: ShutdownRepositoryLocationMutationResult = strawberry.mutation(
        resolver=_shutdown_repository_location
    )
