"""Launching runs as GraphQL: `launchRun` (and its legacy name
`launchPipelineExecution`) and `launchRunReexecution` (`launchPipelineReexecution`).

A run is recorded (its config checked first: a bad one is
`RunConfigValidationInvalid`, and nothing is recorded) and handed to the
instance's run coordinator, which queues or launches it. Re-execution is
oprun's own (`oprun.execution.reexecution`, as `oprun run reexecute` and
`execute_job(reexecution_options=...)` use it): all steps, from failure (the
steps that did not succeed, and so their downstream), or the selected
`executionParams.stepKeys`; the other steps' outputs are reused from the parent
run. The new run records its lineage (`parentRunId`, `rootRunId`) and Dagster's
tags (`dagster/parent_run_id`, `dagster/root_run_id`, and
`dagster/is_resume_retry` from failure).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import strawberry
from strawberry import UNSET

from oprun.config.run_config import load_yaml_string
from oprun.errors import ConfigFileError, DagsterInvalidConfigError, DagsterInvalidInvocationError, DagsterRunNotFoundError
from oprun.loading import CodeLocation
from oprun.web.context import WebContext
from oprun.web.graphql import common as c
from oprun.web.graphql.config_types import RunConfigValidationInvalid, config_invalid
from oprun.web.graphql.run_object import Run, location_for_run, run_type

# Dagster's tag on a run re-executed from its parent's failure.
RESUME_RETRY_TAG = "dagster/is_resume_retry"


@strawberry.interface(name="LaunchPipelineRunSuccess")
class LaunchPipelineRunSuccess:
    run: Run


@strawberry.type(name="LaunchRunSuccess")
class LaunchRunSuccess(LaunchPipelineRunSuccess):
    pass


@strawberry.enum(name="ReexecutionStrategy")
class ReexecutionStrategy(enum.Enum):
    FROM_FAILURE = "FROM_FAILURE"
    ALL_STEPS = "ALL_STEPS"


@strawberry.input(name="ReexecutionParams")
class ReexecutionParams:
    parent_run_id: str
    strategy: ReexecutionStrategy


LaunchRunResult = Annotated[
    LaunchRunSuccess | c.InvalidStepError | c.InvalidOutputError | RunConfigValidationInvalid | c.PipelineNotFoundError
    | c.RunConflict | c.UnauthorizedError | c.PythonError | c.PresetNotFoundError | c.ConflictingExecutionParamsError,
    strawberry.union("LaunchRunResult"),
]
LaunchRunReexecutionResult = Annotated[
    LaunchRunSuccess | c.InvalidStepError | c.InvalidOutputError | RunConfigValidationInvalid | c.PipelineNotFoundError
    | c.RunConflict | c.UnauthorizedError | c.PythonError | c.PresetNotFoundError | c.ConflictingExecutionParamsError,
    strawberry.union("LaunchRunReexecutionResult"),
]


def read_run_config(value: Any) -> Mapping[str, Any]:
    """`runConfigData` as sent: an object, or a YAML string (as Dagster accepts)."""
    if value is None or value is UNSET:
        return {}
    if isinstance(value, str):
        return load_yaml_string(value, "runConfigData")
    if not isinstance(value, Mapping):
        raise ConfigFileError(f"Run config must be a mapping (an object or a YAML mapping), found {type(value).__name__}.")
    return value


def _given(value: Any) -> Any:
    return None if value is UNSET else value


def _not_found(location_name: str, repository_name: str, job_name: str, why: str = "") -> c.PipelineNotFoundError:
    return c.PipelineNotFoundError(
        message=f"Could not find Pipeline {location_name}.{repository_name}.{job_name}{why}",
        pipeline_name=job_name,
        repository_name=repository_name,
        repository_location_name=location_name,
    )


def _find_job(context: WebContext, selector: c.JobOrPipelineSelector) -> tuple[CodeLocation, Any] | c.PipelineNotFoundError:
    """The location and job a selector names (a location that fails to load raises
    its load error: a PythonError)."""
    job_name = _given(selector.pipeline_name) or _given(selector.job_name) or ""
    not_found = _not_found(selector.repository_location_name, selector.repository_name, job_name)
    location = c.find_location(context, selector.repository_location_name)
    if location is None or selector.repository_name != c.REPOSITORY_NAME:
        return not_found
    definitions = location.load()
    if not definitions.has_job(job_name):
        return not_found
    if _given(selector.asset_selection):
        raise ValueError("assetSelection is not supported: oprun runs op jobs; select ops with solidSelection.")
    return location, definitions.get_job_def(job_name)


def _tags(metadata: c.ExecutionMetadata | None) -> dict[str, str]:
    tags = _given(metadata.tags) if metadata is not None else None
    return {tag.key: tag.value for tag in (tags or [])}


def _submit(context: WebContext, run: Any) -> LaunchRunSuccess:
    return LaunchRunSuccess(run=run_type(context.instance.submit_run(run.run_id)))


@c.or_python_error
def launch_run(context: WebContext, params: c.ExecutionParams) -> LaunchRunResult:
    """Dagster's launchRun: a new run of the selected job; with
    `executionMetadata.parentRunId` a re-execution of that run (its `stepKeys`, or
    all steps)."""
    refused = c.read_only_refusal(context, "launch a run")
    if refused is not None:
        return refused
    found = _find_job(context, params.selector)
    if isinstance(found, c.PipelineNotFoundError):
        return found
    location, job_def = found
    metadata = _given(params.execution_metadata)
    parent_run_id = _given(getattr(metadata, "parent_run_id", None)) if metadata is not None else None
    step_keys = _given(getattr(params, "step_keys", None))
    if parent_run_id is not None:
        return _reexecute(context, location, job_def, parent_run_id, step_keys, params.run_config_data, _tags(metadata))
    if step_keys is not None:
        return c.ConflictingExecutionParamsError(
            message=(
                f"stepKeys {list(step_keys)} were given without executionMetadata.parentRunId: steps are selected "
                "to re-execute them from a parent run, whose outputs the other steps' inputs come from. "
                "Give parentRunId, or select ops with selector.solidSelection."
            )
        )
    from oprun.daemon.base import create_run

    try:
        run_config = read_run_config(params.run_config_data)
        run = create_run(context.instance, location, job_def, run_config, _tags(metadata), _given(params.selector.solid_selection) or None)
    except DagsterInvalidConfigError as error:
        return config_invalid(error, job_def)
    return _submit(context, run)


def _invalid_step(job_def: Any, parent: Any, step_keys: Sequence[str]) -> c.InvalidStepError | None:
    """The first selected step the (parent run's subset of the) job does not have."""
    from oprun.execution.plan import create_execution_plan
    from oprun.execution.reexecution import handle_of

    job = job_def.get_subset(op_selection=list(parent.op_selection)) if parent.op_selection else job_def
    handles = {handle_of(key) for key in create_execution_plan(job).order}
    unknown = [key for key in step_keys if key not in handles]
    return c.InvalidStepError(invalid_step_key=unknown[0]) if unknown else None


def _reexecute(
    context: WebContext,
    location: CodeLocation,
    job_def: Any,
    parent_run_id: str,
    step_keys: Sequence[str] | None,
    run_config_data: Any,
    tags: dict[str, str],
    from_failure: bool = False,
) -> LaunchRunReexecutionResult:
    from oprun.daemon.base import reconstructable_job
    from oprun.execution.execute_job import create_run_for_job
    from oprun.execution.reexecution import ReexecutionOptions

    instance = context.instance
    parent = instance.get_run_by_id(parent_run_id)
    if parent is None:
        raise DagsterRunNotFoundError(f"Cannot re-execute run {parent_run_id}: there is no such run.", parent_run_id)
    if parent.job_name != job_def.name:
        raise DagsterInvalidInvocationError(
            f"Cannot re-execute run {parent_run_id} as job '{job_def.name}': it is a run of job '{parent.job_name}'."
        )
    if from_failure:
        options = ReexecutionOptions.from_failure(parent_run_id, instance)  # raises unless the parent failed
        tags = {**tags, RESUME_RETRY_TAG: "true"}
    else:
        if step_keys is not None:
            invalid = _invalid_step(job_def, parent, step_keys)
            if invalid is not None:
                return invalid
        options = ReexecutionOptions(parent_run_id, step_selection=list(step_keys) if step_keys is not None else None)
    # No config given: the parent's, as the parent ran with it.
    run_config = read_run_config(run_config_data) if _given(run_config_data) is not None else None
    try:
        run = create_run_for_job(reconstructable_job(location, job_def.name), job_def, instance, run_config, tags, options)
    except DagsterInvalidConfigError as error:
        return config_invalid(error, job_def)
    return _submit(context, run)


@c.or_python_error
def launch_reexecution(
    context: WebContext, params: c.ExecutionParams | None, reexecution: ReexecutionParams | None,
) -> LaunchRunReexecutionResult:
    """Dagster's launchRunReexecution: from `reexecutionParams` (a parent run and a
    strategy), or from `executionParams` (a job, and `executionMetadata.parentRunId`
    with `stepKeys` to select steps)."""
    refused = c.read_only_refusal(context, "re-execute a run")
    if refused is not None:
        return refused
    params, reexecution = _given(params), _given(reexecution)
    if (params is None) == (reexecution is None):
        return c.ConflictingExecutionParamsError(
            message="Give exactly one of executionParams and reexecutionParams to re-execute a run."
        )
    if params is not None:
        metadata = _given(params.execution_metadata)
        parent_run_id = _given(getattr(metadata, "parent_run_id", None)) if metadata is not None else None
        if parent_run_id is None:
            raise DagsterInvalidInvocationError(
                "Re-execution with executionParams needs executionMetadata.parentRunId (the run to re-execute)."
            )
        found = _find_job(context, params.selector)
        if isinstance(found, c.PipelineNotFoundError):
            return found
        location, job_def = found
        step_keys = _given(getattr(params, "step_keys", None))
        return _reexecute(context, location, job_def, parent_run_id, step_keys, params.run_config_data, _tags(metadata))
    parent = context.instance.get_run_by_id(reexecution.parent_run_id)
    if parent is None:
        raise DagsterRunNotFoundError(f"Cannot re-execute run {reexecution.parent_run_id}: there is no such run.", reexecution.parent_run_id)
    origin = location_for_run(context, parent)
    if origin is None:
        return _not_found("", c.REPOSITORY_NAME, parent.job_name, f": no code location of this server holds the job run {parent.run_id} ran")
    definitions = origin.load()
    if not definitions.has_job(parent.job_name):
        return _not_found(origin.name, c.REPOSITORY_NAME, parent.job_name, f": location {origin.name} no longer has it")
    return _reexecute(
        context, origin, definitions.get_job_def(parent.job_name), parent.run_id, None, None, {},
        from_failure=reexecution.strategy is ReexecutionStrategy.FROM_FAILURE,
    )
