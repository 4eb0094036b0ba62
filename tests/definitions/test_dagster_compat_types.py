"""Dagster's type names and helpers, as Dagster 1.13 has them (checked against it):
config scalars and List/Optional/Dict/Set/Tuple as Dagster types, usable_as_dagster_type,
PythonObjectDagsterType, type loaders with their context, file_relative_path,
multi-partitions and DagsterConfigMappingFunctionError."""

import os
import pickle
from typing import Any as TypingAny

import pytest

import oprun
from oprun import (
    Bool,
    DagsterConfigMappingFunctionError,
    DagsterInvalidDefinitionError,
    DagsterType,
    DagsterTypeCheckDidNotPass,
    DagsterTypeLoaderContext,
    DagsterUnknownPartitionError,
    DailyPartitionsDefinition,
    Dict,
    Field,
    Float,
    In,
    Int,
    List,
    MultiPartitionKey,
    MultiPartitionsDefinition,
    Nothing,
    Optional,
    Out,
    PythonObjectDagsterType,
    Set,
    Shape,
    StaticPartitionsDefinition,
    String,
    Tuple,
    config_mapping,
    dagster_type_loader,
    file_relative_path,
    graph,
    job,
    make_python_type_usable_as_dagster_type,
    op,
    resource,
    usable_as_dagster_type,
)
from oprun import Any as OprunAny
from oprun.config.mapping import ConfigMapping
from oprun.errors import DagsterInvariantViolationError, DagsterUserCodeExecutionError


def _run_input(dagster_type: object, config_value: object, raise_on_error: bool = True) -> object:
    """Run a one-op job whose unconnected input `x` of `dagster_type` is read from run config."""

    @op(ins={"x": In(dagster_type)})
    def take(x):
        return x

    @job
    def one():
        take()

    result = one.execute_in_process(run_config={"ops": {"take": {"inputs": {"x": config_value}}}}, raise_on_error=raise_on_error)
    return result.output_for_node("take") if result.success else result


def _check(dagster_type: object, value: object) -> bool:
    return oprun.definitions.jobs.types.resolve_dagster_type(dagster_type).type_check(None, value).success


# --- 1. config-type names are Dagster types ---------------------------------------------------


def test_config_scalars_are_dagster_types_in_in_and_out():
    @op(ins={"n": In(Int), "s": In(String)}, out=Out(Float))
    def scale(n, s):
        return n * 1.5 if s else "not a float"

    assert scale.ins["n"].dagster_type.display_name == "Int"
    assert scale.outs["result"].dagster_type.display_name == "Float"

    @job
    def scaled():
        scale()

    ok = scaled.execute_in_process(run_config={"ops": {"scale": {"inputs": {"n": 2, "s": "yes"}}}})
    assert ok.output_for_node("scale") == 3.0
    with pytest.raises(DagsterTypeCheckDidNotPass, match='step output "result" - expected type "Float"'):
        scaled.execute_in_process(run_config={"ops": {"scale": {"inputs": {"n": 2, "s": ""}}}})
    assert _check(Bool, True) and not _check(Bool, 1)
    assert _check(OprunAny, object()) and _check(TypingAny, None)


def test_list_is_public_subscriptable_and_bare():
    assert "List" in oprun.__all__
    assert _check(List[Int], [1, 2]) and not _check(List[Int], ["a"]) and not _check(List[Int], (1,))
    assert _check(List, [1, "a"]) and not _check(List, (1,))
    assert _run_input(List[Int], [3, 4]) == [3, 4]
    assert _run_input(List[Optional[String]], [None, "a"]) == [None, "a"]


def test_dagster_optional_is_nullable():
    assert _check(Optional[Int], None) and _check(Optional[Int], 1) and not _check(Optional[Int], "a")
    assert _check(Optional[List[Int]], None) and not _check(Optional[List[Int]], ["a"])
    assert _run_input(Optional[Int], None) is None
    with pytest.raises(DagsterInvalidDefinitionError, match="Optional needs an inner type"):
        In(Optional)


