"""Run config validation as GraphQL: Dagster's `PipelineConfigValidationResult`
shapes, each error a concrete type per `EvaluationErrorReason` implementing the
legacy `PipelineConfigValidationError` interface the client's fragments name."""

from __future__ import annotations

import enum
from typing import Any

import strawberry

from oprun.errors import DagsterInvalidConfigError


@strawberry.enum(name="EvaluationErrorReason")
class EvaluationErrorReason(enum.Enum):
    RUNTIME_TYPE_MISMATCH = "RUNTIME_TYPE_MISMATCH"
    MISSING_REQUIRED_FIELD = "MISSING_REQUIRED_FIELD"
    MISSING_REQUIRED_FIELDS = "MISSING_REQUIRED_FIELDS"
    FIELD_NOT_DEFINED = "FIELD_NOT_DEFINED"
    FIELDS_NOT_DEFINED = "FIELDS_NOT_DEFINED"
    SELECTOR_FIELD_ERROR = "SELECTOR_FIELD_ERROR"



@strawberry.interface(name="PipelineConfigValidationError")
class PipelineConfigValidationError:
    message: str
    path: list[str]
    reason: EvaluationErrorReason


@strawberry.interface(name="PipelineConfigValidationInvalid")
class PipelineConfigValidationInvalid:
    errors: list[PipelineConfigValidationError]


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


def config_invalid(error: DagsterInvalidConfigError) -> RunConfigValidationInvalid:
    if not error.errors:  # not a mapping, or not YAML: one error about the whole config
        mismatch = EvaluationErrorReason.RUNTIME_TYPE_MISMATCH
        return RunConfigValidationInvalid(errors=[RuntimeMismatchConfigError(message=str(error), path=[], reason=mismatch)])
    return RunConfigValidationInvalid(errors=[config_error(e) for e in error.errors])


def config_error(error: Any) -> PipelineConfigValidationError:
    reason = EvaluationErrorReason(error.reason)
    parts = list(error.path)
    if parts[:1] == ["root"]:
        parts = parts[1:]  # Dagster's path names the fields below the root, as `ops`, `counts`, ...
    path = [str(part) for part in parts]
    return CONFIG_ERROR_TYPES[reason](message=error.message, path=path, reason=reason)
