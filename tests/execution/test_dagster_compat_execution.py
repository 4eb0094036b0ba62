"""Dagster 1.13's behaviour in direct invocation, schedule and sensor invocation,
partitioned runs and managed Python loggers, with Dagster's first sentence in each
error (users' tests match it) and oprun's details after it."""

import logging

import pytest

from oprun import (
    AssetMaterialization,
    ConfigurableResource,
    DagsterEventType,
    DagsterInstance,
    DagsterInvalidConfigError,
    DagsterInvalidInvocationError,
    DagsterInvalidPropertyError,
    DagsterInvariantViolationError,
    DagsterUnknownPartitionError,
    DynamicOut,
    DynamicOutput,
    ExpectationResult,
    Out,
    Output,
    RunRequest,
    StaticPartitionsDefinition,
    build_op_context,
    build_schedule_context,
    build_sensor_context,
    configured,
    instance_for_test,
    job,
    op,
    schedule,
    sensor,
    static_partitioned_config,
)
from oprun.errors import DagsterInstanceConfigError

# --- direct invocation -----------------------------------------------------------------


@op
def plus_one(context, x: int) -> int:
    return x + 1


def test_none_stands_for_a_default_context():
    assert plus_one(None, 1) == 2
    assert plus_one(context=None, x=4) == 5


def test_missing_context_keeps_dagsters_sentence():
    with pytest.raises(
        DagsterInvalidInvocationError,
        match=r"^Decorated function 'plus_one' has context argument, but no context was provided when invoking\. "
        r"Op 'plus_one': pass a context built with build_op_context\(\)",
    ):
        plus_one()


@op(config_schema={"n": int})
def reads_n(context) -> int:
    return context.op_config["n"]


def test_configured_op_with_a_fixed_value_applies_it_when_invoked_directly():
    fixed = reads_n.configured({"n": 5}, name="fixed_n")
    assert fixed(None) == 5
    assert fixed(build_op_context()) == 5
    # As Dagster: the fixed value wins over a context's config.
    assert fixed(build_op_context(config={"n": 9})) == 5


def test_configured_op_runs_its_config_function_when_invoked_directly():
    @configured(reads_n, config_schema=int)
    def doubled(value):
        return {"n": value * 2}

    assert doubled(build_op_context(config=6)) == 12
    with pytest.raises(DagsterInvalidConfigError, match="Error in config for op doubled"):
        doubled(build_op_context(config="six"))


def test_direct_context_has_run_config_events_and_output_metadata():
    seen = {}

    @op(config_schema={"n": int})
    def reports(context) -> int:
        seen["run_config"] = context.run_config
        context.log_event(AssetMaterialization("table"))
        context.log_event(ExpectationResult(True, label="rows"))
        context.add_output_metadata({"rows": 3})
        return context.op_config["n"]

    context = build_op_context(config={"n": 2}, resources_config={})
    assert reports(context) == 2
    assert seen["run_config"] == {"ops": {"reports": {"config": {"n": 2}}}, "resources": {}}
    events = context.get_events()
    assert [type(e) for e in events] == [AssetMaterialization, ExpectationResult]
    assert context.get_output_metadata("result") == {"rows": 3}
    assert context.get_output_metadata("other") is None
    with pytest.raises(
        DagsterInvalidPropertyError,
        match=r"^The run_config property is not set on the context when an asset or op is directly invoked\.",
    ):
        context.run_config  # noqa: B018 - the op has returned
    # Each invocation starts afresh.
    reports(context)
    assert len(context.get_events()) == 2


def test_configured_op_run_config_shows_the_mapped_config():
    seen = {}

    @op(config_schema={"n": int})
    def inner(context) -> int:
        seen["run_config"] = context.run_config
        return context.op_config["n"]

    @configured(inner, config_schema=int)
    def outer(value):
        return {"n": value + 1}

    assert outer(build_op_context(config=1)) == 2
    assert seen["run_config"]["ops"] == {"outer": {"config": {"n": 2}}}


def test_dynamic_output_metadata_by_mapping_key():
    @op(out=DynamicOut())
    def fan(context):
        for key in "ab":
            context.add_output_metadata({"key": key}, mapping_key=key)
            yield DynamicOutput(1, key)

    context = build_op_context()
    assert [o.mapping_key for o in fan(context)] == ["a", "b"]
    assert context.get_output_metadata("result", "a") == {"key": "a"}
    assert context.get_output_metadata("result") == {"a": {"key": "a"}, "b": {"key": "b"}}


