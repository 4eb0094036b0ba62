"""Config as Dagster 1.13 takes it, each case checked against a real Dagster:

- a graph's config (hardcoded or a config mapping) addresses its nodes by name
  (`{"add_n": {"config": ...}}`); a job made from such a graph takes it at
  `ops.config`;
- per-input and per-output config (`ops.<op>.inputs.<input>`,
  `ops.<op>.outputs.<output>`) declared by input and IO managers, validated and
  given to `InputContext.config` / `OutputContext.config`;
- `EnvVar.int(...)` for `int` fields of `Config` and resource classes, read as an int.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from oprun import (
    Config,
    ConfigurableIOManager,
    ConfigurableResource,
    DagsterInvalidConfigError,
    DynamicOut,
    DynamicOutput,
    EnvVar,
    In,
    InputContext,
    IOManager,
    Out,
    OutputContext,
    RunConfig,
    config_mapping,
    graph,
    input_manager,
    io_manager,
    job,
    op,
    validate_run_config,
)

# --- graph config addresses the graph's ops by name ------------------------------------


@op(config_schema={"n": float})
def add_n(context, number: float) -> float:
    return number + context.op_config["n"]


@op(config_schema={"m": float})
def multiply_by_m(context, number: float) -> float:
    return number * context.op_config["m"]


@op
def hundred() -> float:
    return 100.0


@graph(config={"multiply_by_m": {"config": {"m": 1.8}}, "add_n": {"config": {"n": 32}}})
def celsius_to_fahrenheit(number):
    return add_n(multiply_by_m(number))


class ToFahrenheitConfig(Config):
    from_unit: str


@config_mapping
def generate_config(config_in: ToFahrenheitConfig) -> dict[str, Any]:
    n = 32 if config_in.from_unit == "celsius" else -459.67
    return {"multiply_by_m": {"config": {"m": 1.8}}, "add_n": {"config": {"n": n}}}


@graph(config=generate_config)
def to_fahrenheit(number):
    return add_n(multiply_by_m(number))


def test_hardcoded_graph_config_is_keyed_by_node_name():
    @job
    def boiling():
        celsius_to_fahrenheit(hundred())

    assert boiling.execute_in_process().output_for_node("celsius_to_fahrenheit") == pytest.approx(212.0)
    # Dagster takes (and ignores) any `config` for such a graph.
    result = boiling.execute_in_process(run_config={"ops": {"celsius_to_fahrenheit": {"config": {"anything": 1}}}})
    assert result.output_for_node("celsius_to_fahrenheit") == pytest.approx(212.0)


def test_graph_config_mapping_returns_config_keyed_by_node_name():
    @job
    def boiling():
        to_fahrenheit(hundred())

    result = boiling.execute_in_process(run_config={"ops": {"to_fahrenheit": {"config": {"from_unit": "celsius"}}}})
    assert result.output_for_node("to_fahrenheit") == pytest.approx(212.0)


def test_a_job_made_from_a_config_graph_takes_its_config_at_ops_config():
    @graph(config={"add_n": {"config": {"n": 32}}})
    def plus_32():
        return add_n(hundred())

    assert plus_32.to_job().execute_in_process().output_for_node("add_n") == 132.0
    assert plus_32.execute_in_process().output_for_node("add_n") == 132.0

    @config_mapping(config_schema={"m": float})
    def scale(val):
        return {"multiply_by_m": {"config": {"m": val["m"]}}}

    @graph(config=scale)
    def scaled():
        return multiply_by_m(hundred())

    scaled_job = scaled.to_job()
    assert scaled_job.execute_in_process(run_config={"ops": {"config": {"m": 0.5}}}).output_for_node("multiply_by_m") == 50.0
    with pytest.raises(DagsterInvalidConfigError, match=r"Sample config for missing entry: \{'ops': \{'config'"):
        scaled_job.execute_in_process(run_config={"m": 0.5})


def test_an_op_selection_keeps_the_graph_config():
    @op(config_schema={"k": int})
    def other(context) -> int:
        return context.op_config["k"]

    @config_mapping(config_schema={"m": float})
    def scale(val):
        return {"multiply_by_m": {"config": {"m": val["m"]}}, "other": {"config": {"k": 1}}}

    @graph(config=scale)
    def mapped():
        multiply_by_m(hundred())
        other()

    result = mapped.to_job().execute_in_process(run_config={"ops": {"config": {"m": 2.0}}}, op_selection=["hundred", "multiply_by_m"])
    assert result.output_for_node("multiply_by_m") == 200.0

    @graph(config={"multiply_by_m": {"config": {"m": 3.0}}, "other": {"config": {"k": 1}}})
    def fixed():
        multiply_by_m(hundred())
        other()

    assert fixed.to_job(op_selection=["hundred", "multiply_by_m"]).execute_in_process().output_for_node("multiply_by_m") == 300.0


def test_a_mapping_configures_nested_graphs_and_inputs_by_name():
    @graph
    def inner(number):
        return add_n(number)

    @op(config_schema={"k": int})
    def seeded(context, seed: int) -> float:
        return float(seed * context.op_config["k"])

    @config_mapping(config_schema={"n": float})
    def outer_config(val):
        return {
            "inner": {"ops": {"add_n": {"config": {"n": val["n"]}}}},
            "seeded": {"config": {"k": 2}, "inputs": {"seed": 5}},
        }

    @graph(config=outer_config)
    def outer():
        return inner(seeded())

    @job
    def nested():
        outer()

    result = nested.execute_in_process(run_config={"ops": {"outer": {"config": {"n": 7.0}}}})
    assert result.output_for_node("outer") == 17.0


def test_errors_in_mapped_config_name_the_node_path():
    @config_mapping(config_schema={})
    def broken(_val):
        return {"multiply_by_m": {"config": {"m": "not a number"}}}

    @graph(config=broken)
    def g(number):
        return multiply_by_m(number)

    @job
    def j():
        g(hundred())

    with pytest.raises(DagsterInvalidConfigError, match="config mapping returned") as raised:
        j.execute_in_process()
    assert raised.value.errors[0].path_str == "root:multiply_by_m:config:m"


def test_a_bad_hardcoded_graph_config_fails_the_run_at_its_path():
    @graph(config={"add_n": {"config": {"n": "x"}}})
    def bad(number):
        return add_n(number)

    @job
    def j():  # building it does not raise, as in Dagster
        bad(hundred())

    with pytest.raises(DagsterInvalidConfigError) as raised:
        j.execute_in_process()
    assert raised.value.errors[0].path_str.endswith("add_n:config:n")


def test_oprun_earlier_ops_wrapper_is_still_accepted_and_can_be_overridden():
    @graph(config={"ops": {"add_n": {"config": {"n": 1}}}})
    def wrapped(number):
        return add_n(number)

    @config_mapping(config_schema={"n": float})
    def wrapped_mapping(val):
        return {"ops": {"add_n": {"config": {"n": val["n"]}}}}

    @graph(config=wrapped_mapping)
    def mapped(number):
        return add_n(number)

    @job
    def j():
        wrapped(hundred())
        mapped(hundred())

    result = j.execute_in_process(run_config={"ops": {"mapped": {"config": {"n": 2.0}}}})
    assert result.output_for_node("wrapped") == 101.0
    assert result.output_for_node("mapped") == 102.0
    # oprun (not Dagster) also lets run config replace a graph's hardcoded config.
    override = {"ops": {"wrapped": {"ops": {"add_n": {"config": {"n": 5}}}}, "mapped": {"config": {"n": 2.0}}}}
    assert j.execute_in_process(run_config=override).output_for_node("wrapped") == 105.0


def test_a_node_named_ops_is_addressed_by_name():
    ops_node = add_n.alias("ops")

    @graph(config={"ops": {"config": {"n": 3}}})
    def g(number):
        return ops_node(number)

    @job
    def j():
        g(hundred())

    assert j.execute_in_process().output_for_node("g") == 103.0


# --- per-input and per-output config ---------------------------------------------------------


class _Recording(IOManager):
    def __init__(self, seen: dict[str, Any]) -> None:
        self.seen = seen
        self.values: dict[tuple[str, str], Any] = {}

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        self.seen.setdefault("out", []).append((context.step_key, context.name, context.config))
        self.values[(context.step_key, context.name)] = obj

    def load_input(self, context: InputContext) -> Any:
        self.seen.setdefault("in", []).append((context.name, context.config, context.upstream_output.config if context.upstream_output else None))
        upstream = context.upstream_output
        return self.values[(upstream.step_key, upstream.name)] if upstream is not None else 0


def _recording_io_manager(seen: dict[str, Any], **schemas: Any) -> Any:
    manager = _Recording(seen)

    @io_manager(**schemas)
    def made(_init):
        return manager

    return made


@op(out=Out(io_manager_key="store"))
def produce() -> int:
    return 1


@op(ins={"x": In(input_manager_key="store")})
def consume(x: int) -> int:
    return x + 1


def test_output_and_input_config_are_validated_and_reach_the_contexts():
    seen: dict[str, Any] = {}
    store = _recording_io_manager(seen, output_config_schema={"path": str}, input_config_schema={"table": str})

    @job(resource_defs={"store": store})
    def j():
        consume(produce())

    run_config = {"ops": {"produce": {"outputs": {"result": {"path": "/p"}}}, "consume": {"inputs": {"x": {"table": "t"}}}}}
    assert j.execute_in_process(run_config=run_config).output_for_node("consume") == 2
    assert ("produce", "result", {"path": "/p"}) in seen["out"]
    assert seen["in"] == [("x", {"table": "t"}, {"path": "/p"})]

    with pytest.raises(DagsterInvalidConfigError) as raised:
        j.execute_in_process()
    assert "root:ops" in raised.value.errors[0].path_str
    with pytest.raises(DagsterInvalidConfigError) as raised:
        j.execute_in_process(run_config={"ops": {"produce": {"outputs": {"result": {"path": 3}}}, "consume": {"inputs": {"x": {"table": "t"}}}}})
    assert [e.path_str for e in raised.value.errors] == ["root:ops:produce:outputs:result:path"]


def test_outputs_config_is_refused_when_no_io_manager_declares_a_schema():
    @op
    def plain() -> int:
        return 1

    @job
    def j():
        plain()

    with pytest.raises(DagsterInvalidConfigError, match='unexpected config entry "outputs"'):
        validate_run_config(j, {"ops": {"plain": {"outputs": {"result": {"path": "/p"}}}}})


def test_an_input_manager_input_takes_its_schema_or_any_config():
    seen: dict[str, Any] = {}

    @input_manager(input_config_schema={"v": int})
    def from_config(context):
        seen["typed"] = context.config
        return context.config["v"]

    @input_manager
    def schemaless(context):
        seen["any"] = context.config
        return 3

    @op(ins={"a": In(int, input_manager_key="typed"), "b": In(int, input_manager_key="anything")})
    def add(a: int, b: int) -> int:
        return a + b

    @job(resource_defs={"typed": from_config, "anything": schemaless})
    def j():
        add()

    result = j.execute_in_process(run_config={"ops": {"add": {"inputs": {"a": {"v": 7}}}}})
    assert result.output_for_node("add") == 10
    assert seen == {"typed": {"v": 7}, "any": None}
    # No schema: any value, optional, reaches the context (never the type's loader).
    j.execute_in_process(run_config={"ops": {"add": {"inputs": {"a": {"v": 1}, "b": {"anything": [1]}}}}})
    assert seen["any"] == {"anything": [1]}
    with pytest.raises(DagsterInvalidConfigError) as raised:
        j.execute_in_process()
    assert "add" in str(raised.value)


def test_a_connected_input_without_an_input_manager_takes_no_config():
    seen: dict[str, Any] = {}
    store = _recording_io_manager(seen, input_config_schema={"table": str})

    @op
    def one() -> int:
        return 1

    @op
    def inc(x: int) -> int:
        return x + 1

    @job(resource_defs={"io_manager": store})
    def j():
        inc(one())

    with pytest.raises(DagsterInvalidConfigError, match='unexpected config entry "inputs"'):
        validate_run_config(j, {"ops": {"inc": {"inputs": {"x": {"table": "t"}}}}})
    assert j.execute_in_process().output_for_node("inc") == 2
    assert seen["in"] == [("x", None, None)]


def test_each_mapped_copy_of_a_dynamic_output_gets_the_output_config():
    seen: dict[str, Any] = {}
    store = _recording_io_manager(seen, output_config_schema={"path": str})

    @op(out=DynamicOut(io_manager_key="store"))
    def fan():
        for key in ("a", "b"):
            yield DynamicOutput(1, mapping_key=key)

    @op
    def double(x: int) -> int:
        return 2 * x

    @job(resource_defs={"store": store})
    def j():
        fan().map(double)

    j.execute_in_process(run_config={"ops": {"fan": {"outputs": {"result": {"path": "/fan"}}}}})
    assert [c for step, name, c in seen["out"] if step == "fan"] == [{"path": "/fan"}, {"path": "/fan"}]


class TableConfig(Config):
    table: str


class PythonicStore(ConfigurableIOManager):
    prefix: str = "p"

    @classmethod
    def output_config_schema(cls):
        return {"path": str}

    @classmethod
    def input_config_schema(cls):
        return TableConfig

    def handle_output(self, context, obj):
        SEEN["out"] = context.config

    def load_input(self, context):
        SEEN["in"] = context.config
        return 1


SEEN: dict[str, Any] = {}


def test_configurable_io_managers_declare_input_and_output_config_by_classmethod():
    @job(resource_defs={"store": PythonicStore()})
    def j():
        consume(produce())

    SEEN.clear()
    run_config = {"ops": {"produce": {"outputs": {"result": {"path": "/p"}}}, "consume": {"inputs": {"x": {"table": "t"}}}}}
    j.execute_in_process(run_config=run_config)
    assert SEEN == {"out": {"path": "/p"}, "in": {"table": "t"}}
    with pytest.raises(DagsterInvalidConfigError, match="table"):
        j.execute_in_process(run_config={"ops": {"produce": {"outputs": {"result": {"path": "/p"}}}, "consume": {"inputs": {"x": {}}}}})


# --- EnvVar.int ------------------------------------------------------------------------------


class Pool(ConfigurableResource):
    size: int
    name: str = "pool"


class BatchConfig(Config):
    batch: int


def test_envvar_int_is_accepted_for_int_fields_and_resolves_to_an_int(monkeypatch):
    monkeypatch.setenv("OPRUN_TEST_POOL_SIZE", "42")
    monkeypatch.setenv("OPRUN_TEST_BATCH", "7")
    seen: dict[str, Any] = {}

    @op
    def use(config: BatchConfig, pool: Pool) -> None:
        seen["batch"], seen["size"] = config.batch, pool.size

    @job(resource_defs={"pool": Pool(size=EnvVar.int("OPRUN_TEST_POOL_SIZE"))})
    def j():
        use()

    run_config = RunConfig(ops={"use": BatchConfig(batch=EnvVar.int("OPRUN_TEST_BATCH"))})
    assert run_config.to_config_dict()["ops"]["use"]["config"] == {"batch": {"env": "OPRUN_TEST_BATCH"}}
    result = j.execute_in_process(run_config=run_config)
    assert seen == {"batch": 7, "size": 42}
    assert type(seen["batch"]) is int and type(seen["size"]) is int
    # The stored run config keeps the variable's name, never its value.
    assert "42" not in str(result.dagster_run.run_config)


def test_envvar_int_is_an_int_as_in_dagster(monkeypatch):
    monkeypatch.setenv("OPRUN_TEST_N", "5")
    value = EnvVar.int("OPRUN_TEST_N")
    assert isinstance(value, int) and not isinstance(value, EnvVar)
    assert value.get_value() == 5 and value.env_var_name == "OPRUN_TEST_N"
    with pytest.raises(Exception, match="valid string"):
        Pool(size=1, name=EnvVar.int("OPRUN_TEST_N"))


def test_an_envvar_int_that_is_not_an_int_fails_the_run_naming_the_path(monkeypatch):
    monkeypatch.setenv("OPRUN_TEST_POOL_SIZE", "many")

    @op
    def use(pool: Pool) -> None: ...

    @job(resource_defs={"pool": Pool(size=EnvVar.int("OPRUN_TEST_POOL_SIZE"))})
    def j():
        use()

    with pytest.raises(DagsterInvalidConfigError, match="OPRUN_TEST_POOL_SIZE") as raised:
        j.execute_in_process()
    assert raised.value.errors[0].path_str == "root:resources:pool:config:size"


def test_an_envvar_int_in_a_raw_config_dict_is_refused_not_read_as_zero(monkeypatch):
    monkeypatch.setenv("OPRUN_TEST_POOL_SIZE", "9")
    seen: dict[str, Any] = {}

    @op
    def use(pool: Pool) -> None:
        seen["size"] = pool.size

    @job(resource_defs={"pool": Pool.configure_at_launch()})
    def j():
        use()

    with pytest.raises(DagsterInvalidConfigError, match=re.escape("replace it with {'env': 'OPRUN_TEST_POOL_SIZE'}")):
        j.execute_in_process(run_config={"resources": {"pool": {"config": {"size": EnvVar.int("OPRUN_TEST_POOL_SIZE")}}}})
    j.execute_in_process(run_config=RunConfig(resources={"pool": Pool(size=EnvVar.int("OPRUN_TEST_POOL_SIZE"))}))
    assert seen == {"size": 9}
