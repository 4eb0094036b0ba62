"""The GraphQL schema DagsterGraphQLClient talks to (`POST /graphql`).

Schema decisions (the minimum schema of the DagsterGraphQLClient wire contract, dagster-graphql 1.13.28):
1. Dagster's names, argument types and nullability exactly: the legacy root fields
   (`launchPipelineExecution`, `pipelineRunOrError(runId: ID!)`, `terminateRun(runId: String!)`).
2. Modern concrete types implement the legacy interfaces the client's fragments name
   (`Run implements PipelineRun`, `RunConfigValidationInvalid implements PipelineConfigValidationInvalid`, ...).
3. Domain failures are union members in `data`, never top-level errors; anything unexpected is `PythonError`.
4. One Repository per loaded code location, named `__repository__` as Dagster names a Definitions' repository;
   a location that fails to load is left out of `repositoriesOrError` (Dagster shows it as a load error entry,
   which this query cannot carry), and its reload answers `locationOrLoadError: PythonError`, never null.
5. `RunConfigData` is any JSON value, or a YAML string read into one; a config that is not a mapping
   (or not YAML) is `RunConfigValidationInvalid` with one RuntimeMismatchConfigError at path [].
6. Additions from Dagster's schema: PipelineNotFoundError's pipelineName, repositoryName and
   repositoryLocationName. `mode` is accepted and ignored (jobs have one mode); a non-empty `assetSelection`
   and a bad `solidSelection` are `PythonError`s (Dagster's InvalidSubsetError is not a member the client decodes).
7. `shutdownRepositoryLocation` is a no-op success: locations load in-process, there is no code server to stop.
"""

from __future__ import annotations

import strawberry
from strawberry.schema.config import StrawberryConfig
from strawberry.types import Info

from oprun.web import resolvers
from oprun.web.graphql import types as t

# Each root field calls its resolver in `oprun.web.resolvers` with the request's WebContext.


def _repositories_or_error(info: Info) -> t.RepositoriesOrError:
    return resolvers.repositories_or_error(info.context)


def _pipeline_run_or_error(info: Info, run_id: strawberry.ID) -> t.RunOrError:
    return resolvers.run_or_error(info.context, str(run_id))


def _launch_pipeline_execution(info: Info, execution_params: t.ExecutionParams) -> t.LaunchRunResult:
    return resolvers.launch_run(info.context, execution_params)


def _reload_repository_location(info: Info, repository_location_name: str) -> t.ReloadRepositoryLocationMutationResult:
    return resolvers.reload_location(info.context, repository_location_name)


def _shutdown_repository_location(info: Info, repository_location_name: str) -> t.ShutdownRepositoryLocationMutationResult:
    return resolvers.shutdown_location(info.context, repository_location_name)


def _terminate_run(info: Info, run_id: str) -> t.TerminateRunResult:
    return resolvers.terminate_run(info.context, run_id)


def _terminate_runs(info: Info, run_ids: list[str]) -> t.TerminateRunsResultOrError:
    return t.TerminateRunsResult(terminate_run_results=[resolvers.terminate_run(info.context, r) for r in run_ids])


@strawberry.type(name="Query")
class Query:
    repositories_or_error: t.RepositoriesOrError = strawberry.field(resolver=_repositories_or_error)
    pipeline_run_or_error: t.RunOrError = strawberry.field(resolver=_pipeline_run_or_error)


@strawberry.type(name="Mutation")
class Mutation:
    launch_pipeline_execution: t.LaunchRunResult = strawberry.mutation(resolver=_launch_pipeline_execution)
    reload_repository_location: t.ReloadRepositoryLocationMutationResult = strawberry.mutation(
        resolver=_reload_repository_location
    )
    shutdown_repository_location: t.ShutdownRepositoryLocationMutationResult = strawberry.mutation(
        resolver=_shutdown_repository_location
    )
    terminate_run: t.TerminateRunResult = strawberry.mutation(resolver=_terminate_run)
    terminate_runs: t.TerminateRunsResultOrError = strawberry.mutation(resolver=_terminate_runs)


# The deepest query served: the client's documents are 5 levels deep; a query
# nested far deeper is an attack on the server, refused before it runs.
MAX_QUERY_DEPTH = 20


def build_schema() -> strawberry.Schema:
    """The schema; resolvers read `info.context` as a `oprun.web.context.WebContext`."""
    from strawberry.extensions import QueryDepthLimiter

    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        types=list(t.CONFIG_ERROR_TYPES.values()),  # returned only through their interface
        config=StrawberryConfig(scalar_map=t.SCALAR_MAP),
        extensions=[lambda: QueryDepthLimiter(max_depth=MAX_QUERY_DEPTH)],  # a fresh one per request
    )
