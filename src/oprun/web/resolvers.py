"""What the GraphQL fields do, against the instance and workspace of a
`WebContext`: small functions returning the schema's types. Domain failures are
union members (with Dagster's messages); anything unexpected is a `PythonError`."""

from __future__ import annotations

import traceback
from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any, TypeVar

from strawberry import UNSET

from oprun.config.run_config import load_yaml_string
from oprun.daemon.base import create_run
from oprun.errors import ConfigFileError, DagsterInvalidConfigError
from oprun.loading import CodeLocation
from oprun.runs import DagsterRunStatus
from oprun.web.context import WebContext
from oprun.web.graphql import types as t

REPOSITORY_NAME = "__repository__"  # Dagster's name for the repository of a Definitions

# As Dagster: only a queued or started run can be terminated (NOT_STARTED and
# STARTING are brief windows; CANCELING is on its way already).
CANCELABLE_STATUSES = (DagsterRunStatus.QUEUED, DagsterRunStatus.STARTED)

F = TypeVar("F", bound=Callable[..., Any])


def python_error(error: BaseException) -> t.PythonError:
    message = "".join(traceback.format_exception_only(type(error), error)).strip()
    return t.PythonError(message=message, stack=traceback.format_tb(error.__traceback__))


def or_python_error(function: F) -> F:
    """Report an unexpected exception as a `PythonError` member, never a top-level error."""

    @wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 - reported to the client as data
            return python_error(error)

    return wrapper  # type: ignore[return-value]  # same signature, wrapped


def _find_location(context: WebContext, name: str) -> CodeLocation | None:
    return next((loc for loc in context.workspace.locations if loc.name == name), None)


def _location_type(location: CodeLocation, definitions: Any) -> t.RepositoryLocation:
    graph_location = t.RepositoryLocation(name=location.name, is_reload_supported=True, repositories=[])
    pipelines = [t.Pipeline(name=name) for name in definitions.job_names]
    graph_location.repositories.append(t.Repository(name=REPOSITORY_NAME, location=graph_location, pipelines=pipelines))
    return graph_location


def _run_type(run: Any) -> t.Run:
    return t.Run(run_id=run.run_id, status=t.RunStatus(run.status.value))


# ---------- queries ----------


@or_python_error
def repositories_or_error(context: WebContext) -> t.RepositoriesOrError:
    """One repository per loaded location; one that fails to load is left out, as in Dagster."""
    nodes = [repo for location, defs in context.workspace.loaded() for repo in _location_type(location, defs).repositories]
    return t.RepositoryConnection(nodes=nodes)


@or_python_error
def run_or_error(context: WebContext, run_id: str) -> t.RunOrError:
    run = context.instance.get_run_by_id(run_id)
    if run is None:
        return _run_not_found(run_id)
    return _run_type(run)


def _run_not_found(run_id: str) -> t.RunNotFoundError:
    return t.RunNotFoundError(run_id=run_id, message=f"Pipeline run {run_id} could not be found.")


# ---------- launching ----------


def read_only_refusal(context: WebContext, what: str) -> t.UnauthorizedError | None:
    """Dagster's answer to a mutation on a read-only server, or None."""
    if not context.read_only:
        return None
    return t.UnauthorizedError(message=f"Cannot {what}: this server was started with --read-only, and serves queries only.")


@or_python_error
def launch_run(context: WebContext, params: t.ExecutionParams) -> t.LaunchRunResult:
    refused = read_only_refusal(context, "launch a run")
    if refused is not None:
        return refused
    selector = params.selector
    job_name = selector.pipeline_name or ""
    not_found = t.PipelineNotFoundError(
        message=f"Could not find Pipeline {selector.repository_location_name}.{selector.repository_name}.{job_name}",
        pipeline_name=job_name,
        repository_name=selector.repository_name,
        repository_location_name=selector.repository_location_name,
    )
    location = _find_location(context, selector.repository_location_name)
    if location is None or selector.repository_name != REPOSITORY_NAME:
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
        run_config = _run_config(params.run_config_data)
        run = create_run(context.instance, location, job_def, run_config, tags, selector.solid_selection or None)
    except DagsterInvalidConfigError as error:
        return _config_invalid(error)
    return t.LaunchRunSuccess(run=_run_type(context.instance.submit_run(run.run_id)))