def test_dict_set_tuple_check_at_run_time():
    @op(out=Out(Dict))
    def not_a_dict():
        return [1]

    @job
    def bad():
        not_a_dict()

    result = bad.execute_in_process(raise_on_error=False)
    assert not result.success
    assert 'Value "[1]" of python type "list" must be a dict.' in result.failure_data_for_node("not_a_dict").error.message
    assert _check(Dict[str, int], {"a": 1}) and not _check(Dict[str, int], {"a": "b"}) and not _check(Dict[str, int], {1: 1})
    assert _check(Set, {1}) and not _check(Set, [1]) and not _check(Set, frozenset())
    assert _check(Set[Int], {1}) and not _check(Set[String], {1})
    assert _check(Tuple, (1,)) and not _check(Tuple, [1])
    assert _check(Tuple[Int, String], (1, "a")) and not _check(Tuple[Int, String], (1, 2)) and not _check(Tuple[Int, String], (1,))
    # Python's own generics resolve to the same typed checks.
    assert _check(dict[str, int], {"a": 1}) and not _check(dict[str, int], {"a": "b"})
    assert _check(set[int], {1}) and not _check(set[int], {"a"})
    assert not _check(tuple[int, str], (1, 2))


def test_dict_set_tuple_inputs_load_from_run_config():
    assert _run_input(Dict, {"a": 1}) == {"a": 1}
    assert _run_input(Dict[str, int], {"a": 1}) == {"a": 1}
    assert _run_input(Set[Int], [1, 2, 2]) == {1, 2}
    assert _run_input(Tuple[Int, String], [1, "a"]) == (1, "a")
    assert not _run_input(Tuple[Int, String], [1, 2], raise_on_error=False).success
    # As in Dagster, a bare Set or Tuple has no loader: an unconnected input of it cannot be resolved.
    for bare in (Set, Tuple):

        @op(ins={"x": In(bare)})
        def needs(x):
            return x

        with pytest.raises(DagsterInvalidDefinitionError, match="has no way of being resolved"):

            @job
            def unresolved():
                needs()


@pytest.mark.parametrize(
    ("schema", "hint"),
    [
        (List[Int], r"Array\(int\)"),
        (List, r"Array\(int\)"),
        (Optional[Int], r"Noneable\(int\)"),
        (Set, r"Array\(int\)"),
        (Tuple[Int, String], r"Array\(int\)"),
        (Dict, r"Permissive\(\)"),
        (Nothing, "leave it out"),
    ],
)
def test_dagster_only_types_are_refused_in_config_schemas(schema, hint):
    refused = f"Cannot use the Dagster type .* in a config schema.*{hint}"
    with pytest.raises(DagsterInvalidDefinitionError, match=refused):
        Field(schema)
    with pytest.raises(DagsterInvalidDefinitionError, match=refused):
        Shape({"a": schema})

    # oprun reads an op's config schema when a run is prepared (Dagster, when the op is decorated).
    @op(config_schema={"a": schema})
    def configured_op(context):
        return context.op_config

    @job
    def configured_job():
        configured_op()

    with pytest.raises(DagsterInvalidDefinitionError, match=refused):
        configured_job.execute_in_process(run_config={"ops": {"configured_op": {"config": {"a": [1]}}}})


def test_config_scalar_names_work_in_config_schemas():
    @op(config_schema={"n": Int, "s": String, "f": Float, "b": Bool, "a": OprunAny, "f2": Field(Int, default_value=3)})
    def read(context):
        return context.op_config

    @job
    def reads():
        read()

    value = reads.execute_in_process(run_config={"ops": {"read": {"config": {"n": 1, "s": "x", "f": 1.5, "b": True, "a": [1]}}}})
    assert value.output_for_node("read") == {"n": 1, "s": "x", "f": 1.5, "b": True, "a": [1], "f2": 3}


# --- 2. usable_as_dagster_type, PythonObjectDagsterType, type loaders -------------------------


