"""Dagster compatibility of what oprun reads off decorated functions: which
parameter is the context, what return annotations make of outputs, input
defaults, and the config of an op without a config schema.

Each behaviour was checked against Dagster 1.13 (`bench/.venv-dagster`)."""

import re
from collections.abc import Generator, Iterator
from datetime import UTC, datetime
from typing import Optional

import pytest

from oprun import (
    ConfigurableResource,
    DagsterInvalidConfigError,
    DagsterInvalidDefinitionError,
    DagsterInvariantViolationError,
    DagsterTypeCheckDidNotPass,
    DynamicOut,
    DynamicOutput,
    In,
    InputManager,
    IOManager,
    Nothing,
    OpExecutionContext,
    Out,
    Output,
    RunRequest,
    build_hook_context,
    build_init_resource_context,
    build_op_context,
    build_schedule_context,
    build_sensor_context,
    failure_hook,
    input_manager,
    io_manager,
    job,
    logger,
    op,
    resource,
    schedule,
    sensor,
    success_hook,
)

CONTEXT_NAMES = ["context", "_", "_context", "context_"]


def _op_taking_context_as(name: str, seen: list) -> object:
    namespace: dict = {"seen": seen}
    exec(f"def read(x, {name}=None): pass\ndef probe({name}, x):\n    seen.append(({name}, x))\n    return x", namespace)
    return op(namespace["probe"])


def _type_of(op_def, output: str = "result") -> str:
    return op_def.output_dict[output].dagster_type.display_name


# --- 1. the context parameter: its name decides ------------------------------------------


@pytest.mark.parametrize("name", CONTEXT_NAMES)
def test_a_first_parameter_named_like_context_is_the_context(name):
    seen: list = []
    probe = _op_taking_context_as(name, seen)
    assert probe.has_context_param
    assert [i.name for i in probe.input_defs] == ["x"]

    @op
    def one() -> int:
        return 1

    @job
    def j():
        probe(one())

    assert j.execute_in_process().success
    [(context, x)] = seen
    assert isinstance(context, OpExecutionContext) and x == 1


def test_other_names_are_inputs_whatever_their_annotation():
    @op
    def annotated(ctx: OpExecutionContext, x):
        return x

    @op
    def dunder(__, x):
        return x

    assert not annotated.has_context_param and [i.name for i in annotated.input_defs] == ["ctx", "x"]
    assert not dunder.has_context_param and [i.name for i in dunder.input_defs] == ["__", "x"]


def test_a_context_parameter_with_another_annotation_is_an_error():
    with pytest.raises(DagsterInvalidDefinitionError, match=r"Cannot annotate `context` parameter with type .*int.*'_' of op 'typed'"):

        @op
        def typed(_: int, x):
            return x

    @op
    def fine(context_: OpExecutionContext, x):
        return x

    assert [i.name for i in fine.input_defs] == ["x"]


def test_direct_invocation_takes_the_context_by_its_parameter_name():
    @op
    def add(_, x: int) -> int:
        return x + 1

    assert add(build_op_context(), 1) == 2
    assert add(_=build_op_context(), x=2) == 3


@pytest.mark.parametrize("name", ["_", "context_", "_context"])
def test_hooks_take_any_permutation_of_context(name):
    fired: list = []
    namespace: dict = {"fired": fired}
    exec(f"def on_ok({name}):\n    fired.append(getattr({name}.op, 'name', None))", namespace)
    on_ok = success_hook(namespace["on_ok"])

    @op
    def work():
        return 1

    @job(hooks={on_ok})
    def j():
        work()

    assert j.execute_in_process().success
    assert fired == ["work"]
    on_ok(build_hook_context())
    assert fired == ["work", None]


def test_a_hook_whose_first_parameter_is_not_named_context_is_an_error():
    with pytest.raises(DagsterInvalidDefinitionError, match="'on_fail' decorated function does not have required positional parameter 'context'"):

        @failure_hook
        def on_fail(ctx):
            pass


def test_resources_take_their_init_context_under_any_name():
    @resource(config_schema={"n": int})
    def counter(init):
        return init.resource_config["n"]

    assert counter(build_init_resource_context(config={"n": 3})) == 3
    assert counter(init=build_init_resource_context(config={"n": 4})) == 4

    expected = "@resource decorated function 'two' expects only a single positional required argument. Got required extra params b"
    with pytest.raises(DagsterInvalidDefinitionError, match=re.escape(expected)):

        @resource
        def two(a, b):
            return a