def _run_config(value: Any) -> Mapping[str, Any]:
    """`runConfigData` as sent: an object, or a YAML string (as Dagster accepts)."""
    if value is None or value is UNSET:
        return {}
    if isinstance(value, str):
        return load_yaml_string(value, "runConfigData")
    if not isinstance(value, Mapping):
        raise ConfigFileError(f"Run config must be a mapping (an object or a YAML mapping), found {type(value).__name__}.")
    return value


def _config_invalid(error: DagsterInvalidConfigError) -> t.RunConfigValidationInvalid:
    if not error.errors:  # not a mapping, or not YAML: one error about the whole config
        mismatch = t.EvaluationErrorReason.RUNTIME_TYPE_MISMATCH
        return t.RunConfigValidationInvalid(errors=[t.RuntimeMismatchConfigError(message=str(error), path=[], reason=mismatch)])
    return t.RunConfigValidationInvalid(errors=[_config_error(e) for e in error.errors])


def _config_error(error: Any) -> t.PipelineConfigValidationError:
    reason = t.EvaluationErrorReason(error.reason)
    parts = list(error.path)
    if parts[:1] == ["root"]:
        parts = parts[1:]  # Dagster's path names the fields below the root, as `ops`, `counts`, ...
    path = [str(part) for part in parts]
    return t.CONFIG_ERROR_TYPES[reason](message=error.message, path=path, reason=reason)


# ---------- terminating ----------


@or_python_error
def terminate_run(context: WebContext, run_id: str) -> t.TerminateRunResult:
    """As Dagster's terminateRun (policy SAFE_TERMINATE): a queued run is canceled
    at once, a started one terminated by the launcher (this waits for it)."""
    refused = read_only_refusal(context, f"terminate run {run_id}")
    if refused is not None:
        return refused
    instance = context.instance
    run = instance.get_run_by_id(run_id)
    if run is None:
        return _run_not_found(run_id)
    if run.is_finished or run.status not in CANCELABLE_STATUSES:
        return t.TerminateRunFailure(message=f"Run {run_id} could not be terminated due to having status {run.status.value}.")
    if not instance.run_coordinator.cancel_run(run_id):
        return t.TerminateRunFailure(message=f"Unable to terminate run {run_id}")
    return t.TerminateRunSuccess(run=_run_type(instance.get_run_by_id(run_id)))


# ---------- code locations ----------


def reload_location(context: WebContext, name: str) -> t.ReloadRepositoryLocationMutationResult:
    """Reload a location's code; a failed load is `locationOrLoadError: PythonError`, never null."""
    refused = read_only_refusal(context, f"reload code location {name}")
    if refused is not None:
        return refused
    location = _find_location(context, name)
    if location is None:
        return _location_not_found(name)
    try:
        loaded: t.RepositoryLocation | t.PythonError = _location_type(location, context.workspace.reload(location.name))
    except Exception as error:  # noqa: BLE001 - the location's load error, as data
        loaded = python_error(error)
    return t.WorkspaceLocationEntry(name=name, location_or_load_error=loaded)


@or_python_error
def shutdown_location(context: WebContext, name: str) -> t.ShutdownRepositoryLocationMutationResult:
    """A no-op success: oprun loads locations in-process, there is no code server to stop."""
    refused = read_only_refusal(context, f"shut down code location {name}")
    if refused is not None:
        return refused
    if _find_location(context, name) is None:
        return _location_not_found(name)
    return t.ShutdownRepositoryLocationSuccess(repository_location_name=name)


def _location_not_found(name: str) -> t.RepositoryLocationNotFound:
    return t.RepositoryLocationNotFound(message=f"Location {name} does not exist.")
