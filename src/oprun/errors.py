"""Every exception a user of oprun can meet.

Names follow Dagster's (`DagsterInvalidDefinitionError`, ...) so that code written
against Dagster's op-job API catches the same types. Messages name the place (job,
op, input, config path), what was expected and what was found, and suggest a close
match where one exists (see `did_you_mean`).

This module is a leaf: it imports nothing else from oprun.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """A " Did you mean 'x'?" suffix naming the closest candidate, or ""."""
    import difflib  # only when there is a mistake to explain

    close = difflib.get_close_matches(str(name), [str(c) for c in candidates], n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


class DagsterError(Exception):
    """Base class for every error oprun raises on purpose."""

    @property
    def is_user_code_error(self) -> bool:
        return False


class DagsterInvalidDefinitionError(DagsterError):
    """A definition (op, graph, job, resource, schedule...) is malformed."""


class DagsterInvalidInvocationError(DagsterError):
    """An op, hook or resource was invoked directly with the wrong arguments."""


class DagsterInvariantViolationError(DagsterError):
    """The API was used in a way it does not support."""


class DagsterInvalidSubsetError(DagsterError):
    """An op selection does not select a valid subset of the job."""


class DagsterUnknownResourceError(DagsterError, AttributeError):
    """Code accessed a resource that its op did not require."""

    def __init__(self, resource_name: str, available: Sequence[str] = ()) -> None:
        self.resource_name = resource_name
        super().__init__(
            f"Unknown resource `{resource_name}`. Specify `{resource_name}` as a required "
            "resource on the compute / config function that accessed it."
            + did_you_mean(resource_name, available)
        )


class DagsterUnknownPartitionError(DagsterError):
    """A partition key is not one of the partitions definition's keys."""


class DagsterInvalidConfigDefinitionError(DagsterInvalidDefinitionError):
    """A config schema itself is malformed."""


class DagsterInvalidConfigError(DagsterError):
    """A config value does not match its schema.

    `errors` is the list of `EvaluationError` records (path, reason, message), so
    that the CLI, GraphQL and the UI can show them as data.
    """

    def __init__(self, preamble: str, errors: Sequence[Any], config_value: Any = None) -> None:
        self.preamble = preamble
        self.errors = list(errors)
        self.config_value = config_value
        lines = [preamble.rstrip()]
        if self.errors:
            lines[0] += f": {len(self.errors)} error{'s' if len(self.errors) != 1 else ''}"
        for i, error in enumerate(self.errors, start=1):
            lines.append(f"    Error {i}: {getattr(error, 'message', error)}")
        super().__init__("\n".join(lines))


class ConfigFileError(DagsterInvalidConfigError):
    """A run config file or YAML string cannot be read or is not a YAML mapping;
    the message names the file (and the line and column of a YAML error)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, [], None)


class DagsterInstanceConfigError(DagsterInvalidConfigError, DagsterInvariantViolationError):
    """The instance config file (`oprun.yaml` / `dagster.yaml`) is wrong; the message
    names the file and the key.

    A `DagsterInvalidConfigError`, as Dagster raises for a bad `dagster.yaml`, and
    still a `DagsterInvariantViolationError`, which it was in earlier oprun releases.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message, [], None)


class DagsterTypeCheckDidNotPass(DagsterError):
    """A value failed the type check of an op input or output."""

    def __init__(self, description: str | None = None, metadata: Any = None, dagster_type: Any = None) -> None:
        self.description = description
        self.metadata = metadata or {}
        self.dagster_type = dagster_type
        super().__init__(description)


class DagsterStepOutputNotFoundError(DagsterError):
    """An op finished without yielding one of its required outputs."""

    def __init__(self, message: str, step_key: str, output_name: str) -> None:
        self.step_key = step_key
        self.output_name = output_name
        super().__init__(message)


class DagsterUnmetExecutorRequirementsError(DagsterError):
    """The chosen executor needs something the run does not have."""


class DagsterResourceFunctionError(DagsterError):
    """A resource failed while it was being initialised."""


class DagsterRunNotFoundError(DagsterError):
    """No run with the given id exists in the instance."""

    def __init__(self, message: str, invalid_run_id: str | None = None) -> None:
        self.invalid_run_id = invalid_run_id
        super().__init__(message)


class DagsterUserCodeExecutionError(DagsterError):
    """Wraps an exception raised by user code, keeping it as `user_exception`."""

    def __init__(self, message: str, user_exception: BaseException | None = None) -> None:
        self.user_exception = user_exception
        super().__init__(message)

    @property
    def is_user_code_error(self) -> bool:
        return True


class DagsterExecutionStepExecutionError(DagsterUserCodeExecutionError):
    """User code inside a step raised; names the op and the step."""

    def __init__(
        self,
        message: str,
        user_exception: BaseException | None = None,
        step_key: str | None = None,
        op_name: str | None = None,
    ) -> None:
        self.step_key = step_key
        self.op_name = op_name
        super().__init__(message, user_exception)


class DagsterConfigMappingFunctionError(DagsterUserCodeExecutionError):
    """A config mapping function (`ConfigMapping`, `@config_mapping`, a configured()
    function) raised; the original exception is `user_exception` and `__cause__`."""


class DagsterExecutionInterruptedError(DagsterError, KeyboardInterrupt):
    """Execution was interrupted (termination requested)."""


class DagsterExecutionLoadInputError(DagsterUserCodeExecutionError):
    """An IO manager or input manager failed to load an input."""


class DagsterExecutionHandleOutputError(DagsterUserCodeExecutionError):
    """An IO manager failed to store an output."""


class DagsterInvalidPropertyError(DagsterError):
    """A context property was read where it has no value."""


class DagsterInvalidMetadata(DagsterError):
    """A metadata value cannot be normalised to a MetadataValue."""


class DagsterImportError(DagsterError):
    """An optional dependency is missing; the message names the extra to install."""


class DagsterCodeLocationLoadError(DagsterError):
    """A code location (file, module, workspace) could not be loaded."""


class DagsterStorageError(DagsterError):
    """The instance's storage failed; the backend error is the cause."""


# Raised by user code to control execution. They are not DagsterErrors in Dagster
# either: user code raises them on purpose.


class Failure(Exception):
    """Raise from an op to fail its step with a description and metadata.

    `allow_retries=False` fails the step even when a RetryPolicy applies.
    """

    def __init__(
        self,
        description: str | None = None,
        metadata: dict[str, Any] | None = None,
        allow_retries: bool | None = None,
    ) -> None:
        super().__init__(description)
        self.description = description
        self.metadata = dict(metadata or {})
        self.allow_retries = True if allow_retries is None else allow_retries


class RetryRequested(Exception):
    """Raise from an op to retry its step, up to `max_retries` attempts in all."""

    def __init__(self, max_retries: int | None = 1, seconds_to_wait: float | None = None) -> None:
        super().__init__()
        self.max_retries = 1 if max_retries is None else max_retries
        self.seconds_to_wait = seconds_to_wait
