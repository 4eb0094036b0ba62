"""Schedules: `ScheduleDefinition`, `@schedule`, their evaluation context, and
schedules built from partitioned jobs.

A schedule is checked when it is built (cron string, time zone, target, and the
combinations of arguments Dagster rejects). `evaluate_tick` turns one evaluation
into run requests or a skip reason, and `next_fire_times` says when it fires;
the daemon that acts on both lives in a later layer and is not known here.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from enum import Enum
from itertools import islice
from typing import Any

from oprun.definitions.automation.cron import ALIASES, Cron, CronError, fire_times, parse_cron
from oprun.definitions.automation.partitions import DynamicPartitionsDefinition
from oprun.definitions.automation.run_request import RunRequest, SkipReason, normalize_tags, run_config_dict
from oprun.definitions.automation.tick_context import DecoratedFunction, TickContext
from oprun.definitions.jobs.graph import GraphDefinition
from oprun.definitions.jobs.io import check_valid_name
from oprun.definitions.jobs.job import JobDefinition
from oprun.definitions.jobs.metadata import normalize_metadata
from oprun.errors import (
    DagsterInvalidDefinitionError,
    DagsterInvalidInvocationError,
    DagsterInvalidPropertyError,
    DagsterInvariantViolationError,
    DagsterUserCodeExecutionError,
    did_you_mean,
)


class DefaultScheduleStatus(Enum):
    RUNNING = "RUNNING"
    STOPPED = "STOPPED"


_EMPTY_RESULT = "Schedule function returned an empty result"


@dataclass(frozen=True)
class ScheduleExecutionData:
    """What `ScheduleDefinition.evaluate_tick` gives, as in Dagster: the run
    requests (empty when skipped) and the skip message, if any."""

    run_requests: list[RunRequest] = field(default_factory=list)
    skip_message: str | None = None
    log_key: list[str] | None = None


class ScheduleEvaluationContext(TickContext):
    """What a schedule function receives: the instance, the tick's scheduled time
    and the resources."""

    def __init__(
        self,
        instance: Any = None,
        scheduled_execution_time: datetime | None = None,
        resources: Mapping[str, Any] | None = None,
        repository_name: str | None = None,
        schedule_name: str | None = None,
        repository_def: Any = None,
    ) -> None:
        super().__init__(instance, resources)
        self.repository_def = repository_def
        if scheduled_execution_time is not None and not isinstance(scheduled_execution_time, datetime):
            raise DagsterInvariantViolationError(
                f"scheduled_execution_time must be a datetime, got {type(scheduled_execution_time).__name__}."
            )
        self._scheduled_execution_time = scheduled_execution_time
        self.repository_name = repository_name
        self.schedule_name = schedule_name

    @property
    def scheduled_execution_time(self) -> datetime:
        if self._scheduled_execution_time is None:
            raise DagsterInvalidPropertyError(
                "This schedule context has no scheduled_execution_time: pass "
                "build_schedule_context(scheduled_execution_time=...) to test code that reads it."
            )
        return self._scheduled_execution_time


def build_schedule_context(
    instance: Any = None,
    scheduled_execution_time: datetime | None = None,
    resources: Mapping[str, Any] | None = None,
    repository_def: Any = None,
    schedule_name: str | None = None,
) -> ScheduleEvaluationContext:
    """A context for calling a schedule directly in tests: `my_schedule(context)`."""
    return ScheduleEvaluationContext(
        instance=instance,
        scheduled_execution_time=scheduled_execution_time,
        resources=resources,
        repository_name=getattr(repository_def, "name", None),
        schedule_name=schedule_name,
        repository_def=repository_def,
    )


def split_target(job: Any, job_name: str | None, target: Any, kind: str, name: str | None) -> tuple[Any, str | None]:
    """(direct job or graph, job name) from the one target argument given."""
    given = [arg for arg, value in (("job", job), ("job_name", job_name), ("target", target)) if value is not None]
    if len(given) > 1:
        raise DagsterInvalidDefinitionError(
            f"Attempted to provide more than one of 'job', 'job_name', and 'target' params to {kind}"
            f"{f' {name!r}' if name else ''}. Must provide only one."
        )
    value = job if job is not None else target
    if value is None:
        return None, job_name
    if isinstance(value, (JobDefinition, GraphDefinition)):
        return value, value.name
    if isinstance(value, str) and target is not None:
        return None, value
    raise DagsterInvalidDefinitionError(
        f"{kind}{f' {name!r}' if name else ''}: the target must be a job, a graph or a job name, got "
        f"{type(value).__name__} {value!r}. oprun runs op jobs; asset selections are not supported."
    )


class ScheduleDefinition:
    """When and how to run a job: a cron schedule in a time zone, and the run
    config and tags of each run (or a function that decides)."""

    def __init__(
        self,
        name: str | None = None,
        *,
        cron_schedule: str | Sequence[str] | None = None,
        job_name: str | None = None,
        run_config: Any = None,
        run_config_fn: Callable[..., Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        tags_fn: Callable[..., Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        should_execute: Callable[..., Any] | None = None,
        environment_vars: Mapping[str, str] | None = None,
        execution_timezone: str | None = None,
        execution_fn: Callable[..., Any] | DecoratedFunction | None = None,
        description: str | None = None,
        job: Any = None,
        default_status: DefaultScheduleStatus = DefaultScheduleStatus.STOPPED,
        required_resource_keys: Iterable[str] | None = None,
        target: Any = None,
    ) -> None:
        self._direct_job, target_name = split_target(job, job_name, target, "ScheduleDefinition", name)
        if name is not None:
            self._name = check_valid_name(name, what="schedule name")
        elif target_name is not None:
            self._name = f"{target_name}_schedule"
        else:
            raise DagsterInvalidDefinitionError(
                "ScheduleDefinition needs a target: pass job=, job_name= or target= (the job it runs)."
            )
        if target_name is None:
            raise DagsterInvalidDefinitionError(
                f"Schedule '{self._name}' needs a target: pass job=, job_name= or target= (the job it runs)."
            )
        self._job_name = target_name
        self._cron_schedule = cron_schedule
        self._crons = _parse_crons(cron_schedule, self._name)
        self._execution_timezone = execution_timezone
        self._tz = _timezone(execution_timezone, self._name)
        self._description = description
        self._decorated: DecoratedFunction | None = None
        if isinstance(execution_fn, DecoratedFunction):
            # From @schedule: the decorated function returns config or requests;
            # tags, tags_fn and should_execute still apply around it.
            self._decorated, execution_fn = execution_fn, None
        if execution_fn is not None and (
            run_config is not None or run_config_fn or tags_fn or should_execute or tags is not None
        ):
            raise DagsterInvalidDefinitionError(
                "Attempted to provide both execution_fn and individual run_config/tags arguments to "
                f"ScheduleDefinition '{self._name}'. Must provide only one of the two: return RunRequests "
                "with their config and tags from execution_fn instead."
            )
        if run_config_fn is not None and run_config is not None:
            raise DagsterInvalidDefinitionError(
                f"Attempted to provide both run_config_fn and run_config as arguments to ScheduleDefinition "
                f"'{self._name}'. Must provide only one of the two."
            )
        if tags_fn is not None and tags is not None:
            raise DagsterInvalidDefinitionError(
                f"Attempted to provide both tags_fn and tags as arguments to ScheduleDefinition '{self._name}'. "
                "Must provide only one of the two."
            )
        for arg, fn in (("run_config_fn", run_config_fn), ("tags_fn", tags_fn), ("should_execute", should_execute), ("execution_fn", execution_fn)):
            if fn is not None and not callable(fn):
                raise DagsterInvalidDefinitionError(f"Schedule '{self._name}': {arg} must be a function, got {fn!r}.")
        where = f"schedule '{self._name}'"
        self._execution_fn = execution_fn
        self._run_config = run_config
        self._run_config_fn = run_config_fn
        self._tags = normalize_tags(tags, where)
        self._tags_fn = tags_fn
        self._should_execute = should_execute
        self._metadata = normalize_metadata(metadata)
        if not isinstance(default_status, DefaultScheduleStatus):
            raise DagsterInvalidDefinitionError(
                f"Schedule '{self._name}': default_status must be a DefaultScheduleStatus, got {default_status!r}."
            )
        self._default_status = default_status
        self._required_resource_keys = (
            self._decorated.check_required_keys(required_resource_keys)
            if self._decorated
            else set(required_resource_keys or ())
        )
        # environment_vars is deprecated in Dagster and has no effect there either.
        self._environment_vars = dict(environment_vars or {})

    # -- what users and tools read --

    @property
    def name(self) -> str:
        return self._name

    @property
    def cron_schedule(self) -> str | Sequence[str]:
        return self._cron_schedule  # type: ignore[return-value]  # not None: _parse_crons rejected that

    @property
    def job_name(self) -> str:
        return self._job_name

    @property
    def job(self) -> Any:
        if self._direct_job is None:
            raise DagsterInvalidDefinitionError(
                f"Schedule '{self._name}' names its job ('{self._job_name}') instead of holding it; "
                "get the job from the Definitions that hold both."
            )
        return self._direct_job

    @property
    def has_direct_job(self) -> bool:
        return self._direct_job is not None

    @property
    def description(self) -> str | None:
        return self._description

    @property
    def execution_timezone(self) -> str | None:
        return self._execution_timezone

    @property
    def default_status(self) -> DefaultScheduleStatus:
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
    def environment_vars(self) -> dict[str, str]:
        return dict(self._environment_vars)

    # -- timing --

    def next_fire_times(self, start: datetime, count: int = 1) -> list[datetime]:
        """The next `count` times this schedule fires strictly after `start`, as
        aware datetimes in its time zone (a naive `start` is read in that zone).
        Around a DST change, order and subtract them by `.timestamp()`: Python
        compares datetimes of one zone by wall time, ignoring `fold`."""
        return list(islice(fire_times(self._crons, self._tz, start), count))

    # -- evaluation --

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call a decorated schedule's function directly, as tests do."""
        if self._decorated is None:
            raise DagsterInvalidInvocationError(
                f"Schedule '{self._name}' cannot be invoked directly: schedule invocation is only supported for "
                "schedules created via the @schedule decorator. Use evaluate_tick(context) instead."
            )
        context = self._decorated.context_from_call(args, kwargs, build_schedule_context)
        _check_context_type(context, self._name)
        result = self._decorated.invoke(context)
        return copy.deepcopy(result) if isinstance(result, dict) else result

    def evaluate_tick(self, context: ScheduleEvaluationContext) -> ScheduleExecutionData:
        """Evaluate one tick, as Dagster does: the runs to request (`run_requests`),
        or why none (`skip_message`; a function that returns nothing gives
        "Schedule function returned an empty result")."""
        outcome = self._evaluate(context)
        if isinstance(outcome, SkipReason):
            return ScheduleExecutionData(run_requests=[], skip_message=outcome.skip_message)
        if not outcome:
            return ScheduleExecutionData(run_requests=[], skip_message=_EMPTY_RESULT)
        # As Dagster's evaluate_tick: a partition's run config and tags filled in, and the schedule's tag.
        schedule_tag = {"dagster/schedule_name": self._name}
        return ScheduleExecutionData(run_requests=[
            resolved.with_replaced_attrs(tags={**resolved.tags, **schedule_tag})
            for resolved in (self._with_partition(request, context) for request in outcome)
        ])

    def _with_partition(self, request: RunRequest, context: ScheduleEvaluationContext) -> RunRequest:
        """A request for a partition, with the partition's run config (unless it has
        one) and tags from the target job. The job is the schedule's own, or the
        context's `repository_def`'s; without either the request stays as it is
        (Dagster requires a repository_def here)."""
        if request.partition_key is None or "dagster/partition" in request.tags:
            return request
        target = self._direct_job if isinstance(self._direct_job, JobDefinition) else None
        if target is None and context.repository_def is not None:
            repository = context.repository_def  # a @repository (get_job) or a Definitions (get_job_def)
            get_job = getattr(repository, "get_job", None) or repository.get_job_def
            target = get_job(self._job_name)
        if target is None:
            return request
        partitioned = target.partitioned_config
        if partitioned is not None and isinstance(partitioned.partitions_def, DynamicPartitionsDefinition):
            # Dynamic keys live in the instance: the key is not checked here, as for a sensor's request.
            return request.with_replaced_attrs(
                run_config=request.run_config or run_config_dict(
                    partitioned.run_config_for_partition_key_fn(request.partition_key), f"schedule '{self._name}'"
                ),
                tags={**request.tags, **partitioned.get_tags_for_partition_key(request.partition_key, job_name=target.name)},
            )
        filled = target.run_request_for_partition(
            request.partition_key, run_key=request.run_key, tags=request.tags,
            run_config=request.run_config or None, current_time=context._scheduled_execution_time,  # noqa: SLF001 - same module
        )
        return request.with_replaced_attrs(run_config=filled.run_config, tags=filled.tags)

    def _evaluate(self, context: ScheduleEvaluationContext) -> list[RunRequest] | SkipReason:
        _check_context_type(context, self._name)
        if self._should_execute is not None:
            should = self._user_call("should_execute", self._should_execute, context)
            if not should:
                return SkipReason(f"should_execute function for {self._name} returned false.")
        if self._decorated is not None:
            result = self._user_call("the schedule function", self._decorated.invoke, context, pass_context=True)
            return self._requests(result, from_function=True, context=context)
        if self._execution_fn is not None:
            result = self._user_call("execution_fn", self._execution_fn, context)
            return self._requests(result, from_function=False, context=context)
        if self._run_config_fn is not None:
            run_config = self._user_call("run_config_fn", self._run_config_fn, context)
        else:
            run_config = copy.deepcopy(self._run_config)
        request = RunRequest(run_key=None, run_config=run_config, tags=self._run_tags(context), job_name=self._job_name)
        return [request]

    def _user_call(self, what: str, fn: Callable[..., Any], context: Any, pass_context: bool = False) -> Any:
        try:
            if pass_context or _takes_argument(fn):
                return fn(context)
            return fn()
        except DagsterInvalidInvocationError:
            raise
        except Exception as error:
            raise DagsterUserCodeExecutionError(
                f"Error occurred during the execution of {what} for schedule {self._name}: "
                f"{type(error).__name__}: {error}",
                user_exception=error,
            ) from error

    def _run_tags(self, context: Any) -> dict[str, str]:
        if self._tags_fn is not None:
            tags = self._user_call("tags_fn", self._tags_fn, context)
            return normalize_tags(tags, f"tags_fn of schedule '{self._name}'")
        return dict(self._tags)

    def _requests(self, result: Any, from_function: bool, context: Any) -> list[RunRequest] | SkipReason:
        if result is None:
            return SkipReason(_EMPTY_RESULT)
        if isinstance(result, SkipReason):
            return result
        if isinstance(result, Mapping) or callable(getattr(result, "to_config_dict", None)):
            if not from_function:
                raise DagsterInvariantViolationError(
                    f"Schedule '{self._name}': execution_fn must return RunRequests or a SkipReason, got a run config."
                )
            return [RunRequest(run_key=None, run_config=copy.deepcopy(result), tags=self._run_tags(context), job_name=self._job_name)]
        items = [result] if isinstance(result, RunRequest) else _iterate(result, self._name)
        skips = [item for item in items if isinstance(item, SkipReason)]
        requests = [item for item in items if isinstance(item, RunRequest)]
        others = [item for item in items if not isinstance(item, (SkipReason, RunRequest))]
        if others:
            raise DagsterInvariantViolationError(
                f"Schedule '{self._name}' produced {type(others[0]).__name__} {others[0]!r}; a schedule function "
                "must return a run config dict, a RunConfig, a RunRequest, a list or generator of RunRequests, "
                "a SkipReason, or None."
            )
        if skips and (requests or len(skips) > 1):
            raise DagsterInvariantViolationError(
                f"Schedule '{self._name}': expected a single SkipReason or one or more RunRequests, got "
                f"{len(skips)} SkipReason(s) and {len(requests)} RunRequest(s)."
            )
        if skips:
            return skips[0]
        return [self._for_target(request) for request in requests]

    def _for_target(self, request: RunRequest) -> RunRequest:
        if request.job_name is None:
            return request.with_replaced_attrs(job_name=self._job_name)
        if request.job_name != self._job_name:
            raise DagsterInvariantViolationError(
                f"Schedule '{self._name}' targets job '{self._job_name}' but returned a RunRequest for job "
                f"'{request.job_name}'. A schedule runs only its own job."
            )
        return request

    def with_updated_job(self, job: Any) -> ScheduleDefinition:
        """This schedule targeting `job` (a job resolved by Definitions)."""
        clone = copy.copy(self)
        clone._direct_job = job  # noqa: SLF001 - a copy of self
        clone._job_name = job.name  # noqa: SLF001
        return clone

    def __repr__(self) -> str:
        return f"<ScheduleDefinition {self._name} {self._cron_schedule!r} -> {self._job_name}>"


