"""The storage schema (SQLAlchemy Core tables) and its alembic revision.

Changes to the schema are alembic revisions under `migrations/versions`, one file
each, applied by `oprun instance migrate` (`migrate` below). Opening a database
does not import alembic: the revision is read from alembic's version table and
compared with `HEAD`. A new database is created from the tables here and stamped
at `HEAD` (what `alembic stamp head` does); an older one is an error that says to
run `oprun instance migrate`; a newer one says that the code is older than the
database. Databases made before oprun used alembic keep their version in
`oprun_schema_version`; `migrate` moves them to alembic's table.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from oprun.errors import DagsterStorageError

VERSION_TABLE = "oprun_alembic_version"

# Every revision, oldest first; a test checks this against the migration scripts.
REVISIONS = ("0001_baseline", "0002_automation")
HEAD = REVISIONS[-1]

# What `oprun_schema_version` numbers were, as revisions (None: the table is empty).
_LEGACY_VERSIONS: dict[int | None, str] = {1: "0001_baseline"}
_LEGACY_TABLE = "oprun_schema_version"

metadata = sa.MetaData()

runs = sa.Table(
    "runs", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(64), nullable=False, unique=True),
    sa.Column("job_name", sa.String(255), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("run_body", sa.Text, nullable=False),
    sa.Column("snapshot_id", sa.String(64)),
    sa.Column("parent_run_id", sa.String(64)),
    sa.Column("root_run_id", sa.String(64)),
    sa.Column("create_timestamp", sa.DateTime, nullable=False),
    sa.Column("update_timestamp", sa.DateTime, nullable=False),
    sa.Column("start_time", sa.Float),
    sa.Column("end_time", sa.Float),
    sa.Index("idx_runs_job_name", "job_name", "id"),
    sa.Index("idx_runs_status", "status", "id"),
    sa.Index("idx_runs_created", "create_timestamp"),
)

run_tags = sa.Table(
    "run_tags", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("key", sa.String(255), nullable=False),
    sa.Column("value", sa.Text, nullable=False),
    sa.Index("idx_run_tags_run", "run_id"),
    sa.Index("idx_run_tags_key_value", "key", "value", "run_id"),
)

snapshots = sa.Table(
    "snapshots", metadata,
    sa.Column("snapshot_id", sa.String(64), primary_key=True),
    sa.Column("body", sa.Text, nullable=False),
)

event_logs = sa.Table(
    "event_logs", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("event", sa.Text, nullable=False),
    sa.Column("dagster_event_type", sa.String(64)),
    sa.Column("step_key", sa.Text),
    sa.Column("timestamp", sa.Float, nullable=False),
    sa.Index("idx_event_logs_run", "run_id", "id"),
    sa.Index("idx_event_logs_type", "run_id", "dagster_event_type"),
)

# What the daemon keeps (oprun.instigation): schedule and sensor state, their
# ticks, heartbeats, backfills, and leases on the daemon's loops.
instigators = sa.Table(
    "instigators", metadata,
    sa.Column("id", sa.String(255), primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("location_name", sa.String(255), nullable=False),
    sa.Column("instigator_type", sa.String(16), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("update_timestamp", sa.Float, nullable=False),
)

job_ticks = sa.Table(
    "job_ticks", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("instigator_id", sa.String(255), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("timestamp", sa.Float, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Index("idx_job_ticks_instigator", "instigator_id", "timestamp"),
)

daemon_heartbeats = sa.Table(
    "daemon_heartbeats", metadata,
    sa.Column("daemon_type", sa.String(64), primary_key=True),
    sa.Column("daemon_id", sa.String(64), nullable=False),
    sa.Column("timestamp", sa.Float, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
)

bulk_actions = sa.Table(
    "bulk_actions", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(64), nullable=False, unique=True),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("timestamp", sa.Float, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Index("idx_bulk_actions_status", "status", "id"),
)

leases = sa.Table(
    "leases", metadata,
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("owner", sa.String(255), nullable=False),
    sa.Column("expires", sa.Float, nullable=False),
)

# alembic's own layout for its version table, kept apart from `metadata` so that
# comparing the tables with the migrations does not see it.
version_table = sa.Table(
    VERSION_TABLE, sa.MetaData(),
    sa.Column("version_num", sa.String(32), nullable=False),
    sa.PrimaryKeyConstraint("version_num", name=f"{VERSION_TABLE}_pkc"),
)


def insert_or_ignore(conn: sa.Connection, table: sa.Table, key: str) -> Any:
    """An INSERT that does nothing when a row with the same `key` exists, even one
    committed by another process a moment ago; any other constraint violation
    still raises. Add `.returning(...)` to tell whether the row went in (no row
    back: it did not): an INSERT's rowcount is -1 on PostgreSQL's driver. Used by
    the run storage and the daemon's storage alike."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table).on_conflict_do_nothing(index_elements=[key])
    if conn.dialect.name == "sqlite":
        from sqlalchemy.dialects import sqlite

        return sqlite.insert(table).on_conflict_do_nothing(index_elements=[key])
    # only SQLite and PostgreSQL are supported; say so rather than race
    raise DagsterStorageError(f"Unsupported database dialect {conn.dialect.name!r}: oprun stores runs on SQLite or PostgreSQL.")


