"""execute_in_process end to end: events and their order, results, failures,
skips, type checks, context, loggers."""

import logging

import pytest

from oprun import (
    AssetMaterialization,
    DagsterEventType,
    DagsterInvariantViolationError,
    DagsterStepOutputNotFoundError,
    DagsterTypeCheckDidNotPass,
    ExpectationResult,
    Failure,
    GraphOut,
    In,
    Nothing,
    Out,
    Output,
    get_dagster_logger,
    graph,
    job,
    op,
)


@op
def one() -> int:
    return 1


@op
def inc(x: int) -> int:
    return x + 1


def _types(result, step_key=None):
    return [e.event_type_value for e in result.all_events if step_key is None or e.step_key == step_key]


def test_step_events_come_in_dagsters_order_and_the_terminal_event_is_last():
    @job
    def j():
        inc(one())

    result = j.execute_in_process()
    assert result.success
    assert _types(result, "inc") == [
        "STEP_START", "LOADED_INPUT", "STEP_INPUT", "STEP_OUTPUT", "HANDLED_OUTPUT", "STEP_SUCCESS",
    ]
    assert _types(result)[0] == "RUN_START" and _types(result)[-1] == "RUN_SUCCESS"
    assert result.dagster_run.status.value == "SUCCESS"
    assert result.output_for_node("inc") == 2
    assert [e.step_key for e in result.get_step_success_events()] == ["one", "inc"]
    assert result.is_node_success("inc") and not result.is_node_failed("inc")
    assert result.get_job_success_event().event_type == DagsterEventType.RUN_SUCCESS


def test_failure_fails_the_run_and_downstream_steps_do_not_run():
    ran = []

    @op
    def boom(x):
        raise ValueError("kaput")

    @op
    def after(x):
        ran.append(x)

    @job
    def j():
        after(boom(one()))
        inc(one.alias("independent")())

    result = j.execute_in_process(raise_on_error=False)
    assert not result.success and ran == []
    assert result.get_failed_step_keys() == {"boom"}
    assert result.is_node_untouched("after")
    assert result.output_for_node("inc") == 2
    failure = result.failure_data_for_node("boom")
    assert "kaput" in failure.error.message and failure.error.cls_name == "ValueError"
    assert _types(result)[-1] == "RUN_FAILURE"
    assert result.get_job_failure_event().job_failure_data.failure_reason == "STEP_FAILURE"
    with pytest.raises(ValueError, match="kaput"):
        j.execute_in_process()


def test_failure_with_metadata():
    @op
    def fails():
        raise Failure(description="bad data", metadata={"rows": 3})

    @job
    def fails_job():
        fails()

    result = fails_job.execute_in_process(raise_on_error=False)
    data = result.failure_data_for_node("fails")
    assert data.user_failure_data.description == "bad data"
    assert data.user_failure_data.metadata["rows"].value == 3


def test_type_checks_on_inputs_and_outputs():
    @op
    def wrong() -> int:
        return "a"

    @job
    def bad_output():
        wrong()

    result = bad_output.execute_in_process(raise_on_error=False)
    assert not result.success
    message = result.failure_data_for_node("wrong").error.message
    assert 'Type check failed for step output "result" - expected type "Int"' in message
    assert 'Value "a" of python type "str" must be a int.' in message
    with pytest.raises(DagsterTypeCheckDidNotPass):
        bad_output.execute_in_process()

    @op
    def text() -> str:
        return "x"

    @op
    def wants_int(x: int):
        return x

    @job
    def bad_input():
        wants_int(text())

    result = bad_input.execute_in_process(raise_on_error=False)
    assert 'step input "x"' in result.failure_data_for_node("wants_int").error.message


def test_missing_required_output_and_unknown_output():
    @op(out={"a": Out(), "b": Out()})
    def half():
        yield Output(1, "a")

    @job
    def j():
        half()

    with pytest.raises(DagsterStepOutputNotFoundError, match='non-optional output "b"'):
        j.execute_in_process()

    @op
    def unknown():
        yield Output(1, "nope")

    @job
    def k():
        unknown()

    result = k.execute_in_process(raise_on_error=False)
    assert "does not exist" in result.failure_data_for_node("unknown").error.message


