"""@op: inputs and outputs from the signature, context/config/resource parameters,
and every definition error."""

from typing import Optional

import pytest

from oprun import (
    DagsterInvalidDefinitionError,
    DynamicOut,
    In,
    Nothing,
    Out,
    Resource,
    RetryPolicy,
    op,
)


def test_inputs_and_output_types_come_from_annotations():
    @op
    def typed(context, a: int, b: list[str], c: Optional[float] = None) -> dict:
        return {}

    assert typed.has_context_param
    assert [i.name for i in typed.input_defs] == ["a", "b", "c"]
    assert typed.input_dict["a"].dagster_type.display_name == "Int"
    assert typed.input_dict["b"].dagster_type.display_name == "List[String]"
    assert typed.input_dict["c"].dagster_type.display_name == "Optional[Float]"
    assert typed.input_dict["c"].has_default_value
    assert typed.output_dict["result"].dagster_type.display_name == "Dict"


def test_every_documented_argument_is_kept():
    policy = RetryPolicy(max_retries=2)

    @op(name="renamed", description="says hi", ins={"x": In(int, description="an x")},
        out={"y": Out(str)}, config_schema={"n": int}, required_resource_keys={"db"},
        tags={"team": "a"}, code_version="1", retry_policy=policy)
    def original(context, x):
        return str(x)

    assert original.name == "renamed"
    assert original.description == "says hi"
    assert original.input_dict["x"].description == "an x"
    assert list(original.output_dict) == ["y"]
    assert original.config_schema == {"n": int}
    assert original.required_resource_keys == {"db"}
    assert original.tags == {"team": "a"}
    assert original.code_version == "1"
    assert original.retry_policy is policy


def test_docstring_is_the_default_description_and_none_return_is_nothing():
    @op
    def documented() -> None:
        """Does a thing."""

    assert documented.description == "Does a thing."
    assert documented.output_dict["result"].dagster_type.is_nothing


def test_resource_parameters_become_required_resources():
    class Db:
        pass

    @op
    def uses(db: Resource[Db], x: int):
        return x

    assert uses.required_resource_keys == {"db"}
    assert [i.name for i in uses.input_defs] == ["x"]


def test_nothing_inputs_have_no_parameter():
    @op(ins={"start": In(Nothing)})
    def after():
        return 1

    assert after.input_dict["start"].is_nothing
    assert after.data_input_names == ()


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: op(name="a")(lambda *args: 1), "positional vararg"),
        (lambda: op(name="a", ins={"missing": In(int)})(lambda: 1), "does not have argument"),
        (lambda: op(name="a", ins={"n": In(Nothing)})(lambda n: 1), "Nothing type"),
        (lambda: op(name="bad name")(lambda: 1), "not a valid op name"),
        (lambda: op(name="class")(lambda: 1), "reserved"),
        (lambda: op(name="a", out="result")(lambda: 1), "must be an Out"),
        (lambda: op(name="a", retry_policy=3)(lambda: 1), "RetryPolicy"),
    ],
)
def test_definition_errors_name_the_op_and_the_problem(make, message):
    with pytest.raises(DagsterInvalidDefinitionError, match=message):
        make()


def test_resource_keys_in_both_places_is_an_error():
    class Db:
        pass

    with pytest.raises(DagsterInvalidDefinitionError, match="both"):
        @op(required_resource_keys={"db"})
        def both(db: Resource[Db]):
            return 1


def test_async_and_generator_ops_are_recognised():
    @op
    async def later():
        return 1

    @op(out={"a": Out(), "b": Out()})
    def gen():
        yield 1

    @op(out=DynamicOut())
    def fan():
        yield 1

    assert later.is_async and gen.is_generator
    assert fan.output_dict["result"].is_dynamic


def test_retry_policy_needs_a_delay_for_backoff_or_jitter():
    from oprun import Backoff, Jitter

    with pytest.raises(DagsterInvalidDefinitionError, match="delay"):
        RetryPolicy(backoff=Backoff.LINEAR)
    with pytest.raises(DagsterInvalidDefinitionError, match="delay"):
        RetryPolicy(jitter=Jitter.FULL)
    assert RetryPolicy(delay=1, backoff=Backoff.EXPONENTIAL).calculate_delay(3) == 7
    assert RetryPolicy(delay=2, backoff=Backoff.LINEAR).calculate_delay(3) == 6
    assert 0 <= RetryPolicy(delay=2, jitter=Jitter.FULL).calculate_delay(1) <= 2
