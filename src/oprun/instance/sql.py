"""Run and event storage on SQL databases through SQLAlchemy Core: one base class,
with SQLite and PostgreSQL differing only in how they connect.

SQLite runs in WAL mode with a busy timeout, short transactions and a retry on
`database is locked`, so one file serves the run worker, the web server, the
daemon and the CLI at once. Each `store_events` call is one transaction: a batch
is durable when it returns. Backend errors become `DagsterStorageError` with the
cause kept.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from oprun.errors import DagsterInvariantViolationError, DagsterStorageError
from oprun.events import EventLogEntry, entry_json, from_plain
from oprun.files import create_private_file, makedirs_private
from oprun.instance import schema
from oprun.instance.schema import insert_or_ignore
from oprun.instance.storage import EventLogRecord, RunStorage, now, snapshot_id_and_body, status_change
from oprun.runs import FINISHED_RUN_STATUSES, DagsterRun, DagsterRunStatus, RunRecord, RunsFilter

T = TypeVar("T")



def _run_to_row(run: DagsterRun) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "job_name": run.job_name,
        "status": run.status.value,
        "run_body": json.dumps({
            "run_config": run.run_config,
            "op_selection": list(run.op_selection) if run.op_selection else None,
            "step_keys_to_execute": list(run.step_keys_to_execute) if run.step_keys_to_execute else None,
            "job_code_origin": run.job_code_origin,
            "partition_key": run.partition_key,
        }, default=str),
        "snapshot_id": run.job_snapshot_id,
        "parent_run_id": run.parent_run_id,
        "root_run_id": run.root_run_id,
    }


def _run_from_row(row: Any, tags: dict[str, str]) -> DagsterRun:
    body = json.loads(row.run_body)
    return DagsterRun(
        job_name=row.job_name,
        run_id=row.run_id,
        run_config=body.get("run_config") or {},
        tags=tags,
        status=DagsterRunStatus(row.status),
        op_selection=body.get("op_selection"),
        step_keys_to_execute=body.get("step_keys_to_execute"),
        parent_run_id=row.parent_run_id,
        root_run_id=row.root_run_id,
        job_snapshot_id=row.snapshot_id,
        job_code_origin=body.get("job_code_origin"),
        partition_key=body.get("partition_key"),
    )


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


# A tag matched by more runs than this is common: a page finds its runs by
# walking the newest runs first; a rarer one, from the tag index.
COMMON_TAG_RUNS = 1000


def _tag_condition(key: str, values: list[str], conn: sa.Connection | None) -> Any:
    """Runs tagged `key` with one of `values`. A count, or a page of a rare tag,
    reads the matching run ids from the tag index once (`IN`): over 100,000 runs
    a count takes 3 ms this way and 90-150 ms probing each run. A page of a
    common tag probes the newest runs one by one (`EXISTS`) and stops at the
    limit, where `IN` would first gather every matching id. Which one a page
    gets is decided by counting the tag's rows up to COMMON_TAG_RUNS (bounded)."""
    tag = schema.run_tags
    runs = schema.runs
    where = (tag.c.key == key, tag.c.value.in_(values))
    if conn is not None:
        probe = sa.select(sa.func.count()).select_from(sa.select(tag.c.run_id).where(*where).limit(COMMON_TAG_RUNS).subquery())
        if (conn.execute(probe).scalar() or 0) >= COMMON_TAG_RUNS:
            return sa.exists().where(tag.c.run_id == runs.c.run_id, *where)
    return runs.c.run_id.in_(sa.select(tag.c.run_id).where(*where))


def _naive_utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo is not None else value


