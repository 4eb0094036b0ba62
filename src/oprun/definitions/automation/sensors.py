"""Sensors: `SensorDefinition`, `@sensor`, their evaluation context and
`SensorResult`; run status sensors (`@run_status_sensor`, `@run_failure_sensor`)
live in `run_status_sensors.py`.

A sensor is checked when it is built (name, targets, interval). `evaluate_tick`
turns one evaluation into a normalised `SensorResult` with the run requests
checked against the sensor's targets; the daemon that calls it, stores cursors
and de-duplicates run keys lives in a later layer and is not known here.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

from oprun.definitions.automation.run_request import RunRequest, SkipReason, normalize_tags
from oprun.definitions.automation.tick_context import DecoratedFunction, TickContext
from oprun.definitions.jobs.graph import GraphDefinition
from oprun.definitions.jobs.io import check_valid_name
from oprun.definitions.jobs.job import JobDefinition
from oprun.definitions.jobs.metadata import normalize_metadata
from oprun.errors import (
    DagsterInvalidDefinitionError,
    DagsterInvalidInvocationError,
    DagsterInvariantViolationError,
    DagsterUserCodeExecutionError,
    did_you_mean,
)

DEFAULT_SENSOR_INTERVAL_SECONDS = 30


class DefaultSensorStatus(Enum):
    RUNNING = "RUNNING"
    STOPPED = "STOPPED"


class SensorEvaluationContext(TickContext):
    """What a sensor function receives: the cursor it left last time, the
    instance and the resources."""

    def __init__(
        self,
        instance_ref: Any = None,
        last_tick_completion_time: float | None = None,
        last_run_key: str | None = None,
        cursor: str | None = None,
        repository_name: str | None = None,
        instance: Any = None,
        sensor_name: str | None = None,
        resources: Mapping[str, Any] | None = None,
        definitions: Any = None,
        repository_def: Any = None,
        last_sensor_start_time: float | None = None,
    ) -> None:
        super().__init__(instance, resources)
        if cursor is not None and not isinstance(cursor, str):
            raise DagsterInvariantViolationError(f"A sensor cursor must be a string, got {type(cursor).__name__}.")
        self._cursor = cursor
        self._cursor_updated = False
        self.last_run_key = last_run_key
        self.last_tick_completion_time = last_tick_completion_time
        self.last_sensor_start_time = last_sensor_start_time
        self.sensor_name = sensor_name
        self.instance_ref = instance_ref
        self._definitions = definitions
        self._repository_def = repository_def
        self.repository_name = repository_name or getattr(repository_def, "name", None)

    @property
    def cursor(self) -> str | None:
        return self._cursor

    def update_cursor(self, cursor: str | None) -> None:
        """Remember `cursor` for the next evaluation (strings only: serialise anything else)."""
        if cursor is not None and not isinstance(cursor, str):
            raise DagsterInvariantViolationError(
                f"update_cursor takes a string (or None), got {type(cursor).__name__}: serialise it, e.g. with json.dumps."
            )
        self._cursor = cursor
        self._cursor_updated = True

    @property
    def cursor_updated(self) -> bool:
        return self._cursor_updated

    @property
    def repository_def(self) -> Any:
        if self._repository_def is None and self._definitions is not None:
            self._repository_def = self._definitions.get_repository_def()
        return self._repository_def

    @property
    def definitions(self) -> Any:
        return self._definitions


def build_sensor_context(
    instance: Any = None,
    cursor: str | None = None,
    repository_name: str | None = None,
    repository_def: Any = None,
    sensor_name: str | None = None,
    resources: Mapping[str, Any] | None = None,
    definitions: Any = None,
    instance_ref: Any = None,
    last_sensor_start_time: float | None = None,
    last_tick_completion_time: float | None = None,
    last_run_key: str | None = None,
) -> SensorEvaluationContext:
    """A context for calling a sensor directly in tests: `my_sensor(context)`."""
    return SensorEvaluationContext(
        instance_ref=instance_ref,
        last_tick_completion_time=last_tick_completion_time,
        last_run_key=last_run_key,
        cursor=cursor,
        repository_name=repository_name,
        instance=instance,
        sensor_name=sensor_name,
        resources=resources,
        definitions=definitions,
        repository_def=repository_def,
        last_sensor_start_time=last_sensor_start_time,
    )


@dataclass(frozen=True)
class SensorResult:
    """Everything one sensor evaluation produced: run requests or a skip reason,
    and the cursor to remember."""

    run_requests: Sequence[RunRequest] | None = None
    skip_reason: SkipReason | str | None = None
    cursor: str | None = None
    dynamic_partitions_requests: Sequence[Any] | None = None
    asset_events: Sequence[Any] | None = None

    def __post_init__(self) -> None:
        if self.skip_reason is not None and self.run_requests:
            raise DagsterInvariantViolationError(
                "Expected a single skip reason or one or more run requests: received values for both "
                "run_requests and skip_reason in SensorResult."
            )
        if isinstance(self.skip_reason, str):
            object.__setattr__(self, "skip_reason", SkipReason(self.skip_reason))
        elif self.skip_reason is not None and not isinstance(self.skip_reason, SkipReason):
            raise DagsterInvariantViolationError(
                f"SensorResult's skip_reason must be a SkipReason or a string, got {self.skip_reason!r}."
            )
        for request in self.run_requests or ():
            if not isinstance(request, RunRequest):
                raise DagsterInvariantViolationError(
                    f"SensorResult's run_requests must all be RunRequests, got {type(request).__name__} {request!r}."
                )
        if self.cursor is not None and not isinstance(self.cursor, str):
            raise DagsterInvariantViolationError(f"SensorResult's cursor must be a string, got {self.cursor!r}.")
        if self.asset_events:
            raise DagsterInvalidDefinitionError("SensorResult(asset_events=...) is not supported: oprun runs op jobs, not assets.")
        object.__setattr__(self, "run_requests", list(self.run_requests or ()))
        object.__setattr__(self, "dynamic_partitions_requests", list(self.dynamic_partitions_requests or ()))

    @property
    def skip_message(self) -> str | None:
        """The skip reason's message: what Dagster's `SensorExecutionData.skip_message`
        (the result of `evaluate_tick`) gives."""
        return self.skip_reason.skip_message if isinstance(self.skip_reason, SkipReason) else None


def split_targets(job: Any, jobs: Any, job_name: str | None, target: Any, kind: str, name: str | None) -> tuple[list[Any], list[str]]:
    """(direct jobs and graphs, every target job name) from the one target argument given."""
    given = [a for a, v in (("job", job), ("jobs", jobs), ("job_name", job_name), ("target", target)) if v is not None]
    if len(given) > 1:
        raise DagsterInvalidDefinitionError(
            f"Attempted to provide more than one of 'job', 'jobs', 'job_name', and 'target' params to {kind}"
            f"{f' {name!r}' if name else ''}. Must provide only one."
        )
    if job_name is not None:
        return [], [job_name]
    if jobs is not None:
        items = list(jobs)
    elif job is not None:
        items = [job]
    elif target is not None:
        items = list(target) if isinstance(target, (list, tuple)) else [target]
    else:
        return [], []
    direct: list[Any] = []
    names: list[str] = []
    for item in items:
        if isinstance(item, (JobDefinition, GraphDefinition)):
            direct.append(item)
            names.append(item.name)
        elif isinstance(item, str):
            names.append(item)
        else:
            raise DagsterInvalidDefinitionError(
                f"{kind}{f' {name!r}' if name else ''}: targets must be jobs, graphs or job names, got "
                f"{type(item).__name__} {item!r}. oprun runs op jobs; asset selections are not supported."
            )
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise DagsterInvalidDefinitionError(f"{kind} {name!r} targets job(s) {duplicates} more than once.")
    return direct, names


class SensorDefinition:
    """A function evaluated every `minimum_interval_seconds` that decides which
    runs to request, remembering where it got to in a cursor."""

    def __init__(
        self,
        name: str | None = None,
        *,
        evaluation_fn: Callable[..., Any] | DecoratedFunction | None = None,
        job_name: str | None = None,
        minimum_interval_seconds: int | None = None,
        description: str | None = None,
        job: Any = None,
        jobs: Sequence[Any] | None = None,
        default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
        asset_selection: Any = None,
        required_resource_keys: Iterable[str] | None = None,
        tags: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        target: Any = None,
    ) -> None:
        fn = evaluation_fn.fn if isinstance(evaluation_fn, DecoratedFunction) else evaluation_fn
        if name is None and fn is not None:
            name = getattr(fn, "__name__", None)
        if name is None:
            raise DagsterInvalidDefinitionError("SensorDefinition needs a name (or an evaluation_fn to take it from).")
        self._name = check_valid_name(name, what="sensor name")
        if evaluation_fn is None or (not callable(evaluation_fn) and not isinstance(evaluation_fn, DecoratedFunction)):
            raise DagsterInvalidDefinitionError(f"Sensor '{name}' needs an evaluation_fn: the function that decides what to run.")
        if asset_selection is not None:
            raise DagsterInvalidDefinitionError(
                f"Sensor '{name}': asset_selection is not supported: oprun runs op jobs, not assets. Target jobs instead."
            )
        self._direct_jobs, self._job_names = split_targets(job, jobs, job_name, target, "SensorDefinition", name)
        self._fn = evaluation_fn if isinstance(evaluation_fn, DecoratedFunction) else DecoratedFunction(evaluation_fn, "sensor", name)
        interval = DEFAULT_SENSOR_INTERVAL_SECONDS if minimum_interval_seconds is None else minimum_interval_seconds
        if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
            raise DagsterInvalidDefinitionError(
                f"Sensor '{name}': minimum_interval_seconds must be a whole number of seconds, at least 1; got {interval!r}."
            )
        self._minimum_interval_seconds = interval
        if not isinstance(default_status, DefaultSensorStatus):
            raise DagsterInvalidDefinitionError(
                f"Sensor '{name}': default_status must be a DefaultSensorStatus, got {default_status!r}."
            )
        self._default_status = default_status
        self._description = description if description is not None else (inspect.getdoc(fn) if fn else None)
        self._required_resource_keys = self._fn.check_required_keys(required_resource_keys)
        self._tags = normalize_tags(tags, f"sensor '{name}'")
        self._metadata = normalize_metadata(metadata)

    # -- what users and tools read --

    @property
    def name(self) -> str:
        return self._name

    @property
    def job_name(self) -> str | None:
        """The one job this sensor targets (None when it targets none or several)."""
        return self._job_names[0] if len(self._job_names) == 1 else None

    @property
    def job_names(self) -> list[str]:
        return list(self._job_names)

    @property
    def targets(self) -> list[str]:
        return list(self._job_names)

    @property
    def direct_jobs(self) -> list[Any]:
        """The jobs and graphs this sensor holds (not those it names only)."""
        return list(self._direct_jobs)

    @property
    def job(self) -> Any:
        if len(self._direct_jobs) != 1 or len(self._job_names) != 1:
            raise DagsterInvalidDefinitionError(
                f"Sensor '{self._name}' does not hold exactly one job (it targets {self._job_names or 'none'}); "
                "use `jobs`, or get jobs from the Definitions that hold them."
            )
        return self._direct_jobs[0]

    @property
    def jobs(self) -> list[Any]:
        if len(self._direct_jobs) != len(self._job_names):
            raise DagsterInvalidDefinitionError(
                f"Sensor '{self._name}' names some of its jobs instead of holding them; get them from the Definitions."
            )
        return list(self._direct_jobs)

    @property
    def minimum_interval_seconds(self) -> int:
        return self._minimum_interval_seconds

    @property
    def description(self) -> str | None:
        return self._description

    @property
    def default_status(self) -> DefaultSensorStatus:
        return self._default_status

    @property
    def required_resource_keys(self) -> set[str]:
        return set(self._required_resource_keys)

    @property
    def tags(self) -> dict[str, str]:
        return dict(self._tags)

    @property
    def metadata(self) -> dict[str, Any]:
        return dict(self._metadata)

    @property
    def sensor_type(self) -> str:
        return "STANDARD"

    # -- evaluation --

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the sensor's function directly, as tests do: `my_sensor(context)`."""
        context = self._fn.context_from_call(args, kwargs, build_sensor_context)
        self._check_context(context)
        return self._fn.invoke(context)

    def _check_context(self, context: Any) -> None:
        if not isinstance(context, SensorEvaluationContext):
            raise DagsterInvalidInvocationError(
                f"Sensor '{self._name}' was given {type(context).__name__} as its context; expected a "
                "SensorEvaluationContext (build one with build_sensor_context(...))."
            )

    def evaluate_tick(self, context: SensorEvaluationContext) -> SensorResult:
        """Evaluate once: run requests checked against the targets (and given
        their job name), or a skip reason, and the cursor to keep."""
        self._check_context(context)
        result = self._normalize(self._evaluate_raw(context))
        if result.cursor is not None and context.cursor_updated:
            raise DagsterInvariantViolationError(
                f"Sensor '{self._name}': SensorResult.cursor cannot be set if context.update_cursor() was called. "
                "Use one or the other."
            )
        cursor = result.cursor if result.cursor is not None else context.cursor
        # As Dagster's evaluate_tick: each request tagged with the sensor's name, and
        # a result with neither requests nor a skip reason says it was empty.
        sensor_tag = {"dagster/sensor_name": self._name}
        requests = [self._for_target(r) for r in result.run_requests or ()]
        requests = [r.with_replaced_attrs(tags={**r.tags, **sensor_tag}) for r in requests]
        skip = result.skip_reason
        if skip is None and not requests:
            skip = SkipReason("Sensor function returned an empty result")
        return replace(result, run_requests=requests, skip_reason=skip, cursor=cursor)

    def _evaluate_raw(self, context: SensorEvaluationContext) -> Any:
        """Call the user's function; its own errors become one user code error."""
        try:
            raw = self._fn.invoke(context)
            return list(raw) if inspect.isgenerator(raw) else raw
        except DagsterInvalidInvocationError:
            raise
        except Exception as error:
            raise DagsterUserCodeExecutionError(
                f"Error occurred during the execution of evaluation_fn for sensor {self._name}: "
                f"{type(error).__name__}: {error}",
                user_exception=error,
            ) from error

    def _normalize(self, raw: Any) -> SensorResult:
        if raw is None:
            return SensorResult()
        if isinstance(raw, SensorResult):
            return raw
        if isinstance(raw, SkipReason):
            return SensorResult(skip_reason=raw)
        if isinstance(raw, RunRequest):
            return SensorResult(run_requests=[raw])
        if isinstance(raw, (str, bytes, Mapping)) or not isinstance(raw, Iterable):
            raise DagsterInvariantViolationError(
                f"Sensor '{self._name}' returned {type(raw).__name__} {raw!r}; a sensor must return or yield "
                "RunRequests, a SkipReason, a SensorResult, or None."
            )
        items = list(raw)
        results = [item for item in items if isinstance(item, SensorResult)]
        if results:
            if len(items) > 1:
                raise DagsterInvariantViolationError(
                    f"Sensor '{self._name}': when a SensorResult is returned from a sensor, it must be the only object returned."
                )
            return results[0]
        others = [item for item in items if not isinstance(item, (RunRequest, SkipReason))]
        if others:
            raise DagsterInvariantViolationError(
                f"Sensor '{self._name}' produced {type(others[0]).__name__} {others[0]!r}; a sensor must return or "
                "yield RunRequests, a SkipReason, a SensorResult, or None."
            )
        skips = [item for item in items if isinstance(item, SkipReason)]
        requests = [item for item in items if isinstance(item, RunRequest)]
        if skips and (requests or len(skips) > 1):
            raise DagsterInvariantViolationError(
                f"Sensor '{self._name}': expected a single SkipReason or one or more RunRequests, got "
                f"{len(skips)} SkipReason(s) and {len(requests)} RunRequest(s)."
            )
        return SensorResult(run_requests=requests, skip_reason=skips[0] if skips else None)

    def _for_target(self, request: RunRequest) -> RunRequest:
        names = self._job_names
        if not names:
            raise DagsterInvariantViolationError(
                f"Error in sensor {self._name}: Sensor evaluation function returned a RunRequest for a sensor lacking "
                "a specified target (job_name, job, or jobs). Targets can be specified by providing job, jobs, or "
                "job_name to the @sensor decorator."
            )
        if request.job_name is None:
            if len(names) > 1:
                raise DagsterInvariantViolationError(
                    f"Error in sensor {self._name}: Sensor returned a RunRequest that did not specify job_name for "
                    f"the requested run. Expected one of: {names}"
                )
            return request.with_replaced_attrs(job_name=names[0])
        if request.job_name not in names:
            raise DagsterInvariantViolationError(
                f"Error in sensor {self._name}: Sensor returned a RunRequest with job_name {request.job_name}. "
                f"Expected one of: {names}.{did_you_mean(request.job_name, names)}"
            )
        return request

    def __repr__(self) -> str:
        return f"<SensorDefinition {self._name} -> {self._job_names}>"