def test_metadata_added_twice_when_invoked_directly_is_dagsters_error():
    @op
    def twice(context) -> int:
        context.add_output_metadata({"a": 1})
        context.add_output_metadata({"b": 2})
        return 1

    with pytest.raises(
        DagsterInvariantViolationError,
        match=r"^In op 'twice', attempted to log metadata for output 'result' more than once\.",
    ):
        twice(build_op_context())


def test_metadata_added_twice_in_a_run_merges():
    @op
    def twice(context) -> int:
        context.add_output_metadata({"a": 1, "c": 1})
        context.add_output_metadata({"b": 2, "c": 3})
        return 1

    @job
    def merges():
        twice()

    result = merges.execute_in_process()
    (output,) = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_OUTPUT]
    metadata = output.event_specific_data.metadata
    assert sorted(metadata) == ["a", "b", "c"]
    assert metadata["c"].value == 3


@op(out={"a": Out(), "b": Out()})
def late_metadata(context):
    yield Output(1, "a")
    context.add_output_metadata({"x": 1}, output_name="a")
    yield Output(2, "b")


_LATE = (
    r"In op 'late_metadata', attempted to log output metadata for output 'a' which has already been yielded\. "
    r"Metadata must be logged before the output is yielded\."
)


def test_metadata_after_the_output_is_yielded_is_an_error_when_invoked_directly():
    with pytest.raises(DagsterInvariantViolationError, match=f"^{_LATE}"):
        list(late_metadata(build_op_context()))


def test_metadata_after_the_output_is_yielded_fails_the_step_in_a_run():
    @job
    def late():
        late_metadata()

    with pytest.raises(DagsterInvariantViolationError, match=_LATE):
        late.execute_in_process()


def test_metadata_errors_keep_dagsters_sentences():
    @op(out={"a": Out(), "b": Out()})
    def two(context):
        context.add_output_metadata({"x": 1})
        return 1, 2

    with pytest.raises(
        DagsterInvariantViolationError,
        match=r"^Attempted to log metadata without providing output_name, but multiple outputs exist\..*\['a', 'b'\]",
    ):
        two(build_op_context())

    @op(out={"rows": Out(), "cols": Out()})
    def misnamed(context):
        context.add_output_metadata({"x": 1}, output_name="row")
        return 1, 2

    with pytest.raises(DagsterInvariantViolationError, match=r"^misnamed has no output named row\..*Did you mean 'rows'"):
        misnamed(build_op_context())

    @op(out=DynamicOut())
    def fan(context):
        context.add_output_metadata({"x": 1})
        yield DynamicOutput(1, "a")

    with pytest.raises(
        DagsterInvariantViolationError,
        match=r"^In op 'fan', attempted to log metadata for dynamic output 'result' without providing a mapping key\.",
    ):
        list(fan(build_op_context()))


def test_dynamic_output_returned_from_a_plain_function_is_dagsters_error():
    @op(out=DynamicOut())
    def one_dynamic():
        return DynamicOutput(1, "a")

    with pytest.raises(
        DagsterInvariantViolationError,
        match=r"^Error with output for op \"one_dynamic\": dynamic output 'result' expected a list of DynamicOutput "
        r"objects, but instead received instead an object of type .*return a list of DynamicOutput",
    ):
        one_dynamic()

    @op(out=DynamicOut())
    def mixed():
        return [DynamicOutput(1, "a"), 2]

    with pytest.raises(DagsterInvariantViolationError, match=r"dynamic output 'result' at position 1 expected a list"):
        mixed()

    @op(out=DynamicOut())
    def fine():
        return [DynamicOutput(1, "a")]

    assert [o.value for o in fine()] == [1]


# --- schedules and sensors invoked directly ----------------------------------------------


class Connection(ConfigurableResource):
    value: str = "default"


@op
def noop():
    pass


@job
def nightly():
    noop()


@schedule(cron_schedule="@daily", job=nightly)
def with_context_and_resource(context, conn: Connection):
    return {"ops": {}, "tags": {"conn": conn.value, "has_time": context is not None}}


@schedule(cron_schedule="@daily", job=nightly)
def resource_only(conn: Connection):
    return RunRequest(tags={"conn": conn.value})


@schedule(cron_schedule="@daily", job=nightly)
def no_arguments():
    return {}


@schedule(cron_schedule="@daily", job=nightly)
def context_only(context):
    return {"r": context.resources.foo}


