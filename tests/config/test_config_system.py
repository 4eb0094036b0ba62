"""The config system: types and shorthand, validation (every reason code, paths,
all errors at once, did-you-mean), processing (defaults, env sources, enums),
Config classes, RunConfig, mappings, scaffolds, YAML loading."""

import enum
from typing import Literal, Optional

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oprun import (
    Array,
    Config,
    ConfigMapping,
    DagsterInvalidConfigDefinitionError,
    DagsterInvalidConfigError,
    Enum,
    EnumValue,
    EnvVar,
    Field,
    IntSource,
    Map,
    Noneable,
    Permissive,
    PermissiveConfig,
    RunConfig,
    ScalarUnion,
    Selector,
    Shape,
    StringSource,
    config_mapping,
)
from oprun.config.run_config import load_yaml_configs, load_yaml_string, merge_run_configs
from oprun.config.scaffold import config_type_to_json, scaffold_config, scaffold_yaml
from oprun.config.validate import mask_secrets, validate_config


def _reasons(result):
    return [(e.path_str, e.reason) for e in result.errors]


def test_scalars_and_paths():
    result = validate_config({"a": int, "b": [str], "c": {"d": float}}, {"a": "x", "b": ["ok", 3], "c": {"d": True}})
    assert not result.success
    assert _reasons(result) == [
        ("root:a", "RUNTIME_TYPE_MISMATCH"),
        ("root:b[1]", "RUNTIME_TYPE_MISMATCH"),
        ("root:c:d", "RUNTIME_TYPE_MISMATCH"),
    ]
    assert 'Value "\'x\'" of type "str" is not valid for expected type "Int"' in result.errors[0].message
    assert result.errors[0].expected == "Int" and result.errors[0].found == "'x'"


def test_unknown_and_missing_fields_with_suggestions():
    result = validate_config({"config_param": str, "other": int}, {"config_parm": "x"})
    reasons = dict(_reasons(result))
    assert reasons["root:config_parm"] == "FIELD_NOT_DEFINED"
    assert reasons["root"] == "MISSING_REQUIRED_FIELDS"
    unknown = [e for e in result.errors if e.reason == "FIELD_NOT_DEFINED"][0]
    assert "Did you mean 'config_param'" in unknown.message and unknown.suggestion
    one_missing = validate_config({"a": int}, {})
    assert _reasons(one_missing) == [("root:a", "MISSING_REQUIRED_FIELD")]
    assert "Sample config for missing entry: {'a': 0}" in one_missing.errors[0].message


def test_defaults_fill_in_recursively():
    schema = {"a": Field(int, default_value=3), "nested": {"b": Field(str, default_value="x"), "c": Noneable(int)}}
    result = validate_config(schema, {})
    assert result.success
    assert result.value == {"a": 3, "nested": {"b": "x", "c": None}}


def test_selectors():
    schema = Selector({"one": int, "two": {"x": int}})
    assert validate_config(schema, {"two": {"x": 1}}).value == {"two": {"x": 1}}
    assert _reasons(validate_config(schema, {"one": 1, "two": {"x": 1}})) == [("root", "SELECTOR_FIELD_ERROR")]
    assert _reasons(validate_config(schema, {})) == [("root", "SELECTOR_FIELD_ERROR")]
    assert _reasons(validate_config(schema, {"three": 1})) == [("root:three", "FIELD_NOT_DEFINED")]


def test_enums_maps_permissive_scalar_union():
    class Color(enum.Enum):
        RED = 1
        BLUE = 2

    assert validate_config(Enum.from_python_enum(Color), "RED").value is Color.RED
    bad = validate_config(Enum("E", [EnumValue("a"), EnumValue("b")]), "c")
    assert bad.errors[0].reason == "RUNTIME_TYPE_MISMATCH" and "not in enum type E" in bad.errors[0].message
    assert validate_config(Map(str, int), {"k": 1}).value == {"k": 1}
    assert not validate_config(Map(str, int), {"k": "v"}).success
    assert validate_config(Permissive({"a": int}), {"a": 1, "extra": [1]}).value == {"a": 1, "extra": [1]}
    union = ScalarUnion(str, {"path": str})
    assert validate_config(union, "x").value == "x"
    assert validate_config(union, {"path": "p"}).value == {"path": "p"}
    assert validate_config(Array(int), [1, 2]).value == [1, 2]


