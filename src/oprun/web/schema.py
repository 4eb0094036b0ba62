"""The GraphQL schema (`POST /graphql`): Dagster's client contract and the API the UI stands on.

Each part of the schema lives in its own module of `oprun.web.graphql`, with its types,
resolvers and root fields (`...Queries`, `...Mutations`); this module merges the root fields.

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

from typing import Any

import strawberry
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from oprun.web.graphql import automation, automation_backfills, common, config_types, events, instance_health, jobs, runs, workspace

# The deepest query served: the client's documents are 5 levels deep; a query
# nested far deeper is an attack on the server, refused before it runs.
MAX_QUERY_DEPTH = 20

QUERIES: tuple[type, ...] = (workspace.WorkspaceQueries, jobs.JobQueries, runs.RunQueries, events.EventQueries,
    automation.AutomationQueries, automation_backfills.BackfillQueries, instance_health.InstanceQueries)
MUTATIONS: tuple[type, ...] = (runs.RunMutations, workspace.WorkspaceMutations,
    automation.AutomationMutations, automation_backfills.BackfillMutations)
SUBSCRIPTIONS: tuple[type, ...] = (events.EventSubscriptions,)


class _Schema(strawberry.Schema):
    def process_errors(self, errors: list[Any], execution_context: Any = None) -> None:
        """Log only what went wrong in the server (a resolver that raised); a
        client's mistake (syntax, an unknown field, a wrong variable type) is
        answered to the client, and is not the server's error to log."""
        raised = [error for error in errors if getattr(error, "original_error", None) is not None]
        if raised:
            super().process_errors(raised, execution_context)


def build_schema() -> strawberry.Schema:
    """The schema; resolvers read `info.context` as a `oprun.web.context.WebContext`."""
    from strawberry.extensions import QueryDepthLimiter

    return _Schema(
        query=merge_types("Query", QUERIES),
        mutation=merge_types("Mutation", MUTATIONS),
        subscription=merge_types("Subscription", SUBSCRIPTIONS),
        # returned only through their interface
        types=[*config_types.CONFIG_ERROR_TYPES.values(), *events.METADATA_ENTRY_TYPES, *jobs.SCHEMA_TYPES],
        config=StrawberryConfig(scalar_map=common.SCALAR_MAP),
        extensions=[lambda: QueryDepthLimiter(max_depth=MAX_QUERY_DEPTH)],  # a fresh one per request
    )