def sensor(
    job_name: Any = None,
    *,
    name: str | None = None,
    minimum_interval_seconds: int | None = None,
    description: str | None = None,
    job: Any = None,
    jobs: Sequence[Any] | None = None,
    default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
    asset_selection: Any = None,
    required_resource_keys: Iterable[str] | None = None,
    tags: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    target: Any = None,
) -> Any:
    """Decorator: a sensor whose function returns or yields RunRequests, a
    SkipReason or a SensorResult on each evaluation."""

    def wrap(fn: Callable[..., Any]) -> SensorDefinition:
        sensor_name = name or fn.__name__
        return SensorDefinition(
            name=sensor_name,
            evaluation_fn=DecoratedFunction(fn, "sensor", sensor_name),
            job_name=job_name if isinstance(job_name, str) else None,
            minimum_interval_seconds=minimum_interval_seconds,
            description=description,
            job=job,
            jobs=jobs,
            default_status=default_status,
            asset_selection=asset_selection,
            required_resource_keys=required_resource_keys,
            tags=tags,
            metadata=metadata,
            target=target,
        )

    if callable(job_name) and not isinstance(job_name, (str, JobDefinition, GraphDefinition)):
        return wrap(job_name)  # bare @sensor
    if job_name is not None and not isinstance(job_name, str):
        raise DagsterInvalidDefinitionError(
            f"@sensor's first argument is job_name, a string; got {job_name!r}. Pass a job object as job=."
        )
    return wrap
