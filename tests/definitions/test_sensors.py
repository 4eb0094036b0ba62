"""Sensors: construction checks, direct invocation, evaluation into a
SensorResult with checked targets and cursors, and run status sensors."""

import json
import re

import pytest

from oprun import (
    DagsterEventType,
    DagsterInstance,
    DagsterInvalidDefinitionError,
    DagsterInvalidInvocationError,
    DagsterInvariantViolationError,
    DagsterRunStatus,
    DagsterUserCodeExecutionError,
    DefaultSensorStatus,
    RunFailureSensorContext,
    RunRequest,
    RunStatusSensorContext,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    build_sensor_context,
    job,
    op,
    resource,
    run_failure_sensor,
    run_status_sensor,
    sensor,
)
from oprun.definitions.automation.run_status_sensors import build_run_status_sensor_context


@op
def ping() -> str:
    return "pong"


@op
def boom() -> None:
    raise ValueError("boom")


@job
def first():
    ping()


@job
def second():
    ping()


@job
def fragile():
    boom()


# --- construction ------------------------------------------------------------------


def test_sensor_defaults_and_attributes():
    @sensor(job=first, description="watches", tags={"team": "data"})
    def watcher(context):
        return None

    assert watcher.name == "watcher"
    assert watcher.minimum_interval_seconds == 30
    assert watcher.default_status == DefaultSensorStatus.STOPPED
    assert watcher.job_name == "first" and watcher.job is first
    assert watcher.job_names == ["first"]
    assert watcher.description == "watches"
    assert watcher.tags == {"team": "data"}


def test_bare_sensor_decorator_and_docstring_description():
    @sensor
    def bare(context):
        """Looks around."""

    assert bare.name == "bare" and bare.job_names == [] and bare.description == "Looks around."


def test_more_than_one_target_argument_is_an_error():
    message = "Attempted to provide more than one of 'job', 'jobs', 'job_name', and 'target' params to SensorDefinition"
    with pytest.raises(DagsterInvalidDefinitionError, match=re.escape(message)):
        @sensor(job=first, jobs=[second])
        def both(context):
            return None


def test_invalid_sensor_name_is_rejected():
    with pytest.raises(DagsterInvalidDefinitionError, match=re.escape('"no-dashes" is not a valid sensor name in oprun')):
        @sensor(name="no-dashes", job=first)
        def named(context):
            return None


def test_bad_interval_and_status_are_rejected():
    with pytest.raises(DagsterInvalidDefinitionError, match="minimum_interval_seconds must be a whole number of seconds, at least 1; got 0"):
        @sensor(job=first, minimum_interval_seconds=0)
        def too_fast(context):
            return None

    with pytest.raises(DagsterInvalidDefinitionError, match="default_status must be a DefaultSensorStatus"):
        @sensor(job=first, default_status="RUNNING")
        def bad_status(context):
            return None


def test_asset_selection_and_odd_targets_are_rejected():
    with pytest.raises(DagsterInvalidDefinitionError, match="asset_selection is not supported"):
        @sensor(asset_selection=["a"])
        def assets(context):
            return None

    with pytest.raises(DagsterInvalidDefinitionError, match="targets must be jobs, graphs or job names"):
        @sensor(target=[first, 3])
        def odd(context):
            return None

    with pytest.raises(DagsterInvalidDefinitionError, match="first argument is job_name, a string"):
        sensor(first)


def test_sensor_definition_needs_an_evaluation_function():
    with pytest.raises(DagsterInvalidDefinitionError, match="needs an evaluation_fn"):
        SensorDefinition(name="empty")
    plain = SensorDefinition(name="plain", evaluation_fn=lambda context: RunRequest(), job_name="first")
    assert plain.evaluate_tick(build_sensor_context()).run_requests == [RunRequest(job_name="first", tags={"dagster/sensor_name": "plain"})]


# --- invocation and evaluation -------------------------------------------------------


