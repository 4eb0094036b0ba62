"""`DagsterInstance`: where runs, events and step outputs live.

`get()` reads `$OPRUN_HOME` (default `~/.oprun`) and its `oprun.yaml` (or
`dagster.yaml`): SQLite under the home by default, or PostgreSQL. `ephemeral()`
keeps everything in memory and imports no database library. Every surface (CLI,
GraphQL, UI, daemon) and the engine talk to storage through this class only.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from oprun.errors import DagsterInstanceConfigError, DagsterInvariantViolationError, DagsterStorageError, did_you_mean
from oprun.events import DagsterEvent, DagsterEventType, EngineEventData, EventLogEntry, JobFailureData, current_pid
from oprun.files import makedirs_private
from oprun.instance.storage import EventLogConnection, InMemoryRunStorage, RunStorage
from oprun.runs import FINISHED_RUN_STATUSES, DagsterRun, DagsterRunStatus, RunRecord, RunsFilter

if TYPE_CHECKING:
    from datetime import timedelta

    # The daemon's records load only when used: a run in process never needs them.
    from oprun.instance.automation_storage import AutomationStorage
    from oprun.instigation import (
        BulkActionStatus,
        DaemonHeartbeat,
        InstigatorState,
        InstigatorTick,
        InstigatorType,
        PartitionBackfill,
        TickStatus,
    )

CONFIG_FILES = ("oprun.yaml", "dagster.yaml")
# A daemon loop whose last heartbeat is older than this is not alive: the loops
# beat at least every few seconds, so this is many missed beats.
DAEMON_HEARTBEAT_TOLERANCE_SECONDS = 30.0
# Dagster's modules for the classes oprun has its own of (a dagster.yaml naming
# them loads oprun's).
_OPRUN_CLASS_MODULES = {
    "dagster.core.run_coordinator": "oprun.execution.coordinator",
    "dagster._core.run_coordinator": "oprun.execution.coordinator",
    "dagster._core.run_coordinator.queued_run_coordinator": "oprun.execution.coordinator",
    "dagster._core.run_coordinator.default_run_coordinator": "oprun.execution.coordinator",
    "dagster": "oprun.execution.coordinator",
}
# The sections and keys the file may hold: `oprun.instance.config_schema`.
_PYTHON_LOGS_KEYS = {"managed_python_loggers", "python_log_level", "dagster_handler_config"}
_LOG_LEVELS = ("CRITICAL", "FATAL", "ERROR", "WARNING", "WARN", "INFO", "DEBUG")


def _env_value(value: Any, where: str) -> Any:
    if isinstance(value, Mapping) and set(value) == {"env"}:
        name = str(value["env"])
        found = os.environ.get(name)
        if found is None:
            raise DagsterInstanceConfigError(f"{where}: environment variable {name} is not set.")
        return found
    return value


def _read_config(home: str) -> tuple[dict[str, Any], str | None]:
    for name in CONFIG_FILES:
        path = os.path.join(home, name)
        if os.path.exists(path):
            import yaml

            try:
                with open(path, encoding="utf-8") as f:
                    data = yaml.safe_load(f) or {}
            except yaml.YAMLError as exc:
                raise DagsterInstanceConfigError(f"Instance config {path} is not valid YAML: {exc}") from exc
            if not isinstance(data, dict):
                raise DagsterInstanceConfigError(f"Instance config {path} must be a mapping, found {type(data).__name__}.")
            _check_config(data, path)
            return data, path
    return {}, None


def check_home_config(home: str) -> None:
    """Raise the error opening the instance at `home` would meet in its config
    file (a `DagsterInstanceConfigError` naming the file and the key), without
    opening its storage: what a server checks before it starts, when it opens
    the storage later."""
    _read_config(os.path.abspath(os.path.expanduser(home)))


def _check_config(data: Mapping[str, Any], where: str) -> None:
    """The whole file against the instance config schema (`config_schema`), after
    the `python_logs` checks, whose messages say more."""
    if "python_logs" in data:
        _check_python_logs(data["python_logs"], where)
    from oprun.instance.config_schema import check_instance_config

    check_instance_config(data, where)


def _check_python_logs(section: Any, path: str) -> None:
    """`python_logs: {managed_python_loggers: [names], python_log_level: LEVEL}`, as
    in Dagster's dagster.yaml; errors name the file and the key."""
    where = f"Instance config {path}: python_logs"
    if section is None:
        return
    if not isinstance(section, Mapping):
        raise DagsterInstanceConfigError(f"{where} must be a mapping, found {type(section).__name__}.")
    for key in section:
        if key not in _PYTHON_LOGS_KEYS:
            raise DagsterInstanceConfigError(
                f"{where}: unknown key '{key}'. Expected one of {sorted(_PYTHON_LOGS_KEYS)}.{did_you_mean(key, _PYTHON_LOGS_KEYS)}"
            )
    names = section.get("managed_python_loggers")
    if names is not None and (not isinstance(names, list) or not all(isinstance(n, str) for n in names)):
        raise DagsterInstanceConfigError(
            f"{where}:managed_python_loggers must be a list of logger names (\"root\" for the root logger), found {names!r}."
        )
    handler_config = section.get("dagster_handler_config")
    if handler_config is not None and (
        not isinstance(handler_config, Mapping) or set(handler_config) - {"handlers", "formatters", "filters"}
    ):
        raise DagsterInstanceConfigError(
            f"{where}:dagster_handler_config must be a mapping with 'handlers', 'formatters' and 'filters' "
            f"(as logging.config.dictConfig takes them), found {handler_config!r}."
        )
    level = section.get("python_log_level")
    if level is not None and (not isinstance(level, str) or level.upper() not in _LOG_LEVELS):
        raise DagsterInstanceConfigError(
            f"{where}:python_log_level: bad value for log level {level!r}: permissible values are "
            f"{', '.join(repr(name) for name in _LOG_LEVELS)}.{did_you_mean(str(level).upper(), _LOG_LEVELS)}"
        )


