"""Schedules: cron validation, fire times across DST, evaluation, @schedule,
direct invocation, and schedules built from partitioned jobs."""

import re
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from oprun import (
    DagsterInvalidDefinitionError,
    DagsterInvalidInvocationError,
    DagsterInvalidPropertyError,
    DagsterInvariantViolationError,
    DagsterUserCodeExecutionError,
    DailyPartitionsDefinition,
    DefaultScheduleStatus,
    RunConfig,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SkipReason,
    StaticPartitionsDefinition,
    build_schedule_context,
    build_schedule_from_partitioned_job,
    graph,
    job,
    op,
    resource,
    schedule,
)
from oprun.definitions.automation.cron import cron_problem, is_valid_cron_string

NY = ZoneInfo("America/New_York")


@op
def ping() -> str:
    return "pong"


@job
def nightly():
    ping()


@graph
def nightly_graph():
    ping()


def _context(when=datetime(2024, 5, 1, tzinfo=timezone.utc), **kwargs):
    return build_schedule_context(scheduled_execution_time=when, **kwargs)


# --- cron validation ---------------------------------------------------------------


@pytest.mark.parametrize(
    "expression",
    ["0 0 * * *", "*/15 * * * *", "0 9-17/2 * * MON-FRI", "0 0 1,15 JAN,jul *", "30 2 * * 7", "@daily", "@Hourly",
     "0 0 L * *", "0 0 * * 5#2", "0 0 * * 5L", "0 0 ? * *", "5/10 * * * *", "0 0 29 2 *"],
)
def test_valid_cron_expressions(expression):
    assert is_valid_cron_string(expression)


@pytest.mark.parametrize(
    "expression, problem",
    [
        ("* * * *", "expected 5 fields"),
        ("0 0 * * * *", "expected 5 fields"),
        ("60 * * * *", "minute value 60 is out of range 0-59"),
        ("* 24 * * *", "hour value 24 is out of range 0-23"),
        ("* * 0 * *", "day of month value 0 is out of range 1-31"),
        ("* * * 13 *", "month value 13 is out of range 1-12"),
        ("* * * * 8", "day of week value 8 is out of range 0-7"),
        ("*/0 * * * *", "step after '/' must be a positive whole number"),
        ("5-1 * * * *", "runs backwards"),
        ("1,,2 * * * *", "empty list item"),
        ("0 0 * FOO *", "month value 'FOO' is not a number"),
        ("0 0 31 2 *", "never occurs"),
        ("0 0 * * 1#6", "must be 1 to 5"),
        ("@fortnightly", "expected 5 fields"),
        ("? * * * *", "minute value '?' is not a number"),
    ],
)
def test_invalid_cron_expressions_say_why(expression, problem):
    assert problem in cron_problem(expression)


def test_bad_cron_string_fails_when_the_schedule_is_built():
    message = (
        "Found invalid cron schedule '0 25 * * *' for schedule 'bad'. oprun recognizes standard cron expressions "
        "consisting of 5 fields. (hour value 25 is out of range 0-23)"
    )
    with pytest.raises(DagsterInvalidDefinitionError, match=re.escape(message)):
        ScheduleDefinition(name="bad", job=nightly, cron_schedule="0 25 * * *")


def test_bad_cron_in_a_list_is_named():
    with pytest.raises(DagsterInvalidDefinitionError, match=re.escape("Found invalid cron schedule 'nope'")):
        ScheduleDefinition(job=nightly, cron_schedule=["0 0 * * *", "nope"])


def test_empty_cron_list_is_rejected():
    with pytest.raises(DagsterInvalidDefinitionError, match="non-empty list of cron strings"):
        ScheduleDefinition(job=nightly, cron_schedule=[])


# --- construction ------------------------------------------------------------------


def test_name_defaults_from_the_job_and_attributes_are_kept():
    s = ScheduleDefinition(job=nightly, cron_schedule="0 0 * * *", description="every night", tags={"team": "data"})
    assert s.name == "nightly_schedule"
    assert s.job_name == "nightly"
    assert s.job is nightly
    assert s.cron_schedule == "0 0 * * *"
    assert s.execution_timezone is None
    assert s.default_status == DefaultScheduleStatus.STOPPED
    assert s.description == "every night"
    assert s.tags == {"team": "data"}


