"""The GraphQL types of DagsterGraphQLClient's contract: Dagster's names, fields
and nullability (every `message: String!`), with Dagster's legacy interfaces
(`PipelineRun`, `PipelineConfigValidationInvalid`, ...) that the client's
fragments name, implemented by the modern concrete types it receives."""

from __future__ import annotations

import enum
import json
from typing import Annotated, Any, NewType

import strawberry
from graphql import ValueNode, value_from_ast_untyped
from strawberry.types.scalar import ScalarDefinition


def _parse_run_config_literal(node: ValueNode, variables: dict[str, Any] | None = None) -> Any:
    return value_from_ast_untyped(node, variables)


RunConfigData = NewType("RunConfigData", object)

# The schema's custom scalars (passed as `StrawberryConfig(scalar_map=...)`).
SCALAR_MAP: dict[object, ScalarDefinition] = {
    RunConfigData: strawberry.scalar(
        name="RunConfigData",
        description="Any JSON value (Dagster: a config dict, or a YAML string). The client always sends a JSON object.",
        serialize=lambda value: json.loads(json.dumps(value)),
        parse_value=lambda value: value,  # a YAML string is read by the resolver: its errors are data
        parse_literal=_parse_run_config_literal,
    )
}


@strawberry.enum(name="RunStatus")
class RunStatus(enum.Enum):
    QUEUED = "QUEUED"
    NOT_STARTED = "NOT_STARTED"
    MANAGED = "MANAGED"
    STARTING = "STARTING"
    STARTED = "STARTED"
    SUSPENDED = "SUSPENDED"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    CANCELING = "CANCELING"
    CANCELED = "CANCELED"


@strawberry.enum(name="EvaluationErrorReason")
class EvaluationErrorReason(enum.Enum):
    RUNTIME_TYPE_MISMATCH = "RUNTIME_TYPE_MISMATCH"
    MISSING_REQUIRED_FIELD = "MISSING_REQUIRED_FIELD"
    MISSING_REQUIRED_FIELDS = "MISSING_REQUIRED_FIELDS"
    FIELD_NOT_DEFINED = "FIELD_NOT_DEFINED"
    FIELDS_NOT_DEFINED = "FIELDS_NOT_DEFINED"
    SELECTOR_FIELD_ERROR = "SELECTOR_FIELD_ERROR"


# ---------- inputs ----------


@strawberry.input(name="AssetKeyInput")
class AssetKeyInput:
    path: list[str]


@strawberry.input(name="JobOrPipelineSelector")
class JobOrPipelineSelector:
    repository_name: str
    repository_location_name: str
    pipeline_name: str | None = strawberry.UNSET
    solid_selection: list[str] | None = strawberry.UNSET
    asset_selection: list[AssetKeyInput] | None = strawberry.UNSET


@strawberry.input(name="ExecutionTag")
class ExecutionTag:
    key: str
    value: str


@strawberry.input(name="ExecutionMetadata")
class ExecutionMetadata:
    tags: list[ExecutionTag] | None = strawberry.UNSET


@strawberry.input(name="ExecutionParams")
class ExecutionParams:
    selector: JobOrPipelineSelector
    run_config_data: RunConfigData | None = strawberry.UNSET
    mode: str | None = strawberry.UNSET
    execution_metadata: ExecutionMetadata | None = strawberry.UNSET


# ---------- legacy interfaces named in the client's fragments ----------


@strawberry.interface(name="PipelineRun")
class PipelineRun:
    status: RunStatus


@strawberry.interface(name="PipelineRunConflict")
class PipelineRunConflict:
    message: str


@strawberry.interface(name="PipelineRunNotFoundError")
class PipelineRunNotFoundError:
    message: str


@strawberry.interface(name="PipelineConfigValidationError")
class PipelineConfigValidationError:
    message: str
    path: list[str]
    reason: EvaluationErrorReason


@strawberry.interface(name="PipelineConfigValidationInvalid")
class PipelineConfigValidationInvalid:
    errors: list[PipelineConfigValidationError]


# ---------- objects ----------


@strawberry.type(name="Run")
class Run(PipelineRun):
    run_id: str


@strawberry.interface(name="LaunchPipelineRunSuccess")
class LaunchPipelineRunSuccess:
    run: Run


@strawberry.type(name="LaunchRunSuccess")
class LaunchRunSuccess(LaunchPipelineRunSuccess):
    pass


@strawberry.type(name="InvalidStepError")
class InvalidStepError:
    invalid_step_key: str


@strawberry.type(name="InvalidOutputError")
class InvalidOutputError:
    step_key: str
    invalid_output_name: str


@strawberry.type(name="RunConfigValidationInvalid")
class RunConfigValidationInvalid(PipelineConfigValidationInvalid):
    pass


@strawberry.type(name="FieldNotDefinedConfigError")
class FieldNotDefinedConfigError(PipelineConfigValidationError):
    pass