def python_logs_settings(settings: Mapping[str, Any]) -> tuple[list[str], str | None, dict[str, Any]]:
    """(managed loggers, level, handler config) of an instance config's
    `python_logs`; step workers read them from the settings they are given,
    without opening the instance."""
    section = settings.get("python_logs") or {}
    level = section.get("python_log_level")
    return (
        list(section.get("managed_python_loggers") or []),
        str(level) if level is not None else None,
        dict(section.get("dagster_handler_config") or {}),
    )


def _postgres_url(config: Mapping[str, Any], where: str) -> str:
    if "postgres_url" in config:
        return str(_env_value(config["postgres_url"], f"{where}:postgres_url"))
    db = config.get("postgres_db")
    if not isinstance(db, Mapping):
        raise DagsterInstanceConfigError(f"{where}: expected postgres_url or postgres_db: {{username, password, hostname, db_name, port}}.")
    parts = {k: _env_value(db.get(k), f"{where}:postgres_db:{k}") for k in ("username", "password", "hostname", "db_name", "port")}
    for key in ("username", "hostname", "db_name"):
        if not parts[key]:
            raise DagsterInstanceConfigError(f"{where}:postgres_db: missing required key '{key}'.")
    from urllib.parse import quote, urlencode

    password = f":{quote(str(parts['password']), safe='')}" if parts["password"] else ""
    port = f":{parts['port']}" if parts["port"] else ""
    scheme = _env_value(db.get("scheme"), f"{where}:postgres_db:scheme") or "postgresql+psycopg"
    params = db.get("params") or {}
    query = ("?" + urlencode({k: str(v) for k, v in params.items()})) if params else ""
    return f"{scheme}://{quote(str(parts['username']), safe='')}{password}@{parts['hostname']}{port}/{parts['db_name']}{query}"


