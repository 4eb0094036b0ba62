"""Storage backends for the conformance suite: in memory, a SQLite file, and the
real PostgreSQL server named by OPRUN_TEST_POSTGRES_URL (each test in a fresh
schema, dropped afterwards)."""

import contextlib
import os
import uuid

import pytest

from oprun import DagsterInstance


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def instance(request, tmp_path):
    if request.param == "memory":
        inst = DagsterInstance.ephemeral()
        yield inst
        inst.dispose()
        return
    if request.param == "sqlite":
        with DagsterInstance.from_directory(str(tmp_path / "home")) as inst:
            yield inst
        return
    from oprun.instance.instance import DagsterInstance as Instance
    from oprun.instance.sql import PostgresRunStorage

    with postgres_schema() as (url, schema):
        storage = PostgresRunStorage(url, connect_args={"options": f"-csearch_path={schema}"})
        inst = Instance(storage, str(tmp_path / "home"))
        try:
            yield inst
        finally:
            inst.dispose()


@contextlib.contextmanager
def postgres_schema():
    """(server URL, name of a fresh schema on it), dropped afterwards; skips the
    test when no server is configured."""
    url = os.environ.get("OPRUN_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("OPRUN_TEST_POSTGRES_URL is not set: no PostgreSQL server to test against")
    import sqlalchemy as sa

    schema = f"oprun_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield url, schema
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
