"""The run monitor loop: a SIGKILLed run worker's run ends FAILURE with an engine
event saying why (and re-executes from failure), its leftover processes are
killed, step workers exit with their run worker, STARTING runs time out,
dagster/max_runtime stops a run, CANCELING runs whose worker is gone end
CANCELED, and `enabled: false` does nothing."""

from __future__ import annotations

import os
import signal
import subprocess

import psutil
import pytest

from oprun import DagsterRunStatus, ReexecutionOptions, execute_job
from oprun.clock import clock_at, timestamp
from oprun.daemon.base import DaemonContext, Workspace
from oprun.daemon.monitor import RunMonitorLoop
from oprun.events import DagsterEventType
from oprun.execution.execute_job import create_run_for_job
from oprun.execution.launcher import RUN_WORKER_CREATE_TIME_TAG, RUN_WORKER_PGID_TAG
from oprun.execution.reconstruct import reconstructable
from oprun.instance import DagsterInstance
from tests.fixtures import daemon_jobs
from tests.waiting import wait_for


@pytest.fixture
def files(tmp_path, monkeypatch):
    started, release = tmp_path / "started", tmp_path / "release"
    monkeypatch.setenv("OPRUN_TEST_STARTED_FILE", str(started))
    monkeypatch.setenv("OPRUN_TEST_RELEASE_FILE", str(release))
    return started, release


@pytest.fixture
def make_instance(tmp_path):
    made = []

    def make(**monitoring):
        instance = DagsterInstance.from_directory(str(tmp_path / "home"), overrides={"run_monitoring": {"enabled": True, **monitoring}})
        made.append(instance)
        return instance

    yield make
    for instance in made:
        instance.dispose()


@pytest.fixture
def instance(make_instance):
    return make_instance()


def _context(instance):
    return DaemonContext(instance, Workspace([]), "test-daemon")


def _status(instance, run_id):
    return instance.get_run_by_id(run_id).status


def _launch(instance, job_def, tags=None):
    recon = reconstructable(job_def)
    run = create_run_for_job(recon, recon.get_definition(), instance, tags=tags)
    instance.run_launcher.launch_run(run.run_id)
    return recon, run.run_id


def _gone(pid):
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE  # an orphan nobody reaps has ended too
    except psutil.NoSuchProcess:
        return True


def _kinds(instance, run_id):
    return [e.dagster_event.event_type_value for e in instance.all_logs(run_id) if e.dagster_event]


def test_a_killed_run_worker_fails_its_run_which_reexecutes_from_failure(instance, files):
    started, release = files
    recon, run_id = _launch(instance, daemon_jobs.blocks_in_process)
    wait_for(started.exists)
    loop = RunMonitorLoop()
    assert loop.run_iteration(_context(instance)) == "1 runs in progress checked"
    assert _status(instance, run_id) == DagsterRunStatus.STARTED  # alive: left alone

    pgid = int(instance.get_run_by_id(run_id).tags[RUN_WORKER_PGID_TAG])
    os.killpg(pgid, signal.SIGKILL)
    assert instance.run_launcher.wait(run_id, timeout=30) == -signal.SIGKILL
    assert loop.run_iteration(_context(instance)) == "1 runs in progress checked, 1 failed (worker gone)"
    assert _status(instance, run_id) == DagsterRunStatus.FAILURE
    message = f"The run worker (pid {pgid}) is gone: it exited without recording the end of the run"
    engine = [e.message for e in instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT)]
    assert any(m.startswith(message) for m in engine)
    assert instance.all_logs(run_id, of_type=DagsterEventType.RUN_FAILURE)[-1].message.startswith(message)
    assert _kinds(instance, run_id)[-1] == "RUN_FAILURE"

    release.touch()
    options = ReexecutionOptions.from_failure(run_id, instance)
    with execute_job(recon, instance, reexecution_options=options) as retried:
        assert retried.success
        assert retried.output_for_node("after_release") == 3