def test_usable_as_dagster_type_bare_and_with_arguments():
    @usable_as_dagster_type
    class Bare:
        pass

    @dagster_type_loader({"x": int, "y": int})
    def load_point(_context, value):
        return Point(value["x"], value["y"])

    @usable_as_dagster_type(name="Pt", description="a point", loader=load_point)
    class Point:
        def __init__(self, x, y):
            self.x, self.y = x, y

    @op
    def show(pt: Point, b: Bare) -> str:
        return f"{pt.x},{pt.y}"

    pt_type = show.ins["pt"].dagster_type
    assert isinstance(pt_type, PythonObjectDagsterType)
    assert (pt_type.display_name, pt_type.description) == ("Pt", "a point")
    assert show.ins["b"].dagster_type.display_name == "Bare"

    @op
    def make_bare():
        return Bare()

    @job
    def shows():
        show(b=make_bare())

    result = shows.execute_in_process(run_config={"ops": {"show": {"inputs": {"pt": {"x": 1, "y": 2}}}}})
    assert result.output_for_node("show") == "1,2"

    @op
    def wrong() -> Point:
        return 1

    @job
    def wrongs():
        wrong()

    with pytest.raises(DagsterTypeCheckDidNotPass, match='expected type "Pt"'):
        wrongs.execute_in_process()


def test_make_python_type_usable_as_dagster_type_is_one_to_one():
    class Celsius(float):
        pass

    warm = DagsterType(lambda _context, value: isinstance(value, Celsius) and value > 0, name="WarmCelsius")
    make_python_type_usable_as_dagster_type(Celsius, warm)
    make_python_type_usable_as_dagster_type(Celsius, warm)  # the same type again is fine

    @op
    def read(t: Celsius):
        return t

    assert read.ins["t"].dagster_type is warm
    assert In(Celsius).dagster_type is warm
    with pytest.raises(DagsterInvalidDefinitionError, match="already been registered for the Python type"):
        make_python_type_usable_as_dagster_type(Celsius, DagsterType(lambda _c, _v: True, name="Other"))


def test_python_object_dagster_type_is_a_class_with_dagsters_arguments():
    number = PythonObjectDagsterType((int, float))
    assert isinstance(number, DagsterType) and isinstance(number, PythonObjectDagsterType)
    assert number.display_name == "Union[int, float]"
    assert number.type_check(None, 1.5).success and not number.type_check(None, "a").success
    keyed = PythonObjectDagsterType(dict, "KeyOfDict", name="Named", description="d")
    assert (keyed.key, keyed.name, keyed.description, keyed.python_type) == ("KeyOfDict", "Named", "d", dict)
    with pytest.raises(DagsterInvalidDefinitionError, match="needs a Python class"):
        PythonObjectDagsterType(3)


def test_type_loader_gets_a_context_with_its_resources_and_log():
    seen = {}

    @dagster_type_loader({"n": int}, required_resource_keys={"factor"})
    def load_scaled(context, value):
        seen["context"] = context
        context.log.info("loading a scaled number")
        return value["n"] * context.resources.factor

    Scaled = DagsterType(lambda _context, value: isinstance(value, int), name="Scaled", loader=load_scaled)

    @op(ins={"x": In(Scaled)})
    def use(x):
        return x

    @job(resource_defs={"factor": resource(lambda _init: 10)})
    def scaled():
        use()

    result = scaled.execute_in_process(run_config={"ops": {"use": {"inputs": {"x": {"n": 4}}}}})
    assert result.output_for_node("use") == 40
    context = seen["context"]
    assert isinstance(context, DagsterTypeLoaderContext)
    assert (context.op_def.name, context.job_def.name, context.run_id) == ("use", "scaled", result.run_id)
    assert any(entry.message == "loading a scaled number" and entry.step_key == "use" for entry in result.event_log_entries)

    @job
    def missing_factor():
        use()

    with pytest.raises(DagsterInvalidDefinitionError, match="resource with key 'factor' required by the loader on type 'Scaled'"):
        missing_factor.execute_in_process(run_config={"ops": {"use": {"inputs": {"x": {"n": 4}}}}})


