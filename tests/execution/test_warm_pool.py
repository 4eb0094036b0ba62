"""The warm pool's launcher: runs forked from a zygote process (one thread, no
database connection), with the DefaultRunLauncher's tags and termination; an
edit of the code, a fix of broken code and a changed environment reach the next
run; code that starts threads is not preloaded; a killed zygote is replaced and
its runs go on; close() leaves runs running; no zygote at all still launches the
run; the instance config and the run queue loop use it. The time from
launch_run to the first STEP_START is printed (run with -s), not asserted."""

import os
import shutil
import signal
import time

import psutil
import pytest

from oprun import DagsterInstance, DagsterRunStatus
from oprun.execution import warm_pool
from oprun.execution.execute_job import create_run_for_job
from oprun.execution.launcher import DefaultRunLauncher
from oprun.execution.reconstruct import ReconstructableJob, reconstructable
from oprun.execution.warm_pool import WarmRunLauncher
from tests.fixtures import warm_pool_jobs
from tests.waiting import wait_for

FIXTURE_FILE = warm_pool_jobs.__file__


@pytest.fixture
def instance(tmp_path):
    inst = DagsterInstance.from_directory(str(tmp_path / "home"))
    yield inst
    inst.dispose()


@pytest.fixture
def started_file(tmp_path, monkeypatch):
    # Set before the launcher starts: a changed environment means a fresh zygote.
    path = tmp_path / "started"
    monkeypatch.setenv("OPRUN_TEST_STARTED_FILE", str(path))
    return path


@pytest.fixture
def launcher(instance, started_file):
    with WarmRunLauncher(instance, grace_seconds=2.0) as warm:
        yield warm


def _record(instance, recon):
    if not isinstance(recon, ReconstructableJob):
        recon = reconstructable(recon)
    return create_run_for_job(recon, recon.get_definition(), instance)


def _kinds(instance, run_id):
    return [e.dagster_event.event_type_value for e in instance.all_logs(run_id) if e.dagster_event]


def _messages(instance, run_id):
    return [e.user_message for e in instance.all_logs(run_id)]


def _first_step_start(instance, run_id):
    for entry in instance.all_logs(run_id):
        if entry.dagster_event and entry.dagster_event.event_type_value == "STEP_START":
            return entry.timestamp
    return None


def _launch_and_time(instance, launcher, recon):
    run = _record(instance, recon)
    launched_at = time.time()
    pid = launcher.launch_run(run.run_id)
    step_start = wait_for(lambda: _first_step_start(instance, run.run_id), seconds=120)
    return run, pid, step_start - launched_at


def test_a_warm_run_succeeds_with_its_events_and_worker_tags(instance, launcher):
    launcher.start()
    latencies = []
    for _ in range(3):
        run, pid, latency = _launch_and_time(instance, launcher, warm_pool_jobs.quick)
        latencies.append(latency)
        assert pid != os.getpid()
        assert pid not in launcher.zygote_pids()
        assert launcher.wait(run.run_id, timeout=120) == 0
        stored = instance.get_run_by_id(run.run_id)
        assert stored.status == DagsterRunStatus.SUCCESS
        kinds = _kinds(instance, run.run_id)
        assert "RUN_START" in kinds
        assert "STEP_SUCCESS" in kinds and kinds[-1] == "RUN_SUCCESS"
        assert stored.tags["oprun/run_worker_pid"] == str(pid)
        assert stored.tags["oprun/run_worker_pgid"] == str(pid)
        assert float(stored.tags["oprun/run_worker_create_time"]) > 0
        log = os.path.join(instance.compute_logs_directory(), run.run_id, "run_worker.log")
        with open(log) as f:
            assert "RUN_SUCCESS" in f.read()
    for zygote in map(psutil.Process, launcher.zygote_pids()):
        # Safe to fork: one thread, and no database file open.
        assert zygote.num_threads() == 1
        assert not [f.path for f in zygote.open_files() if f.path.startswith(instance.root_directory)]
    print("\nwarm pool: launch_run -> first STEP_START: " + ", ".join(f"{s * 1000:.0f} ms" for s in latencies))


def test_a_warm_run_with_the_multiprocess_executor(instance, launcher):
    run = _record(instance, warm_pool_jobs.in_step_workers)
    launcher.launch_run(run.run_id)
    assert launcher.wait(run.run_id, timeout=120) == 0
    assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.SUCCESS
    assert "value is 1" in _messages(instance, run.run_id)


def test_default_launcher_latency_for_comparison(instance):
    launcher = DefaultRunLauncher(instance)
    run, _pid, latency = _launch_and_time(instance, launcher, warm_pool_jobs.quick)
    assert launcher.wait(run.run_id, timeout=120) == 0
    print(f"\ndefault launcher: launch_run -> first STEP_START: {latency * 1000:.0f} ms")


