"""Run status sensors: `@run_status_sensor` and `@run_failure_sensor`, which react
when monitored runs reach a status, and their contexts.

`evaluate_tick` reads run records and events through the instance's public
methods (`get_run_records`, `all_logs`) given in the evaluation context, and
keeps its place in the sensor cursor; it never imports the instance layer.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from oprun.definitions.automation.run_request import RunRequest, SkipReason
from oprun.definitions.automation.selectors import CodeLocationSelector, JobSelector, RepositorySelector
from oprun.definitions.automation.sensors import (
    DefaultSensorStatus,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
)
from oprun.definitions.automation.tick_context import DecoratedFunction, TickContext
from oprun.definitions.jobs.graph import GraphDefinition
from oprun.definitions.jobs.job import JobDefinition
from oprun.errors import (
    DagsterInvalidDefinitionError,
    DagsterInvalidInvocationError,
    DagsterInvariantViolationError,
    DagsterUserCodeExecutionError,
)
from oprun.events import DagsterEventType
from oprun.runs import DagsterRunStatus, RunsFilter

_EVENT_FOR_STATUS = {
    DagsterRunStatus.QUEUED: DagsterEventType.RUN_ENQUEUED,
    DagsterRunStatus.STARTING: DagsterEventType.RUN_STARTING,
    DagsterRunStatus.STARTED: DagsterEventType.RUN_START,
    DagsterRunStatus.SUCCESS: DagsterEventType.RUN_SUCCESS,
    DagsterRunStatus.FAILURE: DagsterEventType.RUN_FAILURE,
    DagsterRunStatus.CANCELING: DagsterEventType.RUN_CANCELING,
    DagsterRunStatus.CANCELED: DagsterEventType.RUN_CANCELED,
}

# Runs updated within this long before the cursor's timestamp are checked again
# (by run id) so that two runs stamped at the same instant are both seen.
_OVERLAP = timedelta(seconds=1)


class RunStatusSensorContext(TickContext):
    """What a run status sensor function receives: the run that reached the
    status and the event that moved it there."""

    def __init__(
        self,
        sensor_name: str,
        dagster_run: Any,
        dagster_event: Any,
        instance: Any,
        context: SensorEvaluationContext | None = None,
        resource_defs: Mapping[str, Any] | None = None,
        logger: logging.Logger | None = None,
        partition_key: str | None = None,
        repository_def: Any = None,
    ) -> None:
        super().__init__(instance, resource_defs)
        self.sensor_name = sensor_name
        self.dagster_run = dagster_run
        self.dagster_event = dagster_event
        self._sensor_context = context
        self._logger = logger
        self.partition_key = partition_key if partition_key is not None else getattr(dagster_run, "partition_key", None)
        self.repository_def = repository_def
        if context is not None and resource_defs is None:
            # Share the evaluating context's resources instead of building them again.
            self._resources = context.resources

    @property
    def log(self) -> logging.Logger:
        return self._logger or super().log

    def for_run_failure(self) -> RunFailureSensorContext:
        return RunFailureSensorContext(
            sensor_name=self.sensor_name,
            dagster_run=self.dagster_run,
            dagster_event=self.dagster_event,
            instance=self._instance,
            context=self._sensor_context,
            resource_defs=self._resource_defs or None,
            logger=self._logger,
            partition_key=self.partition_key,
            repository_def=self.repository_def,
        )


class RunFailureSensorContext(RunStatusSensorContext):
    """The context of a run failure sensor: also the failure event and the
    failed steps' events."""

    @property
    def failure_event(self) -> Any:
        return self.dagster_event

    def get_step_failure_events(self) -> list[Any]:
        entries = self.instance.all_logs(self.dagster_run.run_id, of_type=DagsterEventType.STEP_FAILURE)
        return [entry.dagster_event for entry in entries if entry.dagster_event is not None]


def build_run_status_sensor_context(
    sensor_name: str,
    dagster_event: Any,
    dagster_instance: Any,
    dagster_run: Any,
    context: SensorEvaluationContext | None = None,
    resources: Mapping[str, Any] | None = None,
    partition_key: str | None = None,
    repository_def: Any = None,
) -> RunStatusSensorContext:
    """A context for calling a run status sensor directly in tests; use
    `.for_run_failure()` for a run failure sensor."""
    return RunStatusSensorContext(
        sensor_name=sensor_name,
        dagster_run=dagster_run,
        dagster_event=dagster_event,
        instance=dagster_instance,
        context=context,
        resource_defs=resources,
        partition_key=partition_key,
        repository_def=repository_def,
    )