def test_job_name_target_and_target_argument():
    by_name = ScheduleDefinition(job_name="nightly", cron_schedule="@daily")
    assert by_name.name == "nightly_schedule" and by_name.job_name == "nightly"
    with pytest.raises(DagsterInvalidDefinitionError, match="names its job"):
        by_name.job  # noqa: B018
    assert ScheduleDefinition(target=nightly_graph, cron_schedule="@daily").job_name == "nightly_graph"
    assert ScheduleDefinition(target="nightly", cron_schedule="@daily").job_name == "nightly"


def test_more_than_one_target_is_an_error():
    message = "Attempted to provide more than one of 'job', 'job_name', and 'target' params to ScheduleDefinition"
    with pytest.raises(DagsterInvalidDefinitionError, match=re.escape(message)):
        ScheduleDefinition(job=nightly, job_name="nightly", cron_schedule="@daily")
    with pytest.raises(DagsterInvalidDefinitionError, match=re.escape(message)):
        ScheduleDefinition(job=nightly, target=nightly, cron_schedule="@daily")


def test_no_target_is_an_error():
    with pytest.raises(DagsterInvalidDefinitionError, match="needs a target: pass job=, job_name= or target="):
        ScheduleDefinition(name="lonely", cron_schedule="@daily")


def test_asset_like_target_is_rejected():
    with pytest.raises(DagsterInvalidDefinitionError, match="asset selections are not supported"):
        ScheduleDefinition(target=42, cron_schedule="@daily")


def test_invalid_name_is_rejected():
    with pytest.raises(DagsterInvalidDefinitionError, match=re.escape('"my schedule" is not a valid schedule name in oprun. Names must be in regex ^[A-Za-z0-9_]+$.')):
        ScheduleDefinition(name="my schedule", job=nightly, cron_schedule="@daily")


def test_unknown_timezone_is_an_error_with_a_suggestion():
    with pytest.raises(DagsterInvalidDefinitionError, match=r"Invalid execution timezone America/New_Yrok for s.*Did you mean 'America/New_York'"):
        ScheduleDefinition(name="s", job=nightly, cron_schedule="@daily", execution_timezone="America/New_Yrok")


def test_execution_fn_cannot_be_combined_with_run_config_tags_or_should_execute():
    message = "Attempted to provide both execution_fn and individual run_config/tags arguments to ScheduleDefinition"
    for extra in ({"run_config": {}}, {"tags_fn": lambda c: {}}, {"should_execute": lambda c: True}, {"tags": {"a": "b"}}):
        with pytest.raises(DagsterInvalidDefinitionError, match=re.escape(message)):
            ScheduleDefinition(job=nightly, cron_schedule="@daily", execution_fn=lambda c: [], **extra)


def test_run_config_fn_and_run_config_together_is_an_error():
    message = "Attempted to provide both run_config_fn and run_config as arguments to ScheduleDefinition 'nightly_schedule'"
    with pytest.raises(DagsterInvalidDefinitionError, match=re.escape(message)):
        ScheduleDefinition(job=nightly, cron_schedule="@daily", run_config={"a": 1}, run_config_fn=lambda c: {})


def test_tags_fn_and_tags_together_is_an_error():
    with pytest.raises(DagsterInvalidDefinitionError, match="both tags_fn and tags"):
        ScheduleDefinition(job=nightly, cron_schedule="@daily", tags={"a": "b"}, tags_fn=lambda c: {})


def test_bad_default_status_is_an_error():
    with pytest.raises(DagsterInvalidDefinitionError, match="default_status must be a DefaultScheduleStatus"):
        ScheduleDefinition(job=nightly, cron_schedule="@daily", default_status="RUNNING")


def test_unstorable_tag_is_an_error():
    with pytest.raises(DagsterInvalidDefinitionError, match="tag 'when' has value"):
        ScheduleDefinition(job=nightly, cron_schedule="@daily", tags={"when": object()})


# --- fire times --------------------------------------------------------------------


