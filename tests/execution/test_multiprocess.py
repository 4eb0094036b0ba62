"""The multiprocess executor on a real instance with real worker processes:
parallelism, isolation from crashes, retries, dynamic steps, requirements, and
compute logs."""

import os

import pytest

from oprun import (
    DagsterInstance,
    DagsterUnmetExecutorRequirementsError,
    instance_for_test,
)
from oprun.execution.execute_job import execute_job
from oprun.execution.reconstruct import reconstructable

from tests.fixtures import mp_jobs


@pytest.fixture
def instance():
    with instance_for_test() as inst:
        yield inst


def _mp(max_concurrent=2, **extra):
    return {"execution": {"config": {"multiprocess": {"max_concurrent": max_concurrent, **extra}}}}


def test_independent_steps_run_in_several_warm_workers(instance):
    with execute_job(reconstructable(mp_jobs.four_in_parallel), instance, run_config=_mp(2)) as result:
        assert result.success
        pids = result.output_for_node("pids")
    assert os.getpid() not in pids
    assert len(set(pids)) == 2  # four steps ready at once: both warm workers take some
    run = instance.get_run_by_id(result.run_id)
    assert run.status.value == "SUCCESS"
    # Each warm worker builds the run's resources once and says so.
    inits = [e for e in instance.all_logs(result.run_id) if e.dagster_event and e.dagster_event.event_type_value == "RESOURCE_INIT_SUCCESS"]
    assert sorted(e.dagster_event.pid for e in inits) == sorted(set(pids))


def test_a_killed_worker_fails_only_its_step(instance):
    with execute_job(reconstructable(mp_jobs.crashes), instance, run_config=_mp(2)) as result:
        assert not result.success
        assert result.get_failed_step_keys() == {"killed"}
        message = result.get_step_failure_events()[0].message
        assert "worker process exited with signal 9" in message
        assert result.is_node_untouched("downstream")
        assert result.output_for_node("survivor") == "ok"


def test_os_exit_is_reported_with_its_code(instance):
    with execute_job(reconstructable(mp_jobs.hard_exit), instance, run_config=_mp(1)) as result:
        assert not result.success
        assert "exited with code 3" in result.get_step_failure_events()[0].message
        assert result.output_for_node("survivor") == "ok"


def test_retry_policy_applies_when_a_worker_dies(instance, tmp_path, monkeypatch):
    monkeypatch.setenv("OPRUN_TEST_ATTEMPT_FILE", str(tmp_path / "attempted"))
    with execute_job(reconstructable(mp_jobs.retried_after_death), instance, run_config=_mp(1)) as result:
        assert result.success
        assert result.output_for_node("dies_once") == "second time lucky"
        assert result.retry_attempts_for_node("dies_once") == 1


def test_dynamic_steps_across_processes(instance):
    with execute_job(reconstructable(mp_jobs.dynamic_squares), instance, run_config=_mp(2)) as result:
        assert result.success
        assert result.output_for_node("add_all") == sum(i * i for i in range(6))
        assert result.output_for_node("square") == {f"k{i}": i * i for i in range(6)}


def test_requirements_name_the_fix(instance):
    with pytest.raises(DagsterUnmetExecutorRequirementsError, match="ephemeral"):
        execute_job(reconstructable(mp_jobs.four_in_parallel), DagsterInstance.ephemeral())
    with pytest.raises(DagsterUnmetExecutorRequirementsError, match="persistent IO manager"):
        execute_job(reconstructable(mp_jobs.in_memory_outputs), instance)
    assert instance.get_runs() == [] or all(r.job_name != "in_memory_outputs" for r in instance.get_runs())


def test_compute_logs_are_captured_per_step(instance, capfd):
    for job_def in (mp_jobs.speaks, mp_jobs.speaks_in_process):
        with execute_job(reconstructable(job_def), instance, run_config=_mp(1) if job_def is mp_jobs.speaks else None) as result:
            assert result.success
            captured = [e for e in result.all_events if e.event_type_value == "LOGS_CAPTURED"]
            assert len(captured) == 1
            data = captured[0].logs_captured_data
            with open(data.stdout_path) as f:
                assert "to stdout" in f.read()
            with open(data.stderr_path) as f:
                assert "to stderr" in f.read()
    # In process, output is teed: it still reaches the terminal.
    assert "to stdout" in capfd.readouterr().out


def test_tag_concurrency_limits_hold_steps_back(instance):
    config = _mp(3, tag_concurrency_limits=[{"key": "database", "value": "warehouse", "limit": 1}])
    with execute_job(reconstructable(mp_jobs.limited), instance, run_config=config) as result:
        assert result.success
    starts = {}
    ends = {}
    for entry in instance.all_logs(result.run_id):
        event = entry.dagster_event
        if event and event.step_key and event.step_key.startswith("h"):
            if event.event_type_value == "STEP_START":
                starts[event.step_key] = entry.timestamp
            elif event.event_type_value == "STEP_SUCCESS":
                ends[event.step_key] = entry.timestamp
    spans = sorted((starts[k], ends[k]) for k in starts)
    assert all(later[0] >= earlier[1] for earlier, later in zip(spans, spans[1:]))


def test_priority_tag_orders_ready_steps(instance):
    with execute_job(reconstructable(mp_jobs.prioritized), instance, run_config=_mp(1)) as result:
        assert result.success
        starts = [e.step_key for e in result.all_events if e.event_type_value == "STEP_START"]
    assert starts == ["first_step", "middle_step", "later_step"]


def test_forkserver_start_method_with_preloaded_modules(instance):
    config = _mp(2, start_method={"forkserver": {"preload_modules": ["oprun"]}})
    with execute_job(reconstructable(mp_jobs.four_in_parallel), instance, run_config=config) as result:
        assert result.success
        assert os.getpid() not in result.output_for_node("pids")


def test_in_process_choice_of_the_default_executor(instance):
    config = {"execution": {"config": {"in_process": {}}}}
    with execute_job(reconstructable(mp_jobs.four_in_parallel), instance, run_config=config) as result:
        assert set(result.output_for_node("pids")) == {os.getpid()}


def test_reconstructable_accepts_a_module_level_function_returning_the_job(instance):
    from oprun import DagsterInvariantViolationError

    with execute_job(reconstructable(mp_jobs.build_four_in_parallel), instance, run_config=_mp(2)) as result:
        assert result.success

    def local():
        return mp_jobs.four_in_parallel

    with pytest.raises(DagsterInvariantViolationError, match="module level"):
        reconstructable(local)


def test_a_fan_in_list_holding_a_graph_input_runs_in_workers(instance):
    with execute_job(reconstructable(mp_jobs.fan_in_with_graph_input), instance, run_config=_mp(2)) as result:
        assert result.success
        assert result.output_for_node("adds_its_input") == 30


def test_a_step_worker_does_not_open_the_database(instance):
    # Workers only send events; the run process writes them. A worker that opened
    # the instance would load SQLAlchemy and connect, costing a fifth of a second.
    with execute_job(reconstructable(mp_jobs.reports_worker_modules), instance) as result:
        assert result.success
        assert result.output_for_node("database_modules_loaded") == []