class RunStatusSensorDefinition(SensorDefinition):
    """A sensor that calls its function once for each monitored run that reached
    `run_status` since the last evaluation."""

    def __init__(
        self,
        name: str,
        run_status: DagsterRunStatus,
        run_status_sensor_fn: Callable[..., Any],
        minimum_interval_seconds: int | None = None,
        description: str | None = None,
        monitored_jobs: Sequence[Any] | None = None,
        monitor_all_code_locations: bool | None = None,
        default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
        request_job: Any = None,
        request_jobs: Sequence[Any] | None = None,
        required_resource_keys: Iterable[str] | None = None,
        tags: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        for_failure: bool = False,
    ) -> None:
        if not isinstance(run_status, DagsterRunStatus):
            raise DagsterInvalidDefinitionError(
                f"Run status sensor '{name}': run_status must be a DagsterRunStatus, got {run_status!r}."
            )
        if run_status not in _EVENT_FOR_STATUS:
            raise DagsterInvalidDefinitionError(
                f"Run status sensor '{name}': runs never report status {run_status.value} with an event; "
                f"use one of {[s.value for s in _EVENT_FOR_STATUS]}."
            )
        if monitor_all_code_locations and monitored_jobs:
            raise DagsterInvalidDefinitionError(
                f"Run status sensor '{name}': monitor_all_code_locations and monitored_jobs cannot both be set."
            )
        if request_job is not None and request_jobs is not None:
            raise DagsterInvalidDefinitionError(
                f"Run status sensor '{name}': pass request_job or request_jobs, not both."
            )
        self.run_status = run_status
        self._for_failure = for_failure
        self._monitored = _monitored_names(monitored_jobs, name)
        self.monitor_all_code_locations = bool(monitor_all_code_locations)
        # Every run of the instance, as in Dagster, rather than the jobs of the sensor's own code location.
        self._watch_every_run = self.monitor_all_code_locations or any(
            isinstance(item, (RepositorySelector, CodeLocationSelector)) for item in monitored_jobs or ()
        )
        self._status_fn = DecoratedFunction(run_status_sensor_fn, "run status sensor", name)
        super().__init__(
            name=name,
            evaluation_fn=self._evaluate,
            minimum_interval_seconds=minimum_interval_seconds,
            description=description if description is not None else inspect.getdoc(run_status_sensor_fn),
            job=request_job,
            jobs=request_jobs,
            default_status=default_status,
            required_resource_keys=self._status_fn.check_required_keys(required_resource_keys),
            tags=tags,
            metadata=metadata,
        )

    @property
    def monitored_job_names(self) -> list[str] | None:
        """Names of the monitored jobs; None means every job of the code location."""
        return None if self._monitored is None else sorted(self._monitored)

    @property
    def sensor_type(self) -> str:
        return "RUN_STATUS"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the sensor's function with a `RunStatusSensorContext`, as tests do."""
        if len(args) + len(kwargs) != 1:
            raise DagsterInvalidInvocationError(
                f"Run status sensor '{self.name}' takes one argument, its context: build one with "
                "build_run_status_sensor_context(...)."
            )
        context = args[0] if args else next(iter(kwargs.values()))
        wanted = RunFailureSensorContext if self._for_failure else RunStatusSensorContext
        if not isinstance(context, RunStatusSensorContext):
            raise DagsterInvalidInvocationError(
                f"Run status sensor '{self.name}' was given {type(context).__name__}; expected a {wanted.__name__} "
                "(build_run_status_sensor_context(...)" + (".for_run_failure())." if self._for_failure else ").")
            )
        if self._for_failure and not isinstance(context, RunFailureSensorContext):
            context = context.for_run_failure()
        return self._status_fn.invoke(context)

    def _evaluate_raw(self, context: SensorEvaluationContext) -> Any:
        # The user's function is called (and its errors wrapped) once per run in
        # `_evaluate`; cursor and instance errors are oprun's and pass unchanged.
        return self._evaluate(context)

    def _evaluate(self, context: SensorEvaluationContext) -> SensorResult:
        instance = context.instance
        position = _Cursor.parse(context.cursor, self.name)
        if position is None:
            # First evaluation: start from now rather than replaying every past run.
            now = datetime.now(UTC)
            # Runs that reached the status just before now are history too (the next
            # evaluation re-reads the overlap window, so they are marked as seen).
            recent = instance.get_run_records(filters=RunsFilter(statuses=[self.run_status], updated_after=now - _OVERLAP))
            return SensorResult(
                skip_reason=SkipReason(f"Run status sensor {self.name} starts watching for {self.run_status.value} runs now."),
                cursor=_Cursor(now, [r.dagster_run.run_id for r in recent]).dump(),
            )
        records = instance.get_run_records(
            filters=RunsFilter(statuses=[self.run_status], updated_after=position.timestamp - _OVERLAP)
        )
        records = sorted(records, key=lambda r: r.update_timestamp)
        requests: list[RunRequest] = []
        skips: list[str] = []
        failures: list[DagsterUserCodeExecutionError] = []
        if self._watch_every_run:
            monitored = None
        else:
            monitored = self._monitored if self._monitored is not None else _location_jobs(context)
        for record in records:
            run = record.dagster_run
            if run.run_id in position.run_ids:
                continue
            position = position.advance(record.update_timestamp, run.run_id)
            if monitored is not None and run.job_name not in monitored:
                continue
            event = _status_event(instance, run.run_id, _EVENT_FOR_STATUS[self.run_status])
            status_context: RunStatusSensorContext = RunStatusSensorContext(
                sensor_name=self.name, dagster_run=run, dagster_event=event, instance=instance, context=context,
                repository_def=context.repository_def,
            )
            if self._for_failure:
                status_context = status_context.for_run_failure()
            try:
                result = self._call_user(status_context, run.run_id)
            except DagsterUserCodeExecutionError as error:
                failures.append(error)  # as Dagster: reported on the tick, and the run is behind the cursor all the same
                continue
            for item in _as_list(result):
                if isinstance(item, RunRequest):
                    requests.append(item)
                elif isinstance(item, SkipReason):
                    skips.append(item.skip_message or "")
                else:
                    raise DagsterInvariantViolationError(
                        f"Run status sensor '{self.name}' returned {type(item).__name__} {item!r}; it may return "
                        "None, a RunRequest (with request_job set), a list of them, or a SkipReason."
                    )
        if failures:
            more = f" (and for {len(failures) - 1} more run(s))" if len(failures) > 1 else ""
            tag = {"dagster/sensor_name": self.name}
            targeted = [self._for_target(request) for request in requests]
            reqs = [request.with_replaced_attrs(tags={**request.tags, **tag}) for request in targeted]
            raise RunStatusSensorExecutionError(f"{failures[0]}{more}", failures[0].user_exception, position.dump(), reqs)
        if requests:
            return SensorResult(run_requests=requests, cursor=position.dump())
        message = "; ".join(m for m in skips if m) or f"No monitored run reached {self.run_status.value} since the last tick."
        return SensorResult(skip_reason=SkipReason(message), cursor=position.dump())

    def _call_user(self, context: RunStatusSensorContext, run_id: str) -> Any:
        try:
            return self._status_fn.invoke(context)
        except Exception as error:
            raise DagsterUserCodeExecutionError(
                f"Error occurred during the execution of run status sensor {self.name} for run {run_id}: "
                f"{type(error).__name__}: {error}",
                user_exception=error,
            ) from error