def test_schedule_takes_resources_as_keyword_arguments():
    assert resource_only(conn=Connection(value="kw")).tags == {"conn": "kw"}
    assert with_context_and_resource(build_schedule_context(), conn=Connection(value="a"))["tags"]["conn"] == "a"
    assert with_context_and_resource(context=build_schedule_context(), conn=Connection(value="b"))["tags"]["conn"] == "b"
    # A keyword resource replaces the context's one of the same key.
    context = build_schedule_context(resources={"conn": Connection(value="ctx")})
    assert with_context_and_resource(context, conn=Connection(value="kw"))["tags"]["conn"] == "kw"


def test_build_schedule_context_passes_its_resources_through():
    context = build_schedule_context(resources={"conn": Connection(value="ctx"), "foo": 3})
    assert with_context_and_resource(context)["tags"]["conn"] == "ctx"
    assert context_only(context) == {"r": 3}
    # Keyword resources are added to the context's, which stay available.
    both = build_schedule_context(resources={"foo": 4})

    @schedule(cron_schedule="@daily", job=nightly)
    def uses_both(context, conn: Connection):
        return {"foo": context.resources.foo, "conn": conn.value}

    assert uses_both(both, conn=Connection(value="kw")) == {"foo": 4, "conn": "kw"}


def test_schedule_invoked_without_a_context():
    assert no_arguments() == {}
    assert no_arguments(None) == {}
    # None stands for a default context, as in Dagster.
    assert with_context_and_resource(None, conn=Connection())["tags"]["conn"] == "default"


def test_schedule_invocation_errors_keep_dagsters_sentences():
    with pytest.raises(
        DagsterInvalidInvocationError,
        match=r"^Schedule evaluation function expected context argument, but no context argument was provided when "
        r"invoking\. Schedule 'context_only' expected a context argument \('context'\)",
    ):
        context_only()
    with pytest.raises(
        DagsterInvalidInvocationError,
        match=r"^Schedule invocation expected argument 'context'\. .*was given only \['conn'\]",
    ):
        with_context_and_resource(conn=Connection())
    with pytest.raises(DagsterInvalidInvocationError, match=r"^Schedule invocation expected argument 'context'\..*Did you mean 'context'"):
        context_only(contxt=build_schedule_context())
    with pytest.raises(
        DagsterInvalidInvocationError,
        match=r"^Schedule invocation received multiple non-resource arguments\. Only a first positional context parameter",
    ):
        context_only(build_schedule_context(), 2)
    with pytest.raises(
        DagsterInvalidInvocationError,
        match=r"^If directly invoking a schedule, you may not provide resources as positional arguments, only as "
        r"keyword arguments\. Schedule 'resource_only' takes the resources \['conn'\]",
    ):
        resource_only(Connection())
    with pytest.raises(
        DagsterInvalidInvocationError,
        match=r"^Resource with key 'conn' required by schedule 'resource_only' was not provided\..*conn=\.\.\.",
    ):
        resource_only()


def test_sensor_takes_resources_as_keyword_arguments():
    @sensor(job=nightly)
    def listing(context, bucket: Connection):
        return [RunRequest(run_key=bucket.value)]

    assert [r.run_key for r in listing(build_sensor_context(), bucket=Connection(value="b1"))] == ["b1"]
    assert [r.run_key for r in listing(None, bucket=Connection(value="b2"))] == ["b2"]
    with pytest.raises(DagsterInvalidInvocationError, match=r"^Sensor invocation expected argument 'context'\."):
        listing(bucket=Connection())


# --- partitioned jobs run without a partition key --------------------------------------


@op
def reads_partition(context) -> str:
    return context.partition_key


@op
def reports_partition(context) -> bool:
    return context.has_partition_key


@job(partitions_def=StaticPartitionsDefinition(["a", "b"]))
def two_partitions():
    reports_partition()


@job(partitions_def=StaticPartitionsDefinition(["only"]))
def one_partition():
    reports_partition()


def test_partitioned_job_runs_without_a_partition_key_as_in_dagster():
    for partitioned in (two_partitions, one_partition):
        result = partitioned.execute_in_process()
        assert result.success
        assert result.output_for_node("reports_partition") is False
        assert "dagster/partition" not in result.dagster_run.tags


def test_an_empty_partition_key_is_no_partition_key():
    result = two_partitions.execute_in_process(partition_key="")
    assert result.success
    assert result.output_for_node("reports_partition") is False
    assert result.dagster_run.partition_key is None


@job(partitions_def=StaticPartitionsDefinition(["a"]))
def reads_its_partition():
    reads_partition()