def test_type_loader_signature_and_schema_are_checked_when_written():
    with pytest.raises(DagsterInvalidDefinitionError, match="required positional parameter 'context'"):

        @dagster_type_loader(int)
        def no_context(value):
            return value

    with pytest.raises(DagsterInvalidDefinitionError, match=r"required positional parameter '\*'"):

        @dagster_type_loader(int)
        def no_value(context):
            return context

    with pytest.raises(DagsterInvalidDefinitionError, match="loader must be a DagsterTypeLoader"):
        DagsterType(lambda _c, _v: True, name="T", loader=lambda _c, v: v)


# --- 3. file_relative_path, multi-partitions, config mapping errors ---------------------------


def test_file_relative_path():
    here = os.path.dirname(os.path.realpath(__file__))
    assert file_relative_path(__file__, "data/x.yaml") == os.path.join(here, "data", "x.yaml")
    assert file_relative_path(__file__, "../up.txt") == os.path.join(os.path.dirname(here), "up.txt")
    assert file_relative_path("/a/b/c.py", "/abs/x") == "/abs/x"
    with pytest.raises(oprun.DagsterInvalidInvocationError, match="dunderfile must be a path string"):
        file_relative_path(None, "x")


def test_multi_partition_keys_and_dimensions():
    parts = MultiPartitionsDefinition({"num": StaticPartitionsDefinition(["x", "y"]), "letter": StaticPartitionsDefinition(["a", "b"])})
    keys = parts.get_partition_keys()
    assert keys == ["a|x", "a|y", "b|x", "b|y"]
    assert isinstance(keys[0], MultiPartitionKey) and keys[0].keys_by_dimension == {"letter": "a", "num": "x"}
    assert parts.partition_dimension_names == ["letter", "num"]
    assert parts.primary_dimension.name == "letter" and parts.secondary_dimension.name == "num"
    key = MultiPartitionKey({"num": "y", "letter": "b"})
    assert key == "b|y" and hash(key) == hash("b|y") and [d.partition_key for d in key.dimension_keys] == ["b", "y"]
    assert pickle.loads(pickle.dumps(key)).keys_by_dimension == {"letter": "b", "num": "y"}
    assert parts.has_partition_key("a|y") and not parts.has_partition_key("y|a")
    assert parts.get_partition_key_from_str("b|x").keys_by_dimension == {"letter": "b", "num": "x"}
    assert parts.get_multipartition_keys_with_dimension_value("letter", "a") == ["a|x", "a|y"]
    assert parts.get_partition_keys_in_range(oprun.PartitionKeyRange("a|x", "b|x")) == ["a|x", "b|x"]
    with pytest.raises(DagsterUnknownPartitionError, match="in dimension 'letter'"):
        parts.validate_partition_key("y|a")
    with pytest.raises(oprun.DagsterInvalidInvocationError, match="only supports multi-partitions definitions with 2"):
        MultiPartitionsDefinition({"only": StaticPartitionsDefinition(["a"])})
    with pytest.raises(DagsterInvalidDefinitionError, match="Invalid character in partition key"):
        MultiPartitionsDefinition({"a": StaticPartitionsDefinition(["1|2"]), "b": StaticPartitionsDefinition(["1"])})


def test_multi_partitioned_job_runs_one_pair():
    seen = {}

    @op
    def record(context):
        seen["key"] = context.partition_key
        seen["window"] = context.partition_time_window

    daily_by_color = MultiPartitionsDefinition(
        {"date": DailyPartitionsDefinition("2024-01-01", end_date="2024-01-03"), "color": StaticPartitionsDefinition(["red", "blue"])}
    )
    assert daily_by_color.primary_dimension.name == "date"
    assert daily_by_color.get_partition_keys() == ["red|2024-01-01", "red|2024-01-02", "blue|2024-01-01", "blue|2024-01-02"]

    @job(partitions_def=daily_by_color)
    def colored():
        record()

    result = colored.execute_in_process(partition_key="blue|2024-01-02")
    assert isinstance(seen["key"], MultiPartitionKey) and seen["key"].keys_by_dimension == {"color": "blue", "date": "2024-01-02"}
    assert seen["window"].start.day == 2 and seen["window"].end.day == 3
    tags = result.dagster_run.tags
    assert (tags["dagster/partition"], tags["dagster/partition/color"], tags["dagster/partition/date"]) == ("blue|2024-01-02", "blue", "2024-01-02")
    with pytest.raises(DagsterUnknownPartitionError, match="in dimension 'color'"):
        colored.execute_in_process(partition_key="green|2024-01-02")
    by_color = oprun.PartitionedConfig(daily_by_color, lambda key: {"ops": {"pick": {"config": {"c": key.keys_by_dimension["color"]}}}})

    @op(config_schema={"c": str})
    def pick(context):
        return context.op_config["c"]

    @job(config=by_color)
    def picked():
        pick()

    assert picked.execute_in_process(partition_key="red|2024-01-01").output_for_node("pick") == "red"
    static_only = MultiPartitionsDefinition({"a": StaticPartitionsDefinition(["1"]), "b": StaticPartitionsDefinition(["2"])})
    with pytest.raises(DagsterInvariantViolationError, match="single time dimension"):
        static_only.time_window_for_partition_key("1|2")


