"""Behaviours that Dagster's documentation examples for schedules, sensors,
partitions and logging rely on, each checked with a small example of our own."""

from __future__ import annotations

import logging
import smtplib
from typing import Any
from unittest import mock

import pytest

import oprun
from oprun import (
    DagsterInstance,
    DagsterRunStatus,
    Field,
    build_init_logger_context,
    build_run_status_sensor_context,
    job,
    logger,
    make_email_on_run_failure_sensor,
    op,
    run_failure_sensor,
    run_status_sensor,
)
from oprun.errors import DagsterInvalidConfigError, DagsterInvalidInvocationError


@op
def _breaks() -> None:
    raise ValueError("the pump broke")


@job
def pump_job() -> None:
    _breaks()


@op
def _works() -> int:
    return 3


@job
def tidy_job() -> None:
    _works()


@logger({"level": Field(str, is_required=False, default_value="WARNING"), "label": Field(str, is_required=False, default_value="plain")})
def labelled_logger(init_context: Any) -> logging.Logger:
    # A fresh logger, not one registered with logging (as the docs' example does).
    made = logging.Logger(init_context.logger_config["label"], level=init_context.logger_config["level"])  # noqa: LOG001
    made.built_by = init_context.logger_def  # type: ignore[attr-defined]
    return made


# --- loggers invoked directly, as the logging docs' tests do ---------------------------------


def test_a_logger_invoked_with_none_gets_its_config_defaults() -> None:
    built = labelled_logger(None)
    assert built.name == "plain"
    assert built.level == logging.WARNING
    assert built.built_by is labelled_logger  # type: ignore[attr-defined]


def test_a_logger_invoked_with_build_init_logger_context_merges_defaults() -> None:
    built = labelled_logger(build_init_logger_context(logger_config={"label": "mine"}))
    assert (built.name, built.level) == ("mine", logging.WARNING)


def test_a_logger_invoked_with_bad_config_raises_a_config_error() -> None:
    with pytest.raises(DagsterInvalidConfigError):
        labelled_logger(build_init_logger_context(logger_config={"label": 3}))


def test_a_logger_invoked_without_a_context_or_with_two_raises() -> None:
    with pytest.raises(DagsterInvalidInvocationError):
        labelled_logger()
    with pytest.raises(DagsterInvalidInvocationError):
        labelled_logger(None, None)


def test_build_init_logger_context_keeps_the_job() -> None:
    context = build_init_logger_context(job_def=tidy_job)
    assert context.job_def is tidy_job
    assert context.logger_config is None


# --- run status sensors tested directly ------------------------------------------------------


def test_run_status_sensor_tested_with_run_events_of_an_in_process_run() -> None:
    seen: list[str] = []

    @run_failure_sensor
    def note_failure(context: oprun.RunFailureSensorContext) -> None:
        seen.append(f"{context.dagster_run.job_name}: {context.failure_event.message}")

    @run_status_sensor(run_status=DagsterRunStatus.SUCCESS)
    def note_success(context: oprun.RunStatusSensorContext) -> None:
        seen.append(f"{context.dagster_run.job_name} ok")

    instance = DagsterInstance.ephemeral()
    failed = pump_job.execute_in_process(instance=instance, raise_on_error=False)
    note_failure(
        build_run_status_sensor_context(
            sensor_name="note_failure", dagster_instance=instance, dagster_run=failed.dagster_run,
            dagster_event=failed.get_run_failure_event(),
        ).for_run_failure()
    )
    passed = tidy_job.execute_in_process(instance=instance)
    note_success(
        build_run_status_sensor_context(
            sensor_name="note_success", dagster_instance=instance, dagster_run=passed.dagster_run,
            dagster_event=passed.get_run_success_event(),
        )
    )
    assert seen[0].startswith("pump_job: ")
    assert seen[1] == "tidy_job ok"


def test_get_run_event_raises_when_the_run_has_no_such_event() -> None:
    passed = tidy_job.execute_in_process()
    assert passed.get_run_success_event().event_type_value == "RUN_SUCCESS"
    with pytest.raises(oprun.DagsterError):
        passed.get_run_failure_event()