def test_optional_outputs_skip_downstream_and_the_run_succeeds():
    @op(out={"yes": Out(is_required=False), "no": Out(is_required=False)})
    def branch():
        yield Output(1, "yes")

    @job
    def j():
        yes, no = branch()
        inc.alias("on_yes")(yes)
        inc.alias("after_no")(inc.alias("on_no")(no))

    result = j.execute_in_process()
    assert result.success
    assert result.output_for_node("on_yes") == 2
    assert [e.step_key for e in result.get_step_skipped_events()] == ["on_no", "after_no"]
    assert result.is_node_skipped("on_no")


def test_nothing_dependencies_order_execution():
    order = []

    @op
    def first():
        order.append("first")

    @op(ins={"after": In(Nothing)})
    def second():
        order.append("second")

    @job
    def j():
        second(after=first())

    assert j.execute_in_process().success and order == ["first", "second"]


def test_user_events_and_context_log():
    @op
    def emits(context):
        context.log.info("hello %s", "there")
        context.log_event(AssetMaterialization("table", metadata={"rows": 1}))
        yield ExpectationResult(success=False, label="check")
        yield Output(1)

    @job
    def j():
        emits()

    result = j.execute_in_process()
    assert result.success  # a failed expectation does not fail the step
    assert result.asset_materializations_for_node("emits")[0].asset_key.path == ["table"]
    assert result.expectation_results_for_node("emits")[0].success is False
    messages = [e.user_message for e in result.event_log_entries if e.dagster_event is None]
    assert "hello there" in messages


def test_get_dagster_logger_is_captured_into_the_run():
    @op
    def logs():
        get_dagster_logger().warning("from python logging")

    @job
    def j():
        logs()

    result = j.execute_in_process()
    entries = [e for e in result.event_log_entries if e.dagster_event is None]
    assert any(e.user_message == "from python logging" and e.level == logging.WARNING and e.step_key == "logs" for e in entries)


def test_nested_graph_outputs_and_dotted_paths():
    @graph
    def inner(x):
        return inc(x)

    @graph(out={"out": GraphOut()})
    def outer():
        return {"out": inner(one())}

    @job
    def j():
        inc.alias("last")(outer())

    result = j.execute_in_process()
    assert result.output_for_node("outer.inner.inc") == 2
    assert result.output_for_node("outer", "out") == 2
    assert result.output_for_node("outer.inner") == 2
    assert result.output_for_node("last") == 3
    assert [e.step_key for e in result.get_step_success_events()] == ["outer.one", "outer.inner.inc", "last"]
    with pytest.raises(DagsterInvariantViolationError, match="Did you mean 'last'"):
        result.output_for_node("lst")


def test_top_level_inputs_and_output_value():
    @graph
    def g(x):
        return inc(x)

    result = g.execute_in_process(input_values={"x": 41})
    assert result.output_value() == 42
    job_with_value = g.to_job(input_values={"x": 1})
    assert job_with_value.execute_in_process().output_value() == 2


def test_async_and_async_generator_ops():
    @op
    async def later(x: int) -> int:
        return x * 2

    @op(out={"a": Out(), "b": Out()})
    async def agen():
        yield Output(1, "a")
        yield Output(2, "b")

    @job
    def j():
        a, b = agen()
        later(a)

    result = j.execute_in_process()
    assert result.output_for_node("later") == 2
    assert result.output_for_node("agen", "b") == 2


def test_op_selection():
    @job
    def j():
        inc.alias("c")(inc.alias("b")(one()))

    result = j.execute_in_process(op_selection=["*b"])
    assert [e.step_key for e in result.get_step_success_events()] == ["one", "b"]
    from oprun import DagsterInvalidSubsetError

    with pytest.raises(DagsterInvalidSubsetError, match="Did you mean 'c'"):
        j.execute_in_process(op_selection=["cc"])
    sub = j.get_subset(op_selection=["b+"])
    assert set(sub.graph.node_dict) == {"b", "c"}