def test_terminate_cancels_a_warm_run(instance, launcher, started_file):
    run = _record(instance, warm_pool_jobs.hangs)
    pid = launcher.launch_run(run.run_id)
    wait_for(started_file.exists)
    assert launcher.terminate(run.run_id)
    stored = instance.get_run_by_id(run.run_id)
    assert stored.status == DagsterRunStatus.CANCELED
    kinds = _kinds(instance, run.run_id)
    assert "RUN_CANCELING" in kinds and kinds[-1] == "RUN_CANCELED"
    assert launcher.wait(run.run_id, timeout=60) is not None
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert not launcher.terminate(run.run_id)


def test_an_edit_of_the_job_file_reaches_the_next_run(instance, launcher, tmp_path):
    code = tmp_path / "code"
    code.mkdir()
    path = code / "warm_edit_jobs.py"
    shutil.copy(FIXTURE_FILE, path)
    recon = ReconstructableJob("quick", python_file=str(path), working_directory=str(code))

    first = _record(instance, recon)
    launcher.launch_run(first.run_id)
    assert launcher.wait(first.run_id, timeout=120) == 0
    assert "value is 1" in _messages(instance, first.run_id)

    path.write_text(path.read_text().replace("VALUE = 1\n", "VALUE = 22\n"))
    second = _record(instance, recon)
    launcher.launch_run(second.run_id)
    assert launcher.wait(second.run_id, timeout=120) == 0
    messages = _messages(instance, second.run_id)
    assert "value is 22" in messages and "value is 1" not in messages


def test_a_killed_zygote_is_replaced_and_runs_in_flight_go_on(instance, launcher, started_file):
    first = _record(instance, warm_pool_jobs.quick)
    launcher.launch_run(first.run_id)
    assert launcher.wait(first.run_id, timeout=120) == 0
    in_flight = _record(instance, warm_pool_jobs.hangs)
    in_flight_pid = launcher.launch_run(in_flight.run_id)
    wait_for(started_file.exists)

    killed = launcher.zygote_pids()
    assert killed
    for pid in killed:
        os.kill(pid, signal.SIGKILL)

    run, pid, latency = _launch_and_time(instance, launcher, warm_pool_jobs.quick)
    assert launcher.wait(run.run_id, timeout=120) == 0
    assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.SUCCESS
    assert not set(killed) & set(launcher.zygote_pids())
    print(f"\nwarm pool, after its zygote was killed: launch_run -> first STEP_START: {latency * 1000:.0f} ms")

    # The run the dead zygote forked never noticed; it is still terminated as usual.
    assert psutil.Process(in_flight_pid).is_running()
    assert launcher.terminate(in_flight.run_id)
    assert instance.get_run_by_id(in_flight.run_id).status == DagsterRunStatus.CANCELED


def test_close_leaves_runs_in_flight_running(instance, started_file):
    launcher = WarmRunLauncher(instance, grace_seconds=2.0)
    run = _record(instance, warm_pool_jobs.hangs)
    pid = launcher.launch_run(run.run_id)
    wait_for(started_file.exists)
    zygotes = launcher.zygote_pids()
    launcher.close()
    assert all(not psutil.pid_exists(z) for z in zygotes)
    assert psutil.Process(pid).is_running()
    assert DefaultRunLauncher(instance, grace_seconds=2.0).terminate(run.run_id)
    assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.CANCELED


def test_code_that_starts_threads_when_imported_is_not_preloaded(instance, launcher, tmp_path):
    code = tmp_path / "threaded"
    code.mkdir()
    path = code / "warm_threaded_jobs.py"
    path.write_text(
        "import threading, time\n"
        "from oprun import in_process_executor, job, op\n"
        "threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()\n"
        "@op\ndef one():\n    return 1\n"
        "@job(executor_def=in_process_executor)\ndef threaded():\n    one()\n"
    )
    recon = ReconstructableJob("threaded", python_file=str(path), working_directory=str(code))
    for _ in range(2):
        run = _record(instance, recon)
        launcher.launch_run(run.run_id)
        assert launcher.wait(run.run_id, timeout=120) == 0
        assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.SUCCESS


def test_without_a_zygote_the_run_still_launches(instance, monkeypatch):
    def cannot_start(*_args, **_kwargs):
        raise OSError("no zygote here")

    monkeypatch.setattr(warm_pool, "_Zygote", cannot_start)
    with WarmRunLauncher(instance) as launcher:
        run = _record(instance, warm_pool_jobs.quick)
        pid = launcher.launch_run(run.run_id)
        assert launcher.wait(run.run_id, timeout=120) == 0
    stored = instance.get_run_by_id(run.run_id)
    assert stored.status == DagsterRunStatus.SUCCESS
    assert stored.tags["oprun/run_worker_pgid"] == str(pid)


