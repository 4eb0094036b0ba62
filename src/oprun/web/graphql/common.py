"""What every part of the GraphQL schema shares: the scalars, the run status
enum, the execution inputs, the legacy interfaces the DagsterGraphQLClient's
fragments name (`PipelineRun`, ...), the error types (Dagster's names, fields and
nullability: every `message: String!`), and the helpers that turn failures into
them. Domain failures are union members; anything unexpected is a `PythonError`."""

from __future__ import annotations

import enum
import json
import traceback
from collections.abc import Callable
from functools import wraps
from typing import Any, NewType, TypeVar

import strawberry
from graphql import ValueNode, value_from_ast_untyped
from strawberry.types.scalar import ScalarDefinition

from oprun.loading import CodeLocation
from oprun.web.context import WebContext


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


# ---------- inputs ----------


@strawberry.input(name="AssetKeyInput")
class AssetKeyInput:
    path: list[str]


@strawberry.input(name="JobOrPipelineSelector")
class JobOrPipelineSelector:
    repository_name: str
    repository_location_name: str
    pipeline_name: str | None = strawberry.UNSET
    job_name: str | None = strawberry.UNSET  # Dagster's modern name; either names the job
    solid_selection: list[str] | None = strawberry.UNSET
    asset_selection: list[AssetKeyInput] | None = strawberry.UNSET


@strawberry.input(name="ExecutionTag")
class ExecutionTag:
    key: str
    value: str


@strawberry.input(name="ExecutionMetadata")
class ExecutionMetadata:
    tags: list[ExecutionTag] | None = strawberry.UNSET
    root_run_id: str | None = strawberry.UNSET
    parent_run_id: str | None = strawberry.UNSET


@strawberry.input(name="ExecutionParams")
class ExecutionParams:
    selector: JobOrPipelineSelector
    run_config_data: RunConfigData | None = strawberry.UNSET
    mode: str | None = strawberry.UNSET
    execution_metadata: ExecutionMetadata | None = strawberry.UNSET
    step_keys: list[str] | None = strawberry.UNSET


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


# ---------- objects ----------


@strawberry.type(name="InvalidStepError")
class InvalidStepError:
    invalid_step_key: str


@strawberry.type(name="InvalidOutputError")
class InvalidOutputError:
    step_key: str
    invalid_output_name: str


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


@strawberry.interface(name="Error")
class Error:
    message: str


@strawberry.type(name="PythonError")
class PythonError(Error):
    """An exception, as Dagster shows one: its message, class, stack, and the
    exceptions it was raised from (`cause`: the first; `causes`: each one down
    the chain; `errorChain`: each link, explicit for `raise ... from`)."""

    stack: list[str]
    class_name: str | None = None
    cause: PythonError | None = None
    error_chain: list[ErrorChainLink] = strawberry.field(default_factory=list)

    @strawberry.field
    def causes(self) -> list[PythonError]:
        return [link.error for link in self.error_chain]


@strawberry.type(name="ErrorChainLink")
class ErrorChainLink(Error):
    error: PythonError
    is_explicit_link: bool


@strawberry.type(name="PresetNotFoundError")
class PresetNotFoundError:
    message: str


@strawberry.type(name="ConflictingExecutionParamsError")
class ConflictingExecutionParamsError:
    message: str


@strawberry.type(name="RunNotFoundError")
class RunNotFoundError(PipelineRunNotFoundError):
    run_id: str


@strawberry.type(name="ReloadNotSupported")
class ReloadNotSupported:
    message: str


@strawberry.type(name="RepositoryLocationNotFound")
class RepositoryLocationNotFound:
    message: str


@strawberry.type(name="ShutdownRepositoryLocationSuccess")
class ShutdownRepositoryLocationSuccess:
    repository_location_name: str


# ---------- helpers ----------

REPOSITORY_NAME = "__repository__"  # Dagster's name for the repository of a Definitions

F = TypeVar("F", bound=Callable[..., Any])


# How far down a chain of causes an error is shown (a cycle or a very deep chain stops there).
MAX_ERROR_CHAIN = 10


def python_error(error: BaseException) -> PythonError:
    """`error` and the exceptions it was raised from (`raise ... from`, or while
    handling another), as Python's own traceback shows them."""
    chain: list[tuple[BaseException, bool]] = []
    seen = {id(error)}
    link: BaseException | None = error
    while link is not None and len(chain) < MAX_ERROR_CHAIN:
        explicit = link.__cause__ is not None
        nxt = link.__cause__ if explicit else (None if link.__suppress_context__ else link.__context__)
        if nxt is None or id(nxt) in seen:
            break
        seen.add(id(nxt))
        chain.append((nxt, explicit))
        link = nxt
    links = [ErrorChainLink(message=_one(e), error=_single(e), is_explicit_link=explicit) for e, explicit in chain]
    return error_with_chain(_single(error), links)


def error_with_chain(error: PythonError, links: list[ErrorChainLink]) -> PythonError:
    """`error` with its chain of causes, each link's error with the rest of it."""
    for at in range(len(links) - 1, -1, -1):
        rest = links[at + 1:]
        links[at].error.cause = rest[0].error if rest else None
        links[at].error.error_chain = rest
    error.cause = links[0].error if links else None
    error.error_chain = links
    return error


def _one(error: BaseException) -> str:
    return "".join(traceback.format_exception_only(type(error), error)).strip()


def _single(error: BaseException) -> PythonError:
    return PythonError(message=_one(error), stack=traceback.format_tb(error.__traceback__), class_name=type(error).__name__)


def or_python_error(function: F) -> F:
    """Report an unexpected exception as a `PythonError` member, never a top-level error."""

    @wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 - reported to the client as data
            return python_error(error)

    return wrapper  # type: ignore[return-value]  # same signature, wrapped


def read_only_refusal(context: WebContext, what: str) -> UnauthorizedError | None:
    """Dagster's answer to a mutation on a read-only server, or None."""
    if not context.read_only:
        return None
    return UnauthorizedError(message=f"Cannot {what}: this server was started with --read-only, and serves queries only.")


def find_location(context: WebContext, name: str) -> CodeLocation | None:
    return next((loc for loc in context.workspace.locations if loc.name == name), None)


def run_not_found(run_id: str) -> RunNotFoundError:
    return RunNotFoundError(run_id=run_id, message=f"Pipeline run {run_id} could not be found.")


def location_not_found(name: str) -> RepositoryLocationNotFound:
    return RepositoryLocationNotFound(message=f"Location {name} does not exist.")
