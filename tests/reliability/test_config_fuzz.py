"""Hypothesis-generated config schemas and run configs, 10,000 pairs a CI run:
every schema kind (Int, Float, String, Bool, Any, Enum, StringSource and
IntSource read from the environment, Array, Noneable, Map, Selector, Shape and
Permissive with nested fields, Field defaults and is_required), values built to
fit the schema, some of them spoiled here and there. Through the public
`validate_run_config`, a value built to fit is accepted (with the defaults
filled in); any value is either accepted or refused with a
`DagsterInvalidConfigError` whose errors each have a path; nothing else escapes.

tests/config/test_hostile_config.py throws hostile values at a few fixed
schemas; this suite draws the schemas too.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from oprun import (
    Any as AnyType,
    Array,
    Bool,
    DagsterInvalidConfigError,
    Enum,
    EnumValue,
    Field,
    Float,
    Int,
    IntSource,
    Map,
    Noneable,
    Permissive,
    Selector,
    Shape,
    String,
    StringSource,
    job,
    op,
    validate_run_config,
)

EXAMPLES = int(os.environ.get("OPRUN_TEST_CONFIG_EXAMPLES", "10000"))
_ENV = {"OPRUN_REL_STR": "from the environment", "OPRUN_REL_INT": "42", "OPRUN_REL_BAD_INT": "forty-two"}
_UNSET = "OPRUN_REL_NOT_SET"
_COLOURS = ("RED", "GREEN", "BLUE")
_NAMES = ("a", "b", "n", "path", "mode", "items", "env", "config")
_DEFAULTS = {"int": 7, "float": 1.5, "str": "d", "bool": True, "enum": "GREEN", "string_source": "d", "int_source": 3}
_LEAVES = ("int", "float", "str", "bool", "any", "enum", "string_source", "int_source")

# Hypothesis draws bytes; a small decoder turns them into a schema and a value.
# One draw per example keeps 10,000 examples within seconds (a strategy built of
# nested draws costs ~100 times more here), and hypothesis still shrinks a
# failure: fewer, smaller bytes decode to a simpler schema and value (an
# exhausted source reads as zeros: an Int, its value 0, nothing optional, nothing spoilt).


class _Bytes:
    def __init__(self, data: bytes) -> None:
        self._data = data
        self._at = 0

    def pick(self, n: int) -> int:
        if self._at >= len(self._data):
            return 0
        self._at += 1
        return self._data[self._at - 1] % n

    def item(self, choices: Sequence[Any]) -> Any:
        return choices[self.pick(len(choices))]

    def integer(self) -> int:
        size = self.pick(4)
        value = 0
        for _ in range((1, 2, 4, 12)[size]):
            value = value * 256 + self.pick(256)
        return -value if self.pick(2) else value

    def text(self) -> str:
        return "".join(self.item(_ALPHABET) for _ in range(self.pick(6)))

    def floating(self) -> float:
        special = self.pick(8)
        if special < len(_FLOATS):
            return _FLOATS[special]
        return self.integer() / (1 + self.pick(256))


_ALPHABET = ("a", "b", "z", "_", " ", ":", "é", "中", "😀", "\x00", "\n", "{", "0")
_FLOATS = (0.0, -1.5, 1e308, math.inf, -math.inf, math.nan)

# A spec is (kind,) for a leaf, (kind, inner) for array/noneable/map, or
# (kind, ((name, requiredness, spec), ...)) for shape/permissive/selector.
_COMPOSITES = ("array", "noneable", "map", "shape", "permissive", "selector")
_REQUIREDNESS = ("implicit", "required", "optional", "default")


def decode_spec(source: _Bytes, depth: int = 0) -> tuple[Any, ...]:
    kind = source.item(_LEAVES + _COMPOSITES) if depth < 3 else source.item(_LEAVES)
    if kind in _LEAVES:
        return (kind,)
    if kind in ("array", "noneable", "map"):
        return (kind, decode_spec(source, depth + 1))
    fields = {}
    for _ in range(1 + source.pick(4)):
        name = source.item(_NAMES)
        fields.setdefault(name, (name, source.item(_REQUIREDNESS), decode_spec(source, depth + 1)))
    return (kind, tuple(fields.values()))


def build(spec: tuple[Any, ...]) -> Any:
    kind = spec[0]
    leaf = {"int": Int, "float": Float, "str": String, "bool": Bool, "any": AnyType, "string_source": StringSource, "int_source": IntSource}
    if kind in leaf:
        return leaf[kind]
    if kind == "enum":
        return Enum("Colour", [EnumValue(c) for c in _COLOURS])
    if kind == "array":
        return Array(build(spec[1]))
    if kind == "noneable":
        return Noneable(build(spec[1]))
    if kind == "map":
        return Map(str, build(spec[1]))
    fields = {}
    for name, requiredness, inner in spec[1]:
        inner_type = build(inner)
        if requiredness == "required":
            fields[name] = Field(inner_type, is_required=True)
        elif requiredness == "optional":
            fields[name] = Field(inner_type, is_required=False)
        elif requiredness == "default" and inner[0] in _DEFAULTS:
            fields[name] = Field(inner_type, default_value=_DEFAULTS[inner[0]])
        else:
            fields[name] = Field(inner_type)  # requiredness left to the type
    return {"shape": Shape, "permissive": Permissive, "selector": Selector}[kind](fields)


def _required(requiredness: str, inner: tuple[Any, ...]) -> bool:
    if requiredness == "required":
        return True
    if requiredness == "implicit" or (requiredness == "default" and inner[0] not in _DEFAULTS):
        return inner[0] not in ("any", "noneable") and not (inner[0] in ("shape", "permissive") and not any(_required(r, i) for _, r, i in inner[1]))
    return False


def decode_junk(source: _Bytes, depth: int = 0) -> Any:
    """Any JSON-like value, and some values no schema should take."""
    kind = source.pick(12) if depth < 3 else source.pick(8)
    if kind == 0:
        return None
    if kind == 1:
        return bool(source.pick(2))
    if kind == 2:
        return source.integer()
    if kind == 3:
        return source.floating()
    if kind in (4, 5):
        return source.text()
    if kind == 6:
        return source.item(("RED", "red", "", "true", "42"))
    if kind == 7:
        return source.item(({"env": _UNSET}, {"env": "OPRUN_REL_BAD_INT"}, {"env": 3}, {"env": "OPRUN_REL_INT"}, 10**400, 10**5000))
    if kind in (8, 9):
        return [decode_junk(source, depth + 1) for _ in range(source.pick(4))]
    if kind == 10:
        return {source.item(_NAMES) if source.pick(2) else source.text(): decode_junk(source, depth + 1) for _ in range(source.pick(4))}
    value: Any = source.item((0, "x", None))
    for _ in range(source.item((3, 100, 1000))):  # nested past the depth limit, or not
        value = [value] if source.pick(2) else {"a": value}
    return value


def _fitting_any(source: _Bytes, depth: int = 0) -> Any:
    kind = source.pick(5) if depth < 2 else source.pick(3)
    if kind == 0:
        return source.integer()
    if kind == 1:
        return source.text()
    if kind == 2:
        return None if source.pick(2) else bool(source.pick(2))
    if kind == 3:
        return [_fitting_any(source, depth + 1) for _ in range(source.pick(3))]
    return {source.text(): _fitting_any(source, depth + 1) for _ in range(source.pick(3))}


def decode_value(source: _Bytes, spec: tuple[Any, ...]) -> tuple[Any, bool]:
    """(a value for the schema of `spec`, whether it was built to fit): most
    values fit; one node in 6 is replaced with junk, or bent (a required field
    dropped, an unknown one added, a selector given two choices)."""
    if source.pick(6) == 5:
        return decode_junk(source), False
    kind = spec[0]
    if kind == "int":
        return source.integer(), True
    if kind == "float":
        return (source.floating() if source.pick(2) else source.integer()), True
    if kind == "str":
        return source.text(), True
    if kind == "bool":
        return bool(source.pick(2)), True
    if kind == "any":
        return _fitting_any(source), True
    if kind == "enum":
        return source.item(_COLOURS), True
    if kind == "string_source":
        return source.item((source.text(), {"env": "OPRUN_REL_STR"}, {"env": "OPRUN_REL_INT"})), True
    if kind == "int_source":
        return (source.integer() if not source.pick(3) == 2 else {"env": "OPRUN_REL_INT"}), True
    if kind == "noneable":
        return (None, True) if source.pick(2) else decode_value(source, spec[1])
    if kind in ("array", "map"):
        items = [decode_value(source, spec[1]) for _ in range(source.pick(4))]
        fits = all(ok for _, ok in items)
        if kind == "array":
            return [v for v, _ in items], fits
        return {f"{source.text()}#{i}": v for i, (v, _) in enumerate(items)}, fits
    fields = spec[1]
    if kind == "selector":
        name, _requiredness, inner = source.item(fields)
        value, fits = decode_value(source, inner)
        chosen = {name: value}
        if len(fields) > 1 and source.pick(8) == 7:
            other = next(f for f in fields if f[0] != name)
            chosen[other[0]] = decode_value(source, other[2])[0]
            fits = False
        return chosen, fits
    result: dict[str, Any] = {}
    fits = True
    for name, requiredness, inner in fields:
        if _required(requiredness, inner) or source.pick(2):
            value, ok = decode_value(source, inner)
            result[name] = value
            fits = fits and ok
    if result and source.pick(8) == 7:
        result.pop(source.item(sorted(result)))
        fits = False  # may have dropped a required field
    if source.pick(8) == 7:
        extra = source.item(("a", "zz", "", "b"))
        if kind == "permissive" and extra not in result and extra not in {f[0] for f in fields}:
            result[extra] = _fitting_any(source)  # a Permissive takes any other key
        else:
            result[extra] = decode_junk(source)
            fits = False
    return result, fits


@functools.lru_cache(maxsize=4096)
def _job_for(spec: tuple[Any, ...]) -> Any:
    """A job whose one op takes the schema of `spec` (specs repeat: leaves often)."""

    @op(name="target", config_schema=build(spec))
    def target(context) -> None:
        pass

    @job(name="config_fuzz")
    def config_fuzz() -> None:
        target()

    return config_fuzz


@pytest.fixture(scope="module", autouse=True)
def _environment() -> Iterator[None]:
    # Module scope: hypothesis runs the test many times within one function-scoped fixture.
    saved = {name: os.environ.get(name) for name in (*_ENV, _UNSET)}
    os.environ.update(_ENV)
    os.environ.pop(_UNSET, None)
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


_COUNTS = {"examples": 0, "fitting": 0, "accepted": 0, "refused": 0}


@settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(min_size=64, max_size=256))
def test_generated_run_configs_are_accepted_or_refused_with_paths(data: bytes) -> None:
    source = _Bytes(data)
    spec = decode_spec(source)
    value, fits = decode_value(source, spec)
    config_job = _job_for(spec)
    _COUNTS["examples"] += 1
    _COUNTS["fitting"] += fits
    try:
        processed = validate_run_config(config_job, {"ops": {"target": {"config": value}}})
    except DagsterInvalidConfigError as error:
        _COUNTS["refused"] += 1
        assert not fits, f"a value built to fit {spec} was refused: {error}"
        assert error.errors
        for each in error.errors:
            assert each.path and each.path[0] == "root", each
            assert all(isinstance(part, (str, int)) for part in each.path), each.path
            assert isinstance(each.message, str) and each.message
        assert str(error)
        return
    _COUNTS["accepted"] += 1
    assert isinstance(processed, dict)
    if fits and spec[0] == "shape":
        config = processed["ops"]["target"]["config"]
        for name, requiredness, inner in spec[1]:
            if requiredness == "default" and inner[0] in _DEFAULTS and name not in value:
                expected = _DEFAULTS[inner[0]]
                assert config[name] == expected, f"default of {name} not filled in: {config}"


def test_the_generated_examples_covered_both_outcomes() -> None:
    # Runs after the property test in this module (pytest keeps file order).
    if _COUNTS["examples"] == 0:
        pytest.skip("the property test did not run in this session")
    print(f"config fuzz: {_COUNTS}")
    assert _COUNTS["examples"] >= EXAMPLES
    assert _COUNTS["accepted"] > EXAMPLES // 10 and _COUNTS["refused"] > EXAMPLES // 10
