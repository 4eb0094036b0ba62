"""Canceling a launched run ends its whole process tree, and only its own: a step's
child in a session of its own is stopped too, and a recorded run worker whose pid
now belongs to another process is not signalled (the run is still CANCELED)."""

import os
import signal
import subprocess
import time

import psutil
import pytest

from oprun import DagsterRunStatus, instance_for_test
from oprun.execution.execute_job import create_run_for_job
from oprun.execution.launcher import RUN_WORKER_CREATE_TIME_TAG, RUN_WORKER_PGID_TAG
from oprun.execution.reconstruct import reconstructable
from tests.fixtures import cancel_jobs
from tests.waiting import wait_for


@pytest.fixture
def instance():
    with instance_for_test() as inst:
        yield inst


def _record(instance, job_def):
    recon = reconstructable(job_def)
    return create_run_for_job(recon, recon.get_definition(), instance)


def _gone(pid):
    # PID 1 in a container may never reap an orphan: a zombie has ended all the same.
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _kinds(instance, run_id):
    return [(e.step_key, e.dagster_event.event_type_value) for e in instance.all_logs(run_id) if e.dagster_event]


@pytest.mark.parametrize("job_name", ["grandchild_in_process", "grandchild_in_a_worker"])
def test_cancel_stops_a_child_that_left_the_process_group(instance, tmp_path, monkeypatch, job_name):
    pid_file = tmp_path / "grandchild.pid"
    monkeypatch.setenv("OPRUN_TEST_PID_FILE", str(pid_file))
    run = _record(instance, getattr(cancel_jobs, job_name))
    launcher = instance.run_launcher
    launcher.grace_seconds = 30.0  # SIGTERM is enough: nothing here should need SIGKILL
    worker_pid = launcher.launch_run(run.run_id)
    tags = instance.get_run_by_id(run.run_id).tags
    assert tags[RUN_WORKER_PGID_TAG] == str(worker_pid)
    assert float(tags[RUN_WORKER_CREATE_TIME_TAG]) == psutil.Process(worker_pid).create_time()
    grandchild = int(wait_for(lambda: pid_file.exists() and pid_file.read_text()))
    assert os.getpgid(grandchild) != worker_pid  # out of the group killpg reaches
    started = time.monotonic()
    try:
        assert launcher.terminate(run.run_id)
    finally:
        if not _gone(grandchild):
            os.kill(grandchild, signal.SIGKILL)
    assert time.monotonic() - started < 30.0  # ended by SIGTERM, not by the grace period's SIGKILL
    assert _gone(grandchild)
    assert launcher.wait(run.run_id, timeout=10) is not None
    assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.CANCELED
    kinds = _kinds(instance, run.run_id)
    assert kinds[-1] == (None, "RUN_CANCELED")
    # The interrupted step ended: STEP_FAILURE with the interrupt as its cause.
    failures = [e for e in instance.all_logs(run.run_id) if e.dagster_event and e.dagster_event.event_type_value == "STEP_FAILURE"]
    assert [e.step_key for e in failures] == ["starts_a_grandchild"]
    assert failures[0].dagster_event.event_specific_data.error_source == "INTERRUPT"


@pytest.mark.parametrize("job_name", ["blocks_in_process", "blocks_in_a_worker"])
def test_cancel_does_not_signal_a_process_that_reused_the_recorded_pid(instance, tmp_path, monkeypatch, job_name):
    started = tmp_path / "started"
    monkeypatch.setenv("OPRUN_TEST_STARTED_FILE", str(started))
    run = _record(instance, getattr(cancel_jobs, job_name))
    launcher = instance.run_launcher
    launcher.grace_seconds = 1.0
    worker_pid = launcher.launch_run(run.run_id)
    stranger = subprocess.Popen(["sleep", "600"], start_new_session=True)
    try:
        wait_for(started.exists)
        # The step's start stored too (events are written behind the run by up to
        # the write lag): the worker, left running below, writes nothing after it.
        wait_for(lambda: any(kind == "STEP_START" for _step, kind in _kinds(instance, run.run_id)))
        # As if the run worker had died and its pid gone to another process: the
        # tags name a live process whose create time is not the recorded one.
        wrong_time = psutil.Process(stranger.pid).create_time() - 3600
        instance.add_run_tags(run.run_id, {RUN_WORKER_PGID_TAG: str(stranger.pid), RUN_WORKER_CREATE_TIME_TAG: repr(wrong_time)})
        assert launcher.terminate(run.run_id)
        assert stranger.poll() is None  # not signalled
        assert psutil.Process(stranger.pid).status() != psutil.STATUS_ZOMBIE
        stored = instance.get_run_by_id(run.run_id)
        assert stored.status == DagsterRunStatus.CANCELED
        assert _kinds(instance, run.run_id)[-1] == (None, "RUN_CANCELED")
    finally:
        stranger.kill()
        stranger.wait()
        # The real run worker was left running, as terminate could not know it:
        # stop it and its step worker here (still our unreaped child: the pid is its).
        os.killpg(worker_pid, signal.SIGKILL)
        launcher.wait(run.run_id, timeout=30)


@pytest.mark.parametrize("job_name", ["blocks_in_process", "blocks_in_a_worker", "blocks_on_dask"])
def test_a_canceled_step_ends_with_step_failure_on_every_executor(instance, tmp_path, monkeypatch, job_name):
    started = tmp_path / "started"
    monkeypatch.setenv("OPRUN_TEST_STARTED_FILE", str(started))
    run_config = {}
    if job_name == "blocks_on_dask":
        pytest.importorskip("distributed", reason="the dask extra is not installed")
        # A cluster of the run worker's own: its worker processes are in the tree cancel ends.
        run_config = {"execution": {"config": {"cluster": {"local": {"n_workers": 1, "processes": True}}}}}
    recon = reconstructable(getattr(cancel_jobs, job_name))
    run = create_run_for_job(recon, recon.get_definition(), instance, run_config=run_config)
    launcher = instance.run_launcher
    launcher.grace_seconds = 30.0
    launcher.launch_run(run.run_id)
    step_pid = int(wait_for(lambda: started.exists() and started.read_text()))
    assert launcher.terminate(run.run_id)
    assert _gone(step_pid)
    assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.CANCELED
    kinds = _kinds(instance, run.run_id)
    assert kinds[-1] == (None, "RUN_CANCELED")
    failures = [e for e in instance.all_logs(run.run_id) if e.dagster_event and e.dagster_event.event_type_value == "STEP_FAILURE"]
    assert [(e.step_key, e.dagster_event.event_specific_data.error_source) for e in failures] == [("blocks", "INTERRUPT")]
    # Recorded where the interrupt landed: in the step's own process, or by the
    # run process for a step running elsewhere.
    recorded_by_run_process = job_name != "blocks_in_process"
    assert (failures[0].dagster_event.event_specific_data.error.cls_name == "Interrupted") == recorded_by_run_process
