"""The storage schema (SQLAlchemy Core tables) and its version.

A new database is created at the current version. A database made by older code
is an error that says to run `oprun instance migrate`; one made by newer code is
an error that says the code is older than the database. `migrate` applies the
steps in `MIGRATIONS` in order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from oprun.errors import DagsterStorageError

SCHEMA_VERSION = 1

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

schema_version = sa.Table(
    "oprun_schema_version", metadata,
    sa.Column("version", sa.Integer, nullable=False),
)

# version -> how to bring a database at version-1 to it.
MIGRATIONS: dict[int, Callable[[sa.Connection], None]] = {}


def _current_version(conn: sa.Connection) -> int | None:
    inspector = sa.inspect(conn)
    if not inspector.has_table("oprun_schema_version"):
        return None if not inspector.has_table("runs") else 0
    return conn.execute(sa.select(schema_version.c.version)).scalar()


def ensure_schema(engine: sa.Engine, where: str) -> None:
    with engine.begin() as conn:
        version = _current_version(conn)
        if version is None:
            metadata.create_all(conn)
            conn.execute(schema_version.insert().values(version=SCHEMA_VERSION))
            return
    if version < SCHEMA_VERSION:
        raise DagsterStorageError(
            f"The oprun database at {where} has schema version {version}, older than this oprun's "
            f"({SCHEMA_VERSION}). Run `oprun instance migrate` to upgrade it."
        )
    if version > SCHEMA_VERSION:
        raise DagsterStorageError(
            f"The oprun database at {where} has schema version {version}, newer than this oprun's "
            f"({SCHEMA_VERSION}): it was written by a newer oprun. Upgrade oprun to use it."
        )


def migrate(engine: sa.Engine) -> tuple[int, int]:
    """Bring a database to the current version; returns (from, to)."""
    with engine.begin() as conn:
        version = _current_version(conn)
        if version is None:
            metadata.create_all(conn)
            conn.execute(schema_version.insert().values(version=SCHEMA_VERSION))
            return (SCHEMA_VERSION, SCHEMA_VERSION)
        start = version
        for target in range(version + 1, SCHEMA_VERSION + 1):
            MIGRATIONS[target](conn)
        conn.execute(schema_version.delete())
        conn.execute(schema_version.insert().values(version=SCHEMA_VERSION))
        return (start, SCHEMA_VERSION)


def stamp(engine: sa.Engine, version: int) -> None:
    """Record a version without migrating (tests use it to fake old/new databases)."""
    with engine.begin() as conn:
        conn.execute(schema_version.delete())
        conn.execute(schema_version.insert().values(version=version))


def raw_engine(url: str, **kwargs: Any) -> sa.Engine:
    return sa.create_engine(url, **kwargs)