def test_fire_times_in_utc_by_default():
    s = ScheduleDefinition(job=nightly, cron_schedule="0 6 * * *")
    times = s.next_fire_times(datetime(2024, 1, 1, 6, 0, tzinfo=timezone.utc), 2)
    assert times == [datetime(2024, 1, 2, 6, tzinfo=timezone.utc), datetime(2024, 1, 3, 6, tzinfo=timezone.utc)]


def test_a_list_of_crons_fires_on_the_union():
    s = ScheduleDefinition(job=nightly, cron_schedule=["0 9 * * *", "30 12 * * *", "0 9 * * 1"])
    times = s.next_fire_times(datetime(2024, 1, 1, tzinfo=timezone.utc), 4)  # Monday
    assert [t.strftime("%d %H:%M") for t in times] == ["01 09:00", "01 12:30", "02 09:00", "02 12:30"]


def _wall(times):
    return [(t.strftime("%m-%d %H:%M"), t.utcoffset().total_seconds() / 3600) for t in times]


def test_daily_time_missing_when_clocks_go_forward_runs_at_the_first_time_that_exists():
    s = ScheduleDefinition(job=nightly, cron_schedule="30 2 * * *", execution_timezone="America/New_York")
    times = s.next_fire_times(datetime(2024, 3, 9, 12, tzinfo=NY), 3)
    assert _wall(times) == [("03-10 03:00", -4), ("03-11 02:30", -4), ("03-12 02:30", -4)]


def test_daily_time_repeated_when_clocks_go_back_runs_once_at_the_second_occurrence():
    s = ScheduleDefinition(job=nightly, cron_schedule="30 1 * * *", execution_timezone="America/New_York")
    times = s.next_fire_times(datetime(2024, 11, 2, 12, tzinfo=NY), 2)
    assert _wall(times) == [("11-03 01:30", -5), ("11-04 01:30", -5)]


def test_hourly_schedule_runs_once_an_hour_across_both_changes():
    s = ScheduleDefinition(job=nightly, cron_schedule="30 * * * *", execution_timezone="America/New_York")
    spring = s.next_fire_times(datetime(2024, 3, 10, 0, tzinfo=NY), 3)
    assert _wall(spring) == [("03-10 00:30", -5), ("03-10 01:30", -5), ("03-10 03:30", -4)]
    autumn = s.next_fire_times(datetime(2024, 11, 3, 0, tzinfo=NY), 4)
    assert _wall(autumn) == [("11-03 00:30", -4), ("11-03 01:30", -4), ("11-03 01:30", -5), ("11-03 02:30", -5)]
    # Timestamps, not datetime subtraction: Python subtracts same-zone datetimes by wall time.
    gaps = [b.timestamp() - a.timestamp() for a, b in zip(autumn, autumn[1:])]
    assert gaps == [3600, 3600, 3600]


def test_fire_times_from_inside_the_repeated_hour():
    s = ScheduleDefinition(job=nightly, cron_schedule="30 * * * *", execution_timezone="America/New_York")
    first_pass = datetime(2024, 11, 3, 1, 45, tzinfo=NY)  # fold=0: 1:45 EDT
    assert _wall(s.next_fire_times(first_pass, 2)) == [("11-03 01:30", -5), ("11-03 02:30", -5)]
    second_pass = datetime(2024, 11, 3, 1, 45, fold=1, tzinfo=NY)
    assert _wall(s.next_fire_times(second_pass, 1)) == [("11-03 02:30", -5)]


def test_naive_start_is_read_in_the_schedule_timezone_and_results_are_aware():
    s = ScheduleDefinition(job=nightly, cron_schedule="0 9 * * *", execution_timezone="Europe/Paris")
    (first,) = s.next_fire_times(datetime(2024, 6, 1, 8, 0), 1)
    assert first == datetime(2024, 6, 1, 9, 0, tzinfo=ZoneInfo("Europe/Paris"))
    assert first.utcoffset().total_seconds() == 7200


def test_day_of_month_and_weekday_either_match_when_both_are_given():
    s = ScheduleDefinition(job=nightly, cron_schedule="0 0 13 * FRI")
    days = [t.day for t in s.next_fire_times(datetime(2024, 9, 1, tzinfo=timezone.utc), 5)]
    assert days == [6, 13, 20, 27, 4]  # Fridays, and the 13th (also a Friday in Sept 2024), then Oct 4