def test_config_mapping_function_errors_are_wrapped():
    @op(config_schema={"x": int})
    def read(context):
        return context.op_config["x"]

    @config_mapping(config_schema={"y": int})
    def breaks(value):
        raise ValueError(f"boom {value['y']}")

    @job(config=breaks)
    def mapped():
        read()

    with pytest.raises(DagsterConfigMappingFunctionError, match="The config mapping function on job mapped has thrown an unexpected error") as caught:
        mapped.execute_in_process(run_config={"y": 1})
    assert isinstance(caught.value, DagsterUserCodeExecutionError)
    assert isinstance(caught.value.user_exception, ValueError) and caught.value.__cause__ is caught.value.user_exception
    with pytest.raises(DagsterConfigMappingFunctionError):
        oprun.validate_run_config(mapped, {"y": 1})

    @graph(config=ConfigMapping(config_fn=lambda _value: 1 / 0, config_schema={"y": int}))
    def inner():
        read()

    @job
    def outer():
        inner()

    with pytest.raises(DagsterConfigMappingFunctionError, match="graph 'inner'.*ZeroDivisionError"):
        outer.execute_in_process(run_config={"ops": {"inner": {"config": {"y": 1}}}})

    # A configured() function is a config mapping function too.
    halved = read.configured(lambda cfg: {"x": cfg["a"] // 0}, name="halved", config_schema={"a": int})

    @job
    def uses_configured():
        halved()

    with pytest.raises(DagsterConfigMappingFunctionError, match="`configured` copy of op read.*ZeroDivisionError"):
        uses_configured.execute_in_process(run_config={"ops": {"halved": {"config": {"a": 1}}}})


def test_config_mapping_raising_a_dagster_error_is_not_rewrapped():
    @op
    def noop():
        pass

    @config_mapping(config_schema={"y": int})
    def refuses(_value):
        raise DagsterInvalidDefinitionError("refused on purpose")

    @job(config=refuses)
    def refusing():
        noop()

    with pytest.raises(DagsterInvalidDefinitionError, match="refused on purpose"):
        refusing.execute_in_process(run_config={"y": 1})


def test_a_loader_subclass_written_for_dagsters_interface_works():
    from oprun import DagsterTypeLoader

    class CommaSeparated(DagsterTypeLoader):
        @property
        def schema_type(self):
            return String

        def construct_from_config_value(self, context, config_value):
            return config_value.split(",")

    words = DagsterType(lambda _c, value: isinstance(value, list), name="Words", loader=CommaSeparated())
    assert _run_input(words, "a,b") == ["a", "b"]


def test_dagster_type_names_work_as_annotations():
    @op
    def annotated(x: Int, y: List[Int], z: Optional[String], d: Dict[str, int], s: Set[Int], t: Tuple[Int, String]) -> List[Int]:
        return [x]

    names = {name: spec.dagster_type.display_name for name, spec in annotated.ins.items()}
    assert names == {"x": "Int", "y": "List[Int]", "z": "Optional[String]", "d": "Dict[String,Int]", "s": "Set[Int]", "t": "Tuple[Int,String]"}
    assert annotated.outs["result"].dagster_type.display_name == "List[Int]"