class _Store(IOManager):
    def __init__(self):
        self.values: dict = {}

    def handle_output(self, context, obj):
        self.values[context.name] = obj

    def load_input(self, context):
        return self.values[context.upstream_output.name]


def test_io_and_input_managers_take_their_context_under_any_name():
    @io_manager
    def store(_init):
        return _Store()

    @input_manager
    def five(_):
        return 5

    class Tens(InputManager):
        def load_input(self, context):
            return 10

    @input_manager
    def tens(ctx):
        return Tens()  # a load function may return an InputManager, which then loads

    @op(ins={"a": In(input_manager_key="five"), "b": In(input_manager_key="tens")})
    def add(a, b):
        return a + b

    @job(resource_defs={"io_manager": store, "five": five, "tens": tens})
    def j():
        add()

    assert j.execute_in_process().output_for_node("add") == 15


def test_loggers_take_their_init_context_under_any_name():
    import logging

    made: list = []

    @logger
    def quiet(_init):
        made.append(_init.logger_config)
        return logging.getLogger("oprun.tests.quiet")

    @op
    def noop():
        pass

    @job(logger_defs={"quiet": quiet})
    def j():
        noop()

    assert j.execute_in_process(run_config={"loggers": {"quiet": {"config": {"x": 1}}}}).success
    assert made == [{"x": 1}]


class Bucket(ConfigurableResource):
    prefix: str


@op
def noop_op():
    pass


@job
def target():
    noop_op()


def test_schedule_and_sensor_contexts_are_the_first_non_resource_parameter():
    @schedule(cron_schedule="0 * * * *", job=target)
    def hourly(ctx):
        return {"ops": {"noop_op": {"config": {"at": ctx.scheduled_execution_time.hour}}}}

    at = datetime(2026, 1, 2, 3, tzinfo=UTC)
    assert hourly(build_schedule_context(scheduled_execution_time=at)) == {"ops": {"noop_op": {"config": {"at": 3}}}}

    @sensor(job=target)
    def listing(bucket: Bucket, tick):
        return [RunRequest(run_key=f"{bucket.prefix}{tick.cursor}")]

    assert listing.required_resource_keys == {"bucket"}
    with build_sensor_context(cursor="7", resources={"bucket": Bucket(prefix="k")}) as context:
        assert [r.run_key for r in listing(context)] == ["k7"]


# --- 2. return annotations ---------------------------------------------------------------


def test_output_annotation_is_the_type_and_is_checked():
    @op
    def bad() -> Output[int]:
        return Output("s")

    assert _type_of(bad) == "Int"

    @job
    def j():
        bad()

    with pytest.raises(DagsterTypeCheckDidNotPass, match='step output "result" - expected type "Int"'):
        j.execute_in_process()


def test_tuple_of_outputs_types_each_output():
    @op(out={"n": Out(), "s": Out()})
    def pair() -> tuple[Output[int], Output[str]]:
        return Output(1, "n"), Output(2, "s")

    assert (_type_of(pair, "n"), _type_of(pair, "s")) == ("Int", "String")

    @job
    def j():
        pair()

    with pytest.raises(DagsterTypeCheckDidNotPass, match='step output "s" - expected type "String"'):
        j.execute_in_process()


def test_a_list_of_dynamic_outputs_makes_a_dynamic_output_of_the_inner_type():
    @op
    def fan() -> list[DynamicOutput[int]]:
        return [DynamicOutput(1, "a"), DynamicOutput(2, "b")]

    assert fan.output_dict["result"].is_dynamic and _type_of(fan) == "Int"

    @op
    def double(x: int) -> int:
        return 2 * x

    @op
    def total(xs: list) -> int:
        return sum(xs)

    @job
    def j():
        total(fan().map(double).collect())

    assert j.execute_in_process().output_for_node("total") == 6

    @op(out={"many": DynamicOut(), "one": Out()})
    def mixed() -> tuple[list[DynamicOutput[int]], Output[str]]:
        return [DynamicOutput(1, "a")], Output("s", "one")

    assert (_type_of(mixed, "many"), _type_of(mixed, "one")) == ("Int", "String")

    @op(out=DynamicOut())
    def bad_fan() -> list[DynamicOutput[int]]:
        return [DynamicOutput("s", "a")]

    @job
    def bad():
        bad_fan()

    assert not bad.execute_in_process(raise_on_error=False).success


def test_a_bare_dynamic_output_annotation_is_an_error():
    with pytest.raises(DagsterInvariantViolationError, match="DynamicOutputs can only be returned in the context of a List"):

        @op
        def one() -> DynamicOutput[int]:
            return DynamicOutput(1, "a")

    with pytest.raises(DagsterInvalidDefinitionError, match=r"Problem using type .* from return type annotation"):

        @op(out=DynamicOut())
        def two() -> DynamicOutput[int]:
            return DynamicOutput(1, "a")