def test_last_day_and_nth_weekday():
    last = ScheduleDefinition(job=nightly, cron_schedule="0 0 L * *")
    assert [t.day for t in last.next_fire_times(datetime(2024, 1, 5, tzinfo=timezone.utc), 3)] == [31, 29, 31]
    second_friday = ScheduleDefinition(job=nightly, cron_schedule="0 0 * * 5#2")
    assert [t.day for t in second_friday.next_fire_times(datetime(2024, 1, 1, tzinfo=timezone.utc), 3)] == [12, 9, 8]


# --- evaluation --------------------------------------------------------------------


def test_plain_schedule_requests_one_run_with_its_config_and_tags():
    s = ScheduleDefinition(job=nightly, cron_schedule="@daily", run_config={"ops": {"ping": {}}}, tags={"k": "v"})
    assert s.evaluate_tick(_context()).run_requests == [
        RunRequest(run_key=None, run_config={"ops": {"ping": {}}}, tags={"k": "v", "dagster/schedule_name": "nightly_schedule"}, job_name="nightly")
    ]


def test_run_config_may_be_a_run_config_object():
    s = ScheduleDefinition(job=nightly, cron_schedule="@daily", run_config=RunConfig(ops={"ping": {"config": {"x": 1}}}))
    (request,) = s.evaluate_tick(_context()).run_requests
    assert request.run_config == {"ops": {"ping": {"config": {"x": 1}}}}


def test_run_config_fn_and_tags_fn_receive_the_context():
    s = ScheduleDefinition(
        job=nightly,
        cron_schedule="@daily",
        run_config_fn=lambda ctx: {"ops": {"ping": {"config": {"date": ctx.scheduled_execution_time.strftime("%Y-%m-%d")}}}},
        tags_fn=lambda ctx: {"date": ctx.scheduled_execution_time.strftime("%Y-%m-%d")},
    )
    (request,) = s.evaluate_tick(_context()).run_requests
    assert request.run_config == {"ops": {"ping": {"config": {"date": "2024-05-01"}}}}
    assert request.tags == {"date": "2024-05-01", "dagster/schedule_name": "nightly_schedule"}


def test_should_execute_false_skips_with_dagsters_message():
    s = ScheduleDefinition(name="weekday", job=nightly, cron_schedule="@daily", should_execute=lambda ctx: False)
    assert s.evaluate_tick(_context()).skip_message == "should_execute function for weekday returned false."


def test_execution_fn_results_are_checked_against_the_target():
    s = ScheduleDefinition(job=nightly, cron_schedule="@daily", execution_fn=lambda ctx: [RunRequest(run_key="a")])
    assert s.evaluate_tick(_context()).run_requests == [RunRequest(run_key="a", job_name="nightly", tags={"dagster/schedule_name": "nightly_schedule"})]
    other = ScheduleDefinition(job=nightly, cron_schedule="@daily", execution_fn=lambda ctx: RunRequest(job_name="other"))
    with pytest.raises(DagsterInvariantViolationError, match="targets job 'nightly' but returned a RunRequest for job 'other'"):
        other.evaluate_tick(_context())


def test_user_errors_in_schedule_functions_are_wrapped_with_the_schedule_name():
    def broken(ctx):
        raise ValueError("no config today")

    s = ScheduleDefinition(name="fragile", job=nightly, cron_schedule="@daily", run_config_fn=broken)
    with pytest.raises(DagsterUserCodeExecutionError, match="Error occurred during the execution of run_config_fn for schedule fragile: ValueError: no config today") as info:
        s.evaluate_tick(_context())
    assert isinstance(info.value.user_exception, ValueError)


def test_evaluate_tick_needs_a_schedule_context():
    s = ScheduleDefinition(job=nightly, cron_schedule="@daily")
    with pytest.raises(DagsterInvalidInvocationError, match="expected a ScheduleEvaluationContext"):
        s.evaluate_tick(object())


# --- @schedule ---------------------------------------------------------------------


@schedule(cron_schedule="0 6 * * *", job=nightly, tags={"origin": "schedule"})
def morning(context: ScheduleEvaluationContext):
    return {"ops": {"ping": {"config": {"day": context.scheduled_execution_time.day}}}}