def test_leftover_processes_of_a_dead_worker_are_killed(instance, files):
    started, _release = files
    _recon, run_id = _launch(instance, daemon_jobs.with_a_child_process)
    wait_for(started.exists)
    worker_pid, child_pid = (int(p) for p in started.read_text().split())
    os.kill(worker_pid, signal.SIGKILL)  # the worker alone: its child lives on in its group
    instance.run_launcher.wait(run_id, timeout=30)
    assert not _gone(child_pid)
    RunMonitorLoop().run_iteration(_context(instance))
    assert _status(instance, run_id) == DagsterRunStatus.FAILURE
    wait_for(lambda: _gone(child_pid), seconds=10)
    assert any("leftover processes" in e.message for e in instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT))


def test_step_workers_exit_when_their_run_worker_is_killed(instance, files):
    started, _release = files
    _recon, run_id = _launch(instance, daemon_jobs.blocks_in_a_worker)
    wait_for(started.exists, seconds=120)
    step_pid = int(started.read_text())
    worker_pid = int(instance.get_run_by_id(run_id).tags[RUN_WORKER_PGID_TAG])
    assert step_pid != worker_pid
    step_workers = [p.pid for p in psutil.Process(worker_pid).children(recursive=True)]
    assert step_pid in step_workers
    os.kill(worker_pid, signal.SIGKILL)  # not its group: the step workers must notice by themselves
    instance.run_launcher.wait(run_id, timeout=30)
    wait_for(lambda: all(_gone(pid) for pid in step_workers), seconds=10)
    RunMonitorLoop().run_iteration(_context(instance))
    assert _status(instance, run_id) == DagsterRunStatus.FAILURE


def test_a_run_starting_too_long_fails(make_instance):
    instance = make_instance(start_timeout_seconds=30)
    recon = reconstructable(daemon_jobs.quick)
    run = create_run_for_job(recon, recon.get_definition(), instance)
    instance.report_run_event(run, DagsterEventType.RUN_STARTING, "Launching the run.")  # no worker ever starts
    loop = RunMonitorLoop()
    assert loop.run_iteration(_context(instance)) == "1 runs in progress checked"
    assert _status(instance, run.run_id) == DagsterRunStatus.STARTING
    with clock_at(timestamp() + 31):
        assert loop.run_iteration(_context(instance)) == "1 runs in progress checked, 1 failed (start timeout)"
    assert _status(instance, run.run_id) == DagsterRunStatus.FAILURE
    assert "did not start within 30 seconds" in instance.all_logs(run.run_id, of_type=DagsterEventType.RUN_FAILURE)[-1].message


def test_the_default_start_timeout_is_dagsters(instance):
    recon = reconstructable(daemon_jobs.quick)
    run = create_run_for_job(recon, recon.get_definition(), instance)
    instance.report_run_event(run, DagsterEventType.RUN_STARTING, "Launching the run.")
    loop = RunMonitorLoop()
    with clock_at(timestamp() + 170):
        loop.run_iteration(_context(instance))
    assert _status(instance, run.run_id) == DagsterRunStatus.STARTING
    with clock_at(timestamp() + 190):
        loop.run_iteration(_context(instance))
    assert _status(instance, run.run_id) == DagsterRunStatus.FAILURE


def test_max_runtime_stops_the_run_and_fails_it(instance, files):
    started, _release = files
    _recon, run_id = _launch(instance, daemon_jobs.blocks_in_process, tags={"dagster/max_runtime": "60"})
    wait_for(started.exists)
    instance.run_launcher.grace_seconds = 5.0
    record = instance.get_run_record_by_id(run_id)
    loop = RunMonitorLoop()
    with clock_at(record.start_time + 59):
        loop.run_iteration(_context(instance))
    assert _status(instance, run_id) == DagsterRunStatus.STARTED
    with clock_at(record.start_time + 61):
        assert loop.run_iteration(_context(instance)) == "1 runs in progress checked, 1 failed (max runtime)"
    assert instance.run_launcher.wait(run_id, timeout=30) is not None  # the worker was stopped
    assert _status(instance, run_id) == DagsterRunStatus.FAILURE
    failure = instance.all_logs(run_id, of_type=DagsterEventType.RUN_FAILURE)
    assert len(failure) == 1 and "Exceeded maximum runtime of 60 seconds" in failure[0].message


