"""Behaviours that Dagster's documentation examples for config, resources, IO
management and types rely on, each checked with a small example of our own:
the log of a context built for a test prints to stderr, the IO manager test
contexts build resource definitions and guard those that need teardown,
`OutputContext.log_event`, and `check_dagster_type`."""

import typing

import pytest

from oprun import (
    AssetMaterialization,
    DagsterInvalidConfigError,
    DagsterInvariantViolationError,
    DagsterType,
    Failure,
    Int,
    IntSource,
    IOManager,
    List,
    StringSource,
    build_hook_context,
    build_init_resource_context,
    build_input_context,
    build_op_context,
    build_output_context,
    build_resources,
    check_dagster_type,
    io_manager,
    job,
    op,
    resource,
)
from oprun.events import DagsterEventType

# --- the log of a context built for a test ----------------------------------------------


@op
def chatty(context):
    context.log.debug("counting sheep")
    context.log.info("sheep %d", 3)


def test_direct_op_context_log_prints_every_level_to_stderr(capsys):
    chatty(build_op_context())
    err = capsys.readouterr().err
    assert "counting sheep" in err
    assert "sheep 3" in err
    assert " - oprun - INFO - system - sheep 3" in err


def test_op_invoked_with_none_logs_to_stderr(capsys):
    chatty(None)
    assert "sheep 3" in capsys.readouterr().err


def test_other_test_contexts_log_to_stderr(capsys):
    build_init_resource_context().log.info("from init")
    build_output_context().log.info("from output")
    build_input_context().log.warning("from input")
    build_hook_context().log.info("from hook")
    err = capsys.readouterr().err
    for text in ("from init", "from output", "from input", "from hook"):
        assert text in err


def test_resource_invoked_with_none_gets_a_context(capsys):
    @resource
    def announcing(init_context):
        init_context.log.info("resource up")
        return init_context.resource_config

    assert announcing(None) is None
    with build_resources({"announcing": announcing}) as built:
        assert built.announcing is None
    assert capsys.readouterr().err.count("resource up") == 2


def test_a_run_still_prints_its_job_and_run_id(capsys):
    @job
    def herd():
        chatty()

    result = herd.execute_in_process()
    err = capsys.readouterr().err
    assert f" - herd - {result.run_id} - chatty - sheep 3" in err


# --- resources of the IO manager test contexts ------------------------------------------


@resource
def greeting():
    return "hello"


def test_io_test_contexts_build_resource_definitions():
    out = build_output_context(resources={"greeting": greeting, "plain": 5})
    assert out.resources.greeting == "hello"
    assert out.resources.plain == 5
    inp = build_input_context(resources={"greeting": greeting})
    assert inp.resources.greeting == "hello"


def _tracked():
    log = []

    @resource
    def tracked():
        log.append("up")
        try:
            yield "conn"
        finally:
            log.append("down")

    return tracked, log


@pytest.mark.parametrize("builder", [build_op_context, build_input_context, build_output_context])
def test_teardown_resources_need_a_with_block(builder):
    tracked, log = _tracked()
    context = builder(resources={"tracked": tracked})
    with pytest.raises(DagsterInvariantViolationError, match=rf"`with {builder.__name__}\(\.\.\.\) as context:`"):
        context.resources  # noqa: B018
    del context  # what was built is torn down with the context
    assert log == ["up", "down"]
    with builder(resources={"tracked": tracked}) as context:
        assert context.resources.tracked == "conn"
        assert log == ["up", "down", "up"]
    assert log == ["up", "down", "up", "down"]


def test_plain_resources_need_no_with_block():
    context = build_op_context(resources={"greeting": greeting})
    assert context.resources.greeting == "hello"


# --- OutputContext.log_event ----------------------------------------------------------------


def test_output_context_logs_events_and_metadata_in_a_test():
    context = build_output_context()
    context.log_event(AssetMaterialization("first_table"))
    context.add_output_metadata({"rows": 3})
    assert [e.label for e in context.get_logged_events()] == ["first_table"]
    assert "rows" in context.get_logged_metadata()


class _Announcing(IOManager):
    def handle_output(self, context, obj):
        context.log_event(AssetMaterialization(f"table_{context.name}"))

    def load_input(self, context):
        return None


def test_events_logged_in_handle_output_are_recorded_in_the_step():
    @io_manager
    def announcing(_):
        return _Announcing()

    @op
    def make():
        return 1

    @job(resource_defs={"io_manager": announcing})
    def publishing():
        make()

    result = publishing.execute_in_process()
    kinds = [e.event_type_value for e in result.events_for_node("make")]
    assert kinds.index(DagsterEventType.ASSET_MATERIALIZATION.value) < kinds.index(DagsterEventType.HANDLED_OUTPUT.value)
    assert [m.label for m in result.asset_materializations_for_node("make")] == ["table_result"]


# --- check_dagster_type ---------------------------------------------------------------------


def test_check_dagster_type():
    assert check_dagster_type(Int, 3).success
    assert not check_dagster_type(Int, "three").success
    assert check_dagster_type(List[Int], [1, 2]).success
    assert not check_dagster_type(List[Int], [1, "2"]).success
    assert check_dagster_type(str, "x").success

    def odd_only(_context, value):
        if value % 2 == 0:
            raise Failure(description="even")
        return True

    odd = DagsterType(name="Odd", type_check_fn=odd_only)
    assert check_dagster_type(odd, 3).success
    outcome = check_dagster_type(odd, 4)
    assert not outcome.success
    assert outcome.description == "even"


def test_check_dagster_type_refuses_typing_generics():
    for generic in (list[int], typing.Optional[int]):
        with pytest.raises(DagsterInvariantViolationError, match="typing module"):
            check_dagster_type(generic, 1)


# --- environment variables in fixed config are read when the run starts ------------------


def test_env_var_in_a_configured_value_is_read_when_the_run_starts(monkeypatch):
    monkeypatch.delenv("OPRUN_TEST_WAREHOUSE_USER", raising=False)
    monkeypatch.delenv("OPRUN_TEST_WAREHOUSE_LIMIT", raising=False)

    @resource(config_schema={"user": StringSource})
    def warehouse(init_context):
        return init_context.resource_config["user"]

    @op(required_resource_keys={"warehouse"}, config_schema={"limit": IntSource})
    def whoami(context):
        return f"{context.resources.warehouse}:{context.op_config['limit']}"

    # Built while the variables are unset: not an error yet.
    @job(
        resource_defs={"warehouse": warehouse.configured({"user": {"env": "OPRUN_TEST_WAREHOUSE_USER"}})},
        config={"ops": {"whoami": {"config": {"limit": {"env": "OPRUN_TEST_WAREHOUSE_LIMIT"}}}}},
    )
    def report():
        whoami()

    with pytest.raises(DagsterInvalidConfigError, match='environment variable "OPRUN_TEST_WAREHOUSE_LIMIT"'):
        report.execute_in_process()
    monkeypatch.setenv("OPRUN_TEST_WAREHOUSE_USER", "ada")
    monkeypatch.setenv("OPRUN_TEST_WAREHOUSE_LIMIT", "7")
    assert report.execute_in_process().output_for_node("whoami") == "ada:7"


def test_a_bad_fixed_value_is_still_refused_by_name():
    @op(config_schema={"limit": int})
    def counted(context):
        return context.op_config["limit"]

    capped = counted.configured({"limit": "many"}, name="capped")

    @job
    def counting():
        capped()

    with pytest.raises(DagsterInvalidConfigError, match="configured"):
        counting.execute_in_process()