def _storage_from_config(home: str, config: Mapping[str, Any], path: str | None, check_schema: bool = True) -> RunStorage:
    where = f"{path or 'instance config'}:storage"
    storage = config.get("storage") or {"sqlite": {}}
    if not isinstance(storage, Mapping) or len(storage) != 1:
        raise DagsterInstanceConfigError(f"{where}: expected exactly one of 'sqlite' or 'postgres'.")
    (kind, settings), = storage.items()
    settings = settings or {}
    if kind == "sqlite":
        from oprun.instance.sql import SqliteRunStorage

        base = _env_value(settings.get("base_dir"), f"{where}:sqlite:base_dir") or os.path.join(home, "history")
        return SqliteRunStorage(os.path.join(str(base), "oprun.db"), check_schema=check_schema)
    if kind == "postgres":
        from oprun.instance.sql import PostgresRunStorage

        return PostgresRunStorage(_postgres_url(settings, f"{where}:postgres"), check_schema=check_schema)
    raise DagsterInstanceConfigError(
        f"{where}: unknown storage '{kind}'. Expected 'sqlite' or 'postgres'.{did_you_mean(str(kind), ['sqlite', 'postgres'])}"
    )


def _artifact_base_dir(section: Any) -> Any:
    """`local_artifact_storage`'s base_dir: oprun's `{base_dir}` or Dagster's
    `{module, class, config: {base_dir}}`."""
    if not isinstance(section, Mapping):
        return None
    config = section.get("config")
    return section.get("base_dir") or (config.get("base_dir") if isinstance(config, Mapping) else None)


def home_directory() -> str:
    """`$OPRUN_HOME`, else `$DAGSTER_HOME`, else `~/.oprun`."""
    return os.environ.get("OPRUN_HOME") or os.environ.get("DAGSTER_HOME") or os.path.join(os.path.expanduser("~"), ".oprun")


def migrate_home(home: str) -> tuple[str, str]:
    """Migrate the database of the instance at `home` to this oprun's schema;
    returns the (from, to) revisions. Opening it as an instance would refuse an
    older database, so the storage is built without the schema check."""
    from oprun.instance import schema

    home = os.path.abspath(os.path.expanduser(home))
    config, path = _read_config(home)
    storage = _storage_from_config(home, config, path, check_schema=False)
    try:
        return schema.migrate(storage.engine, storage.where)  # type: ignore[attr-defined]  # always SQL
    finally:
        storage.dispose()


