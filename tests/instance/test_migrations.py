"""The schema's alembic revisions: they build the same tables as the code, a
database at an older or newer revision is refused with what to do, and
`oprun instance migrate` upgrades one (including databases made before oprun used
alembic) without losing its runs. On a SQLite file and on the real PostgreSQL."""

import os
import subprocess
import sys

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from oprun import DagsterInstance, DagsterRun, DagsterStorageError
from oprun.instance import schema

from tests.instance.conftest import postgres_schema


@pytest.fixture(params=["sqlite", "postgres"])
def home(request, tmp_path):
    """An instance home whose oprun.yaml points at a fresh database; yields
    (home, engine on that database)."""
    home = tmp_path / "home"
    home.mkdir()
    if request.param == "sqlite":
        engine = sa.create_engine(f"sqlite:///{home}/history/oprun.db")
        (home / "history").mkdir()
        yield str(home), engine
        engine.dispose()
        return
    with postgres_schema() as (url, name):
        scoped = f"{url}?options=-csearch_path%3D{name}"
        (home / "oprun.yaml").write_text(f"storage:\n  postgres:\n    postgres_url: '{scoped}'\n")
        engine = sa.create_engine(scoped)
        try:
            yield str(home), engine
        finally:
            engine.dispose()


def _oprun(home, *args):
    env = {**os.environ, "OPRUN_HOME": home}
    return subprocess.run([sys.executable, "-m", "oprun", *args], env=env, capture_output=True, text=True, timeout=120)


def test_revisions_list_the_migration_scripts_in_order():
    with sa.create_engine("sqlite://").connect() as conn:
        scripts = ScriptDirectory.from_config(schema.alembic_config(conn))
    walked = [rev.revision for rev in scripts.walk_revisions()]  # newest first
    assert tuple(reversed(walked)) == schema.REVISIONS
    assert scripts.get_current_head() == schema.HEAD


def test_the_migrations_build_the_tables_the_code_uses(home):
    _, engine = home
    with engine.begin() as conn:
        command.upgrade(schema.alembic_config(conn), "head")
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn, opts={"version_table": schema.VERSION_TABLE}), schema.metadata) == []
        assert conn.execute(sa.select(schema.version_table.c.version_num)).scalar() == schema.HEAD


def test_a_new_database_is_stamped_at_head_and_migrate_has_nothing_to_do(home):
    path, engine = home
    with DagsterInstance.from_directory(path) as instance:
        instance.add_run(DagsterRun(job_name="kept", run_id="r1"))
    with engine.connect() as conn:
        assert conn.execute(sa.select(schema.version_table.c.version_num)).scalar() == schema.HEAD
    done = _oprun(path, "instance", "migrate")
    assert done.returncode == 0, done.stderr
    assert f"at schema revision {schema.HEAD}: nothing to migrate" in done.stdout


def test_a_database_from_before_alembic_is_refused_then_migrated_with_its_runs(home):
    path, engine = home
    with DagsterInstance.from_directory(path) as instance:
        instance.add_run(DagsterRun(job_name="kept", run_id="r1"))
    # What the oprun before alembic left: its own version table at version 1,
    # and only the tables of that version.
    with engine.begin() as conn:
        for table in _TABLES_AFTER_0001:
            conn.execute(sa.text(f"DROP TABLE {table}"))
        conn.execute(sa.text(f"DROP TABLE {schema.VERSION_TABLE}"))
        conn.execute(sa.text("CREATE TABLE oprun_schema_version (version INTEGER NOT NULL)"))
        conn.execute(sa.text("INSERT INTO oprun_schema_version (version) VALUES (1)"))
    with pytest.raises(DagsterStorageError, match="older than this oprun's .*Run `oprun instance migrate`"):
        DagsterInstance.from_directory(path)

    done = _oprun(path, "instance", "migrate")
    assert done.returncode == 0, done.stderr
    assert f"to {schema.HEAD}" in done.stdout
    with DagsterInstance.from_directory(path) as instance:
        assert [r.run_id for r in instance.get_runs()] == ["r1"]
    assert not sa.inspect(engine).has_table("oprun_schema_version")


_TABLES_AFTER_0001 = ("instigators", "job_ticks", "daemon_heartbeats", "bulk_actions", "leases")


def test_a_database_at_the_first_revision_is_refused_then_migrated_with_the_daemon_tables(home):
    path, engine = home
    with DagsterInstance.from_directory(path) as instance:
        instance.add_run(DagsterRun(job_name="kept", run_id="r1"))
    with engine.begin() as conn:  # what oprun before the daemon left
        for table in _TABLES_AFTER_0001:
            conn.execute(sa.text(f"DROP TABLE {table}"))
        conn.execute(schema.version_table.update().values(version_num="0001_baseline"))
    with pytest.raises(DagsterStorageError, match="revision 0001_baseline, older than this oprun's .*oprun instance migrate"):
        DagsterInstance.from_directory(path)
    done = _oprun(path, "instance", "migrate")
    assert done.returncode == 0, done.stderr
    with DagsterInstance.from_directory(path) as instance:
        assert [r.run_id for r in instance.get_runs()] == ["r1"]
        assert instance.get_daemon_heartbeats() == {}
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn, opts={"version_table": schema.VERSION_TABLE}), schema.metadata) == []


def test_a_database_from_a_newer_oprun_is_refused_and_not_touched(home):
    path, engine = home
    DagsterInstance.from_directory(path).dispose()
    with engine.begin() as conn:
        conn.execute(schema.version_table.update().values(version_num="9999_from_the_future"))
    with pytest.raises(DagsterStorageError, match="9999_from_the_future.*written by a newer oprun"):
        DagsterInstance.from_directory(path)
    refused = _oprun(path, "instance", "migrate")
    assert refused.returncode == 2 and "newer oprun" in refused.stderr
    assert "Traceback" not in refused.stderr
    with engine.connect() as conn:
        assert conn.execute(sa.select(schema.version_table.c.version_num)).scalar() == "9999_from_the_future"


def test_processes_opening_a_new_database_at_once_all_succeed(home):
    path, engine = home
    code = "import sys; from oprun import DagsterInstance; DagsterInstance.from_directory(sys.argv[1]).dispose(); print('ok')"
    procs = [subprocess.Popen([sys.executable, "-c", code, path], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(8)]
    outcomes = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in outcomes if err]
    with engine.connect() as conn:
        assert conn.execute(sa.select(schema.version_table.c.version_num)).scalar_one() == schema.HEAD
