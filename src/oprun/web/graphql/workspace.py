"""The workspace as GraphQL: code locations, their repositories (one per loaded
location, named `__repository__` as Dagster names a Definitions' repository),
reloading and shutting down a location."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from oprun.loading import CodeLocation
from oprun.web.context import WebContext
from oprun.web.graphql import common as c
from oprun.web.graphql.jobs import Pipeline, pipeline_type


@strawberry.type(name="Repository")
class Repository:
    name: str
    location: RepositoryLocation
    pipelines: list[Pipeline]


@strawberry.type(name="RepositoryLocation")
class RepositoryLocation:
    name: str
    is_reload_supported: bool
    repositories: list[Repository]


@strawberry.type(name="RepositoryConnection")
class RepositoryConnection:
    nodes: list[Repository]


@strawberry.type(name="WorkspaceLocationEntry")
class WorkspaceLocationEntry:
    name: str
    location_or_load_error: RepositoryLocationOrLoadError | None


RepositoriesOrError = Annotated[RepositoryConnection | c.PythonError, strawberry.union("RepositoriesOrError")]
RepositoryLocationOrLoadError = Annotated[
    RepositoryLocation | c.PythonError, strawberry.union("RepositoryLocationOrLoadError")
]
# UnauthorizedError here and on shutdown: Dagster's members too (what a read-only
# server answers), beyond the client's minimum.
ReloadRepositoryLocationMutationResult = Annotated[
    WorkspaceLocationEntry | c.ReloadNotSupported | c.RepositoryLocationNotFound | c.UnauthorizedError,
    strawberry.union("ReloadRepositoryLocationMutationResult"),
]
ShutdownRepositoryLocationMutationResult = Annotated[
    c.ShutdownRepositoryLocationSuccess | c.RepositoryLocationNotFound | c.UnauthorizedError | c.PythonError,
    strawberry.union("ShutdownRepositoryLocationMutationResult"),
]


def location_type(location: CodeLocation, definitions: Any) -> RepositoryLocation:
    graph_location = RepositoryLocation(name=location.name, is_reload_supported=True, repositories=[])
    pipelines = [pipeline_type(location, definitions, name) for name in definitions.job_names]
    graph_location.repositories.append(Repository(name=c.REPOSITORY_NAME, location=graph_location, pipelines=pipelines))
    return graph_location


# ---------- resolvers ----------


@c.or_python_error
def repositories_or_error(context: WebContext) -> RepositoriesOrError:
    """One repository per loaded location; one that fails to load is left out, as in Dagster."""
    nodes = [repo for location, defs in context.workspace.loaded() for repo in location_type(location, defs).repositories]
    return RepositoryConnection(nodes=nodes)


def reload_location(context: WebContext, name: str) -> ReloadRepositoryLocationMutationResult:
    """Reload a location's code; a failed load is `locationOrLoadError: PythonError`, never null."""
    refused = c.read_only_refusal(context, f"reload code location {name}")
    if refused is not None:
        return refused
    location = c.find_location(context, name)
    if location is None:
        return c.location_not_found(name)
    try:
        loaded: RepositoryLocation | c.PythonError = location_type(location, context.workspace.reload(location.name))
    except Exception as error:  # noqa: BLE001 - the location's load error, as data
        loaded = c.python_error(error)
    return WorkspaceLocationEntry(name=name, location_or_load_error=loaded)


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


def _repositories_or_error(info: Info) -> RepositoriesOrError:
    return repositories_or_error(info.context)


def _reload_repository_location(info: Info, repository_location_name: str) -> ReloadRepositoryLocationMutationResult:
    return reload_location(info.context, repository_location_name)


def _shutdown_repository_location(info: Info, repository_location_name: str) -> ShutdownRepositoryLocationMutationResult:
    return shutdown_location(info.context, repository_location_name)


@strawberry.type
class WorkspaceQueries:
    repositories_or_error: RepositoriesOrError = strawberry.field(resolver=_repositories_or_error)


@strawberry.type
class WorkspaceMutations:
    reload_repository_location: ReloadRepositoryLocationMutationResult = strawberry.mutation(
        resolver=_reload_repository_location
    )
    shutdown_repository_location: ShutdownRepositoryLocationMutationResult = strawberry.mutation(
        resolver=_shutdown_repository_location
    )