class RunStatusSensorExecutionError(DagsterUserCodeExecutionError):
    """A run status sensor's function failed for one or more runs. Every run it
    looked at is behind `cursor` all the same (a failing run is not reacted to
    again on every tick), and `run_requests` are what the other runs asked for."""

    def __init__(self, message: str, user_exception: BaseException | None, cursor: str, run_requests: Sequence[RunRequest]) -> None:
        super().__init__(message, user_exception=user_exception)
        self.cursor = cursor
        self.run_requests = list(run_requests)


class _Cursor:
    """Where a run status sensor got to: the last update time it processed and
    the runs processed near that time."""

    def __init__(self, timestamp: datetime, run_ids: list[str]) -> None:
        self.timestamp = timestamp
        self.run_ids = run_ids

    @staticmethod
    def parse(text: str | None, name: str) -> _Cursor | None:
        if not text:
            return None
        try:
            data = json.loads(text)
            return _Cursor(datetime.fromisoformat(data["update_timestamp"]), list(data.get("run_ids", [])))
        except (ValueError, KeyError, TypeError):
            raise DagsterInvariantViolationError(
                f"Run status sensor '{name}' has cursor {text!r}, which it did not write; reset the cursor to start over."
            ) from None

    def advance(self, timestamp: datetime, run_id: str) -> _Cursor:
        return _Cursor(max(timestamp, self.timestamp), [*self.run_ids, run_id])

    def dump(self) -> str:
        return json.dumps({"update_timestamp": self.timestamp.isoformat(), "run_ids": self.run_ids[-200:]})