def test_decorated_schedule_returns_config_and_becomes_one_request_with_the_tags():
    assert morning.name == "morning"
    assert morning(_context()) == {"ops": {"ping": {"config": {"day": 1}}}}
    assert morning.evaluate_tick(_context()).run_requests == [
        RunRequest(run_config={"ops": {"ping": {"config": {"day": 1}}}}, tags={"origin": "schedule", "dagster/schedule_name": "morning"}, job_name="nightly")
    ]


def test_decorated_schedule_may_return_requests_a_generator_a_skip_or_none():
    @schedule(cron_schedule="@hourly", job=nightly)
    def many(context):
        for n in range(3):
            yield RunRequest(run_key=str(n))

    assert [r.run_key for r in many.evaluate_tick(_context()).run_requests] == ["0", "1", "2"]

    @schedule(cron_schedule="@hourly", job=nightly)
    def skipping(context):
        return SkipReason("holiday")

    assert skipping.evaluate_tick(_context()).skip_message == "holiday"

    @schedule(cron_schedule="@hourly", job=nightly)
    def nothing(context):
        return None

    assert nothing.evaluate_tick(_context()).skip_message == "Schedule function returned an empty result"


def test_decorated_schedule_with_a_bad_return_value_says_what_is_allowed():
    @schedule(cron_schedule="@hourly", job=nightly)
    def confused(context):
        return 42

    with pytest.raises(DagsterInvariantViolationError, match="a schedule function must return a run config dict"):
        confused.evaluate_tick(_context())

    @schedule(cron_schedule="@hourly", job=nightly)
    def mixed(context):
        return [RunRequest(), SkipReason("no")]

    with pytest.raises(DagsterInvariantViolationError, match="expected a single SkipReason or one or more RunRequests"):
        mixed.evaluate_tick(_context())


def test_decorated_schedule_should_execute_still_applies():
    @schedule(cron_schedule="@hourly", job=nightly, should_execute=lambda ctx: False)
    def gated(context):
        return {}

    assert gated.evaluate_tick(_context()).skip_message == "should_execute function for gated returned false."


def test_schedule_without_context_parameter_can_be_called_bare():
    @schedule(cron_schedule="@hourly", job_name="nightly", execution_timezone="Europe/Paris")
    def constant():
        return {"ops": {}}

    assert constant() == {"ops": {}}
    assert constant.execution_timezone == "Europe/Paris"


def test_schedule_needing_a_context_called_without_one_says_how_to_build_it():
    with pytest.raises(DagsterInvalidInvocationError, match=r"expected a context argument \('context'\).*build_schedule_context"):
        morning()


def test_plain_schedule_definition_cannot_be_called():
    s = ScheduleDefinition(job=nightly, cron_schedule="@daily")
    with pytest.raises(DagsterInvalidInvocationError, match="only supported for schedules created via the @schedule decorator"):
        s(_context())


def test_scheduled_execution_time_absent_is_a_clear_error():
    with pytest.raises(DagsterInvalidPropertyError, match="no scheduled_execution_time"):
        build_schedule_context().scheduled_execution_time  # noqa: B018


def test_schedule_resources_come_from_the_context():
    @resource
    def greeting(_):
        return "hello"

    @schedule(cron_schedule="@hourly", job=nightly)
    def with_resource(context, greeting):
        return {"ops": {"ping": {"config": {"word": greeting}}}}

    assert with_resource.required_resource_keys == {"greeting"}
    with build_schedule_context(resources={"greeting": greeting}) as context:
        assert with_resource(context) == {"ops": {"ping": {"config": {"word": "hello"}}}}
        assert context.resources.greeting == "hello"
    with pytest.raises(DagsterInvalidInvocationError, match="Resource with key 'greeting' required by schedule 'with_resource' was not provided"):
        with_resource(build_schedule_context())


def test_resource_keys_both_in_decorator_and_arguments_is_an_error():
    with pytest.raises(DagsterInvalidDefinitionError, match="cannot specify resource requirements both"):
        @schedule(cron_schedule="@hourly", job=nightly, required_resource_keys={"a"})
        def both(context, a):
            return {}