class SqlRunStorage(RunStorage):
    """The one SQL implementation; subclasses only build the engine."""

    where = "the database"  # how errors name it: a file path, or host/database

    def __init__(self, engine: sa.Engine, retry_locked: bool = False) -> None:
        self._engine = engine
        self._retry_locked = retry_locked
        mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        self._insert_events_sql = (
            "INSERT INTO event_logs (run_id, event, dagster_event_type, step_key, timestamp) "
            f"VALUES ({', '.join([mark] * 5)})"
        )

    @property
    def engine(self) -> sa.Engine:
        return self._engine

    def automation_storage(self) -> Any:
        from oprun.instance.automation_sql import SqlAutomationStorage

        return SqlAutomationStorage(self)

    def dispose(self) -> None:
        self._engine.dispose()

    def _check_schema(self) -> None:
        try:
            schema.ensure_schema(self._engine, self.where)
        except BaseException:
            self._engine.dispose()  # a refused database keeps no connection open
            raise

    # -- transactions with translation of backend errors --

    @contextmanager
    def _tx(self) -> Iterator[sa.Connection]:
        with self._engine.begin() as conn:
            yield conn

    def transact(self, fn: Callable[[sa.Connection], T], what: str | None = None) -> T:
        """`fn(conn)` in one transaction, as every write of this storage is done."""
        return self._do(fn, what)

    def _do(self, fn: Callable[[sa.Connection], T], what: str | None = None) -> T:
        """`fn` in one transaction, retried on `database is locked`; backend errors
        become `DagsterStorageError` (saying `what` failed, when given), cause kept."""
        failed = f"Storage error while {what}" if what else "Storage error"
        attempts = 0
        while True:
            try:
                with self._tx() as conn:
                    return fn(conn)
            except OperationalError as exc:
                locked = "locked" in str(exc.orig).lower() or "busy" in str(exc.orig).lower()
                if self._retry_locked and locked and attempts < 50:
                    attempts += 1
                    time.sleep(min(0.5, 0.01 * attempts) * (0.5 + random.random()))  # back off, with jitter
                    continue
                raise DagsterStorageError(f"{failed}: {exc.orig}") from exc
            except IntegrityError as exc:
                raise DagsterStorageError(f"{failed}: the database refused the write: {exc.orig}") from exc
            except SQLAlchemyError as exc:
                raise DagsterStorageError(f"{failed}: {exc}") from exc

    # -- runs --

    def add_run(self, run: DagsterRun, snapshot: dict[str, Any] | str | None) -> DagsterRun:
        body = None
        if snapshot is not None:
            snap_id, body = snapshot_id_and_body(snapshot)
            run = run._replace(job_snapshot_id=snap_id)

        def write(conn: sa.Connection) -> DagsterRun:
            if body is not None:
                # Processes starting the first run of a new job version at once all
                # insert its snapshot: one row wins, the others' conflicts are no error.
                conn.execute(insert_or_ignore(conn, schema.snapshots, "snapshot_id").values(snapshot_id=run.job_snapshot_id, body=body))
            stamp = _naive_utc(now())
            row = {**_run_to_row(run), "create_timestamp": stamp, "update_timestamp": stamp}
            inserted = conn.execute(insert_or_ignore(conn, schema.runs, "run_id").values(**row).returning(schema.runs.c.run_id)).first()
            if inserted is None:
                raise DagsterInvariantViolationError(f"A run with id {run.run_id} already exists.")  # rolls back the snapshot
            if run.tags:
                conn.execute(schema.run_tags.insert(), [{"run_id": run.run_id, "key": k, "value": str(v)} for k, v in run.tags.items()])
            return run

        return self._do(write, what=f"recording run {run.run_id} of job '{run.job_name}'")

    def _tags_for(self, conn: sa.Connection, run_ids: list[str]) -> dict[str, dict[str, str]]:
        tags: dict[str, dict[str, str]] = {r: {} for r in run_ids}
        for start in range(0, len(run_ids), 500):
            chunk = run_ids[start:start + 500]
            rows = conn.execute(sa.select(schema.run_tags.c.run_id, schema.run_tags.c.key, schema.run_tags.c.value).where(schema.run_tags.c.run_id.in_(chunk)))
            for row in rows:
                tags[row.run_id][row.key] = row.value
        return tags

    def _filtered(self, query: Any, filters: RunsFilter | None, conn: sa.Connection | None = None) -> Any:
        """`query` restricted by `filters`. Given `conn`, the query is a page (newest
        first, with a limit): a tag filter is then written for its selectivity."""
        runs = schema.runs
        if filters is None:
            return query
        if filters.run_ids is not None:
            query = query.where(runs.c.run_id.in_(list(filters.run_ids)))
        if filters.job_name is not None:
            query = query.where(runs.c.job_name == filters.job_name)
        if filters.statuses is not None:
            query = query.where(runs.c.status.in_([DagsterRunStatus(s).value for s in filters.statuses]))
        for key, wanted in (filters.tags or {}).items():
            values = [wanted] if isinstance(wanted, str) else list(wanted)
            query = query.where(_tag_condition(key, values, conn))
        if filters.created_before is not None:
            query = query.where(runs.c.create_timestamp < _naive_utc(filters.created_before))
        if filters.created_after is not None:
            query = query.where(runs.c.create_timestamp > _naive_utc(filters.created_after))
        if filters.updated_before is not None:
            query = query.where(runs.c.update_timestamp < _naive_utc(filters.updated_before))
        if filters.updated_after is not None:
            query = query.where(runs.c.update_timestamp > _naive_utc(filters.updated_after))
        return query

    def get_run_records(
        self,
        filters: RunsFilter | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        ascending: bool = False,
    ) -> list[RunRecord]:
        runs = schema.runs

        def read(conn: sa.Connection) -> list[RunRecord]:
            query = self._filtered(sa.select(runs), filters, conn if limit is not None else None)
            if cursor is not None:
                anchor = conn.execute(sa.select(runs.c.id).where(runs.c.run_id == cursor)).scalar()
                if anchor is not None:
                    query = query.where(runs.c.id > anchor if ascending else runs.c.id < anchor)
            query = query.order_by(runs.c.id.asc() if ascending else runs.c.id.desc())
            if limit is not None:
                query = query.limit(limit)
            rows = list(conn.execute(query))
            tags = self._tags_for(conn, [r.run_id for r in rows])
            return [
                RunRecord(r.id, _run_from_row(r, tags[r.run_id]), _aware(r.create_timestamp), _aware(r.update_timestamp), r.start_time, r.end_time)
                for r in rows
            ]

        return self._do(read)

    def get_runs_count(self, filters: RunsFilter | None = None) -> int:
        tags = filters.tags if filters is not None else None
        if tags and len(tags) == 1 and filters == RunsFilter(tags=tags):
            # A count by one tag (the runs page's usual filter) reads the tag index
            # alone: every stored tag row belongs to a stored run (a run's tags are
            # deleted with it). Over 100,000 runs, all tagged: 15 ms on SQLite
            # instead of 57 ms joining each row back to its run.
            ((key, wanted),) = tags.items()
            values = [wanted] if isinstance(wanted, str) else list(wanted)
            tag = schema.run_tags
            query = sa.select(sa.func.count(sa.distinct(tag.c.run_id))).where(tag.c.key == key, tag.c.value.in_(values))
        else:
            query = self._filtered(sa.select(sa.func.count()).select_from(schema.runs), filters)
        return int(self._do(lambda conn: conn.execute(query).scalar() or 0))

    def get_snapshot(self, snapshot_id: str) -> dict[str, Any] | None:
        body = self._do(lambda conn: conn.execute(sa.select(schema.snapshots.c.body).where(schema.snapshots.c.snapshot_id == snapshot_id)).scalar())
        return json.loads(body) if body else None

    def add_run_tags(self, run_id: str, tags: dict[str, str]) -> None:
        def write(conn: sa.Connection) -> None:
            table = schema.run_tags
            for key, value in tags.items():
                updated = conn.execute(table.update().where(table.c.run_id == run_id, table.c.key == key).values(value=str(value)))
                if updated.rowcount == 0:
                    conn.execute(table.insert().values(run_id=run_id, key=key, value=str(value)))
            conn.execute(schema.runs.update().where(schema.runs.c.run_id == run_id).values(update_timestamp=_naive_utc(now())))

        self._do(write)

    def set_status(self, run_id: str, status: DagsterRunStatus) -> None:
        finished = [s.value for s in FINISHED_RUN_STATUSES]
        self._do(lambda conn: conn.execute(
            schema.runs.update()
            .where(schema.runs.c.run_id == run_id, schema.runs.c.status.not_in(finished))
            .values(status=status.value, update_timestamp=_naive_utc(now()))
        ))

    def delete_run(self, run_id: str) -> None:
        def write(conn: sa.Connection) -> None:
            conn.execute(schema.event_logs.delete().where(schema.event_logs.c.run_id == run_id))
            conn.execute(schema.run_tags.delete().where(schema.run_tags.c.run_id == run_id))
            conn.execute(schema.runs.delete().where(schema.runs.c.run_id == run_id))

        self._do(write)

    # -- events --

    def store_events(self, entries: Sequence[EventLogEntry]) -> None:
        if not entries:
            return
        rows = []
        by_run: dict[str, list[EventLogEntry]] = {}
        for entry in entries:
            event = entry.dagster_event
            kind = event.event_type_value if event is not None else None
            rows.append((entry.run_id, entry_json(entry), kind, entry.step_key, entry.timestamp))
            if kind is not None and kind.startswith("RUN_"):
                by_run.setdefault(entry.run_id, []).append(entry)

        run_ids = sorted({row[0] for row in rows})

        def write(conn: sa.Connection) -> None:
            self._order_run_event_writes(conn, run_ids)
            # The driver's executemany with the statement as text: SQLAlchemy's
            # per-row parameter processing cost more than the insert itself.
            conn.exec_driver_sql(self._insert_events_sql, rows)
            for run_id, run_entries in by_run.items():
                row = conn.execute(sa.select(schema.runs.c.status).where(schema.runs.c.run_id == run_id)).first()
                if row is None:
                    continue
                probe = DagsterRun(job_name="", run_id=run_id, status=DagsterRunStatus(row.status))
                status, start, end = status_change(probe, run_entries)
                if status is None:
                    continue
                values: dict[str, Any] = {"status": status.value, "update_timestamp": _naive_utc(now())}
                if start is not None:
                    values["start_time"] = start
                if end is not None:
                    values["end_time"] = end
                finished = [s.value for s in FINISHED_RUN_STATUSES]
                conn.execute(schema.runs.update().where(schema.runs.c.run_id == run_id, schema.runs.c.status.not_in(finished)).values(**values))

        self._do(write)

    def _order_run_event_writes(self, conn: sa.Connection, run_ids: list[str]) -> None:
        """Make the events of each run commit in the order of their ids (what a
        reader following a run's events by id, as a live stream does, relies
        on). SQLite has one writer at a time: they always do."""

    def get_records(
        self,
        run_id: str,
        after_id: int | None = None,
        of_types: set[str] | None = None,
        limit: int | None = None,
        ascending: bool = True,
    ) -> list[EventLogRecord]:
        logs = schema.event_logs
        query = sa.select(logs.c.id, logs.c.event).where(logs.c.run_id == run_id)
        if after_id is not None:
            query = query.where(logs.c.id > after_id if ascending else logs.c.id < after_id)
        if of_types is not None:
            query = query.where(logs.c.dagster_event_type.in_(sorted(of_types)))
        query = query.order_by(logs.c.id.asc() if ascending else logs.c.id.desc())
        if limit is not None:
            query = query.limit(limit)
        rows = self._do(lambda conn: list(conn.execute(query)))
        return [EventLogRecord(row.id, from_plain(json.loads(row.event))) for row in rows]


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")
    _set_wal(cursor)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _set_wal(cursor: Any) -> None:
    # Processes switching a new file to WAL at the same moment can be told
    # "database is locked" at once, without the busy timeout: retry for a while.
    # (Once the file is in WAL mode, the pragma takes no lock.)
    import sqlite3

    deadline = time.monotonic() + 30
    delay = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