def test_env_sources_are_read_and_reported_as_secrets(monkeypatch):
    monkeypatch.setenv("OPRUN_TEST_TOKEN", "s3cret")
    monkeypatch.setenv("OPRUN_TEST_PORT", "5432")
    result = validate_config({"token": StringSource, "port": IntSource}, {"token": {"env": "OPRUN_TEST_TOKEN"}, "port": {"env": "OPRUN_TEST_PORT"}})
    assert result.value == {"token": "s3cret", "port": 5432}
    assert ("root", "token") in result.secret_paths
    assert mask_secrets(result.value, result.secret_paths) == {"token": "******", "port": "******"}
    missing = validate_config({"token": StringSource}, {"token": {"env": "OPRUN_TEST_NOT_SET"}})
    assert missing.errors[0].reason == "FAILED_POST_PROCESSING"
    assert 'environment variable "OPRUN_TEST_NOT_SET" which is not set' in missing.errors[0].message


def test_alias_collision():
    schema = Shape({"ops": Field(dict, is_required=False)}, field_aliases={"ops": "solids"})
    assert _reasons(validate_config(schema, {"ops": {}, "solids": {}})) == [("root", "FIELD_ALIAS_COLLISION")]
    assert validate_config(schema, {"solids": {"a": 1}}).value == {"ops": {"a": 1}}


def test_bad_schemas_are_definition_errors():
    with pytest.raises(DagsterInvalidConfigDefinitionError, match="exactly one type"):
        Shape({"a": [int, str]})
    with pytest.raises(DagsterInvalidConfigDefinitionError, match="Cannot use"):
        Field(object())
    with pytest.raises(DagsterInvalidConfigDefinitionError, match="required field cannot have a default"):
        Field(int, default_value=1, is_required=True)


class Level(enum.Enum):
    LOW = "low"
    HIGH = "high"


class Inner(Config):
    depth: int = 1


class Outer(Config):
    """Outer config."""

    name: str
    count: int = 2
    ratio: float = 0.5
    tags: list[str] = []
    extra: dict[str, int] = {}
    maybe: Optional[str] = None
    level: Level = Level.LOW
    mode: Literal["a", "b"] = "a"
    inner: Inner = Inner()


def test_config_classes_become_schemas_and_round_trip():
    schema = Outer.to_config_schema()
    assert schema.fields["name"].is_required and not schema.fields["count"].is_required
    result = validate_config(Outer, {"name": "x", "level": "HIGH", "inner": {"depth": 3}})
    assert result.success
    built = Outer.from_config_value(result.value)
    assert built.level is Level.HIGH and built.inner.depth == 3 and built.count == 2
    assert Outer(name="y").to_config_dict()["level"] == "LOW"
    assert not validate_config(Outer, {"name": "x", "mode": "c"}).success
    assert not validate_config(Outer, {"nam": "x"}).success


def test_permissive_config_and_env_var_fields():
    class Open(PermissiveConfig):
        a: int = 1

    assert validate_config(Open, {"b": 2}).value == {"a": 1, "b": 2}

    class WithSecret(Config):
        token: str

    assert WithSecret(token=EnvVar("TOKEN")).to_config_dict() == {"token": {"env": "TOKEN"}}


def test_run_config_converts_config_objects():
    class C(Config):
        x: int

    run_config = RunConfig(ops={"a": C(x=1), "g": {"ops": {"b": C(x=2)}}}, resources={"r": {"config": {"k": 1}}})
    assert run_config.to_config_dict() == {
        "ops": {"a": {"config": {"x": 1}}, "g": {"ops": {"b": {"config": {"x": 2}}}}},
        "resources": {"r": {"config": {"k": 1}}},
    }


