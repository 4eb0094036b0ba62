"""Invoking ops directly, as tests do: with and without a context, config and
resources; type checks; the errors for missing or extra arguments."""

import pytest

from oprun import (
    DagsterInvalidInvocationError,
    DagsterTypeCheckDidNotPass,
    Output,
    build_op_context,
    op,
    resource,
)


@op
def add(a: int, b: int = 2) -> int:
    return a + b


def test_plain_invocation_with_defaults_and_keywords():
    assert add(1) == 3
    assert add(1, b=5) == 6
    assert add(a=1, b=1) == 2


def test_input_and_output_type_checks():
    with pytest.raises(DagsterTypeCheckDidNotPass, match='step input "a"'):
        add("x")

    @op
    def lies() -> int:
        return "no"

    with pytest.raises(DagsterTypeCheckDidNotPass, match='step output "result"'):
        lies()


def test_argument_errors():
    with pytest.raises(DagsterInvalidInvocationError, match='No value provided for required input "a"'):
        add()
    with pytest.raises(DagsterInvalidInvocationError, match="Too many input arguments"):
        add(1, 2, 3)
    with pytest.raises(DagsterInvalidInvocationError, match="Did you mean 'b'"):
        add(1, bb=2)


def test_context_config_and_resources():
    @op(config_schema={"factor": int}, required_resource_keys={"offset"})
    def scaled(context, x: int) -> int:
        return x * context.op_config["factor"] + context.resources.offset

    context = build_op_context(op_config={"factor": 3}, resources={"offset": 1})
    assert scaled(context, 2) == 7

    @op
    def needs_context(context):
        return 1

    with pytest.raises(DagsterInvalidInvocationError, match="no context was provided"):
        needs_context()


def test_context_manager_tears_resources_down():
    events = []

    @resource
    def managed(_init):
        events.append("up")
        yield "value"
        events.append("down")

    @op(required_resource_keys={"thing"})
    def uses(context):
        return context.resources.thing

    with build_op_context(resources={"thing": managed}) as context:
        assert uses(context) == "value"
    assert events == ["up", "down"]


def test_generators_are_returned_as_generators():
    @op
    def gen():
        yield Output(1)

    outputs = list(gen())
    assert outputs[0].value == 1
