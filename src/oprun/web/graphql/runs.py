"""Runs as GraphQL: the `Run` type, launching, terminating, and the run queries."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import strawberry
from strawberry import UNSET
from strawberry.types import Info

from oprun.config.run_config import load_yaml_string
from oprun.daemon.base import create_run
from oprun.errors import ConfigFileError, DagsterInvalidConfigError
from oprun.runs import DagsterRunStatus
from oprun.web.context import WebContext
from oprun.web.graphql import common as c
from oprun.web.graphql.config_types import RunConfigValidationInvalid, config_invalid

# As Dagster: only a queued or started run can be terminated (NOT_STARTED and
# STARTING are brief windows; CANCELING is on its way already).
CANCELABLE_STATUSES = (DagsterRunStatus.QUEUED, DagsterRunStatus.STARTED)


@strawberry.type(name="Run")
class Run(c.PipelineRun):
    run_id: str


def run_type(run: Any) -> Run:
    return Run(run_id=run.run_id, status=c.RunStatus(run.status.value))


@strawberry.interface(name="LaunchPipelineRunSuccess")
class LaunchPipelineRunSuccess:
    run: Run


@strawberry.type(name="LaunchRunSuccess")
class LaunchRunSuccess(LaunchPipelineRunSuccess):
    pass


@strawberry.type(name="TerminateRunSuccess")
class TerminateRunSuccess:
    run: Run


@strawberry.type(name="TerminateRunFailure")
class TerminateRunFailure:
    message: str


@strawberry.type(name="TerminateRunsResult")
class TerminateRunsResult:
    terminate_run_results: list[TerminateRunResult]


LaunchRunResult = Annotated[
    LaunchRunSuccess | c.InvalidStepError | c.InvalidOutputError | RunConfigValidationInvalid | c.PipelineNotFoundError
    | c.RunConflict | c.UnauthorizedError | c.PythonError | c.PresetNotFoundError | c.ConflictingExecutionParamsError,
    strawberry.union("LaunchRunResult"),
]
RunOrError = Annotated[Run | c.RunNotFoundError | c.PythonError, strawberry.union("RunOrError")]
TerminateRunResult = Annotated[
    TerminateRunSuccess | TerminateRunFailure | c.RunNotFoundError | c.UnauthorizedError | c.PythonError,
    strawberry.union("TerminateRunResult"),
]
TerminateRunsResultOrError = Annotated[TerminateRunsResult, strawberry.union("TerminateRunsResultOrError")]


# ---------- resolvers ----------


@c.or_python_error
def run_or_error(context: WebContext, run_id: str) -> RunOrError:
    run = context.instance.get_run_by_id(run_id)
    if run is None:
        return c.run_not_found(run_id)
    return run_type(run)


@c.or_python_error
def launch_run(context: WebContext, params: c.ExecutionParams) -> LaunchRunResult:
    refused = c.read_only_refusal(context, "launch a run")
    if refused is not None:
        return refused
    selector = params.selector
    job_name = selector.pipeline_name or ""
    not_found = c.PipelineNotFoundError(
        message=f"Could not find Pipeline {selector.repository_location_name}.{selector.repository_name}.{job_name}",
        pipeline_name=job_name,
        repository_name=selector.repository_name,
        repository_location_name=selector.repository_location_name,
    )
    location = c.find_location(context, selector.repository_location_name)
    if location is None or selector.repository_name != c.REPOSITORY_NAME:
        return not_found
    definitions = location.load()  # a load error is reported as a PythonError
    if not definitions.has_job(job_name):
        return not_found
    if selector.asset_selection:
        raise ValueError("assetSelection is not supported: oprun runs op jobs; select ops with solidSelection.")
    metadata = params.execution_metadata
    tags = {tag.key: tag.value for tag in (metadata.tags or [])} if metadata else {}
    job_def = definitions.get_job_def(job_name)
    try:
        run_config = read_run_config(params.run_config_data)
        run = create_run(context.instance, location, job_def, run_config, tags, selector.solid_selection or None)
    except DagsterInvalidConfigError as error:
        return config_invalid(error)
    return LaunchRunSuccess(run=run_type(context.instance.submit_run(run.run_id)))


def read_run_config(value: Any) -> Mapping[str, Any]:
    """`runConfigData` as sent: an object, or a YAML string (as Dagster accepts)."""
    if value is None or value is UNSET:
        return {}
    if isinstance(value, str):
        return load_yaml_string(value, "runConfigData")
    if not isinstance(value, Mapping):
        raise ConfigFileError(f"Run config must be a mapping (an object or a YAML mapping), found {type(value).__name__}.")
    return value


@c.or_python_error
def terminate_run(context: WebContext, run_id: str) -> TerminateRunResult:
    """As Dagster's terminateRun (policy SAFE_TERMINATE): a queued run is canceled
    at once, a started one terminated by the launcher (this waits for it)."""
    refused = c.read_only_refusal(context, f"terminate run {run_id}")
    if refused is not None:
        return refused
    instance = context.instance
    run = instance.get_run_by_id(run_id)
    if run is None:
        return c.run_not_found(run_id)
    if run.is_finished or run.status not in CANCELABLE_STATUSES:
        return TerminateRunFailure(message=f"Run {run_id} could not be terminated due to having status {run.status.value}.")
    if not instance.run_coordinator.cancel_run(run_id):
        return TerminateRunFailure(message=f"Unable to terminate run {run_id}")
    return TerminateRunSuccess(run=run_type(instance.get_run_by_id(run_id)))


# ---------- root fields ----------


def _pipeline_run_or_error(info: Info, run_id: strawberry.ID) -> RunOrError:
    return run_or_error(info.context, str(run_id))


def _launch_pipeline_execution(info: Info, execution_params: c.ExecutionParams) -> LaunchRunResult:
    return launch_run(info.context, execution_params)


def _terminate_run(info: Info, run_id: str) -> TerminateRunResult:
    return terminate_run(info.context, run_id)


def _terminate_runs(info: Info, run_ids: list[str]) -> TerminateRunsResultOrError:
    return TerminateRunsResult(terminate_run_results=[terminate_run(info.context, r) for r in run_ids])


@strawberry.type
class RunQueries:
    pipeline_run_or_error: RunOrError = strawberry.field(resolver=_pipeline_run_or_error)


@strawberry.type
class RunMutations:
    launch_pipeline_execution: LaunchRunResult = strawberry.mutation(resolver=_launch_pipeline_execution)
    terminate_run: TerminateRunResult = strawberry.mutation(resolver=_terminate_run)
    terminate_runs: TerminateRunsResultOrError = strawberry.mutation(resolver=_terminate_runs)