def _as_list(result: Any) -> list[Any]:
    if result is None:
        return []
    if isinstance(result, (RunRequest, SkipReason)):
        return [result]
    if isinstance(result, (list, tuple)) or hasattr(result, "__next__"):
        return list(result)
    return [result]


def _status_event(instance: Any, run_id: str, event_type: DagsterEventType) -> Any:
    entries = instance.all_logs(run_id, of_type=event_type)
    return entries[-1].dagster_event if entries else None


def _location_jobs(context: SensorEvaluationContext) -> set[str] | None:
    repository = context.repository_def
    if repository is None:
        return None  # evaluated on its own: watch every run
    return set(repository.job_names)


def _monitored_names(monitored_jobs: Sequence[Any] | None, name: str) -> set[str] | None:
    if monitored_jobs is None:
        return None
    names = set()
    for item in monitored_jobs:
        if isinstance(item, (JobDefinition, GraphDefinition)):
            names.add(item.name)
        elif isinstance(item, str):
            names.add(item)
        elif isinstance(item, JobSelector):
            names.add(item.job_name)  # runs do not record their code location: matched by name
        elif isinstance(item, (RepositorySelector, CodeLocationSelector)):
            return None  # another code location's jobs are unknown here: every run (see selectors.py)
        else:
            raise DagsterInvalidDefinitionError(
                f"Run status sensor '{name}': monitored_jobs must hold jobs, graphs, job names or selectors "
                f"(JobSelector, RepositorySelector, CodeLocationSelector), got {item!r}."
            )
    return names


def run_status_sensor(
    run_status: DagsterRunStatus,
    name: str | None = None,
    minimum_interval_seconds: int | None = None,
    description: str | None = None,
    monitored_jobs: Sequence[Any] | None = None,
    job_selection: Sequence[Any] | None = None,
    monitor_all_code_locations: bool | None = None,
    default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
    request_job: Any = None,
    request_jobs: Sequence[Any] | None = None,
    monitor_all_repositories: bool | None = None,
    required_resource_keys: Iterable[str] | None = None,
    tags: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Callable[[Callable[..., Any]], RunStatusSensorDefinition]:
    """Decorator: call the function for each monitored run that reaches `run_status`."""
    if job_selection is not None and monitored_jobs is not None:
        raise DagsterInvalidDefinitionError("Pass monitored_jobs or its old name job_selection, not both.")

    def wrap(fn: Callable[..., Any]) -> RunStatusSensorDefinition:
        return RunStatusSensorDefinition(
            name=name or fn.__name__,
            run_status=run_status,
            run_status_sensor_fn=fn,
            minimum_interval_seconds=minimum_interval_seconds,
            description=description,
            monitored_jobs=monitored_jobs if monitored_jobs is not None else job_selection,
            monitor_all_code_locations=monitor_all_code_locations or monitor_all_repositories,
            default_status=default_status,
            request_job=request_job,
            request_jobs=request_jobs,
            required_resource_keys=required_resource_keys,
            tags=tags,
            metadata=metadata,
        )

    return wrap


def run_failure_sensor(
    name: Any = None,
    minimum_interval_seconds: int | None = None,
    description: str | None = None,
    monitored_jobs: Sequence[Any] | None = None,
    job_selection: Sequence[Any] | None = None,
    monitor_all_code_locations: bool | None = None,
    default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
    request_job: Any = None,
    request_jobs: Sequence[Any] | None = None,
    monitor_all_repositories: bool | None = None,
    required_resource_keys: Iterable[str] | None = None,
    tags: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Any:
    """Decorator: call the function (with a `RunFailureSensorContext`) for each
    monitored run that fails. Usable bare: `@run_failure_sensor`."""
    if job_selection is not None and monitored_jobs is not None:
        raise DagsterInvalidDefinitionError("Pass monitored_jobs or its old name job_selection, not both.")

    def wrap(fn: Callable[..., Any]) -> RunStatusSensorDefinition:
        return RunStatusSensorDefinition(
            name=(name if isinstance(name, str) else None) or fn.__name__,
            run_status=DagsterRunStatus.FAILURE,
            run_status_sensor_fn=fn,
            minimum_interval_seconds=minimum_interval_seconds,
            description=description,
            monitored_jobs=monitored_jobs if monitored_jobs is not None else job_selection,
            monitor_all_code_locations=monitor_all_code_locations or monitor_all_repositories,
            default_status=default_status,
            request_job=request_job,
            request_jobs=request_jobs,
            required_resource_keys=required_resource_keys,
            tags=tags,
            metadata=metadata,
            for_failure=True,
        )

    if callable(name):
        return wrap(name)
    return wrap