@strawberry.type(name="FieldsNotDefinedConfigError")
class FieldsNotDefinedConfigError(PipelineConfigValidationError):
    pass


@strawberry.type(name="MissingFieldConfigError")
class MissingFieldConfigError(PipelineConfigValidationError):
    pass


@strawberry.type(name="MissingFieldsConfigError")
class MissingFieldsConfigError(PipelineConfigValidationError):
    pass


@strawberry.type(name="RuntimeMismatchConfigError")
class RuntimeMismatchConfigError(PipelineConfigValidationError):
    pass


@strawberry.type(name="SelectorTypeConfigError")
class SelectorTypeConfigError(PipelineConfigValidationError):
    pass


# Dagster's concrete config error type for each reason.
CONFIG_ERROR_TYPES: dict[EvaluationErrorReason, type[PipelineConfigValidationError]] = {
    EvaluationErrorReason.RUNTIME_TYPE_MISMATCH: RuntimeMismatchConfigError,
    EvaluationErrorReason.MISSING_REQUIRED_FIELD: MissingFieldConfigError,
    EvaluationErrorReason.MISSING_REQUIRED_FIELDS: MissingFieldsConfigError,
    EvaluationErrorReason.FIELD_NOT_DEFINED: FieldNotDefinedConfigError,
    EvaluationErrorReason.FIELDS_NOT_DEFINED: FieldsNotDefinedConfigError,
    EvaluationErrorReason.SELECTOR_FIELD_ERROR: SelectorTypeConfigError,
}


@strawberry.type(name="PipelineNotFoundError")
class PipelineNotFoundError:
    message: str
    pipeline_name: str
    repository_name: str
    repository_location_name: str


@strawberry.type(name="RunConflict")
class RunConflict(PipelineRunConflict):
    pass


@strawberry.type(name="UnauthorizedError")
class UnauthorizedError:
    message: str


@strawberry.type(name="PythonError")
class PythonError:
    message: str
    stack: list[str]


@strawberry.type(name="PresetNotFoundError")
class PresetNotFoundError:
    message: str


@strawberry.type(name="ConflictingExecutionParamsError")
class ConflictingExecutionParamsError:
    message: str


@strawberry.type(name="RunNotFoundError")
class RunNotFoundError(PipelineRunNotFoundError):
    run_id: str


@strawberry.type(name="Pipeline")
class Pipeline:
    name: str


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


@strawberry.type(name="ReloadNotSupported")
class ReloadNotSupported:
    message: str


@strawberry.type(name="RepositoryLocationNotFound")
class RepositoryLocationNotFound:
    message: str


@strawberry.type(name="ShutdownRepositoryLocationSuccess")
class ShutdownRepositoryLocationSuccess:
    repository_location_name: str


@strawberry.type(name="TerminateRunSuccess")
class TerminateRunSuccess:
    run: Run


@strawberry.type(name="TerminateRunFailure")
class TerminateRunFailure:
    message: str


@strawberry.type(name="TerminateRunsResult")
class TerminateRunsResult:
    terminate_run_results: list[TerminateRunResult]


# ---------- unions ----------

LaunchRunResult = Annotated[
    LaunchRunSuccess | InvalidStepError | InvalidOutputError | RunConfigValidationInvalid | PipelineNotFoundError
    | RunConflict | UnauthorizedError | PythonError | PresetNotFoundError | ConflictingExecutionParamsError,
    strawberry.union("LaunchRunResult"),
]
RunOrError = Annotated[Run | RunNotFoundError | PythonError, strawberry.union("RunOrError")]
RepositoriesOrError = Annotated[RepositoryConnection | PythonError, strawberry.union("RepositoriesOrError")]
RepositoryLocationOrLoadError = Annotated[
    RepositoryLocation | PythonError, strawberry.union("RepositoryLocationOrLoadError")
]
# UnauthorizedError here and on shutdown: Dagster's members too (what a read-only
# server answers), beyond the client's minimum.
ReloadRepositoryLocationMutationResult = Annotated[
    WorkspaceLocationEntry | ReloadNotSupported | RepositoryLocationNotFound | UnauthorizedError,
    strawberry.union("ReloadRepositoryLocationMutationResult"),
]
ShutdownRepositoryLocationMutationResult = Annotated[
    ShutdownRepositoryLocationSuccess | RepositoryLocationNotFound | UnauthorizedError | PythonError,
    strawberry.union("ShutdownRepositoryLocationMutationResult"),
]
TerminateRunResult = Annotated[
    TerminateRunSuccess | TerminateRunFailure | RunNotFoundError | UnauthorizedError | PythonError,
    strawberry.union("TerminateRunResult"),
]
TerminateRunsResultOrError = Annotated[TerminateRunsResult, strawberry.union("TerminateRunsResultOrError")]
