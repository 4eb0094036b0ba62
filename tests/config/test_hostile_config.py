"""Hostile config values (issue 12, defect 2): whatever a client sends (a GraphQL
client can send any JSON), the config validator answers with a
`DagsterInvalidConfigError` whose errors each have a path, never another
exception: values nested ~1,000 deep, ints too large for a Float, objects whose
repr raises, a run config that is not a mapping, a log level no logger knows."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from oprun import (
    Any as AnyType,
    Array,
    DagsterInvalidConfigError,
    Field,
    Map,
    Noneable,
    OpExecutionContext,
    Permissive,
    Selector,
    Shape,
    job,
    op,
    validate_run_config,
)
from oprun.config.validate import MAX_CONFIG_DEPTH, raise_for_errors, validate_config


def _nested(depth: int, kind: str = "dict", leaf: Any = 1) -> Any:
    value = leaf
    for _ in range(depth):
        value = {"a": value} if kind == "dict" else [value]
    return value


def _invalid(schema: Any, value: Any) -> DagsterInvalidConfigError:
    """The error validating `value` raises; nothing else may escape."""
    result = validate_config(schema, value)
    with pytest.raises(DagsterInvalidConfigError) as raised:
        raise_for_errors(result, "Error in config", value)
    assert raised.value.errors
    str(raised.value)  # the message itself can be built
    return raised.value


def _paths(error: DagsterInvalidConfigError) -> list[str]:
    return [e.path_str for e in error.errors]


class _Hostile:
    """An object whose repr and str raise."""

    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")

    def __str__(self) -> str:
        raise RuntimeError("no str for you")


# -- deep nesting --------------------------------------------------------------


@pytest.mark.parametrize("kind", ["dict", "list"])
def test_deep_value_in_an_any_field_is_a_config_error_naming_the_limit(kind: str) -> None:
    error = _invalid({"blob": AnyType}, {"blob": _nested(1000, kind)})
    assert _paths(error) == ["root:blob"]
    assert f"at most {MAX_CONFIG_DEPTH} levels deep" in error.errors[0].message
    assert "root:blob" in error.errors[0].message


def test_deep_value_in_a_permissive_shape_is_a_config_error_at_its_key() -> None:
    error = _invalid(Permissive({"known": int}), {"known": 1, "extra": _nested(1000)})
    assert _paths(error) == ["root:extra"]
    assert "nested too deep" in error.errors[0].message


def test_deep_value_at_the_root_of_an_any_schema() -> None:
    error = _invalid(AnyType, _nested(5000, "list"))
    assert _paths(error) == ["root"]


def test_deep_value_in_a_strict_shape() -> None:
    error = _invalid(Shape({"a": int}), _nested(1000))
    assert _paths(error) == ["root:a"]
    assert error.errors[0].reason == "RUNTIME_TYPE_MISMATCH"
    assert len(error.errors[0].found or "") <= 60


def test_deep_value_in_an_array() -> None:
    error = _invalid(Array(int), _nested(1000, "list"))
    assert _paths(error) == ["root[0]"]


def test_deep_value_in_a_map_and_a_selector() -> None:
    assert _paths(_invalid(Map(str, int), {"k": _nested(1000)})) == ["root:k"]
    assert _paths(_invalid(Selector({"a": int, "b": str}), {"a": _nested(1000)})) == ["root:a"]


def test_nesting_up_to_the_limit_is_accepted() -> None:
    # The limit counts from the root of the document: `blob` sits one level down.
    assert validate_config({"blob": AnyType}, {"blob": _nested(MAX_CONFIG_DEPTH - 1)}).success
    assert not validate_config({"blob": AnyType}, {"blob": _nested(MAX_CONFIG_DEPTH)}).success
    assert validate_config(Permissive(), {"x": _nested(MAX_CONFIG_DEPTH - 1, "list")}).success


def test_a_self_containing_value_is_refused_not_looped_on() -> None:
    looped: list[Any] = []
    looped.append(looped)
    assert _paths(_invalid({"blob": AnyType}, {"blob": looped})) == ["root:blob"]
    assert _paths(_invalid(Array(int), looped)) == ["root[0]"]


def test_deep_op_config_refuses_the_run_with_the_path() -> None:
    @op(config_schema=AnyType)
    def takes_any(context: OpExecutionContext) -> None:
        pass

    @op(config_schema=Permissive())
    def takes_permissive(context: OpExecutionContext) -> None:
        pass

    @job
    def deep_job() -> None:
        takes_any()
        takes_permissive()

    run_config = {"ops": {"takes_any": {"config": _nested(1000)}, "takes_permissive": {"config": {"x": _nested(1000, "list")}}}}
    for attempt in (lambda: deep_job.execute_in_process(run_config=run_config), lambda: validate_run_config(deep_job, run_config)):
        with pytest.raises(DagsterInvalidConfigError) as raised:
            attempt()
        assert sorted(_paths(raised.value)) == ["root:ops:takes_any:config", "root:ops:takes_permissive:config:x"]


# -- huge numbers ----------------------------------------------------------------


def test_an_int_too_large_for_a_float_field() -> None:
    error = _invalid({"rate": float}, {"rate": 10**400})
    assert _paths(error) == ["root:rate"]
    assert "too large" in error.errors[0].message
    assert _paths(_invalid({"rate": float}, {"rate": -(10**400)})) == ["root:rate"]
    assert _paths(_invalid(Array(float), [1.5, 10**400])) == ["root[1]"]


def test_an_int_in_a_float_field_that_fits_becomes_a_float() -> None:
    assert validate_config({"rate": float}, {"rate": 10**300}).value == {"rate": float(10**300)}


def test_huge_ints_in_an_int_field_are_valid_as_in_dagster() -> None:
    # Dagster 1.13 accepts 10**400 for an Int.
    assert validate_config({"n": int}, {"n": 10**400}).value == {"n": 10**400}
    assert validate_config({"n": int}, {"n": -(10**400)}).success


def test_ints_too_large_to_print_are_refused() -> None:
    # More than 4,300 digits: Python can neither show nor store them as JSON.
    assert _paths(_invalid({"n": int}, {"n": 10**5000})) == ["root:n"]
    assert _paths(_invalid({"blob": AnyType}, {"blob": {"x": [1, 10**5000]}})) == ["root:blob"]
    assert "root:blob:x[1]" in _invalid({"blob": AnyType}, {"blob": {"x": [1, 10**5000]}}).errors[0].message


def test_inf_and_nan_in_a_float_field_are_valid_as_in_dagster() -> None:
    assert validate_config(float, math.inf).value == math.inf
    assert math.isnan(validate_config(float, math.nan).value)


# -- objects whose repr raises -------------------------------------------------------


def test_an_object_whose_repr_raises_in_a_scalar_field() -> None:
    error = _invalid({"n": int}, {"n": _Hostile()})
    assert _paths(error) == ["root:n"]
    assert "_Hostile" in error.errors[0].message


def test_an_object_whose_repr_raises_in_other_places() -> None:
    assert _paths(_invalid(Shape({"a": int}), {"a": 1, "b": _Hostile()})) == ["root:b"]
    assert _paths(_invalid(Shape({"a": int}), _Hostile())) == ["root"]
    assert _paths(_invalid(Array(int), [_Hostile()])) == ["root[0]"]
    assert _paths(_invalid(Noneable(str), _Hostile())) == ["root"]
    assert _paths(_invalid(Map(str, int), {"k": _Hostile()})) == ["root:k"]
    hostile_key = _invalid(Shape({"a": int}), {"a": 1, _Hostile(): 2})
    assert len(hostile_key.errors) == 1 and hostile_key.errors[0].reason == "FIELD_NOT_DEFINED"
    assert _paths(_invalid({"url": Field(str)}, {"url": {"env": _Hostile()}})) == ["root:url"]


def test_an_enum_given_an_object_whose_str_raises() -> None:
    from oprun import Enum, EnumValue

    colour = Enum("Colour", [EnumValue("RED"), EnumValue("BLUE")])
    assert _paths(_invalid({"c": colour}, {"c": _Hostile()})) == ["root:c"]
    assert _paths(_invalid({"c": colour}, {"c": _nested(1000)})) == ["root:c"]


def test_an_object_whose_repr_raises_in_op_config_refuses_the_run() -> None:
    @op(config_schema={"n": int})
    def needs_n(context: OpExecutionContext) -> None:
        pass

    @job
    def hostile_job() -> None:
        needs_n()

    with pytest.raises(DagsterInvalidConfigError) as raised:
        hostile_job.execute_in_process(run_config={"ops": {"needs_n": {"config": {"n": _Hostile()}}}})
    assert _paths(raised.value) == ["root:ops:needs_n:config:n"]


# -- the top level of a run config ------------------------------------------------------


@op(config_schema={"n": int})
def _needs_config(context: OpExecutionContext) -> None:
    pass


@job
def _needs_config_job() -> None:
    _needs_config()


@op
def _no_config() -> None:
    pass


@job
def _no_config_job() -> None:
    _no_config()


@pytest.mark.parametrize("run_config", [["ops"], "ops: {}", 3, 1.5, True, _Hostile()])
@pytest.mark.parametrize("entry", ["execute_in_process", "validate_run_config"])
def test_a_run_config_that_is_not_a_mapping_is_an_error_at_root(run_config: Any, entry: str) -> None:
    for target in (_needs_config_job, _no_config_job):
        with pytest.raises(DagsterInvalidConfigError) as raised:
            if entry == "execute_in_process":
                target.execute_in_process(run_config=run_config)
            else:
                validate_run_config(target, run_config)
        assert _paths(raised.value) == ["root"]
        assert "must be a dict" in raised.value.errors[0].message
        str(raised.value)


@pytest.mark.parametrize("entry", ["execute_in_process", "validate_run_config"])
def test_a_run_config_of_none_is_no_config(entry: str) -> None:
    # None is what run_config defaults to: no config, so only a job that needs some fails.
    run = _no_config_job.execute_in_process if entry == "execute_in_process" else (lambda run_config: validate_run_config(_no_config_job, run_config))
    run(run_config=None)
    with pytest.raises(DagsterInvalidConfigError) as raised:
        if entry == "execute_in_process":
            _needs_config_job.execute_in_process(run_config=None)
        else:
            validate_run_config(_needs_config_job, None)
    assert raised.value.errors
    assert all(path.startswith("root:ops") for path in _paths(raised.value))


# -- log levels ---------------------------------------------------------------------------


def _with_log_level(level: Any) -> dict[str, Any]:
    return {"loggers": {"console": {"config": {"log_level": level}}}}


@pytest.mark.parametrize("level", ["NOPE", "NOTSET", "loud", "", " INFO"])
def test_a_log_level_no_logger_knows_is_refused_with_the_levels(level: str) -> None:
    for attempt in (
        lambda: validate_run_config(_no_config_job, _with_log_level(level)),
        lambda: _no_config_job.execute_in_process(run_config=_with_log_level(level)),
    ):
        with pytest.raises(DagsterInvalidConfigError) as raised:
            attempt()
        assert _paths(raised.value) == ["root:loggers:console:config:log_level"]
        message = raised.value.errors[0].message
        assert "permissible values are 'CRITICAL', 'FATAL', 'ERROR', 'WARNING', 'WARN', 'INFO', 'DEBUG'" in message


def test_a_misspelt_log_level_gets_a_did_you_mean() -> None:
    with pytest.raises(DagsterInvalidConfigError) as raised:
        validate_run_config(_no_config_job, _with_log_level("WARNIGN"))
    assert raised.value.errors[0].suggestion == "Did you mean 'WARNING'?"
    assert "Did you mean 'WARNING'?" in raised.value.errors[0].message


@pytest.mark.parametrize("level", [3, None, ["INFO"], _Hostile()])
def test_a_log_level_that_is_not_a_string_is_refused(level: Any) -> None:
    with pytest.raises(DagsterInvalidConfigError) as raised:
        validate_run_config(_no_config_job, _with_log_level(level))
    assert _paths(raised.value) == ["root:loggers:console:config:log_level"]


@pytest.mark.parametrize("level", ["DEBUG", "info", "Warning", "warn", "ERROR", "critical", "FATAL"])
def test_log_levels_dagster_accepts_in_any_case(level: str) -> None:
    assert validate_run_config(_no_config_job, _with_log_level(level))["loggers"]["console"]["config"]["log_level"] == level
    assert _no_config_job.execute_in_process(run_config=_with_log_level(level)).success


def test_the_json_console_logger_checks_its_level_too() -> None:
    from oprun import json_console_logger

    @job(logger_defs={"json": json_console_logger})
    def json_logged() -> None:
        _no_config()

    with pytest.raises(DagsterInvalidConfigError) as raised:
        validate_run_config(json_logged, {"loggers": {"json": {"config": {"log_level": "NOPE"}}}})
    assert _paths(raised.value) == ["root:loggers:json:config:log_level"]


# -- any JSON-like value, against a few schemas -----------------------------------------------


_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([400, -400, 309, 5000]).map(lambda e: 10 ** abs(e) * (1 if e > 0 else -1))  # huge, past a float, unprintable
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8)
    | st.sampled_from(["a", "n", "x", "env", "RED", "INFO", "nope"])
)
_json_like = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["a", "n", "x", "env", "blob", "items", "mode"]) | st.text(max_size=4), children, max_size=4),
    max_leaves=25,
)
# A value nested past the limit, somewhere in an otherwise small value.
_deep = st.builds(_nested, st.sampled_from([MAX_CONFIG_DEPTH - 2, MAX_CONFIG_DEPTH, MAX_CONFIG_DEPTH + 1, 1000]), st.sampled_from(["dict", "list"]), _scalars)
_values = _json_like | _deep | st.dictionaries(st.sampled_from(["a", "n", "x", "blob", "items"]), _json_like | _deep, max_size=4)

_SCHEMAS: list[Any] = [
    {"a": int, "n": Field(float, is_required=False), "x": Field(str, default_value="d")},
    Permissive({"n": Field(int, is_required=False)}),
    {"blob": AnyType, "items": Field([{"n": float}], is_required=False)},
    Array(Noneable(float)),
    Map(str, Shape({"n": Field(int, is_required=False)})),
    Selector({"a": int, "blob": Permissive()}),
    {"x": Field(str, is_required=False), "n": Field(int, is_required=False)},
    AnyType,
]


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schema_index=st.integers(0, len(_SCHEMAS) - 1), value=_values)
def test_any_json_like_value_is_accepted_or_a_config_error_with_paths(schema_index: int, value: Any) -> None:
    result = validate_config(_SCHEMAS[schema_index], value)
    if result.success:
        return
    assert result.errors
    for error in result.errors:
        assert error.path and error.path[0] == "root"
        assert all(isinstance(part, (str, int)) for part in error.path)
        assert error.path_str.startswith("root")
        assert isinstance(error.message, str) and error.message
    with pytest.raises(DagsterInvalidConfigError) as raised:
        raise_for_errors(result, "Error in config", value)
    str(raised.value)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(run_config=_values | _scalars)
def test_any_json_like_run_config_is_accepted_or_a_config_error_with_paths(run_config: Any) -> None:
    try:
        validate_run_config(_needs_config_job, run_config)
    except DagsterInvalidConfigError as error:
        assert error.errors
        assert all(e.path_str.startswith("root") for e in error.errors)
        str(error)


_ordinary = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: st.lists(children, max_size=5)
    | st.tuples(children)
    | st.dictionaries(st.text(max_size=5) | st.integers(), children, max_size=5),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(value=_ordinary)
def test_values_in_messages_are_their_repr_cut_to_sixty_characters(value: Any) -> None:
    # Messages show values as before: only the way the repr is built changed (as
    # far as shown, never failing).
    from oprun.config.validate import _short

    text = repr(value)
    assert _short(value) == (text if len(text) <= 60 else text[:57] + "...")