def test_reading_the_partition_key_of_a_run_without_one_names_the_job_and_its_partitions():
    with pytest.raises(
        DagsterInvariantViolationError,
        match=r"^Cannot access partition_key for a non-partitioned run\. Op 'reads_partition': job 'reads_its_partition' "
        r"is partitioned \(1 partition: \['a'\]\), but this run was given no partition_key",
    ):
        reads_its_partition.execute_in_process()
    assert reads_its_partition.execute_in_process(partition_key="a").output_for_node("reads_partition") == "a"
    with pytest.raises(DagsterInvariantViolationError, match=r"^Cannot access partition_key for a non-partitioned run\..*build_op_context\(partition_key"):
        reads_partition(build_op_context())


@op(config_schema={"region": str})
def by_region_op(context) -> str:
    return context.op_config["region"]


@static_partitioned_config(partition_keys=["us", "eu"])
def region_config(partition_key: str):
    return {"ops": {"by_region_op": {"config": {"region": partition_key}}}}


@job(config=region_config)
def by_region():
    by_region_op()


def test_partitioned_config_without_a_key_names_the_job_and_its_partitions():
    with pytest.raises(
        DagsterInvalidConfigError,
        match=r"^Error in config for job by_region \(job 'by_region' is partitioned, 2 partitions: \['us', 'eu'\], .*"
        r"no partition_key was given",
    ):
        by_region.execute_in_process()
    assert by_region.execute_in_process(partition_key="eu").output_for_node("by_region_op") == "eu"


def test_unknown_partition_key_keeps_dagsters_sentence():
    with pytest.raises(
        DagsterUnknownPartitionError,
        match=r"^Could not find a partition with key `zz`\. .*job 'two_partitions'.*expected one of \['a', 'b'\]",
    ):
        two_partitions.execute_in_process(partition_key="zz")


# --- managed Python loggers (`python_logs` in oprun.yaml / dagster.yaml) ----------------------


def _instance_with(tmp_path, yaml_text, name="oprun.yaml"):
    (tmp_path / name).write_text(yaml_text)
    return DagsterInstance.from_directory(str(tmp_path))


def _captured(instance, run_id):
    return [(e.level, e.step_key, e.user_message) for e in instance.all_logs(run_id) if e.dagster_event is None]


@op
def logs_through_python():
    logging.getLogger("oprun_test_managed").info("managed info")
    logging.getLogger("oprun_test_managed").debug("managed debug")
    logging.getLogger("oprun_test_managed.child").warning("child warning")
    logging.getLogger("oprun_test_unmanaged").warning("unmanaged warning")


@job
def python_logging_job():
    logs_through_python()


@pytest.fixture
def managed_logger():
    managed = logging.getLogger("oprun_test_managed")
    before = managed.level, list(managed.handlers)
    yield managed
    managed.setLevel(before[0])
    managed.handlers[:] = before[1]


def test_managed_python_loggers_go_to_the_event_log_and_console(tmp_path, managed_logger, capfd):
    instance = _instance_with(
        tmp_path,
        "python_logs:\n  managed_python_loggers: [oprun_test_managed]\n  python_log_level: INFO\n",
        name="dagster.yaml",
    )
    with instance:
        assert instance.managed_python_loggers == ["oprun_test_managed"]
        assert instance.python_log_level == "INFO"
        result = python_logging_job.execute_in_process(instance=instance)
        captured = _captured(instance, result.run_id)
    # INFO and above, from the logger and its children; once each; with the step.
    assert captured == [
        (logging.INFO, "logs_through_python", "managed info"),
        (logging.WARNING, "logs_through_python", "child warning"),
    ]
    assert "managed info" in capfd.readouterr().err
    # The handler is gone after the run, and the level restored.
    assert managed_logger.handlers == []
    assert managed_logger.level == logging.NOTSET


def test_python_log_level_debug_and_no_level(tmp_path, managed_logger):
    with _instance_with(tmp_path, "python_logs:\n  managed_python_loggers: [oprun_test_managed]\n  python_log_level: debug\n") as instance:
        result = python_logging_job.execute_in_process(instance=instance)
        assert (logging.DEBUG, "logs_through_python", "managed debug") in _captured(instance, result.run_id)
    # Without python_log_level, the logger's own level decides, as in Dagster.
    managed_logger.setLevel(logging.WARNING)
    with instance_for_test(overrides={"python_logs": {"managed_python_loggers": ["oprun_test_managed"]}}) as instance:
        result = python_logging_job.execute_in_process(instance=instance)
        assert [m for _, _, m in _captured(instance, result.run_id)] == ["child warning"]
    assert managed_logger.level == logging.WARNING


