"""A job's `config=` dict under the run config given at launch, as Dagster 1.13
applies it (checked against Dagster itself): a section, or an entry of a
section (an op, a resource), that the run config leaves out is the job's; an
entry the run config gives replaces the job's entry whole."""

import pytest

from oprun import Config, DagsterInvalidConfigError, graph, job, op, resource


class Pair(Config):
    a: int
    b: int


@op
def x(config: Pair) -> int:
    return config.a + config.b


@op
def y(config: Pair) -> int:
    return config.a * config.b


@resource(config_schema={"u": str})
def named(init_context):
    return init_context.resource_config["u"]


@op(required_resource_keys={"first", "second"})
def reads(context) -> str:
    return context.resources.first + context.resources.second


@op(config_schema={"a": int})
def inner_w(context) -> int:
    return context.op_config["a"]


@op(config_schema={"a": int})
def inner_v(context) -> int:
    return context.op_config["a"]


@graph
def nested():
    inner_w()
    inner_v()


DEFAULTS = {
    "ops": {
        "x": {"config": {"a": 1, "b": 2}},
        "y": {"config": {"a": 5, "b": 6}},
        "nested": {"ops": {"inner_w": {"config": {"a": 7}}, "inner_v": {"config": {"a": 8}}}},
    },
    "resources": {"first": {"config": {"u": "A"}}, "second": {"config": {"u": "B"}}},
}


@job(resource_defs={"first": named, "second": named}, config=DEFAULTS)
def defaulted():
    x()
    y()
    reads()
    nested()


def test_no_run_config_takes_every_default():
    result = defaulted.execute_in_process()
    assert (result.output_for_node("x"), result.output_for_node("y"), result.output_for_node("reads")) == (3, 30, "AB")


def test_an_op_left_out_keeps_its_default_and_a_given_op_replaces_its_own():
    result = defaulted.execute_in_process(run_config={"ops": {"x": {"config": {"a": 10, "b": 20}}}})
    assert result.output_for_node("x") == 30 and result.output_for_node("y") == 30
    assert result.output_for_node("nested.inner_w") == 7


def test_a_resource_left_out_keeps_its_default():
    result = defaulted.execute_in_process(run_config={"resources": {"first": {"config": {"u": "Z"}}}})
    assert result.output_for_node("reads") == "ZB"


@pytest.mark.parametrize(
    ("run_config", "missing"),
    [
        ({"ops": {"x": {"config": {"a": 10}}}}, '"b" at path root:ops:x:config'),  # an op's config is not merged
        ({"ops": {"x": {}}}, '"config" at path root:ops:x'),
        ({"ops": {"nested": {"ops": {"inner_w": {"config": {"a": 70}}}}}}, '"inner_v" at path root:ops:nested:ops'),
    ],
)
def test_a_given_entry_is_not_merged_below_its_level(run_config, missing):
    with pytest.raises(DagsterInvalidConfigError, match=f"Missing required config entry {missing}"):
        defaulted.execute_in_process(run_config=run_config)