class SqliteRunStorage(SqlRunStorage):
    """A single SQLite file (WAL mode). On a home this process cannot write (a
    read-only mount, another user's directory) the file is opened read-only, so
    runs and events can still be read; every write is then a DagsterStorageError
    saying the database is read-only."""

    def __init__(self, path: str, check_schema: bool = True) -> None:
        self.path = self.where = path
        self.read_only = _read_only(path)
        if self.read_only:
            url = _read_only_url(path)
        else:
            makedirs_private(os.path.dirname(os.path.abspath(path)))
            # SQLite would create the file 0644; made 0600 first, it gives its -wal
            # and -shm files the same mode. An existing database keeps its own.
            create_private_file(path)
            url = f"sqlite:///{path}"
        engine = sa.create_engine(
            url,
            connect_args={"timeout": 30, "check_same_thread": False},
            poolclass=sa.pool.QueuePool,
            pool_size=2,
            max_overflow=4,
        )
        sa_event.listen(engine, "connect", _sqlite_read_only_pragmas if self.read_only else _sqlite_pragmas)
        super().__init__(engine, retry_locked=True)
        if check_schema:
            try:
                self._check_schema()
            except SQLAlchemyError as exc:  # the file cannot even be opened
                raise DagsterStorageError(f"Cannot open the SQLite database at {path}: {getattr(exc, 'orig', exc)}") from exc


