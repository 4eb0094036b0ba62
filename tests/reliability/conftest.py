"""What the reliability suite shares: an instance home on SQLite or on the real
PostgreSQL server named by OPRUN_TEST_POSTGRES_URL (a fresh schema per test,
dropped afterwards; the home's oprun.yaml names it, so the run worker processes
open the same database), waiting on another process's progress through the
instance, and the (step key, event type) stream of a run."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import pytest

from oprun import DagsterInstance
from tests.instance.conftest import postgres_schema
from tests.waiting import wait_for  # noqa: F401 - the suite's tests import it from here


@contextlib.contextmanager
def postgres_url_for_a_fresh_schema() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards;
    skips the test when no server is configured."""
    with postgres_schema() as (url, schema):
        separator = "&" if "?" in url else "?"
        yield f"{url}{separator}options=-csearch_path%3D{schema}"


def write_postgres_home(home: str, url: str) -> None:
    import yaml

    os.makedirs(home, exist_ok=True)
    with open(os.path.join(home, "oprun.yaml"), "w", encoding="utf-8") as f:
        yaml.safe_dump({"storage": {"postgres": {"postgres_url": url}}}, f)


@pytest.fixture(params=["sqlite", "postgres"])
def home(request, tmp_path, monkeypatch) -> Iterator[str]:
    """An instance home (`OPRUN_HOME` is set to it) on the backend of the param."""
    path = str(tmp_path / "home")
    monkeypatch.setenv("OPRUN_HOME", path)
    if request.param == "sqlite":
        yield path
        return
    with postgres_url_for_a_fresh_schema() as url:
        write_postgres_home(path, url)
        yield path


@pytest.fixture
def instance(home) -> Iterator[DagsterInstance]:
    with DagsterInstance.from_directory(home) as inst:
        yield inst


def backend_of(instance: DagsterInstance) -> str:
    return "postgres" if type(instance.run_storage).__name__.startswith("Postgres") else "sqlite"


def stream(instance: DagsterInstance, run_id: str) -> list[tuple[str | None, str]]:
    """The run's stored entries as (step key, event type), "LOG" for a log
    message; reading them deserializes every row."""
    records = instance.get_records_for_run(run_id).records
    ids = [r.storage_id for r in records]
    assert ids == sorted(set(ids)), f"storage ids of run {run_id} are not strictly increasing: {ids}"
    return [(r.event_log_entry.step_key, r.event_log_entry.dagster_event.event_type_value if r.event_log_entry.dagster_event else "LOG") for r in records]


def assert_prefix(stored: list[Any], reference: list[Any], what: str) -> None:
    for index, (got, expected) in enumerate(zip(stored, reference, strict=False)):
        assert got == expected, f"{what}: event {index} is {got}, the reference has {expected} there (stored {len(stored)} events)"
    assert len(stored) <= len(reference), f"{what}: {len(stored)} events stored, more than the reference's {len(reference)}: {stored[len(reference):]}"


def sqlite_integrity(instance: DagsterInstance) -> str | None:
    """`PRAGMA integrity_check` of a SQLite instance's file (None on PostgreSQL)."""
    path = getattr(instance.run_storage, "path", None)
    if path is None:
        return None
    import sqlite3

    with contextlib.closing(sqlite3.connect(path, timeout=30)) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