def test_a_canceling_run_whose_worker_is_gone_is_canceled(instance):
    recon = reconstructable(daemon_jobs.quick)
    run = create_run_for_job(recon, recon.get_definition(), instance)
    dead = subprocess.Popen(["sleep", "60"])
    create_time = psutil.Process(dead.pid).create_time()
    dead.kill()
    dead.wait()
    instance.add_run_tags(run.run_id, {RUN_WORKER_PGID_TAG: str(dead.pid), RUN_WORKER_CREATE_TIME_TAG: repr(create_time)})
    instance.report_run_event(run, DagsterEventType.RUN_START, "Started.")
    instance.report_run_canceling(instance.get_run_by_id(run.run_id), "Termination requested.")
    assert RunMonitorLoop().run_iteration(_context(instance)) == "1 runs in progress checked, 1 canceled (worker gone)"
    assert _status(instance, run.run_id) == DagsterRunStatus.CANCELED


def test_a_pid_reused_by_another_process_counts_as_gone(instance):
    recon = reconstructable(daemon_jobs.quick)
    run = create_run_for_job(recon, recon.get_definition(), instance)
    # This process stands for a stranger that got the worker's pid: its create time differs.
    me = psutil.Process(os.getpid())
    instance.add_run_tags(run.run_id, {RUN_WORKER_PGID_TAG: str(me.pid), RUN_WORKER_CREATE_TIME_TAG: repr(me.create_time() - 100)})
    instance.report_run_event(run, DagsterEventType.RUN_START, "Started.")
    RunMonitorLoop().run_iteration(_context(instance))
    assert _status(instance, run.run_id) == DagsterRunStatus.FAILURE  # and this process was not signalled


def test_canceling_too_long_ends_canceled(make_instance):
    instance = make_instance(cancel_timeout_seconds=10)
    recon = reconstructable(daemon_jobs.quick)
    run = create_run_for_job(recon, recon.get_definition(), instance)
    instance.report_run_event(run, DagsterEventType.RUN_START, "Started.")
    instance.report_run_canceling(instance.get_run_by_id(run.run_id), "Termination requested.")
    loop = RunMonitorLoop()
    loop.run_iteration(_context(instance))
    assert _status(instance, run.run_id) == DagsterRunStatus.CANCELING
    with clock_at(timestamp() + 11):
        loop.run_iteration(_context(instance))
    assert _status(instance, run.run_id) == DagsterRunStatus.CANCELED


def test_disabled_monitoring_does_nothing_and_the_interval_is_configurable(make_instance):
    instance = make_instance(enabled=False, poll_interval_seconds=7)
    recon = reconstructable(daemon_jobs.quick)
    run = create_run_for_job(recon, recon.get_definition(), instance)
    instance.report_run_event(run, DagsterEventType.RUN_STARTING, "Launching the run.")
    loop = RunMonitorLoop()
    assert loop.interval_seconds == 2.0
    with clock_at(timestamp() + 1000):
        assert "disabled" in loop.run_iteration(_context(instance))
    assert _status(instance, run.run_id) == DagsterRunStatus.STARTING
    assert loop.interval_seconds == 7.0


def test_workers_of_runs_that_ended_are_reaped(instance, files):
    started, release = files
    _recon, run_id = _launch(instance, daemon_jobs.blocks_in_process)
    wait_for(started.exists)
    pid = int(instance.get_run_by_id(run_id).tags[RUN_WORKER_PGID_TAG])
    loop = RunMonitorLoop()
    loop.run_iteration(_context(instance))  # seen in progress
    release.touch()
    wait_for(lambda: _status(instance, run_id) == DagsterRunStatus.SUCCESS)

    def reaped():
        loop.run_iteration(_context(instance))
        return not psutil.pid_exists(pid)  # a zombie would still hold its pid

    wait_for(reaped, seconds=30)
    assert _status(instance, run_id) == DagsterRunStatus.SUCCESS