def test_op_selection_inside_graphs_by_dotted_paths():
    from oprun import DagsterInvalidSubsetError

    @op
    def double(x: int) -> int:
        return 2 * x

    @graph
    def inner(x: int):
        return double(inc(x))

    @graph(out={"first": GraphOut(), "second": GraphOut()})
    def outer():
        base = one()
        return {"first": inner(base), "second": inc.alias("side")(base)}

    @op
    def report(a: int) -> int:
        return a + 100

    @job
    def nested():
        first, _second = outer()
        report(first)

    assert nested.execute_in_process().output_for_node("report") == 104

    # Only "one" and the op "inc" inside "outer.inner" (its input cut from nothing).
    result = nested.execute_in_process(op_selection=["outer.one", "outer.inner.inc"])
    assert sorted(e.step_key for e in result.get_step_success_events()) == ["outer.inner.inc", "outer.one"]
    assert result.output_for_node("outer.inner.inc") == 2

    # A whole nested graph fed from config once its upstream is cut; "report" still
    # reads the graph output that "inner" feeds.
    result = nested.execute_in_process(
        op_selection=["outer.inner", "report"],
        run_config={"ops": {"outer": {"ops": {"inner": {"inputs": {"x": 5}}}}}},
    )
    assert sorted(e.step_key for e in result.get_step_success_events()) == ["outer.inner.double", "outer.inner.inc", "report"]
    assert result.output_for_node("outer.inner.double") == 12 and result.output_for_node("report") == 112

    # Selecting only the side op drops the graph output "first", and with it the
    # input of "report", which then comes from config.
    result = nested.execute_in_process(
        op_selection=["outer.one", "outer.side", "report"], run_config={"ops": {"report": {"inputs": {"a": 1}}}},
    )
    assert result.output_for_node("outer.side") == 2 and result.output_for_node("report") == 101

    with pytest.raises(DagsterInvalidSubsetError, match="no node 'outer.inne'.*Did you mean 'inner'"):
        nested.execute_in_process(op_selection=["outer.inne.inc"])
    with pytest.raises(DagsterInvalidSubsetError, match="'report' is an op"):
        nested.execute_in_process(op_selection=["report.x"])


def test_context_properties():
    seen = {}

    @op(tags={"kind": "x"})
    def look(context):
        seen.update(
            run_id=context.run_id, job=context.job_name, op=context.op_def.name,
            retry=context.retry_number, tag=context.get_tag("team"), has_pk=context.has_partition_key,
            mapping=context.get_mapping_key(),
        )

    @job(tags={"team": "data"})
    def j():
        look()

    result = j.execute_in_process()
    assert seen == {"run_id": result.run_id, "job": "j", "op": "look", "retry": 0, "tag": "data", "has_pk": False, "mapping": None}


def test_add_output_metadata_reaches_the_output_event():
    @op
    def with_meta(context):
        context.add_output_metadata({"rows": 5})
        return 1

    @job
    def j():
        with_meta()

    result = j.execute_in_process()
    output = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"][0]
    assert output.step_output_data.metadata["rows"].value == 5


def test_loggers_config_sets_the_console_level(capsys):
    @op
    def chatty(context):
        context.log.debug("quiet please")
        context.log.error("loud")

    @job
    def j():
        chatty()

    j.execute_in_process(run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}})
    err = capsys.readouterr().err
    assert "loud" in err and "quiet please" not in err and "STEP_START" not in err


def test_custom_logger_definitions_receive_every_entry():
    import logging as std_logging

    from oprun import logger

    records = []

    class Collect(std_logging.Handler):
        def emit(self, record):
            records.append((record.levelno, record.getMessage(), getattr(record, "step_key", None)))

    @logger(config_schema={"level": str})
    def collecting(init_context):
        made = std_logging.getLogger(f"collect_{id(records)}")
        made.setLevel(init_context.logger_config["level"])
        made.handlers = [Collect()]
        made.propagate = False
        return made

    @op
    def talk(context):
        context.log.info("said")

    @job(logger_defs={"collect": collecting})
    def j():
        talk()

    j.execute_in_process(run_config={"loggers": {"collect": {"config": {"level": "INFO"}}}})
    assert (std_logging.INFO, "said", "talk") in records
    assert all(level >= std_logging.INFO for level, _, _ in records)