def test_run_status_sensors_accept_job_and_repository_selectors() -> None:
    @run_failure_sensor(
        monitored_jobs=[
            oprun.JobSelector(location_name="elsewhere", repository_name="their_repo", job_name="pump_job"),
            oprun.RepositorySelector(location_name="elsewhere", repository_name="other_repo"),
        ]
    )
    def watches_elsewhere(context: Any) -> None:
        pass

    @run_status_sensor(monitor_all_repositories=True, run_status=DagsterRunStatus.SUCCESS)
    def watches_everything(context: Any) -> None:
        pass

    selector = oprun.JobSelector(location_name="here", job_name="tidy_job")
    assert (selector.location_name, selector.repository_name, selector.job_name) == ("here", "__repository__", "tidy_job")
    assert oprun.RepositorySelector("a", "b") == oprun.RepositorySelector(location_name="a", repository_name="b")
    assert oprun.CodeLocationSelector("loc").to_repository_selector() == oprun.RepositorySelector("loc", "__repository__")
    repo = oprun.Definitions(sensors=[watches_elsewhere, watches_everything])
    assert repo.get_sensor_def("watches_elsewhere") is watches_elsewhere
    with pytest.raises(oprun.DagsterInvariantViolationError):
        oprun.JobSelector(location_name="here")


# --- the email alert sensor ------------------------------------------------------------------


def test_make_email_on_run_failure_sensor_sends_one_mail_per_failed_run() -> None:
    alert = make_email_on_run_failure_sensor(
        email_from="robot@example.com", email_password="pw", email_to=["a@example.com", "b@example.com"],
        smtp_type="STARTTLS", email_subject_fn=lambda ctx: f"down: {ctx.dagster_run.job_name}",
        webserver_base_url="http://ui.example",
    )
    assert alert.name == "email_on_run_failure"
    instance = DagsterInstance.ephemeral()
    failed = pump_job.execute_in_process(instance=instance, raise_on_error=False)
    context = build_run_status_sensor_context(
        sensor_name=alert.name, dagster_instance=instance, dagster_run=failed.dagster_run,
        dagster_event=failed.get_run_failure_event(),
    ).for_run_failure()
    with mock.patch.object(smtplib, "SMTP") as smtp:
        alert(context)
    server = smtp.return_value.__enter__.return_value
    smtp.assert_called_once_with("smtp.gmail.com", 587)
    server.login.assert_called_once_with("robot@example.com", "pw")
    sender, recipients, message = server.sendmail.call_args.args
    assert (sender, recipients) == ("robot@example.com", ["a@example.com", "b@example.com"])
    assert "Subject: down: pump_job" in message
    assert f"http://ui.example/runs/{failed.run_id}" in message


def test_make_email_on_run_failure_sensor_refuses_an_unknown_smtp_type() -> None:
    alert = make_email_on_run_failure_sensor(
        email_from="robot@example.com", email_password="pw", email_to=["a@example.com"], smtp_type="PIGEON",
        name="pigeon_alert",
    )
    assert alert.name == "pigeon_alert"
    instance = DagsterInstance.ephemeral()
    failed = pump_job.execute_in_process(instance=instance, raise_on_error=False)
    context = build_run_status_sensor_context(
        sensor_name=alert.name, dagster_instance=instance, dagster_run=failed.dagster_run,
        dagster_event=failed.get_run_failure_event(),
    )
    with pytest.raises(oprun.DagsterInvalidDefinitionError, match="PIGEON"):
        alert(context)


# --- evaluate_tick results, as Dagster's ScheduleExecutionData / SensorExecutionData ------------


