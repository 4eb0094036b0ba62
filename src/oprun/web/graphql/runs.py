"""Runs as GraphQL: the root fields of the runs domain, Dagster's names and
arguments (modern and legacy), over the modules that implement them:

- `run_object`: the `Run` type; `run_type(run)` is the one way to build it.
- `run_stats`: `RunStatsSnapshot` and `RunStepStats`, from the event log.
- `run_lists`: `runsOrError` and the other lists, with `RunsFilter`.
- `run_launch`: `launchRun` and `launchRunReexecution`.
- `run_actions`: `terminateRun(s)`, `deleteRun`, and `permissions`.

Every mutation first refuses on a read-only server (`UnauthorizedError`).
"""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry import UNSET
from strawberry.types import Info

from oprun.web.context import WebContext
from oprun.web.graphql import common as c
from oprun.web.graphql.run_actions import (
    DeletePipelineRunResult,
    Permission,
    TerminateRunPolicy,
    TerminateRunResult,
    TerminateRunsResultOrError,
    delete_run,
    permissions,
    terminate_run,
    terminate_runs,
)
from oprun.web.graphql.run_launch import (
    LaunchPipelineRunSuccess,
    LaunchRunReexecutionResult,
    LaunchRunResult,
    LaunchRunSuccess,
    ReexecutionParams,
    launch_reexecution,
    launch_run,
    read_run_config,
)
from oprun.web.graphql.run_lists import (
    RunIdsOrError,
    RunsFilterInput,
    RunsOrError,
    RunTagKeysOrError,
    RunTagsOrError,
    run_ids_or_error,
    run_tag_keys_or_error,
    run_tags_or_error,
    runs_or_error,
)
from oprun.web.graphql.run_object import PipelineTag, RepositoryOrigin, Run, location_for_run, run_type

__all__ = [
    "LaunchPipelineRunSuccess", "LaunchRunSuccess", "Permission", "PipelineTag", "RepositoryOrigin", "Run",
    "RunMutations", "RunQueries", "launch_run", "location_for_run", "read_run_config", "run_or_error", "run_type",
]

RunOrError = Annotated[Run | c.RunNotFoundError | c.PythonError, strawberry.union("RunOrError")]


@c.or_python_error
def run_or_error(context: WebContext, run_id: str) -> RunOrError:
    run = context.instance.get_run_record_by_id(run_id)
    if run is None:
        return c.run_not_found(run_id)
    return run_type(run)


# ---------- root fields ----------


def _run_or_error(info: Info, run_id: strawberry.ID) -> RunOrError:
    return run_or_error(info.context, str(run_id))


def _runs_or_error(info: Info, filter: RunsFilterInput | None = UNSET, cursor: str | None = UNSET, limit: int | None = UNSET) -> RunsOrError:
    return runs_or_error(info.context, filter, cursor, limit)


def _run_ids_or_error(info: Info, filter: RunsFilterInput | None = UNSET, cursor: str | None = UNSET, limit: int | None = UNSET) -> RunIdsOrError:
    return run_ids_or_error(info.context, filter, cursor, limit)


def _run_tag_keys_or_error(info: Info) -> RunTagKeysOrError | None:
    return run_tag_keys_or_error(info.context)


def _run_tags_or_error(
    info: Info, tag_keys: list[str] | None = UNSET, value_prefix: str | None = UNSET, limit: int | None = UNSET,
) -> RunTagsOrError | None:
    return run_tags_or_error(
        info.context, tag_keys or None, value_prefix or None, None if limit is UNSET else limit,
    )


def _permissions(info: Info) -> list[Permission]:
    return permissions(info.context)


def _can_bulk_terminate(info: Info) -> bool:
    return not info.context.read_only


def _launch(info: Info, execution_params: c.ExecutionParams) -> LaunchRunResult:
    return launch_run(info.context, execution_params)


def _reexecute(
    info: Info, execution_params: c.ExecutionParams | None = UNSET, reexecution_params: ReexecutionParams | None = UNSET,
) -> LaunchRunReexecutionResult:
    return launch_reexecution(info.context, execution_params, reexecution_params)


def _terminate_run(info: Info, run_id: str, terminate_policy: TerminateRunPolicy | None = UNSET) -> TerminateRunResult:
    return terminate_run(info.context, run_id, None if terminate_policy is UNSET else terminate_policy)


def _terminate_runs(info: Info, run_ids: list[str], terminate_policy: TerminateRunPolicy | None = UNSET) -> TerminateRunsResultOrError:
    return terminate_runs(info.context, run_ids, None if terminate_policy is UNSET else terminate_policy)


def _delete_run(info: Info, run_id: str) -> DeletePipelineRunResult:
    return delete_run(info.context, run_id)


@strawberry.type
class RunQueries:
    pipeline_run_or_error: RunOrError = strawberry.field(resolver=_run_or_error)
    run_or_error: RunOrError = strawberry.field(resolver=_run_or_error)
    runs_or_error: RunsOrError = strawberry.field(resolver=_runs_or_error)
    pipeline_runs_or_error: RunsOrError = strawberry.field(resolver=_runs_or_error)
    run_ids_or_error: RunIdsOrError = strawberry.field(resolver=_run_ids_or_error)
    run_tag_keys_or_error: RunTagKeysOrError | None = strawberry.field(resolver=_run_tag_keys_or_error)
    run_tags_or_error: RunTagsOrError | None = strawberry.field(resolver=_run_tags_or_error)
    permissions: list[Permission] = strawberry.field(resolver=_permissions)
    can_bulk_terminate: bool = strawberry.field(resolver=_can_bulk_terminate)


@strawberry.type
class RunMutations:
    launch_pipeline_execution: LaunchRunResult = strawberry.mutation(resolver=_launch)
    launch_run: LaunchRunResult = strawberry.mutation(resolver=_launch)
    launch_pipeline_reexecution: LaunchRunReexecutionResult = strawberry.mutation(resolver=_reexecute)
    launch_run_reexecution: LaunchRunReexecutionResult = strawberry.mutation(resolver=_reexecute)
    terminate_pipeline_execution: TerminateRunResult = strawberry.mutation(resolver=_terminate_run)
    terminate_run: TerminateRunResult = strawberry.mutation(resolver=_terminate_run)
    terminate_runs: TerminateRunsResultOrError = strawberry.mutation(resolver=_terminate_runs)
    delete_pipeline_run: DeletePipelineRunResult = strawberry.mutation(resolver=_delete_run)
    delete_run: DeletePipelineRunResult = strawberry.mutation(resolver=_delete_run)