def _check_context_type(context: Any, name: str) -> None:
    if not isinstance(context, ScheduleEvaluationContext):
        raise DagsterInvalidInvocationError(
            f"Schedule '{name}' was given {type(context).__name__} as its context; expected a "
            "ScheduleEvaluationContext (build one with build_schedule_context(...))."
        )


def _takes_argument(fn: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL) for p in params)


def _iterate(result: Any, name: str) -> list[Any]:
    if isinstance(result, (str, bytes)) or not isinstance(result, Iterable):
        raise DagsterInvariantViolationError(
            f"Schedule '{name}' returned {type(result).__name__} {result!r}; a schedule function must return a run "
            "config dict, a RunConfig, a RunRequest, a list or generator of RunRequests, a SkipReason, or None."
        )
    return list(result)


def _parse_crons(cron_schedule: Any, name: str) -> list[Cron]:
    strings = [cron_schedule] if isinstance(cron_schedule, str) else cron_schedule
    if not isinstance(strings, Sequence) or not strings:
        raise DagsterInvalidDefinitionError(
            f"Schedule '{name}': cron_schedule must be a cron string or a non-empty list of cron strings, "
            f"got {cron_schedule!r}."
        )
    crons = []
    for text in strings:
        try:
            crons.append(parse_cron(text))
        except CronError as error:
            raise DagsterInvalidDefinitionError(
                f"Found invalid cron schedule '{text}' for schedule '{name}'. oprun recognizes standard cron "
                f"expressions consisting of 5 fields. ({error})"
            ) from None
    return crons