def test_schedule_evaluate_tick_gives_run_requests_and_a_skip_message() -> None:
    @oprun.schedule(cron_schedule="0 6 * * *", job=tidy_job)
    def two_shifts(context: oprun.ScheduleEvaluationContext) -> Any:
        for shift in ("early", "late"):
            yield oprun.RunRequest(run_key=shift, tags={"shift": shift})

    @oprun.schedule(cron_schedule="0 6 * * *", job=tidy_job)
    def day_off(context: oprun.ScheduleEvaluationContext) -> Any:
        return oprun.SkipReason("sunday")

    @oprun.schedule(cron_schedule="0 6 * * *", job=tidy_job)
    def says_nothing(context: oprun.ScheduleEvaluationContext) -> None:
        return None

    context = oprun.build_schedule_context()
    ticked = two_shifts.evaluate_tick(context)
    assert [r.run_key for r in ticked.run_requests] == ["early", "late"] and ticked.skip_message is None
    skipped = day_off.evaluate_tick(context)
    assert (skipped.run_requests, skipped.skip_message) == ([], "sunday")
    assert says_nothing.evaluate_tick(context).skip_message == "Schedule function returned an empty result"


def test_sensor_evaluate_tick_result_has_a_skip_message() -> None:
    @oprun.sensor(job=tidy_job)
    def idle(context: oprun.SensorEvaluationContext) -> Any:
        return oprun.SkipReason("no new files")

    result = idle.evaluate_tick(oprun.build_sensor_context())
    assert (result.run_requests, result.skip_message) == ([], "no new files")
    assert oprun.SensorResult(run_requests=[oprun.RunRequest()]).skip_message is None


def test_monitor_all_repositories_watches_runs_of_jobs_outside_the_sensors_repository() -> None:
    seen: list[str] = []

    @run_status_sensor(monitor_all_repositories=True, run_status=DagsterRunStatus.SUCCESS)
    def everywhere(context: Any) -> None:
        seen.append(context.dagster_run.job_name)

    @run_status_sensor(monitored_jobs=[oprun.RepositorySelector("other", "other_repo")], run_status=DagsterRunStatus.SUCCESS)
    def other_repo(context: Any) -> None:
        seen.append("via selector: " + context.dagster_run.job_name)

    @run_status_sensor(run_status=DagsterRunStatus.SUCCESS)
    def own_jobs_only(context: Any) -> None:
        raise AssertionError("tidy_job is not in this sensor's repository")

    repo = oprun.Definitions(jobs=[pump_job], sensors=[everywhere, other_repo, own_jobs_only])
    instance = DagsterInstance.ephemeral()
    cursors = {
        s.name: s.evaluate_tick(oprun.build_sensor_context(instance=instance, repository_def=repo)).cursor
        for s in (everywhere, other_repo, own_jobs_only)
    }
    tidy_job.execute_in_process(instance=instance)
    for s in (everywhere, other_repo, own_jobs_only):
        s.evaluate_tick(oprun.build_sensor_context(instance=instance, repository_def=repo, cursor=cursors[s.name]))
    assert seen == ["tidy_job", "via selector: tidy_job"]


@oprun.static_partitioned_config(partition_keys=["north", "south"])
def _by_side(partition_key: str) -> dict[str, Any]:
    return {"ops": {"_visit": {"config": {"side": partition_key}}}}


@op(config_schema={"side": str})
def _visit(context: oprun.OpExecutionContext) -> str:
    return str(context.op_config["side"])


@job(config=_by_side)
def sides_job() -> None:
    _visit()


def test_schedule_evaluate_tick_fills_in_a_partitions_config_and_tags() -> None:
    @oprun.schedule(cron_schedule="0 1 * * *", job=sides_job)
    def north_only(context: oprun.ScheduleEvaluationContext) -> oprun.RunRequest:
        return oprun.RunRequest(partition_key="north")

    (request,) = north_only.evaluate_tick(oprun.build_schedule_context()).run_requests
    assert request.run_config == {"ops": {"_visit": {"config": {"side": "north"}}}}
    assert request.tags == {
        "dagster/partition": "north", "dagster/partition_set": "sides_job_partition_set", "dagster/schedule_name": "north_only",
    }
    assert oprun.validate_run_config(sides_job, request.run_config)

    @oprun.schedule(cron_schedule="0 1 * * *", job_name="sides_job")
    def by_name(context: oprun.ScheduleEvaluationContext) -> oprun.RunRequest:
        return oprun.RunRequest(partition_key="south", run_config={"ops": {"_visit": {"config": {"side": "mine"}}}})

    repo = oprun.Definitions(jobs=[sides_job], schedules=[by_name])
    (named,) = by_name.evaluate_tick(oprun.build_schedule_context(repository_def=repo)).run_requests
    assert named.run_config == {"ops": {"_visit": {"config": {"side": "mine"}}}}  # a given config is kept
    assert named.tags["dagster/partition"] == "south"