def test_schedule_decorator_needs_a_cron_string():
    with pytest.raises(DagsterInvalidDefinitionError, match="@schedule needs a cron schedule"):
        @schedule
        def missing(context):
            return {}


def test_resources_of_context_without_resources_name_the_missing_key():
    from oprun import DagsterUnknownResourceError

    with pytest.raises(DagsterUnknownResourceError, match="Unknown resource `db`"):
        build_schedule_context().resources.db  # noqa: B018


# --- partitioned jobs --------------------------------------------------------------


def test_schedule_from_daily_partitioned_job_requests_the_latest_complete_partition():
    daily = DailyPartitionsDefinition(start_date="2024-01-01", hour_offset=3, timezone="America/New_York")

    @job(partitions_def=daily)
    def partitioned():
        ping()

    s = build_schedule_from_partitioned_job(partitioned, minute_of_hour=15)
    assert s.name == "partitioned_schedule"
    assert s.cron_schedule == "15 3 * * *"
    assert s.execution_timezone == "America/New_York"
    when = datetime(2024, 1, 5, 3, 15, tzinfo=NY)
    # As in Dagster: the partition key is the run key, and the partition's tags are filled in.
    assert s.evaluate_tick(_context(when)).run_requests == [RunRequest(
        run_key="2024-01-04", partition_key="2024-01-04", job_name="partitioned",
        tags={"dagster/partition": "2024-01-04", "dagster/partition_set": "partitioned_partition_set", "dagster/schedule_name": "partitioned_schedule"},
    )]
    too_early = datetime(2024, 1, 1, 3, 15, tzinfo=NY)
    assert s.evaluate_tick(_context(too_early)).skip_message


def test_schedule_from_static_partitioned_job_requests_every_partition():
    regions = StaticPartitionsDefinition(["eu", "us"])

    @job(partitions_def=regions)
    def by_region():
        ping()

    s = build_schedule_from_partitioned_job(by_region, cron_schedule="0 1 * * *", tags={"k": "v"})
    assert [(r.run_key, r.tags["k"]) for r in s.evaluate_tick(_context()).run_requests] == [("eu", "v"), ("us", "v")]
    with pytest.raises(DagsterInvalidDefinitionError, match="pass cron_schedule= to say when to run them"):
        build_schedule_from_partitioned_job(by_region)
    with pytest.raises(DagsterInvalidDefinitionError, match="only apply to time-partitioned jobs"):
        build_schedule_from_partitioned_job(by_region, cron_schedule="@daily", hour_of_day=3)


def test_schedule_from_unpartitioned_or_misconfigured_jobs_is_an_error():
    with pytest.raises(DagsterInvalidDefinitionError, match="job 'nightly' is not partitioned"):
        build_schedule_from_partitioned_job(nightly)
    daily = DailyPartitionsDefinition(start_date="2024-01-01")

    @job(partitions_def=daily)
    def partitioned():
        ping()

    with pytest.raises(DagsterInvalidDefinitionError, match="time partitions, which set the cadence"):
        build_schedule_from_partitioned_job(partitioned, cron_schedule="@hourly")
    with pytest.raises(DagsterInvalidDefinitionError, match="execution_timezone 'Europe/Paris' conflicts"):
        build_schedule_from_partitioned_job(partitioned, execution_timezone="Europe/Paris")


# --- RunRequest and SkipReason ------------------------------------------------------


def test_run_request_normalizes_config_and_tags():
    request = RunRequest(run_key="k", run_config=RunConfig(ops={"a": {"config": {"x": 1}}}), tags={"n": 1})
    assert request.run_config == {"ops": {"a": {"config": {"x": 1}}}}
    assert request.tags == {"n": "1"}
    with pytest.raises(DagsterInvariantViolationError, match="run_config must be a dict or a RunConfig"):
        RunRequest(run_config="ops: {}")
    with pytest.raises(DagsterInvariantViolationError, match="run_key must be a string"):
        RunRequest(run_key=5)
    with pytest.raises(DagsterInvalidDefinitionError, match="asset_selection is not supported"):
        RunRequest(asset_selection=["a"])
    with pytest.raises(DagsterInvariantViolationError, match="skip_message must be a string"):
        SkipReason(3)