@sensor(job=first)
def files_sensor(context):
    seen = int(context.cursor or 0)
    for n in range(seen, seen + 2):
        yield RunRequest(run_key=f"file-{n}", run_config={"ops": {}})
    context.update_cursor(str(seen + 2))


def test_direct_invocation_returns_what_the_function_returns():
    context = build_sensor_context(cursor="3")
    requests = list(files_sensor(context))
    assert [r.run_key for r in requests] == ["file-3", "file-4"]
    assert context.cursor == "5"


def test_evaluate_tick_gives_a_result_with_job_names_and_the_updated_cursor():
    result = files_sensor.evaluate_tick(build_sensor_context(cursor="0"))
    assert isinstance(result, SensorResult)
    assert [(r.run_key, r.job_name) for r in result.run_requests] == [("file-0", "first"), ("file-1", "first")]
    assert result.cursor == "2"
    assert result.skip_reason is None


def test_sensor_result_and_skip_reason_results():
    @sensor(job=first)
    def with_result(context):
        return SensorResult(run_requests=[RunRequest(run_key="a")], cursor="next")

    result = with_result.evaluate_tick(build_sensor_context())
    assert result.cursor == "next" and result.run_requests[0].job_name == "first"

    @sensor(job=first)
    def skipping(context):
        return SkipReason("nothing new")

    assert skipping.evaluate_tick(build_sensor_context(cursor="c")) == SensorResult(skip_reason=SkipReason("nothing new"), cursor="c")

    @sensor(job=first)
    def quiet(context):
        return None

    assert quiet.evaluate_tick(build_sensor_context()) == SensorResult(skip_reason="Sensor function returned an empty result")


def test_cursor_set_both_ways_is_an_error():
    @sensor(job=first)
    def double(context):
        context.update_cursor("a")
        return SensorResult(cursor="b")

    with pytest.raises(DagsterInvariantViolationError, match=re.escape("SensorResult.cursor cannot be set if context.update_cursor() was called")):
        double.evaluate_tick(build_sensor_context())


def test_sensor_result_checks_its_fields():
    with pytest.raises(DagsterInvariantViolationError, match="received values for both run_requests and skip_reason"):
        SensorResult(run_requests=[RunRequest()], skip_reason="no")
    assert SensorResult(skip_reason="why").skip_reason == SkipReason("why")
    with pytest.raises(DagsterInvariantViolationError, match="must all be RunRequests"):
        SensorResult(run_requests=[{"run_key": "a"}])
    with pytest.raises(DagsterInvalidDefinitionError, match="asset_events=...\\) is not supported"):
        SensorResult(asset_events=["materialization"])


def test_bad_return_values_say_what_a_sensor_may_return():
    @sensor(job=first)
    def number(context):
        return 3

    with pytest.raises(DagsterInvariantViolationError, match="a sensor must return or yield RunRequests, a SkipReason, a SensorResult, or None"):
        number.evaluate_tick(build_sensor_context())

    @sensor(job=first)
    def two_results(context):
        yield SensorResult()
        yield RunRequest()

    with pytest.raises(DagsterInvariantViolationError, match="it must be the only object returned"):
        two_results.evaluate_tick(build_sensor_context())

    @sensor(job=first)
    def two_skips(context):
        return [SkipReason("a"), SkipReason("b")]

    with pytest.raises(DagsterInvariantViolationError, match="expected a single SkipReason"):
        two_skips.evaluate_tick(build_sensor_context())


def test_run_requests_are_checked_against_the_targets():
    @sensor()
    def untargeted(context):
        return RunRequest()

    with pytest.raises(DagsterInvariantViolationError, match="returned a RunRequest for a sensor lacking a specified target"):
        untargeted.evaluate_tick(build_sensor_context())

    @sensor(jobs=[first, second])
    def several(context):
        return RunRequest()

    with pytest.raises(DagsterInvariantViolationError, match=re.escape("did not specify job_name for the requested run. Expected one of: ['first', 'second']")):
        several.evaluate_tick(build_sensor_context())

    @sensor(jobs=[first, second])
    def wrong(context):
        return RunRequest(job_name="secnd")

    with pytest.raises(DagsterInvariantViolationError, match="RunRequest with job_name secnd.*Did you mean 'second'"):
        wrong.evaluate_tick(build_sensor_context())

    @sensor(jobs=[first, second])
    def named(context):
        return RunRequest(job_name="second")

    assert named.evaluate_tick(build_sensor_context()).run_requests[0].job_name == "second"