def test_schedule_from_a_partitioned_job_keys_each_run_by_its_partition() -> None:
    every_side = oprun.build_schedule_from_partitioned_job(sides_job, cron_schedule="0 2 * * *")
    requests = every_side.evaluate_tick(oprun.build_schedule_context()).run_requests
    assert [(r.run_key, r.run_config["ops"]["_visit"]["config"]["side"]) for r in requests] == [("north", "north"), ("south", "south")]


def test_sensor_evaluate_tick_tags_requests_and_names_an_empty_result() -> None:
    @oprun.sensor(job=tidy_job)
    def one_file(context: oprun.SensorEvaluationContext) -> Any:
        yield oprun.RunRequest(run_key="f1", tags={"file": "f1"})

    @oprun.sensor(job=tidy_job)
    def silent(context: oprun.SensorEvaluationContext) -> None:
        return None

    (request,) = one_file.evaluate_tick(oprun.build_sensor_context()).run_requests
    assert request.tags == {"file": "f1", "dagster/sensor_name": "one_file"}
    empty = silent.evaluate_tick(oprun.build_sensor_context())
    assert (empty.run_requests, empty.skip_message) == ([], "Sensor function returned an empty result")


# --- which loggers a run uses ------------------------------------------------------------------


def _recording_logger(into: list[str]) -> oprun.LoggerDefinition:
    class _Into(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            into.append(record.getMessage())

    @logger
    def recording(init_context: Any) -> logging.Logger:
        made = logging.Logger("recording", level=logging.INFO)  # noqa: LOG001 - unregistered on purpose
        made.addHandler(_Into())
        return made

    return recording  # type: ignore[no-any-return]


@op
def _greets(context: oprun.OpExecutionContext) -> None:
    context.log.info("good morning")


def test_a_jobs_loggers_are_used_only_when_run_config_names_them(capsys: pytest.CaptureFixture[str]) -> None:
    got: list[str] = []

    @job(logger_defs={"recording": _recording_logger(got)})
    def greeting_job() -> None:
        _greets()

    assert greeting_job.execute_in_process().success
    assert got == []  # not named in run config: the default console logger prints instead
    assert "good morning" in capsys.readouterr().err
    assert greeting_job.execute_in_process(run_config={"loggers": {"recording": {}}}).success
    assert "good morning" in got
    assert "good morning" not in capsys.readouterr().err


def test_the_fallback_console_logger_takes_the_instances_python_log_level(capsys: pytest.CaptureFixture[str]) -> None:
    @job
    def greeting_job() -> None:
        _greets()

    with oprun.instance_for_test(overrides={"python_logs": {"python_log_level": "INFO"}}) as instance:
        assert greeting_job.execute_in_process(instance=instance).success
    err = capsys.readouterr().err
    assert "good morning" in err and "STEP_START" not in err


def test_a_schedule_request_for_a_dynamic_partition_gets_its_tags_without_a_lookup() -> None:
    fruits = oprun.DynamicPartitionsDefinition(name="fruits")

    @job(partitions_def=fruits)
    def fruit_job() -> None:
        _works()

    @oprun.schedule(cron_schedule="0 3 * * *", job=fruit_job)
    def pear_daily(context: oprun.ScheduleEvaluationContext) -> oprun.RunRequest:
        return oprun.RunRequest(partition_key="pear")

    (request,) = pear_daily.evaluate_tick(oprun.build_schedule_context()).run_requests
    assert request.tags["dagster/partition"] == "pear"
    assert request.tags["dagster/schedule_name"] == "pear_daily"