def _read_only(path: str) -> bool:
    """Whether SQLite could not write here: the database file, or (for its -wal
    and -shm files, or a new database) its directory, is not writable."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        parent = directory
        while not os.path.isdir(parent):
            parent = os.path.dirname(parent)
        return not os.access(parent, os.W_OK)
    if os.path.exists(path) and not os.access(path, os.W_OK):
        return True
    return not os.access(directory, os.W_OK)


def _read_only_url(path: str) -> str:
    if not os.path.exists(path):
        raise DagsterStorageError(
            f"Cannot create the SQLite database at {path}: its directory is read-only "
            "(a read-only file system, or not this user's). Point $OPRUN_HOME at a writable directory."
        )
    from urllib.parse import quote

    # A WAL database opens read-only when its -wal and -shm files exist; with none
    # (it was closed cleanly, everything is in the file) it is read as immutable.
    wal = os.path.exists(path + "-wal") and os.path.exists(path + "-shm")
    return f"sqlite:///file:{quote(os.path.abspath(path))}?mode=ro{'' if wal else '&immutable=1'}&uri=true"


def _sqlite_read_only_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA query_only=ON")
    cursor.close()


# How long a PostgreSQL connection attempt may take, unless the URL or the
# instance's `params` say otherwise (libpq's connect_timeout).
CONNECT_TIMEOUT_SECONDS = 10


class PostgresRunStorage(SqlRunStorage):
    """A PostgreSQL database (psycopg 3)."""

    def __init__(self, url: str, connect_args: dict[str, Any] | None = None, check_schema: bool = True) -> None:
        try:
            import psycopg  # noqa: F401
        except ImportError as exc:
            from oprun.errors import DagsterImportError

            raise DagsterImportError("PostgreSQL storage needs psycopg: pip install 'oprun[postgres]'") from exc
        if url.startswith(("postgresql://", "postgres://")):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        args = dict(connect_args or {})
        if "connect_timeout" not in url:
            # libpq waits forever for a server whose packets are dropped (a firewall):
            # give up after a while, with the error naming host and port.
            args.setdefault("connect_timeout", CONNECT_TIMEOUT_SECONDS)
        engine = sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10, connect_args=args)
        sa_event.listen(engine, "handle_error", _postgres_connect_error)
        super().__init__(engine)
        self.where = url.split("@")[-1]
        if check_schema:
            self._check_schema()

    def _order_run_event_writes(self, conn: sa.Connection, run_ids: list[str]) -> None:
        # Two processes storing one run's events at once (its worker, and the
        # server writing RUN_CANCELING) could take ids 7 and 8 and commit 8
        # first: a stream that read in between would skip 7. A lock per run,
        # held to the end of the transaction, makes the second wait; taken in
        # sorted order, so that two batches of several runs cannot deadlock.
        for run_id in run_ids:
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtext(%s))", (run_id,))


def _postgres_connect_error(context: Any) -> None:
    """A connection that could not be opened (server down, wrong host or port,
    refused login) becomes one `DagsterStorageError` naming the host, port and
    database, with the URL's password masked; the driver's error is its cause."""
    if context.connection is not None:  # an error on an open connection: _do translates it
        return
    url = context.engine.url if context.engine is not None else None
    if url is None:
        return
    host = url.host or url.query.get("host") or "localhost"
    port = url.port or url.query.get("port") or 5432
    reason = " ".join(str(context.original_exception).split())
    if url.password and len(str(url.password)) >= 4:  # never echo it, even if the driver did
        reason = reason.replace(str(url.password), "***")
    raise DagsterStorageError(
        f"Cannot connect to PostgreSQL at {host}:{port} (database {url.database or '-'}, "
        f"URL {url.render_as_string(hide_password=True)}): {reason}"
    ) from context.original_exception