def test_the_instance_config_names_the_warm_launcher(tmp_path, started_file):
    overrides = {"run_launcher": {"module": "oprun.execution.warm_pool", "class": "WarmRunLauncher", "config": {"grace_seconds": 2.0}}}
    with DagsterInstance.from_directory(str(tmp_path / "configured"), overrides=overrides) as instance:
        launcher = instance.run_launcher
        assert isinstance(launcher, WarmRunLauncher)
        try:
            run = _record(instance, warm_pool_jobs.quick)
            instance.launch_run(run.run_id)
            assert launcher.wait(run.run_id, timeout=120) == 0
            assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.SUCCESS
        finally:
            launcher.close()


def test_the_run_queue_loop_dequeues_into_the_warm_pool(tmp_path, started_file):
    from oprun.daemon.base import DaemonContext, Workspace
    from oprun.daemon.run_queue import RunQueueLoop

    overrides = {"run_coordinator": {"module": "oprun.execution.coordinator", "class": "QueuedRunCoordinator", "config": {}}}
    with DagsterInstance.from_directory(str(tmp_path / "queued"), overrides=overrides) as instance, WarmRunLauncher(instance) as launcher:
        launcher.start()
        ids = []
        for _ in range(3):
            run = _record(instance, warm_pool_jobs.quick)
            assert instance.submit_run(run.run_id).status == DagsterRunStatus.QUEUED
            ids.append(run.run_id)
        RunQueueLoop(launcher=launcher).run_iteration(DaemonContext(instance, Workspace([]), "test-daemon"))
        latencies = []
        for run_id in ids:
            assert launcher.wait(run_id, timeout=120) == 0
            assert instance.get_run_by_id(run_id).status == DagsterRunStatus.SUCCESS
            entries = instance.all_logs(run_id)
            dequeued = next(e.timestamp for e in entries if e.dagster_event and e.dagster_event.event_type_value == "RUN_DEQUEUED")
            latencies.append(_first_step_start(instance, run_id) - dequeued)
        print("\nrun queue into the warm pool: RUN_DEQUEUED -> first STEP_START: " + ", ".join(f"{s * 1000:.0f} ms" for s in latencies))


def test_code_that_fails_to_import_fails_its_run_and_a_fix_reaches_the_next(instance, launcher, tmp_path):
    code = tmp_path / "broken"
    code.mkdir()
    path = code / "warm_broken_jobs.py"
    shutil.copy(FIXTURE_FILE, path)
    recon = ReconstructableJob("quick", python_file=str(path), working_directory=str(code))
    good = path.read_text()
    first = _record(instance, recon)
    path.write_text(good + "\nraise RuntimeError('the code is broken')\n")
    launcher.launch_run(first.run_id)
    assert launcher.wait(first.run_id, timeout=120) == 1
    failed = instance.get_run_by_id(first.run_id)
    assert failed.status == DagsterRunStatus.FAILURE
    assert any("the code is broken" in (m or "") for m in _messages(instance, first.run_id))

    path.write_text(good)
    second = _record(instance, recon)
    launcher.launch_run(second.run_id)
    assert launcher.wait(second.run_id, timeout=120) == 0
    assert instance.get_run_by_id(second.run_id).status == DagsterRunStatus.SUCCESS


def test_a_variable_set_after_the_launcher_started_reaches_the_run(instance, tmp_path, monkeypatch):
    with WarmRunLauncher(instance, grace_seconds=2.0) as launcher:
        first = _record(instance, warm_pool_jobs.quick)
        launcher.launch_run(first.run_id)
        assert launcher.wait(first.run_id, timeout=120) == 0
        marker = tmp_path / "started-later"
        monkeypatch.setenv("OPRUN_TEST_STARTED_FILE", str(marker))
        run = _record(instance, warm_pool_jobs.hangs)
        launcher.launch_run(run.run_id)
        wait_for(marker.exists)
        assert launcher.terminate(run.run_id)
        assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.CANCELED


def test_warm_runs_on_postgres_open_their_own_connections(tmp_path, monkeypatch):
    from tests.reliability.conftest import postgres_url_for_a_fresh_schema, write_postgres_home

    home = str(tmp_path / "pg-home")
    with postgres_url_for_a_fresh_schema() as url:
        write_postgres_home(home, url)
        with DagsterInstance.from_directory(home) as instance, WarmRunLauncher(instance) as launcher:
            launcher.start()
            ids = [_record(instance, warm_pool_jobs.quick).run_id for _ in range(3)]
            for run_id in ids:
                launcher.launch_run(run_id)
            for run_id in ids:
                assert launcher.wait(run_id, timeout=120) == 0
                assert instance.get_run_by_id(run_id).status == DagsterRunStatus.SUCCESS
            for zygote in map(psutil.Process, launcher.zygote_pids()):
                assert zygote.num_threads() == 1
                assert not zygote.net_connections(kind="inet"), "a zygote kept a database connection"
