"""A third-party executor implements only `execute`: the active execution applies
its outcomes (retries with the policy, failures, downstream steps not run)."""

from oprun import execute_job, instance_for_test, reconstructable

from tests.fixtures import custom_executor_jobs as jobs


def test_a_third_party_executor_runs_a_job_with_retries(tmp_path):
    jobs.SEEN.clear()
    jobs.ATTEMPTS.clear()
    with instance_for_test(temp_dir=str(tmp_path)) as instance:
        with execute_job(reconstructable(jobs.custom_executed), instance) as result:
            assert result.success
            assert result.output_for_node("after") == 30
        assert jobs.SEEN[:2] == ["right", "left"]  # its own order
        assert jobs.ATTEMPTS == [0, 1]
        kinds = [e.event_type_value for e in result.all_events if e.step_key == "flaky"]
        assert "STEP_UP_FOR_RETRY" in kinds and kinds[-1] == "STEP_SUCCESS"


def test_a_third_party_executor_with_retries_off_fails_the_step_at_once(tmp_path):
    jobs.ATTEMPTS.clear()
    with instance_for_test(temp_dir=str(tmp_path)) as instance:
        run_config = {"execution": {"config": {"retries": False}}}
        with execute_job(reconstructable(jobs.custom_executed), instance, run_config=run_config) as result:
            assert not result.success
        assert jobs.ATTEMPTS == [0]


def test_a_failed_step_stops_what_depends_on_it(tmp_path):
    with instance_for_test(temp_dir=str(tmp_path)) as instance:
        with execute_job(reconstructable(jobs.custom_failing), instance) as result:
            assert not result.success
            assert result.is_node_failed("broken")
            assert not any(e.step_key == "never" and e.event_type_value == "STEP_START" for e in result.all_events)