def test_user_errors_are_wrapped_with_the_sensor_name():
    @sensor(job=first)
    def broken(context):
        raise KeyError("missing")

    with pytest.raises(DagsterUserCodeExecutionError, match="Error occurred during the execution of evaluation_fn for sensor broken") as info:
        broken.evaluate_tick(build_sensor_context())
    assert isinstance(info.value.__cause__, KeyError)


def test_context_checks():
    with pytest.raises(DagsterInvalidInvocationError, match="expected a SensorEvaluationContext"):
        files_sensor.evaluate_tick("context")
    with pytest.raises(DagsterInvalidInvocationError, match=r"expected a context argument.*build_sensor_context"):
        files_sensor()
    with pytest.raises(DagsterInvariantViolationError, match="update_cursor takes a string"):
        build_sensor_context().update_cursor(5)
    with pytest.raises(DagsterInvariantViolationError, match="A sensor cursor must be a string"):
        build_sensor_context(cursor=5)


def test_sensor_resources_come_from_the_context():
    @resource
    def bucket(_):
        return ["a.csv", "b.csv"]

    @sensor(job=first)
    def listing(context, bucket):
        return [RunRequest(run_key=name) for name in bucket]

    assert listing.required_resource_keys == {"bucket"}
    with build_sensor_context(resources={"bucket": bucket}) as context:
        assert [r.run_key for r in listing(context)] == ["a.csv", "b.csv"]
    with pytest.raises(DagsterInvalidInvocationError, match="Resource with key 'bucket' required by sensor 'listing' was not provided"):
        listing.evaluate_tick(build_sensor_context())


def test_context_exposes_definitions_and_its_repository():
    from oprun import Definitions

    defs = Definitions(jobs=[first])
    context = build_sensor_context(definitions=defs, sensor_name="s")
    assert context.repository_def.job_names == ["first"]
    assert context.definitions is defs and context.sensor_name == "s"


# --- run status sensors --------------------------------------------------------------


def test_run_status_sensor_called_directly_with_its_context():
    @run_status_sensor(run_status=DagsterRunStatus.SUCCESS, request_job=second)
    def after_success(context: RunStatusSensorContext):
        return RunRequest(run_key=context.dagster_run.run_id)

    instance = DagsterInstance.ephemeral()
    result = first.execute_in_process(instance=instance)
    run = instance.get_run_by_id(result.run_id)
    event = instance.all_logs(run.run_id, of_type=DagsterEventType.RUN_SUCCESS)[-1].dagster_event
    context = build_run_status_sensor_context("after_success", event, instance, run)
    assert after_success(context) == RunRequest(run_key=run.run_id)
    assert after_success.job_name == "second"
    with pytest.raises(DagsterInvalidInvocationError, match="expected a RunStatusSensorContext"):
        after_success(build_sensor_context())


def test_run_failure_sensor_sees_the_failure_and_its_steps():
    @run_failure_sensor
    def on_failure(context: RunFailureSensorContext):
        return SkipReason(f"{context.dagster_run.job_name}: {[e.step_key for e in context.get_step_failure_events()]}")

    assert on_failure.name == "on_failure" and on_failure.run_status == DagsterRunStatus.FAILURE
    instance = DagsterInstance.ephemeral()
    result = fragile.execute_in_process(instance=instance, raise_on_error=False)
    run = instance.get_run_by_id(result.run_id)
    event = instance.all_logs(run.run_id, of_type=DagsterEventType.RUN_FAILURE)[-1].dagster_event
    context = build_run_status_sensor_context("on_failure", event, instance, run).for_run_failure()
    assert context.failure_event.event_type == DagsterEventType.RUN_FAILURE
    assert on_failure(context) == SkipReason("fragile: ['boom']")