def _timezone(name: str | None, schedule_name: str) -> tzinfo:
    if name is None:
        return UTC
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        hint = did_you_mean(name, available_timezones()) if isinstance(name, str) else ""
        raise DagsterInvalidDefinitionError(
            f"Invalid execution timezone {name} for {schedule_name}: use an IANA time zone name such as "
            f"'America/Los_Angeles' or 'UTC'.{hint}"
        ) from None


def schedule(
    cron_schedule: str | Sequence[str],
    *,
    job_name: str | None = None,
    name: str | None = None,
    tags: Mapping[str, Any] | None = None,
    tags_fn: Callable[..., Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    should_execute: Callable[..., Any] | None = None,
    environment_vars: Mapping[str, str] | None = None,
    execution_timezone: str | None = None,
    description: str | None = None,
    job: Any = None,
    default_status: DefaultScheduleStatus = DefaultScheduleStatus.STOPPED,
    required_resource_keys: Iterable[str] | None = None,
    target: Any = None,
) -> Callable[[Callable[..., Any]], ScheduleDefinition]:
    """Decorator: a schedule whose function returns run config, RunRequests or a
    SkipReason for each tick."""
    if callable(cron_schedule) and not isinstance(cron_schedule, str):
        raise DagsterInvalidDefinitionError(
            "@schedule needs a cron schedule: write @schedule(cron_schedule=\"0 0 * * *\", job=my_job)."
        )

    def wrap(fn: Callable[..., Any]) -> ScheduleDefinition:
        schedule_name = name or fn.__name__
        return ScheduleDefinition(
            name=schedule_name,
            cron_schedule=cron_schedule,
            job_name=job_name,
            tags=tags,
            tags_fn=tags_fn,
            metadata=metadata,
            should_execute=should_execute,
            environment_vars=environment_vars,
            execution_timezone=execution_timezone,
            execution_fn=DecoratedFunction(fn, "schedule", schedule_name),
            description=description or inspect.getdoc(fn),
            job=job,
            default_status=default_status,
            required_resource_keys=required_resource_keys,
            target=target,
        )

    return wrap


# --- schedules from partitioned jobs ------------------------------------------------------


def build_schedule_from_partitioned_job(
    job: Any,
    description: str | None = None,
    name: str | None = None,
    minute_of_hour: int | None = None,
    hour_of_day: int | None = None,
    day_of_week: int | None = None,
    day_of_month: int | None = None,
    default_status: DefaultScheduleStatus = DefaultScheduleStatus.STOPPED,
    tags: Mapping[str, Any] | None = None,
    cron_schedule: str | None = None,
    execution_timezone: str | None = None,
) -> ScheduleDefinition:
    """A schedule at the cadence of a partitioned job. With time partitions each
    tick requests the latest complete partition; with other partitions (and a
    `cron_schedule`) each tick requests every partition."""
    partitions_def = getattr(job, "partitions_def", None)
    job_label = getattr(job, "name", job)
    if partitions_def is None:
        raise DagsterInvalidDefinitionError(
            f"build_schedule_from_partitioned_job: job '{job_label}' is not partitioned. Give the job "
            "partitions (partitions_def=, or a partitioned config), or use ScheduleDefinition for it."
        )
    offsets = {"minute_of_hour": minute_of_hour, "hour_of_day": hour_of_day, "day_of_week": day_of_week, "day_of_month": day_of_month}
    time_based = getattr(partitions_def, "cron_schedule", None) is not None and hasattr(partitions_def, "get_last_partition_key")
    if time_based:
        if cron_schedule is not None:
            raise DagsterInvalidDefinitionError(
                f"build_schedule_from_partitioned_job: job '{job_label}' has time partitions, which set the "
                "cadence; cron_schedule is only for jobs with other partitions. Use minute_of_hour, hour_of_day, "
                "day_of_week or day_of_month to shift the time of day."
            )
        partition_tz = getattr(partitions_def, "timezone", None)
        if execution_timezone is not None and execution_timezone != (partition_tz or "UTC"):
            raise DagsterInvalidDefinitionError(
                f"build_schedule_from_partitioned_job: job '{job_label}' has partitions in time zone "
                f"'{partition_tz}', so the schedule runs in it; execution_timezone '{execution_timezone}' conflicts."
            )
        cron = _partition_cron(partitions_def, offsets)
        timezone_name = partition_tz
    else:
        if cron_schedule is None:
            raise DagsterInvalidDefinitionError(
                f"build_schedule_from_partitioned_job: job '{job_label}' has partitions that are not time "
                "windows, so pass cron_schedule= to say when to run them."
            )
        given = [k for k, v in offsets.items() if v is not None]
        if given:
            raise DagsterInvalidDefinitionError(
                f"build_schedule_from_partitioned_job: {', '.join(given)} only apply to time-partitioned jobs; "
                f"job '{job_label}' has other partitions. Put the time in cron_schedule instead."
            )
        cron = cron_schedule
        timezone_name = execution_timezone
    schedule_name = name or f"{job_label}_schedule"
    run_tags = normalize_tags(tags, f"schedule '{schedule_name}'")

    def execution_fn(context: ScheduleEvaluationContext) -> list[RunRequest] | SkipReason:
        # Each partition's run key is the partition key, as in Dagster.
        if not time_based:
            return [RunRequest(run_key=key, partition_key=key, tags=run_tags) for key in partitions_def.get_partition_keys()]
        when = context._scheduled_execution_time or datetime.now(UTC)  # noqa: SLF001 - same module; None: untimed tick
        key = partitions_def.get_last_partition_key(current_time=when)
        if key is None:
            return SkipReason(f"No partition of job '{job_label}' is complete at {when.isoformat()}: nothing to run yet.")
        return [RunRequest(run_key=key, partition_key=key, tags=run_tags)]

    return ScheduleDefinition(
        name=schedule_name,
        cron_schedule=cron,
        job=job,
        execution_fn=execution_fn,
        execution_timezone=timezone_name,
        description=description,
        default_status=default_status,
    )


def _partition_cron(partitions_def: Any, offsets: dict[str, int | None]) -> str:
    """The partitions' cron string, shifted by the offsets that were given."""
    if all(v is None for v in offsets.values()):
        return str(partitions_def.cron_schedule)
    custom = getattr(partitions_def, "get_cron_schedule", None)
    if callable(custom):
        return str(custom(**offsets))
    text = str(partitions_def.cron_schedule).strip()
    fields = ALIASES.get(text.lower(), text).split()
    for index, key in ((0, "minute_of_hour"), (1, "hour_of_day"), (4, "day_of_week"), (2, "day_of_month")):
        if offsets[key] is not None:
            fields[index] = str(offsets[key])
    return " ".join(fields)