class DagsterInstance:
    """Runs, events and step outputs; see the module docstring."""

    def __init__(self, storage: RunStorage, root_directory: str | None, settings: Mapping[str, Any] | None = None, temp_dir: Any = None) -> None:
        self._storage = storage
        self._root = root_directory
        self._settings = dict(settings or {})
        self._temp_dir = temp_dir
        self._run_launcher: Any = None
        self._run_coordinator: Any = None
        self._automation: AutomationStorage | None = None

    # -- construction --

    @staticmethod
    def get() -> DagsterInstance:
        return DagsterInstance.from_directory(home_directory())

    @staticmethod
    def from_directory(home: str, overrides: Mapping[str, Any] | None = None) -> DagsterInstance:
        home = os.path.abspath(os.path.expanduser(home))
        # Owner-only (docs/instance.md, "Files and permissions"); the logs directory
        # too, as compute_logs.py creates only each run's directory below it.
        try:
            makedirs_private(os.path.join(home, "logs"))
        except OSError as exc:
            if not os.path.isdir(home):
                raise DagsterStorageError(f"Cannot create the instance's home at {home}: {exc.strerror or exc}") from exc
            # A home this process cannot write (read-only): it can still be read,
            # and each write says why it failed.
        config, path = _read_config(home)
        if overrides:
            _check_config(overrides, "overrides")
        config = {**config, **(overrides or {})}
        return DagsterInstance(_storage_from_config(home, config, path), home, config)

    @staticmethod
    def ephemeral() -> DagsterInstance:
        return DagsterInstance(InMemoryRunStorage(), None)

    @staticmethod
    def local_temp(tempdir: str | None = None, overrides: Mapping[str, Any] | None = None) -> DagsterInstance:
        import tempfile

        temp = None
        if tempdir is None:
            temp = tempfile.TemporaryDirectory(prefix="oprun-")
            tempdir = temp.name
        instance = DagsterInstance.from_directory(tempdir, overrides)
        instance._temp_dir = temp  # noqa: SLF001 - the instance this method just built; dispose() removes the directory
        return instance

    def worker_ref(self) -> dict[str, Any]:
        """What a worker process needs to open the same instance."""
        return {"root": self._root, "overrides": self._settings}

    @staticmethod
    def from_worker_ref(ref: Mapping[str, Any]) -> DagsterInstance:
        return DagsterInstance.from_directory(ref["root"], ref.get("overrides"))

    def environment_for_children(self) -> dict[str, str]:
        return {"OPRUN_HOME": self._root} if self._root else {}

    def dispose(self) -> None:
        self._storage.dispose()
        if self._temp_dir is not None:
            self._temp_dir.cleanup()
            self._temp_dir = None

    def __enter__(self) -> DagsterInstance:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.dispose()

    # -- python logs (`python_logs` in the instance config, as in Dagster) --

    @property
    def managed_python_loggers(self) -> list[str]:
        """The Python loggers whose records, made in a run's ops, go to the run's
        event log and loggers ("root" is the root logger)."""
        return python_logs_settings(self._settings)[0]

    @property
    def python_log_handler_config(self) -> dict[str, Any]:
        """`python_logs.dagster_handler_config`: dictConfig handlers for run logs."""
        return python_logs_settings(self._settings)[2]

    @property
    def python_log_level(self) -> str | None:
        """The level the managed loggers are set to while a run captures them."""
        return python_logs_settings(self._settings)[1]

    # -- places --

    @property
    def is_ephemeral(self) -> bool:
        return self._root is None

    @property
    def root_directory(self) -> str:
        if self._root is None:
            raise DagsterInvariantViolationError("An ephemeral instance has no root directory.")
        return self._root

    def storage_directory(self) -> str:
        artifact_storage = self._settings.get("local_artifact_storage")
        base = _artifact_base_dir(artifact_storage)
        if base:
            return os.path.join(str(_env_value(base, "local_artifact_storage:base_dir")), "storage")
        if self._root is None:
            if self._temp_dir is None:
                import tempfile

                self._temp_dir = tempfile.TemporaryDirectory(prefix="oprun-ephemeral-")
            return os.path.join(self._temp_dir.name, "storage")
        return os.path.join(self._root, "storage")

    def compute_logs_directory(self) -> str:
        if self._root is None:
            import tempfile

            return os.path.join(tempfile.gettempdir(), "logs")
        return os.path.join(self._root, "logs")

    @property
    def run_storage(self) -> RunStorage:
        return self._storage

    event_log_storage = run_storage

    # -- runs --

    def create_run(self, dagster_run: DagsterRun, job_snapshot: dict[str, Any] | str | None = None) -> DagsterRun:
        return self._storage.add_run(dagster_run, job_snapshot)

    add_run = create_run

    def create_run_for_job(
        self,
        job_def: Any,
        execution_plan: Any = None,
        run_id: str | None = None,
        run_config: Mapping[str, object] | None = None,
        resolved_op_selection: Any = None,
        status: DagsterRunStatus | str | None = None,
        tags: Mapping[str, str] | None = None,
        root_run_id: str | None = None,
        parent_run_id: str | None = None,
        op_selection: Sequence[str] | None = None,
        asset_selection: Any = None,
        remote_job_origin: Any = None,
        job_code_origin: Any = None,
        repository_load_data: Any = None,
    ) -> DagsterRun:
        """Record a run of `job_def` (NOT_STARTED unless `status` says otherwise)
        without executing it, as Dagster's: the run config is resolved and checked,
        and the plan made, exactly as a run's would be (`prepare_run`).
        `execution_plan`, `resolved_op_selection`, the origins and the load data are
        accepted for Dagster's signature; oprun derives them from the job."""
        if asset_selection:
            from oprun.errors import DagsterInvalidInvocationError

            raise DagsterInvalidInvocationError(
                f"create_run_for_job(asset_selection=...) is not supported: oprun runs op jobs, not assets "
                f"(job '{job_def.name}'). Use op_selection=[...] instead."
            )
        from oprun.execution.prepare import prepare_run  # the instance stores; preparing is execution's

        lineage = (parent_run_id, root_run_id or parent_run_id) if parent_run_id is not None or root_run_id is not None else None
        run = prepare_run(job_def, self, run_config=run_config, tags=tags, op_selection=op_selection, run_id=run_id, lineage=lineage).run
        if status is not None and DagsterRunStatus(status) != run.status:
            self.update_run_status(run.run_id, DagsterRunStatus(status))
            run = run.with_status(DagsterRunStatus(status))
        return run

    def get_run_by_id(self, run_id: str) -> DagsterRun | None:
        record = self.get_run_record_by_id(run_id)
        return record.dagster_run if record is not None else None

    def get_run_record_by_id(self, run_id: str) -> RunRecord | None:
        records = self._storage.get_run_records(RunsFilter(run_ids=[run_id]), limit=1)
        return records[0] if records else None

    def has_run(self, run_id: str) -> bool:
        return self.get_run_record_by_id(run_id) is not None

    def get_runs(self, filters: RunsFilter | None = None, cursor: str | None = None, limit: int | None = None) -> list[DagsterRun]:
        return [r.dagster_run for r in self._storage.get_run_records(filters, limit, cursor)]

    def get_runs_count(self, filters: RunsFilter | None = None) -> int:
        return self._storage.get_runs_count(filters)

    def get_run_records(
        self,
        filters: RunsFilter | None = None,
        limit: int | None = None,
        order_by: str | None = None,
        ascending: bool = False,
        cursor: str | None = None,
    ) -> list[RunRecord]:
        return self._storage.get_run_records(filters, limit, cursor, ascending)

    def get_job_snapshot(self, snapshot_id: str) -> dict[str, Any] | None:
        return self._storage.get_snapshot(snapshot_id)

    def add_run_tags(self, run_id: str, new_tags: Mapping[str, str]) -> None:
        self._storage.add_run_tags(run_id, {k: str(v) for k, v in new_tags.items()})

    def update_run_status(self, run_id: str, status: DagsterRunStatus) -> None:
        self._storage.set_status(run_id, status)

    def delete_run(self, run_id: str) -> None:
        """Delete a run, its events, its stored outputs and its compute logs."""
        import shutil

        self._storage.delete_run(run_id)
        for folder in (os.path.join(self.storage_directory(), run_id), os.path.join(self.compute_logs_directory(), run_id)):
            shutil.rmtree(folder, ignore_errors=True)

    def prune_runs(self, older_than: timedelta) -> list[str]:
        """Delete finished runs created more than `older_than` ago; returns their ids."""
        from datetime import datetime

        cutoff = datetime.now().astimezone() - older_than
        records = self._storage.get_run_records(RunsFilter(created_before=cutoff, statuses=list(FINISHED_RUN_STATUSES)))
        for record in records:
            self.delete_run(record.dagster_run.run_id)
        return [r.dagster_run.run_id for r in records]

    # -- events --

    def handle_new_event(self, entry: EventLogEntry) -> None:
        self._storage.store_events([entry])

    def handle_new_events(self, entries: Sequence[EventLogEntry]) -> None:
        self._storage.store_events(list(entries))

    def store_event(self, entry: EventLogEntry) -> None:
        self.handle_new_event(entry)

    def all_logs(self, run_id: str, of_type: DagsterEventType | set[DagsterEventType] | None = None) -> list[EventLogEntry]:
        types = _type_values(of_type)
        return [r.event_log_entry for r in self._storage.get_records(run_id, of_types=types)]

    def get_records_for_run(
        self,
        run_id: str,
        cursor: str | int | None = None,
        of_type: Any = None,
        limit: int | None = None,
        ascending: bool = True,
    ) -> EventLogConnection:
        after = int(cursor) if cursor not in (None, "") else None
        records = self._storage.get_records(run_id, after, _type_values(of_type), (limit + 1) if limit else None, ascending)
        has_more = limit is not None and len(records) > limit
        records = records[:limit] if limit is not None else records
        new_cursor = str(records[-1].storage_id) if records else (str(after) if after is not None else "")
        return EventLogConnection(records, new_cursor, has_more)

    def _report(self, run: DagsterRun, kind: DagsterEventType, message: str, data: Any = None, step_key: str | None = None) -> None:
        event = DagsterEvent(kind.value, run.job_name, step_key, None, data, message, current_pid())
        import logging
        import time

        level = logging.ERROR if kind is DagsterEventType.RUN_FAILURE else logging.DEBUG
        self.handle_new_event(EventLogEntry(run.run_id, time.time(), level, message, run.job_name, step_key, None, event))

    def report_engine_event(self, message: str, dagster_run: DagsterRun, metadata: Mapping[str, Any] | None = None, step_key: str | None = None) -> None:
        self._report(dagster_run, DagsterEventType.ENGINE_EVENT, message, EngineEventData(dict(metadata or {})), step_key)

    def report_run_event(self, dagster_run: DagsterRun, kind: DagsterEventType, message: str, step_key: str | None = None) -> None:
        """Record a run-level event (RUN_ENQUEUED, RUN_DEQUEUED, RUN_STARTING, ...)
        for a run that is not finished; the status follows from the event."""
        current = self.get_run_by_id(dagster_run.run_id)
        if current is None or current.is_finished:
            return
        self._report(current, kind, message, None, step_key)

    def report_run_failed(self, dagster_run: DagsterRun, message: str | None = None) -> None:
        current = self.get_run_by_id(dagster_run.run_id)
        if current is None or current.is_finished:
            return
        self._report(
            current,
            DagsterEventType.RUN_FAILURE,
            message or f'Execution of run for "{current.job_name}" failed.',
            JobFailureData(None, "UNEXPECTED_TERMINATION"),
        )

    def report_run_canceling(self, dagster_run: DagsterRun, message: str | None = None) -> None:
        current = self.get_run_by_id(dagster_run.run_id)
        if current is None or current.is_finished:
            return
        self._report(current, DagsterEventType.RUN_CANCELING, message or "Sending run termination request.")

    def report_run_canceled(self, dagster_run: DagsterRun, message: str | None = None) -> None:
        current = self.get_run_by_id(dagster_run.run_id)
        if current is None or current.is_finished:
            return
        self._report(current, DagsterEventType.RUN_CANCELED, message or f'Execution of run for "{current.job_name}" was canceled.')

    # -- launching --

    @property
    def run_launcher(self) -> Any:
        """The launcher that starts recorded runs: the class named by
        `run_launcher: {module, class, config}` in oprun.yaml, as in Dagster's
        instance config; by default oprun's, which starts each run in its own
        process. The instance stores runs; it never executes one itself."""
        if self._run_launcher is None:
            import importlib

            spec = self._settings.get("run_launcher") or {}
            module = importlib.import_module(spec.get("module") or "oprun.execution.launcher")
            launcher_class = getattr(module, spec.get("class") or "DefaultRunLauncher")
            self._run_launcher = launcher_class(self, **(spec.get("config") or {}))
        return self._run_launcher

    @property
    def run_coordinator(self) -> Any:
        """What `submit_run` hands runs to: the class named by `run_coordinator:
        {module, class, config}` in oprun.yaml (Dagster's module paths name
        oprun's classes too); by default oprun's queued coordinator, which queues
        runs for the daemon when one is alive and launches them at once when none
        is (docs/automation.md, "The run queue")."""
        if self._run_coordinator is None:
            import importlib

            spec = self._settings.get("run_coordinator") or {}
            module_name = _OPRUN_CLASS_MODULES.get(str(spec.get("module") or ""), spec.get("module")) or "oprun.execution.coordinator"
            module = importlib.import_module(module_name)
            coordinator_class = getattr(module, spec.get("class") or "QueuedRunCoordinator")
            config = dict(spec.get("config") or {}) if spec else {"launch_without_daemon": True}
            self._run_coordinator = coordinator_class(self, **config)
        return self._run_coordinator

    def submit_run(self, run_id: str, workspace: Any = None) -> DagsterRun:
        """Hand a recorded run to the run coordinator (queued, or launched at once)."""
        self.run_coordinator.submit_run(run_id)
        run = self.get_run_by_id(run_id)
        assert run is not None
        return run

    def run_queue_settings(self) -> dict[str, Any]:
        """The run queue's limits, from `run_queue:` (Dagster's newer key), then
        `concurrency: runs:`, then the coordinator's own config."""
        coordinator = dict((self._settings.get("run_coordinator") or {}).get("config") or {})
        runs = dict((self._settings.get("concurrency") or {}).get("runs") or {})
        queue = dict(self._settings.get("run_queue") or {})
        return {**coordinator, **runs, **queue}

    def run_monitoring_settings(self) -> dict[str, Any]:
        """`run_monitoring:` as given (the monitor applies its defaults)."""
        return dict(self._settings.get("run_monitoring") or {})

    def scheduler_settings(self) -> dict[str, Any]:
        """The schedule loop's settings: `scheduler: {config: ...}` as Dagster's
        DagsterDaemonScheduler takes them, and `schedules:`."""
        scheduler = dict((self._settings.get("scheduler") or {}).get("config") or {})
        return {**scheduler, **dict(self._settings.get("schedules") or {})}

    def sensor_settings(self) -> dict[str, Any]:
        return dict(self._settings.get("sensors") or {})

    def launch_run(self, run_id: str) -> DagsterRun:
        """Start a recorded run in its own process and return at once."""
        if self.is_ephemeral:
            raise DagsterInvariantViolationError(
                "Cannot launch a run on an ephemeral instance: another process could not see it. "
                "Use DagsterInstance.get() (set OPRUN_HOME)."
            )
        self.run_launcher.launch_run(run_id)
        run = self.get_run_by_id(run_id)
        assert run is not None
        return run

    # -- schedules, sensors, the daemon (oprun.instigation records) --

    @property
    def automation_storage(self) -> AutomationStorage:
        if self._automation is None:
            self._automation = self._storage.automation_storage()
        return self._automation

    def get_instigator_state(self, instigator_id: str) -> InstigatorState | None:
        return self.automation_storage.get_instigator_state(instigator_id)

    def all_instigator_state(self, instigator_type: InstigatorType | None = None, updated_after: float | None = None) -> list[InstigatorState]:
        return self.automation_storage.all_instigator_state(instigator_type, updated_after)

    def add_instigator_state(self, state: InstigatorState) -> InstigatorState:
        """Store a state, stamped with the real time of the write (what
        `all_instigator_state(updated_after=...)` compares; not the settable clock)."""
        import time
        from dataclasses import replace

        return self.automation_storage.save_instigator_state(replace(state, update_timestamp=time.time()))

    update_instigator_state = add_instigator_state

    def delete_instigator_state(self, instigator_id: str) -> None:
        self.automation_storage.delete_instigator_state(instigator_id)

    def create_tick(self, tick: InstigatorTick) -> InstigatorTick:
        return self.automation_storage.create_tick(tick)

    def update_tick(self, tick: InstigatorTick) -> InstigatorTick:
        return self.automation_storage.update_tick(tick)

    def get_ticks(
        self,
        instigator_id: str,
        before: float | None = None,
        after: float | None = None,
        limit: int | None = None,
        statuses: Sequence[TickStatus] | None = None,
    ) -> list[InstigatorTick]:
        return self.automation_storage.get_ticks(instigator_id, before, after, limit, statuses)

    def add_daemon_heartbeat(self, heartbeat: DaemonHeartbeat) -> None:
        self.automation_storage.add_daemon_heartbeat(heartbeat)

    def get_daemon_heartbeats(self) -> dict[str, DaemonHeartbeat]:
        return self.automation_storage.get_daemon_heartbeats()

    def wipe_daemon_heartbeats(self) -> None:
        self.automation_storage.wipe_daemon_heartbeats()

    def daemon_is_alive(self, daemon_type: str, tolerance_seconds: float = DAEMON_HEARTBEAT_TOLERANCE_SECONDS) -> bool:
        """Whether a daemon loop of this type is alive: it beat its heart within
        the tolerance, and its daemon still holds the daemon lease (released when
        a daemon stops, expiring seconds after one dies). Liveness is measured in
        real time (heartbeats carry `time.time()`), not by the settable clock
        that schedules are evaluated by."""
        import time

        from oprun.instigation import DAEMON_LEASE

        heartbeat = self.get_daemon_heartbeats().get(daemon_type)
        if heartbeat is None or time.time() - heartbeat.timestamp > tolerance_seconds:
            return False
        lease = self.automation_storage.get_lease(DAEMON_LEASE)
        return lease is not None and lease[0] == heartbeat.daemon_id and lease[1] > time.time()

    def add_backfill(self, backfill: PartitionBackfill) -> None:
        self.automation_storage.add_backfill(backfill)

    def update_backfill(self, backfill: PartitionBackfill) -> None:
        self.automation_storage.update_backfill(backfill)

    def get_backfill(self, backfill_id: str) -> PartitionBackfill | None:
        return self.automation_storage.get_backfill(backfill_id)

    def get_backfills(self, status: BulkActionStatus | None = None, limit: int | None = None) -> list[PartitionBackfill]:
        return self.automation_storage.get_backfills(status, limit)

    # -- schema --

    def upgrade(self) -> tuple[str, str] | None:
        """Migrate the database to this oprun's schema; returns the (from, to)
        revisions, or None for an instance that keeps no database."""
        from oprun.instance import schema
        from oprun.instance.sql import SqlRunStorage

        if not isinstance(self._storage, SqlRunStorage):
            return None
        return schema.migrate(self._storage.engine, self._storage.where)

    migrate = upgrade

    def info(self) -> dict[str, Any]:
        storage = type(self._storage).__name__
        return {
            "root_directory": self._root,
            "storage": storage,
            "database": getattr(self._storage, "path", None)
            or (str(self._storage.engine.url.render_as_string(hide_password=True)) if hasattr(self._storage, "engine") else "memory"),
            "storage_directory": self.storage_directory() if self._root else None,
            "compute_logs_directory": self.compute_logs_directory() if self._root else None,
        }


def _type_values(of_type: Any) -> set[str] | None:
    if of_type is None:
        return None
    if isinstance(of_type, (set, frozenset, list, tuple)):
        return {DagsterEventType(t).value for t in of_type}
    return {DagsterEventType(of_type).value}


Instance = DagsterInstance


@contextlib.contextmanager
def instance_for_test(temp_dir: str | None = None, overrides: Mapping[str, Any] | None = None) -> Iterator[DagsterInstance]:
    """A SQLite instance in a temporary directory, removed afterwards."""
    import tempfile

    if temp_dir is not None:
        with DagsterInstance.from_directory(temp_dir, overrides) as instance:
            yield instance
        return
    with tempfile.TemporaryDirectory(prefix="oprun-test-") as tmp:
        with DagsterInstance.from_directory(tmp, overrides) as instance:
            yield instance