def test_root_and_a_named_logger_managed_together_record_once(tmp_path, managed_logger):
    with _instance_with(tmp_path, "python_logs:\n  managed_python_loggers: [root, oprun_test_managed]\n  python_log_level: INFO\n") as instance:
        result = python_logging_job.execute_in_process(instance=instance)
        messages = [m for _, _, m in _captured(instance, result.run_id)]
    assert messages == ["managed info", "child warning", "unmanaged warning"]


def test_unmanaged_loggers_are_not_captured_without_python_logs(managed_logger):
    with instance_for_test() as instance:
        result = python_logging_job.execute_in_process(instance=instance)
        assert _captured(instance, result.run_id) == []


def test_bad_python_logs_config_names_the_file_and_key(tmp_path):
    with pytest.raises(DagsterInstanceConfigError, match=r"python_logs:python_log_level: bad value for log level 'LOUD'"):
        _instance_with(tmp_path, "python_logs:\n  python_log_level: LOUD\n")
    with pytest.raises(DagsterInstanceConfigError, match=r"python_logs: unknown key 'managed_loggers'.*Did you mean 'managed_python_loggers'"):
        _instance_with(tmp_path, "python_logs:\n  managed_loggers: [a]\n")
    with pytest.raises(DagsterInstanceConfigError, match=r"managed_python_loggers must be a list of logger names"):
        _instance_with(tmp_path, "python_logs:\n  managed_python_loggers: a\n")


def test_managed_loggers_are_captured_in_multiprocess_workers():
    from oprun.execution.execute_job import execute_job
    from oprun.execution.reconstruct import reconstructable

    from tests.fixtures import python_logs_jobs

    overrides = {"python_logs": {"managed_python_loggers": ["oprun_test_managed"], "python_log_level": "INFO"}}
    with instance_for_test(overrides=overrides) as instance:
        run_config = {"execution": {"config": {"multiprocess": {"max_concurrent": 1}}}}
        with execute_job(reconstructable(python_logs_jobs.logs_from_worker), instance, run_config=run_config) as result:
            assert result.success
            worker_pid = result.output_for_node("logs_in_a_worker")
        assert (logging.WARNING, "logs_in_a_worker", f"from worker {worker_pid}") in _captured(instance, result.run_id)


def test_dynamic_output_returned_wrongly_fails_the_run_with_dagsters_sentence():
    @op(out=DynamicOut())
    def one_dynamic():
        return DynamicOutput(1, "a")

    @job
    def returns_one():
        one_dynamic()

    with pytest.raises(
        DagsterInvariantViolationError,
        match=r"^Error with output for op \"one_dynamic\": dynamic output 'result' expected a list of DynamicOutput objects",
    ):
        returns_one.execute_in_process()


def test_dagster_handler_config_handlers_receive_the_run_messages(tmp_path):
    log_file = tmp_path / "run.log"
    config = (
        "python_logs:\n"
        "  dagster_handler_config:\n"
        "    handlers:\n"
        "      to_file:\n"
        "        class: logging.FileHandler\n"
        f"        filename: {log_file}\n"
        "        level: INFO\n"
        "        formatter: plain\n"
        "    formatters:\n"
        "      plain:\n"
        "        format: '%(levelname)s %(message)s'\n"
    )

    @op
    def says_hello(context):
        context.log.info("hello handlers")

    @job
    def greets():
        says_hello()

    with _instance_with(tmp_path, config) as instance:
        assert greets.execute_in_process(instance=instance).success
        assert greets.execute_in_process(instance=instance).success
    text = log_file.read_text()
    assert text.count("INFO hello handlers") == 2  # one handler, built once, for both runs
    assert "DEBUG" not in text  # the handler's own level applies
    from oprun.execution import logs

    for holder in logs._YAML_HANDLERS.values():
        for handler in holder.handlers:
            handler.close()
    logs._YAML_HANDLERS.clear()


def test_a_config_argument_is_the_ops_config_when_invoked_directly():
    from oprun import Config

    class Size(Config):
        rows: int

    seen = {}

    @op
    def sized(context, config: Size) -> int:
        seen["op_config"] = context.op_config
        return config.rows

    assert sized(None, config=Size(rows=3)) == 3
    assert seen["op_config"] == {"rows": 3}
    assert sized(build_op_context(config={"rows": 4})) == 4