def _read_revision(conn: sa.Connection, partial_ok: bool = False) -> tuple[str | None, bool]:
    """(revision, legacy): None for an empty database; legacy when the revision
    comes from the table used before alembic. Tables without a revision are an
    error, unless `partial_ok` (another process may be creating them)."""
    inspector = sa.inspect(conn)
    if inspector.has_table(VERSION_TABLE):
        revision = conn.execute(sa.select(version_table.c.version_num)).scalar()
        if revision is not None or partial_ok:
            return revision, False
    if inspector.has_table(_LEGACY_TABLE):
        number = _legacy_number(conn)
        return _LEGACY_VERSIONS.get(number, f"legacy-{number}"), True
    if inspector.has_table("runs") and not partial_ok:
        raise DagsterStorageError(
            "The database has oprun's tables but no schema revision: it was not made by oprun, "
            "its version table was removed, or its creation was interrupted."
        )
    return None, False


def _legacy_number(conn: sa.Connection) -> int | None:
    return conn.execute(sa.text(f"SELECT version FROM {_LEGACY_TABLE}")).scalar()


def _create(conn: sa.Connection) -> None:
    metadata.create_all(conn)
    version_table.create(conn)
    conn.execute(version_table.insert().values(version_num=HEAD))


def _check_known(revision: str, where: str) -> None:
    if revision not in REVISIONS:
        raise DagsterStorageError(
            f"The oprun database at {where} has schema revision {revision}, which this oprun does not "
            f"know (its newest is {HEAD}): it was written by a newer oprun. Upgrade oprun to use it."
        )


@contextlib.contextmanager
def _creation_lock(engine: sa.Engine) -> Iterator[None]:
    """Processes that open a new database at once take turns creating it.

    SQLite commits each CREATE TABLE on its own, so a lock file beside the
    database serializes them; PostgreSQL creates in one transaction under an
    advisory lock (taken in `_serialize`).
    """
    path = engine.url.database
    if engine.dialect.name != "sqlite" or not path or path == ":memory:":
        yield
        return
    try:
        import fcntl
    except ImportError:  # no advisory file locks on this platform
        yield
        return
    with open(f"{path}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


_PG_LOCK_KEY = 0x6F7072756E  # "oprun"


def _serialize(conn: sa.Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})


def ensure_schema(engine: sa.Engine, where: str) -> None:
    # The common case, an existing database, takes no lock.
    with engine.connect() as conn:
        revision, legacy = _read_revision(conn, partial_ok=True)
    if revision is None:
        with _creation_lock(engine), engine.begin() as conn:
            _serialize(conn)
            revision, legacy = _read_revision(conn)
            if revision is None:
                _create(conn)
                return
    _check_known(revision, where)
    if legacy or revision != HEAD:
        raise DagsterStorageError(
            f"The oprun database at {where} has schema revision {revision}, older than this oprun's "
            f"({HEAD}). Run `oprun instance migrate` to upgrade it."
        )


def migrate(engine: sa.Engine, where: str = "the instance") -> tuple[str, str]:
    """Bring a database to `HEAD` with alembic; returns (from, to) revisions."""
    from alembic import command

    with _creation_lock(engine), engine.begin() as conn:
        _serialize(conn)
        before, legacy = _read_revision(conn)
        if before is None:
            _create(conn)
            return (HEAD, HEAD)
        _check_known(before, where)
        if legacy:
            label = f"{before} (recorded as version {_legacy_number(conn)} before oprun used alembic)"
            version_table.create(conn)
            conn.execute(version_table.insert().values(version_num=before))
            conn.execute(sa.text(f"DROP TABLE {_LEGACY_TABLE}"))
        else:
            label = before
        command.upgrade(alembic_config(conn), "head")
    return (label, HEAD)


def alembic_config(conn: sa.Connection) -> Any:
    """alembic's configuration for migrating on `conn` (see `migrations/env.py`)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    config.attributes["connection"] = conn
    return config