def test_config_mapping_with_a_config_class_and_a_schema():
    class Small(Config):
        word: str

    @config_mapping
    def mapped(val: Small) -> RunConfig:
        return {"ops": {"a": {"config": {"w": val.word}}}}

    assert mapped.resolve_from_validated({"word": "x"}) == {"ops": {"a": {"config": {"w": "x"}}}}
    legacy = ConfigMapping(config_fn=lambda c: {"ops": {"a": {"config": c}}}, config_schema={"w": str})
    assert legacy.resolve_from_validated({"w": "y"}) == {"ops": {"a": {"config": {"w": "y"}}}}


def test_scaffolds():
    schema = {"a": int, "b": Field(str, default_value="x", description="the b"), "c": {"d": Field(bool, is_required=False)}}
    assert scaffold_config(schema, required_only=True) == {"a": 0}
    assert scaffold_config(schema) == {"a": 0, "b": "x", "c": {"d": False}}
    text = scaffold_yaml(schema)
    assert "a: 0  # Int, required" in text and "the b" in text
    described = config_type_to_json(schema)
    assert [f["name"] for f in described["fields"]] == ["a", "b", "c"]


def test_yaml_loading_merges_and_reports_lines(tmp_path):
    first = tmp_path / "a.yaml"
    second = tmp_path / "b.yaml"
    first.write_text("ops:\n  a:\n    config: {x: 1, y: 2}\n")
    second.write_text("ops:\n  a:\n    config: {y: 3}\n")
    assert load_yaml_configs([str(first), str(second)]) == {"ops": {"a": {"config": {"x": 1, "y": 3}}}}
    assert merge_run_configs({"a": [1]}, {"a": [2]}) == {"a": [2]}
    with pytest.raises(DagsterInvalidConfigError, match="bad.yaml, line 3"):
        load_yaml_string("ops:\n  a: [unclosed\n", "bad.yaml")
    with pytest.raises(DagsterInvalidConfigError, match="Cannot read run config file .*missing.yaml"):
        load_yaml_configs([str(tmp_path / "missing.yaml")])


# --- properties -------------------------------------------------------------------

_scalars = st.sampled_from([int, str, float, bool])
_schemas = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=1),
        st.dictionaries(st.from_regex(r"[a-z]{1,6}", fullmatch=True), inner, min_size=1, max_size=4),
    ),
    max_leaves=8,
)
_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=5)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=8,
)


def _value_for(schema, draw):
    if isinstance(schema, list):
        return [_value_for(schema[0], draw) for _ in range(draw(st.integers(0, 2)))]
    if isinstance(schema, dict):
        return {k: _value_for(v, draw) for k, v in schema.items()}
    return {int: 1, str: "s", float: 1.5, bool: True}[schema]


def _path_exists(path, schema, value):
    for part in path[1:]:
        if isinstance(part, int):
            if not isinstance(value, list) or part >= len(value):
                return False
            value = value[part]
            schema = schema[0] if isinstance(schema, list) else None
        else:
            in_value = isinstance(value, dict) and part in value
            in_schema = isinstance(schema, dict) and part in schema
            if not (in_value or in_schema):
                return False
            value = value.get(part) if isinstance(value, dict) else None
            schema = schema.get(part) if isinstance(schema, dict) else None
    return True


@settings(max_examples=150, deadline=None)
@given(_schemas, _values)
def test_validator_only_reports_its_own_errors_at_real_paths(schema, value):
    result = validate_config(schema, value)
    for error in result.errors:
        assert error.path[0] == "root"
        assert _path_exists(error.path, schema, value)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_a_value_built_to_match_the_schema_is_accepted(data):
    schema = data.draw(_schemas)
    value = _value_for(schema, data.draw)
    assert validate_config(schema, value).success
