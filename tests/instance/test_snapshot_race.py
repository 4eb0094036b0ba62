"""Issue 12, defect 1: processes that start the first run of a new job version at
once all store its snapshot. Each must get its run, and the table one snapshot; a
snapshot already stored is not an error, and only a real duplicate run id says
"A run with id ... already exists"."""

import multiprocessing
import queue
import time
import traceback

import pytest
import sqlalchemy as sa

from oprun import DagsterInstance, DagsterInvariantViolationError, DagsterRun, job, op
from oprun.errors import DagsterStorageError
from tests.instance.conftest import postgres_schema

PROCESSES = 20
DEADLINE = 120  # seconds for a whole case: start, race, report


@op
def first():
    return 1


@op
def second(value):
    return value + 1


@job
def race_job():
    second(first())


def _open(target):
    kind, where, search_path, home = target
    if kind == "sqlite":
        return DagsterInstance.from_directory(where)
    from oprun.instance.instance import DagsterInstance as Instance
    from oprun.instance.sql import PostgresRunStorage

    storage = PostgresRunStorage(where, connect_args={"options": f"-csearch_path={search_path}"})
    return Instance(storage, home)


def _start_first_run(target, barrier, results):
    """One process: open the instance, wait for the others, record a run of the job."""
    try:
        instance = _open(target)
        instance.get_runs_count()  # connected, and the run's code paths loaded (on a throwaway
        DagsterInstance.ephemeral().create_run_for_job(race_job)  # instance) before the release,
        # so that the processes race on the write, not on imports
        barrier.wait(timeout=DEADLINE)
        run = instance.create_run_for_job(race_job)
        results.put(("ok", run.run_id, run.job_snapshot_id))
        instance.dispose()
    except BaseException:
        results.put(("error", traceback.format_exc(), None))


def _race(target):
    """(outcomes of PROCESSES processes released at once, within DEADLINE)."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(PROCESSES)
    results = ctx.Queue()
    procs = [ctx.Process(target=_start_first_run, args=(target, barrier, results)) for _ in range(PROCESSES)]
    for proc in procs:
        proc.start()
    deadline = time.monotonic() + DEADLINE
    outcomes = []
    try:
        while len(outcomes) < PROCESSES:
            try:
                outcomes.append(results.get(timeout=1))
            except queue.Empty:
                dead = not any(proc.is_alive() for proc in procs) and results.empty()
                if dead or time.monotonic() > deadline:
                    codes = [proc.exitcode for proc in procs]
                    pytest.fail(f"only {len(outcomes)} of {PROCESSES} processes reported within {DEADLINE}s (exit codes {codes}): {outcomes}")
    finally:
        for proc in procs:
            proc.join(timeout=max(0.1, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()
                proc.join()
        results.close()
        results.join_thread()
    return outcomes


def _check(outcomes, instance, engine):
    errors = [detail for kind, detail, _ in outcomes if kind != "ok"]
    assert errors == [], f"{len(errors)} of {PROCESSES} failed:\n" + "\n".join(errors)
    run_ids = {detail for _, detail, _ in outcomes}
    assert len(run_ids) == PROCESSES
    assert {snap for _, _, snap in outcomes} == {instance.get_run_by_id(next(iter(run_ids))).job_snapshot_id}
    assert instance.get_runs_count() == PROCESSES
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM snapshots")).scalar() == 1


def test_twenty_processes_start_the_first_run_of_a_new_job_version_on_sqlite(tmp_path):
    home = str(tmp_path / "home")
    with DagsterInstance.from_directory(home) as instance:  # the database exists; the job version is new
        outcomes = _race(("sqlite", home, None, home))
        _check(outcomes, instance, instance.run_storage.engine)


@pytest.mark.parametrize("attempt", [1, 2])  # the old race lost about one round in six here
def test_twenty_processes_start_the_first_run_of_a_new_job_version_on_postgres(tmp_path, attempt):
    from oprun.instance.instance import DagsterInstance as Instance
    from oprun.instance.sql import PostgresRunStorage

    with postgres_schema() as (url, schema):
        storage = PostgresRunStorage(url, connect_args={"options": f"-csearch_path={schema}"})
        instance = Instance(storage, str(tmp_path / "home"))
        try:
            outcomes = _race(("postgres", url, schema, str(tmp_path / "home")))
            _check(outcomes, instance, storage.engine)
        finally:
            instance.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def sql_instance(request, tmp_path):
    if request.param == "sqlite":
        with DagsterInstance.from_directory(str(tmp_path / "home")) as inst:
            yield inst
        return
    from oprun.instance.instance import DagsterInstance as Instance
    from oprun.instance.sql import PostgresRunStorage

    with postgres_schema() as (url, schema):
        inst = Instance(PostgresRunStorage(url, connect_args={"options": f"-csearch_path={schema}"}), str(tmp_path / "home"))
        try:
            yield inst
        finally:
            inst.dispose()


def test_a_duplicate_run_id_is_run_exists_and_a_stored_snapshot_is_not(sql_instance):
    snapshot = {"name": "dup_job", "nodes": ["a"]}
    run = sql_instance.create_run(DagsterRun(job_name="dup_job"), snapshot)
    again = sql_instance.create_run(DagsterRun(job_name="dup_job"), snapshot)  # same snapshot: no error
    assert again.job_snapshot_id == run.job_snapshot_id
    with pytest.raises(DagsterInvariantViolationError, match=f"A run with id {run.run_id} already exists"):
        sql_instance.create_run(DagsterRun(job_name="dup_job", run_id=run.run_id), {"name": "dup_job", "nodes": ["b"]})
    assert sql_instance.get_runs_count() == 2
    with sql_instance.run_storage.engine.connect() as conn:  # the refused run's new snapshot was rolled back
        assert conn.execute(sa.text("SELECT count(*) FROM snapshots")).scalar() == 1


def test_another_integrity_error_is_not_reported_as_run_exists(sql_instance):
    with pytest.raises(DagsterStorageError) as caught:
        sql_instance.create_run(DagsterRun(job_name=None), {"name": "nameless"})  # runs.job_name is NOT NULL
    message = str(caught.value)
    assert "already exists" not in message
    assert "recording run" in message and "refused" in message and "job_name" in message
    assert isinstance(caught.value.__cause__, sa.exc.IntegrityError)
    assert sql_instance.get_runs_count() == 0
