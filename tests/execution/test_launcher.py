"""Launching a recorded run in its own process, and terminating it: CANCELING,
SIGTERM then SIGKILL for steps that ignore SIGTERM, CANCELED, RUN_CANCELED last,
and a status that never changes afterwards."""

import os

import pytest

from oprun import DagsterRunStatus, instance_for_test
from oprun.execution.execute_job import create_run_for_job
from oprun.execution.reconstruct import reconstructable
from tests.fixtures import launch_jobs
from tests.waiting import wait_for


@pytest.fixture
def instance(monkeypatch):
    with instance_for_test() as inst:
        yield inst


def _record(instance, job_def):
    recon = reconstructable(job_def)
    return create_run_for_job(recon, recon.get_definition(), instance)


def test_launch_runs_the_job_in_another_process(instance):
    run = _record(instance, launch_jobs.launched)
    launcher = instance.run_launcher
    pid = launcher.launch_run(run.run_id)
    assert pid != os.getpid()
    assert launcher.wait(run.run_id, timeout=120) == 0
    stored = instance.get_run_by_id(run.run_id)
    assert stored.status == DagsterRunStatus.SUCCESS
    kinds = [e.dagster_event.event_type_value for e in instance.all_logs(run.run_id) if e.dagster_event]
    assert kinds[-1] == "RUN_SUCCESS"


@pytest.mark.parametrize("job_name", ["hangs_in_a_worker", "hangs_in_process"])
def test_terminate_kills_steps_that_ignore_sigterm(instance, tmp_path, monkeypatch, job_name):
    monkeypatch.setenv("OPRUN_TEST_STARTED_FILE", str(tmp_path / "started"))
    monkeypatch.setenv("OPRUN_TERMINATION_GRACE_SECONDS", "1")
    run = _record(instance, getattr(launch_jobs, job_name))
    launcher = instance.run_launcher
    launcher.grace_seconds = 1.0
    launcher.launch_run(run.run_id)
    wait_for(lambda: (tmp_path / "started").exists())
    assert launcher.terminate(run.run_id)
    stored = instance.get_run_by_id(run.run_id)
    assert stored.status == DagsterRunStatus.CANCELED
    kinds = [e.dagster_event.event_type_value for e in instance.all_logs(run.run_id) if e.dagster_event]
    assert kinds[-1] == "RUN_CANCELED"
    assert "RUN_CANCELING" in kinds
    # A late write from a dying process must not change a finished run.
    instance.report_run_failed(stored, "too late")
    assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.CANCELED
    assert not launcher.terminate(run.run_id)


def test_a_killed_run_process_leaves_complete_events_and_can_be_reexecuted(instance, monkeypatch):
    from oprun.execution.execute_job import execute_job
    from oprun.execution.reexecution import ReexecutionOptions

    # A write lag of 0: every step boundary waits for storage, so the step the
    # worker died in is recorded as started (by default a crash within 50 ms of
    # the last wait may lose what came after it; see test_event_write_lag.py).
    monkeypatch.setenv("OPRUN_EVENT_WRITE_LAG_MS", "0")
    run = _record(instance, launch_jobs.crashes_its_run_worker)
    launcher = instance.run_launcher
    launcher.launch_run(run.run_id)
    assert launcher.wait(run.run_id, timeout=120) == -9
    logs = instance.all_logs(run.run_id)
    kinds = [(e.step_key, e.dagster_event.event_type_value) for e in logs if e.dagster_event]
    assert ("stored_first", "STEP_SUCCESS") in kinds
    assert ("kills_the_run_worker", "STEP_START") in kinds
    assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.STARTED
    instance.report_run_failed(instance.get_run_by_id(run.run_id), "The run worker disappeared.")
    assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.FAILURE

    monkeypatch.setenv("OPRUN_TEST_NO_CRASH", "1")
    options = ReexecutionOptions.from_failure(run.run_id, instance)
    with execute_job(reconstructable(launch_jobs.crashes_its_run_worker), instance, reexecution_options=options) as result:
        assert result.success
        assert result.output_for_node("kills_the_run_worker") == 21
        assert {e.step_key for e in result.get_step_success_events()} == {"kills_the_run_worker"}