def test_generator_annotations_do_not_type_outputs():
    @op
    def gen() -> Iterator[Output[int]]:
        yield Output("not an int")

    @op
    def gen2() -> Generator[Output[int], None, None]:
        yield Output("not an int")

    assert _type_of(gen) == _type_of(gen2) == "Any"

    @job
    def j():
        gen()
        gen2()

    assert j.execute_in_process().success


def test_none_and_nothing_annotations_make_a_nothing_output():
    @op
    def returns_none() -> None:
        return None

    @op
    def returns_nothing() -> Nothing:
        return None

    @op(ins={"after": In(Nothing)})
    def last() -> int:
        return 1

    assert _type_of(returns_none) == _type_of(returns_nothing) == "Nothing"

    @job
    def ordered():
        last(after=[returns_none(), returns_nothing()])

    assert ordered.execute_in_process().output_for_node("last") == 1

    @op
    def liar() -> None:
        return 5  # type: ignore[return-value]

    @job
    def bad():
        liar()

    with pytest.raises(DagsterTypeCheckDidNotPass, match='expected type "Nothing"'):
        bad.execute_in_process()


def test_a_single_named_output_takes_the_whole_annotation():
    @op(out={"only": Out()})
    def single() -> int:
        return 1

    assert _type_of(single, "only") == "Int"


def test_several_outputs_need_a_matching_tuple_annotation():
    with pytest.raises(DagsterInvariantViolationError, match="Expected Tuple annotation for multiple outputs"):

        @op(out={"a": Out(), "b": Out()})
        def not_tuple() -> int:
            return 1

    with pytest.raises(DagsterInvariantViolationError, match="Expected 2 outputs but annotation has 3"):

        @op(out={"a": Out(), "b": Out()})
        def too_long() -> tuple[int, int, int]:
            return 1, 2, 3


# --- 3. input defaults -------------------------------------------------------------------


def test_defaults_from_in_and_from_parameters():
    @op(ins={"w": In(int, default_value=4)})
    def defaults(w, x: int = 3, y: int | None = 7, z: Optional[int] = None):  # noqa: UP045 - Optional on purpose
        return (w, x, y, z)

    assert {i.name: i.default_value for i in defaults.input_defs} == {"w": 4, "x": 3, "y": 7, "z": None}

    @job
    def j():
        defaults()

    assert j.execute_in_process().output_for_node("defaults") == (4, 3, 7, None)


def test_a_default_of_the_wrong_scalar_type_is_a_definition_error():
    first_sentence = "Type check failed for the default_value of InputDefinition x of type Int. "
    with pytest.raises(DagsterInvalidDefinitionError, match=rf"^{first_sentence}Received value a of type <class 'str'>.*input 'x' of op 'wrong'"):

        @op
        def wrong(x: int = "a"):  # type: ignore[assignment]
            return x

    with pytest.raises(DagsterInvalidDefinitionError, match=rf"^{first_sentence}.*of op 'wrong_in'"):

        @op(ins={"x": In(int, default_value="a")})
        def wrong_in(x):
            return x

    with pytest.raises(DagsterInvalidDefinitionError, match="Setting a default_value is invalid on InputDefinitions of type Nothing"):

        @op(ins={"x": In(Nothing, default_value=1)})
        def nothing_default():
            pass

    # As in Dagster, only the scalar types are checked when the op is defined.
    @op
    def optional(x: Optional[int] = "a"):  # type: ignore[assignment]  # noqa: UP045
        return x

    assert optional.input_dict["x"].default_value == "a"


# --- 4. an op without a config schema takes any config ------------------------------------


def test_an_op_without_a_config_schema_takes_any_config():
    seen: list = []

    @op
    def loose(context):
        seen.append(context.op_config)

    @job
    def j():
        loose()

    assert j.execute_in_process(run_config={"ops": {"loose": {"config": {"anything": 1}}}}).success
    assert j.execute_in_process().success
    assert j.execute_in_process(run_config={"ops": {"loose": {"config": 5}}}).success
    assert j.execute_in_process(run_config={"ops": {"loose": {}}}).success
    assert seen == [{"anything": 1}, None, 5, None]
    with pytest.raises(DagsterInvalidConfigError, match='unexpected config entry "bogus"'):
        j.execute_in_process(run_config={"ops": {"loose": {"config": {}, "bogus": 1}}})