def test_run_failure_sensor_ticks_process_each_new_failed_run_once():
    seen = []

    @run_failure_sensor(monitored_jobs=[fragile], request_job=second)
    def retry_elsewhere(context):
        seen.append(context.dagster_run.job_name)
        return RunRequest(run_key=context.dagster_run.run_id)

    instance = DagsterInstance.ephemeral()
    first_tick = retry_elsewhere.evaluate_tick(build_sensor_context(instance=instance))
    assert first_tick.run_requests == [] and "starts watching" in first_tick.skip_reason.skip_message
    failed = fragile.execute_in_process(instance=instance, raise_on_error=False)
    first.execute_in_process(instance=instance)  # succeeds: not a failure
    second_tick = retry_elsewhere.evaluate_tick(build_sensor_context(instance=instance, cursor=first_tick.cursor))
    assert second_tick.run_requests == [RunRequest(run_key=failed.run_id, job_name="second", tags={"dagster/sensor_name": "retry_elsewhere"})]
    assert seen == ["fragile"]
    third_tick = retry_elsewhere.evaluate_tick(build_sensor_context(instance=instance, cursor=second_tick.cursor))
    assert third_tick.run_requests == [] and third_tick.skip_reason is not None
    assert seen == ["fragile"]
    assert json.loads(third_tick.cursor)["run_ids"] == [failed.run_id]


def test_run_status_sensor_only_watches_monitored_jobs():
    @run_status_sensor(run_status=DagsterRunStatus.SUCCESS, monitored_jobs=["second"])
    def watch_second(context):
        raise AssertionError("first is not monitored")

    instance = DagsterInstance.ephemeral()
    cursor = watch_second.evaluate_tick(build_sensor_context(instance=instance)).cursor
    first.execute_in_process(instance=instance)
    result = watch_second.evaluate_tick(build_sensor_context(instance=instance, cursor=cursor))
    assert result.run_requests == [] and result.skip_reason is not None


def test_run_status_sensor_errors():
    with pytest.raises(DagsterInvalidDefinitionError, match="run_status must be a DagsterRunStatus"):
        @run_status_sensor(run_status="SUCCESS")
        def stringly(context):
            return None

    with pytest.raises(DagsterInvalidDefinitionError, match="monitor_all_code_locations and monitored_jobs cannot both be set"):
        @run_status_sensor(run_status=DagsterRunStatus.SUCCESS, monitored_jobs=[first], monitor_all_code_locations=True)
        def everywhere(context):
            return None

    @run_status_sensor(run_status=DagsterRunStatus.SUCCESS)
    def on_success(context):
        raise RuntimeError("sensor bug")

    instance = DagsterInstance.ephemeral()
    with pytest.raises(DagsterInvariantViolationError, match="has cursor 'garbage', which it did not write"):
        on_success.evaluate_tick(build_sensor_context(instance=instance, cursor="garbage"))
    cursor = on_success.evaluate_tick(build_sensor_context(instance=instance)).cursor
    first.execute_in_process(instance=instance)
    with pytest.raises(DagsterUserCodeExecutionError, match="run status sensor on_success for run .*RuntimeError: sensor bug"):
        on_success.evaluate_tick(build_sensor_context(instance=instance, cursor=cursor))


def test_sensor_context_is_a_sensor_evaluation_context():
    assert isinstance(build_sensor_context(), SensorEvaluationContext)


def test_reserved_words_are_not_sensor_names():
    with pytest.raises(DagsterInvalidDefinitionError, match='"config" is not a valid sensor name in oprun. It conflicts'):
        SensorDefinition(name="config", evaluation_fn=lambda context: None)
