"""The Dask executor against a real distributed.LocalCluster with worker
processes: parallel steps, a failing step, a worker killed mid-step, retries,
a local cluster started by the executor, and the missing-extra message."""

import os
import subprocess
import sys

import pytest

distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")

from oprun import DagsterRunStatus, instance_for_test  # noqa: E402
from oprun.execution.execute_job import execute_job  # noqa: E402
from oprun.execution.reconstruct import reconstructable  # noqa: E402

from tests.fixtures import dask_jobs  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as made:
        yield made


@pytest.fixture
def instance():
    with instance_for_test() as inst:
        yield inst


def _on(cluster):
    return {"execution": {"config": {"cluster": {"existing": {"address": cluster.scheduler_address}}}}}


def test_steps_run_on_the_cluster_and_outputs_come_back(cluster, instance):
    with execute_job(reconstructable(dask_jobs.spread), instance, run_config=_on(cluster)) as result:
        assert result.success
        pids = result.output_for_node("gather")
    assert os.getpid() not in pids
    with distributed.Client(cluster) as client:
        worker_pids = set(client.run(os.getpid).values())
    assert set(pids) <= worker_pids
    kinds = [e.dagster_event.event_type_value for e in instance.all_logs(result.run_id) if e.dagster_event]
    assert kinds[-1] == "RUN_SUCCESS" and kinds.count("STEP_SUCCESS") == 5


def test_a_failing_step_fails_the_run_with_its_error(cluster, instance):
    with execute_job(reconstructable(dask_jobs.partly_failing), instance, run_config=_on(cluster)) as result:
        assert not result.success
        assert result.get_failed_step_keys() == {"fails"}
        assert "dask step failed on purpose" in result.failure_data_for_node("fails").error.message
        assert result.output_for_node("fine") == "fine"
    assert instance.get_run_by_id(result.run_id).status == DagsterRunStatus.FAILURE


def test_a_worker_killed_mid_step_fails_that_step_only(cluster, instance):
    with execute_job(reconstructable(dask_jobs.worker_dies), instance, run_config=_on(cluster)) as result:
        assert not result.success
        assert result.get_failed_step_keys() == {"kills_its_worker"}
        assert "Dask worker running it died" in result.get_step_failure_events()[0].message
        assert result.output_for_node("fine") == "fine"


def test_retry_policy_is_oprun_s(cluster, instance, tmp_path):
    config = {**_on(cluster), "ops": {"flaky": {"config": {"mark": str(tmp_path / "attempted")}}}}
    with execute_job(reconstructable(dask_jobs.retried), instance, run_config=config) as result:
        assert result.success
        assert result.output_for_node("flaky") == "recovered"
        assert result.retry_attempts_for_node("flaky") == 1


def test_a_local_cluster_is_started_and_closed(instance):
    config = {"execution": {"config": {"cluster": {"local": {"n_workers": 1, "processes": False}}}}}
    with execute_job(reconstructable(dask_jobs.spread), instance, run_config=config) as result:
        assert result.success


def test_missing_extra_says_what_to_install(tmp_path):
    code = (
        "import sys; sys.modules['distributed'] = None\n"
        "import oprun.execution.executors\n"
        "from oprun.definitions.dask_executor import dask_executor\n"
        "try:\n    dask_executor.executor_creation_fn(None)\nexcept Exception as e:\n    print(type(e).__name__, e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "DagsterImportError" in out.stdout and "pip install 'oprun[dask]'" in out.stdout
