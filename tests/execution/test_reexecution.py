"""Re-execution: from failure, all steps, a step selection; reused outputs are
loaded from the parent's storage, not recomputed; lineage is recorded."""

import shutil

import pytest

from oprun import DagsterInvariantViolationError, DagsterRunStatus, instance_for_test
from oprun.execution.execute_job import execute_job
from oprun.execution.reexecution import ReexecutionOptions
from oprun.execution.reconstruct import reconstructable

from tests.fixtures import reexec_jobs


def _config(out, names=("first", "second", "flaky")):
    return {"ops": {n: {"config": {"out_dir": str(out)}} for n in names}}


@pytest.fixture
def instance():
    with instance_for_test() as inst:
        yield inst


@pytest.mark.parametrize("job_name", ["fragile", "fragile_multiprocess"])
def test_from_failure_reuses_outputs_of_succeeded_steps(instance, tmp_path, job_name):
    job_def = getattr(reexec_jobs, job_name)
    with execute_job(reconstructable(job_def), instance, run_config=_config(tmp_path)) as failed:
        assert not failed.success
    parent = instance.get_run_by_id(failed.run_id)
    assert parent.status == DagsterRunStatus.FAILURE

    options = ReexecutionOptions.from_failure(failed.run_id, instance)
    with execute_job(reconstructable(job_def), instance, reexecution_options=options) as retried:
        assert retried.success
        assert retried.output_for_node("last") == 31
        ran = {e.step_key for e in retried.get_step_success_events()}
    assert ran == {"flaky", "last"}
    assert (tmp_path / "first").read_text() == "1"  # not recomputed
    child = instance.get_run_by_id(retried.run_id)
    assert child.parent_run_id == failed.run_id and child.root_run_id == failed.run_id
    assert child.tags["dagster/parent_run_id"] == failed.run_id


def test_from_failure_of_a_successful_run_is_an_error(instance, tmp_path):
    (tmp_path / "flaky").write_text("1")  # flaky will pass the first time
    with execute_job(reconstructable(reexec_jobs.fragile), instance, run_config=_config(tmp_path)) as result:
        assert result.success
    with pytest.raises(DagsterInvariantViolationError, match="not FAILURE"):
        ReexecutionOptions.from_failure(result.run_id, instance)


def test_step_selection_and_all_steps(instance, tmp_path):
    (tmp_path / "flaky").write_text("1")
    with execute_job(reconstructable(reexec_jobs.fragile), instance, run_config=_config(tmp_path)) as parent:
        assert parent.success
    options = ReexecutionOptions(parent.run_id, step_selection=["last"])
    with execute_job(reconstructable(reexec_jobs.fragile), instance, reexecution_options=options) as only_last:
        assert only_last.success
        assert {e.step_key for e in only_last.get_step_success_events()} == {"last"}
    with execute_job(reconstructable(reexec_jobs.fragile), instance, reexecution_options=ReexecutionOptions(parent.run_id)) as everything:
        assert everything.success
    assert (tmp_path / "first").read_text() == "2"


def test_missing_parent_outputs_name_the_step_and_output(instance, tmp_path):
    with execute_job(reconstructable(reexec_jobs.fragile), instance, run_config=_config(tmp_path)) as failed:
        assert not failed.success
    shutil.rmtree(f"{instance.storage_directory()}/{failed.run_id}")
    options = ReexecutionOptions.from_failure(failed.run_id, instance)
    with pytest.raises(DagsterInvariantViolationError, match="output 'result' of step '(first|second)'"):
        execute_job(reconstructable(reexec_jobs.fragile), instance, reexecution_options=options)