def test_json_console_logger(capsys):
    import json

    from oprun import json_console_logger

    @job(logger_defs={"console": json_console_logger})
    def j():
        one()

    j.execute_in_process(run_config={"loggers": {"console": {}}})  # named in run config, as Dagster needs
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    assert any(line["event_type"] == "RUN_SUCCESS" for line in lines)


def test_python_logging_is_captured_when_first_imported_inside_an_op():
    # A fresh interpreter, so that `logging` is not imported before the run starts.
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(
        """
        import sys
        from oprun import job, op

        @op
        def speak():
            from oprun import get_dagster_logger
            get_dagster_logger("inner").warning("said %s", "late")

        @job
        def talk():
            speak()

        assert "logging" not in sys.modules
        result = talk.execute_in_process()
        print([(e.user_message, e.level, e.step_key) for e in result.event_log_entries if e.dagster_event is None])
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "('said late', 30, 'speak')" in done.stdout


def test_fan_in_lists_may_hold_graph_inputs_from_ops_config_and_job_inputs():
    @op
    def total(xs: list[int]) -> int:
        return sum(xs)

    @graph
    def with_input(start: int):
        return total([one(), start, inc(one())])

    @job
    def wired():
        with_input(inc(one()))

    assert wired.execute_in_process().output_for_node("with_input") == 1 + 2 + 2

    @job
    def from_config():
        with_input()

    config = {"ops": {"with_input": {"inputs": {"start": {"value": 40}}}}}
    assert from_config.execute_in_process(run_config=config).output_for_node("with_input") == 1 + 40 + 2

    @graph
    def top(start: int):
        return total([start, start])

    as_job = top.to_job(input_values={"start": 5})
    assert as_job.execute_in_process().output_for_node("total") == 10
    configured = top.to_job(name="top_from_config")
    result = configured.execute_in_process(run_config={"inputs": {"start": {"value": 7}}})
    assert result.output_for_node("total") == 14


def test_a_fan_in_with_a_graph_input_runs_when_every_op_output_is_missing():
    @op(out=Out(is_required=False))
    def maybe():
        return None
        yield  # a generator that yields nothing

    @op
    def count(xs: list) -> int:
        return len(xs)

    @graph
    def g(x):
        return count([maybe(), x])

    result = g.to_job(input_values={"x": 3}).execute_in_process()
    assert result.output_for_node("count") == 1


def test_config_of_ops_left_out_of_a_selection_is_optional_and_ignored():
    @op(config_schema={"k": int})
    def needs_k(context) -> int:
        return context.op_config["k"]

    @op(config_schema={"m": int})
    def needs_m(context) -> int:
        return context.op_config["m"]

    @graph
    def both():
        needs_k()
        needs_m()

    @job
    def j():
        one()
        both()

    assert j.execute_in_process(op_selection=["one"]).success
    given = {"ops": {"both": {"ops": {"needs_k": {"config": {"k": 1}}, "needs_m": {"config": {"m": 2}}}}}}
    assert j.execute_in_process(op_selection=["one"], run_config=given).success
    narrowed = j.execute_in_process(op_selection=["both.needs_m"], run_config=given)
    assert narrowed.output_for_node("both.needs_m") == 2
    assert j.execute_in_process(op_selection=["both.needs_m"], run_config={"ops": {"both": {"ops": {"needs_m": {"config": {"m": 3}}}}}}).success
    from oprun import DagsterInvalidConfigError

    with pytest.raises(DagsterInvalidConfigError, match="Missing required config entry \"ops\".*needs_m"):
        j.execute_in_process(op_selection=["both.needs_m"])
