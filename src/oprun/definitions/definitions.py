"""`Definitions`: the jobs, schedules, sensors, resources, executor and loggers of
one code location, and the legacy `@repository` that produces the same thing.

Names are checked when a `Definitions` is built (duplicate jobs, one namespace
for schedules and sensors, targets that clash or do not exist, resources that
schedules and sensors require). Binding top-level resources, executor and
loggers to each job happens on first use of that job and is cached, so loading
a location with many jobs costs only what is asked for; `validate_loadable`
binds them all. Knows nothing about loading files, running jobs or storage.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from oprun.definitions.automation.schedules import ScheduleDefinition
from oprun.definitions.automation.sensors import SensorDefinition
from oprun.definitions.executor import ExecutorDefinition, check_executor_def
from oprun.definitions.jobs.graph import GraphDefinition
from oprun.definitions.jobs.io import check_valid_name
from oprun.definitions.jobs.job import JobDefinition
from oprun.definitions.jobs.metadata import normalize_metadata
from oprun.definitions.logger import LoggerDefinition
from oprun.errors import DagsterInvalidDefinitionError, DagsterInvariantViolationError, did_you_mean


def _reject_assets(value: Any, argument: str) -> None:
    if value is not None and len(list(value)) > 0:
        raise DagsterInvalidDefinitionError(
            f"Definitions({argument}=...) must be empty: software-defined assets are not supported by oprun, "
            "which runs op jobs. Write the work as ops in a @job and pass it in jobs=[...]."
        )


def _sequence(value: Any, argument: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise DagsterInvalidDefinitionError(
            f"Definitions({argument}=...) takes a list, got {type(value).__name__} {value!r}."
        )
    return list(value)


class Definitions:
    """Everything one code location offers to tools: jobs (with the jobs that
    schedules and sensors target), schedules, sensors, and the resources,
    executor and loggers that jobs without their own receive."""

    def __init__(
        self,
        assets: Iterable[Any] | None = None,
        schedules: Iterable[ScheduleDefinition] | None = None,
        sensors: Iterable[SensorDefinition] | None = None,
        jobs: Iterable[JobDefinition | GraphDefinition] | None = None,
        resources: Mapping[str, Any] | None = None,
        executor: ExecutorDefinition | None = None,
        loggers: Mapping[str, LoggerDefinition] | None = None,
        asset_checks: Iterable[Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        _reject_assets(assets, "assets")
        _reject_assets(asset_checks, "asset_checks")
        self.jobs = _sequence(jobs, "jobs")
        self.schedules = _sequence(schedules, "schedules")
        self.sensors = _sequence(sensors, "sensors")
        if resources is not None and not isinstance(resources, Mapping):
            raise DagsterInvalidDefinitionError(
                f"Definitions(resources=...) takes a dict of resource key to resource, got {type(resources).__name__}."
            )
        self.resources: dict[str, Any] = dict(resources or {})
        for key in self.resources:
            if not isinstance(key, str) or not key.isidentifier():
                raise DagsterInvalidDefinitionError(
                    f"Definitions(resources=...): resource key {key!r} must be a valid Python identifier."
                )
        self.executor = check_executor_def(executor, "Definitions") if executor is not None else None
        if loggers is not None and not isinstance(loggers, Mapping):
            raise DagsterInvalidDefinitionError(
                f"Definitions(loggers=...) takes a dict of logger name to LoggerDefinition, got {type(loggers).__name__}."
            )
        self.loggers: dict[str, LoggerDefinition] = dict(loggers or {})
        for logger_name, logger_def in self.loggers.items():
            if not isinstance(logger_def, LoggerDefinition):
                raise DagsterInvalidDefinitionError(
                    f"Definitions(loggers=...): logger '{logger_name}' must be a LoggerDefinition, got {logger_def!r}."
                )
        self.metadata = normalize_metadata(metadata)
        self.assets: list[Any] = []
        self.asset_checks: list[Any] = []
        self._unresolved: dict[str, JobDefinition | GraphDefinition] = {}
        self._schedules: dict[str, ScheduleDefinition] = {}
        self._sensors: dict[str, SensorDefinition] = {}
        self._resolved: dict[str, JobDefinition] = {}
        self._repository: RepositoryDefinition | None = None
        self._index()

    # -- building the index (cheap, when built) --

    def _index(self) -> None:
        for position, item in enumerate(self.jobs):
            if not isinstance(item, (JobDefinition, GraphDefinition)):
                raise DagsterInvalidDefinitionError(
                    f"Definitions(jobs=...) takes jobs and graphs; item {position} is {type(item).__name__} {item!r}."
                    + (" Pass schedules in schedules=[...]." if isinstance(item, ScheduleDefinition) else "")
                    + (" Pass sensors in sensors=[...]." if isinstance(item, SensorDefinition) else "")
                )
            existing = self._unresolved.get(item.name)
            if existing is not None and existing is not item:
                raise DagsterInvalidDefinitionError(
                    f"Duplicate job definition found for job '{item.name}': two different jobs (or graphs) in "
                    "Definitions(jobs=...) have that name. Rename one of them."
                )
            self._unresolved[item.name] = item
        for items, argument, expected in (
            (self.schedules, "schedules", ScheduleDefinition),
            (self.sensors, "sensors", SensorDefinition),
        ):
            for position, item in enumerate(items):
                if not isinstance(item, expected):
                    raise DagsterInvalidDefinitionError(
                        f"Definitions({argument}=...) takes {expected.__name__}s; item {position} is "
                        f"{type(item).__name__} {item!r}."
                    )
                self._add_automation(item)
        for kind, automation in self._automations():
            for job in _direct_targets(automation):
                existing = self._unresolved.get(job.name)
                if existing is not None and existing is not job:
                    raise DagsterInvalidDefinitionError(
                        f"{kind.capitalize()} '{automation.name}' targets job '{job.name}', but a different job with "
                        "the same name was provided to the Definitions. Make sure only one job with that name is "
                        "provided, or target the listed job itself."
                    )
                self._unresolved[job.name] = job
        for kind, automation in self._automations():
            for job_name in _target_names(automation):
                if job_name not in self._unresolved:
                    raise DagsterInvalidDefinitionError(
                        f"{kind.capitalize()} '{automation.name}' targets job '{job_name}', which was not found in "
                        f"these Definitions.{did_you_mean(job_name, self._unresolved)} Pass the job in jobs=[...] or "
                        "as the target itself."
                    )
            missing = sorted(automation.required_resource_keys - set(self.resources))
            if missing:
                raise DagsterInvalidDefinitionError(
                    f"Resource with key '{missing[0]}' required by {kind} '{automation.name}' was not provided. "
                    f"Pass it in Definitions(resources={{'{missing[0]}': ...}}).{did_you_mean(missing[0], self.resources)}"
                )

    def _add_automation(self, item: ScheduleDefinition | SensorDefinition) -> None:
        existing = self._schedules.get(item.name) or self._sensors.get(item.name)
        if existing is item:
            return
        if existing is not None:
            raise DagsterInvalidDefinitionError(
                f"Duplicate definition found for {item.name}: schedules and sensors share one namespace, and two "
                "of them have that name. Rename one of them."
            )
        if isinstance(item, ScheduleDefinition):
            self._schedules[item.name] = item
        else:
            self._sensors[item.name] = item

    def _automations(self) -> list[tuple[str, ScheduleDefinition | SensorDefinition]]:
        return [("schedule", s) for s in self._schedules.values()] + [("sensor", s) for s in self._sensors.values()]

    # -- jobs (bound on first use, then cached) --

    @property
    def job_names(self) -> list[str]:
        return list(self._unresolved)

    def has_job(self, name: str) -> bool:
        return name in self._unresolved

    def resolve_job_def(self, name: str) -> JobDefinition:
        """The job named `name`, bound to the top-level resources, executor and loggers."""
        job = self._resolved.get(name)
        if job is None:
            if name not in self._unresolved:
                known = ", ".join(sorted(self._unresolved)) or "none"
                raise DagsterInvariantViolationError(
                    f"Could not find job '{name}' in these Definitions.{did_you_mean(name, self._unresolved)} "
                    f"Jobs: {known}."
                )
            job = self._bind(self._unresolved[name])
            self._resolved[name] = job
        return job

    def get_job_def(self, name: str) -> JobDefinition:
        return self.resolve_job_def(name)

    def resolve_all_job_defs(self) -> list[JobDefinition]:
        return [self.resolve_job_def(name) for name in self._unresolved]

    def get_all_job_defs(self) -> list[JobDefinition]:
        return self.resolve_all_job_defs()

    def _bind(self, item: JobDefinition | GraphDefinition) -> JobDefinition:
        job = item.to_job() if isinstance(item, GraphDefinition) else item
        if self.resources:
            job = job.with_top_level_resources(self.resources)
        elif not job.resources_explicitly_given:
            from oprun.definitions.jobs.config_schema import missing_resources_error

            error = missing_resources_error(job)
            if error is not None:
                raise error
        if self.executor is not None and not job.executor_explicitly_given:
            job = job.with_executor_def(self.executor)
        if self.loggers and not job.loggers_explicitly_given:
            job = job.with_logger_defs(self.loggers)
        return job

    # -- schedules and sensors --

    def get_schedule_def(self, name: str) -> ScheduleDefinition:
        schedule = self._schedules.get(name)
        if schedule is None:
            known = ", ".join(sorted(self._schedules)) or "none"
            raise DagsterInvariantViolationError(
                f"Could not find schedule '{name}' in these Definitions.{did_you_mean(name, self._schedules)} "
                f"Schedules: {known}."
            )
        return schedule

    def get_sensor_def(self, name: str) -> SensorDefinition:
        sensor = self._sensors.get(name)
        if sensor is None:
            known = ", ".join(sorted(self._sensors)) or "none"
            raise DagsterInvariantViolationError(
                f"Could not find sensor '{name}' in these Definitions.{did_you_mean(name, self._sensors)} "
                f"Sensors: {known}."
            )
        return sensor

    @property
    def schedule_defs(self) -> list[ScheduleDefinition]:
        return list(self._schedules.values())

    @property
    def sensor_defs(self) -> list[SensorDefinition]:
        return list(self._sensors.values())

    # -- whole-location operations --

    def get_repository_def(self) -> RepositoryDefinition:
        if self._repository is None:
            self._repository = RepositoryDefinition("__repository__", self)
        return self._repository

    @staticmethod
    def validate_loadable(defs: Definitions) -> None:
        """Bind every job now, raising the first error a tool would meet."""
        if not isinstance(defs, Definitions):
            raise DagsterInvariantViolationError(f"validate_loadable takes a Definitions, got {type(defs).__name__}.")
        defs.resolve_all_job_defs()

    @staticmethod
    def merge(*def_sets: Definitions) -> Definitions:
        """One Definitions holding everything in `def_sets`; resources, loggers,
        executors and metadata given by more than one must agree."""
        for position, item in enumerate(def_sets):
            if not isinstance(item, Definitions):
                raise DagsterInvariantViolationError(
                    f"Definitions.merge takes Definitions objects; argument {position} is {type(item).__name__}."
                )
        resources = _merge_maps(def_sets, "resources", lambda d: d.resources)
        loggers = _merge_maps(def_sets, "loggers", lambda d: d.loggers)
        metadata = _merge_maps(def_sets, "metadata", lambda d: d.metadata)
        executor: ExecutorDefinition | None = None
        executor_from = 0
        for position, item in enumerate(def_sets):
            if item.executor is None:
                continue
            if executor is not None and item.executor is not executor:
                raise DagsterInvariantViolationError(
                    f"Definitions objects {executor_from} and {position} both have an executor. Keep one."
                )
            executor, executor_from = item.executor, position
        return Definitions(
            jobs=[j for d in def_sets for j in d.jobs],
            schedules=[s for d in def_sets for s in d.schedules],
            sensors=[s for d in def_sets for s in d.sensors],
            resources=resources,
            executor=executor,
            loggers=loggers,
            metadata=metadata,
        )

    def __repr__(self) -> str:
        return (
            f"<Definitions jobs={self.job_names} schedules={list(self._schedules)} sensors={list(self._sensors)}>"
        )


def _merge_maps(def_sets: Sequence[Definitions], what: str, get: Callable[[Definitions], Mapping[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    origin: dict[str, int] = {}
    for position, item in enumerate(def_sets):
        for key, value in get(item).items():
            if key in merged and merged[key] is not value and merged[key] != value:
                raise DagsterInvariantViolationError(
                    f"Definitions objects {origin[key]} and {position} have different {what} for key '{key}'. "
                    "Give the key one value, or rename one of them."
                )
            merged.setdefault(key, value)
            origin.setdefault(key, position)
    return merged


def _direct_targets(automation: ScheduleDefinition | SensorDefinition) -> list[Any]:
    if isinstance(automation, ScheduleDefinition):
        return [automation.job] if automation.has_direct_job else []
    return automation.direct_jobs


def _target_names(automation: ScheduleDefinition | SensorDefinition) -> list[str]:
    if isinstance(automation, ScheduleDefinition):
        return [automation.job_name]
    return automation.job_names


# --- repositories -----------------------------------------------------------------------


class RepositoryDefinition:
    """A named set of definitions: what `@repository` returns, and the single
    repository (`__repository__`) a Definitions object stands for."""

    def __init__(self, name: str, definitions: Definitions, description: str | None = None, metadata: Mapping[str, Any] | None = None) -> None:
        self.name = name
        self.definitions = definitions
        self.description = description
        self.metadata = normalize_metadata(metadata) if metadata else dict(definitions.metadata)

    @property
    def job_names(self) -> list[str]:
        return self.definitions.job_names

    def has_job(self, name: str) -> bool:
        return self.definitions.has_job(name)

    def get_job(self, name: str) -> JobDefinition:
        return self.definitions.resolve_job_def(name)

    def get_all_jobs(self) -> list[JobDefinition]:
        return self.definitions.resolve_all_job_defs()

    # Definitions' names too, so that code holding either can treat them alike.
    get_job_def = get_job
    resolve_job_def = get_job
    get_all_job_defs = get_all_jobs
    resolve_all_job_defs = get_all_jobs

    @property
    def schedule_defs(self) -> list[ScheduleDefinition]:
        return self.definitions.schedule_defs

    @property
    def sensor_defs(self) -> list[SensorDefinition]:
        return self.definitions.sensor_defs

    def get_schedule_def(self, name: str) -> ScheduleDefinition:
        return self.definitions.get_schedule_def(name)

    def get_sensor_def(self, name: str) -> SensorDefinition:
        return self.definitions.get_sensor_def(name)

    def has_schedule_def(self, name: str) -> bool:
        return any(s.name == name for s in self.definitions.schedule_defs)

    def has_sensor_def(self, name: str) -> bool:
        return any(s.name == name for s in self.definitions.sensor_defs)

    def __repr__(self) -> str:
        return f"<RepositoryDefinition {self.name} jobs={self.job_names}>"


_REPOSITORY_KINDS = ("jobs", "schedules", "sensors")


def repository(
    definitions_fn: Callable[[], Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    default_executor_def: ExecutorDefinition | None = None,
    default_logger_defs: Mapping[str, LoggerDefinition] | None = None,
    top_level_resources: Mapping[str, Any] | None = None,
) -> Any:
    """Legacy decorator: a function returning a list of jobs, graphs, schedules
    and sensors (or a dict {"jobs": {...}, "schedules": {...}, "sensors": {...}})
    becomes a repository, which tools load like a Definitions."""

    def wrap(fn: Callable[[], Any]) -> RepositoryDefinition:
        repository_name = check_valid_name(name or fn.__name__, what="repository name")
        where = f"@repository '{repository_name}'"
        result = fn()
        if isinstance(result, Mapping):
            jobs, schedules, sensors = _from_dict(result, where)
        elif isinstance(result, (list, tuple)):
            jobs, schedules, sensors = _from_list(result, where)
        else:
            raise DagsterInvalidDefinitionError(
                f"{where}: the decorated function must return a list of jobs, graphs, schedules and sensors, or a "
                f"dict with keys {list(_REPOSITORY_KINDS)}; it returned {type(result).__name__}."
            )
        definitions = Definitions(
            jobs=jobs,
            schedules=schedules,
            sensors=sensors,
            resources=top_level_resources,
            executor=default_executor_def,
            loggers=default_logger_defs,
            metadata=metadata,
        )
        return RepositoryDefinition(repository_name, definitions, description or fn.__doc__, metadata)

    if definitions_fn is not None:
        return wrap(definitions_fn)
    return wrap


def _from_list(items: Sequence[Any], where: str) -> tuple[list[Any], list[Any], list[Any]]:
    jobs, schedules, sensors = [], [], []
    for position, item in enumerate(items):
        if isinstance(item, (JobDefinition, GraphDefinition)):
            jobs.append(item)
        elif isinstance(item, ScheduleDefinition):
            schedules.append(item)
        elif isinstance(item, SensorDefinition):
            sensors.append(item)
        else:
            raise DagsterInvalidDefinitionError(
                f"{where}: bad return value: every item must be a JobDefinition, GraphDefinition, ScheduleDefinition "
                f"or SensorDefinition; got {type(item).__name__} {item!r} at index {position}."
            )
    return jobs, schedules, sensors


def _from_dict(result: Mapping[str, Any], where: str) -> tuple[list[Any], list[Any], list[Any]]:
    unknown = [k for k in result if k not in _REPOSITORY_KINDS]
    if unknown:
        raise DagsterInvalidDefinitionError(
            f"{where}: unknown key '{unknown[0]}' in the returned dict.{did_you_mean(unknown[0], _REPOSITORY_KINDS)} "
            f"Keys: {list(_REPOSITORY_KINDS)}."
        )
    found: dict[str, list[Any]] = {kind: [] for kind in _REPOSITORY_KINDS}
    expected: dict[str, type[Any] | tuple[type[Any], ...]] = {
        "jobs": (JobDefinition, GraphDefinition), "schedules": ScheduleDefinition, "sensors": SensorDefinition,
    }
    for kind in _REPOSITORY_KINDS:
        section = result.get(kind) or {}
        if not isinstance(section, Mapping):
            raise DagsterInvalidDefinitionError(f"{where}: '{kind}' must map names to definitions, got {type(section).__name__}.")
        for key, value in section.items():
            # Values may be functions that build the definition: call them now.
            if not isinstance(value, expected[kind]) and callable(value):
                value = value()
            if not isinstance(value, expected[kind]):
                raise DagsterInvalidDefinitionError(
                    f"{where}: '{kind}' entry '{key}' is {type(value).__name__}, not a {kind[:-1]} definition."
                )
            if value.name != key:
                raise DagsterInvalidDefinitionError(
                    f"{where}: '{kind}' entry '{key}' holds a definition named '{value.name}'; the key must be its name."
                )
            found[kind].append(value)
    return found["jobs"], found["schedules"], found["sensors"]
