"""Config schema types: what a config value may look like.

Scalars (`Int`, `String`, `Float`, `Bool`, `Any`), environment sources
(`StringSource`, `IntSource`, `BoolSource`), containers (`Array`, `Noneable`,
`Map`), dicts (`Shape` strict, `Permissive` open, `Selector` exactly one key),
`Enum` and `ScalarUnion`; `Field` wraps a type with a default, requiredness and a
description. `resolve_config_type` / `as_field` accept Dagster's shorthand
(`int`, `[str]`, `{"k": int}`, a `Config` class).

A leaf: knows nothing of ops or jobs, and imports no third-party module.
"""

from __future__ import annotations

import enum as _enum
import typing
from collections.abc import Mapping, Sequence
from typing import Any as _Any

from oprun.errors import DagsterInvalidConfigDefinitionError


class ConfigTypeKind(_enum.Enum):
    ANY = "ANY"
    SCALAR = "SCALAR"
    ENUM = "ENUM"
    SELECTOR = "SELECTOR"
    STRICT_SHAPE = "STRICT_SHAPE"
    PERMISSIVE_SHAPE = "PERMISSIVE_SHAPE"
    ARRAY = "ARRAY"
    NONEABLE = "NONEABLE"
    MAP = "MAP"
    SCALAR_UNION = "SCALAR_UNION"


class _NoDefault:
    def __repr__(self) -> str:
        return "<no default>"


NO_DEFAULT: _Any = _NoDefault()


class ConfigType:
    kind: ConfigTypeKind = ConfigTypeKind.ANY
    description: str | None = None

    @property
    def display_name(self) -> str:
        return "Any"

    @property
    def is_optional_by_default(self) -> bool:
        """Whether a field of this type may be left out when no default is given."""
        return False

    def __repr__(self) -> str:
        return self.display_name


class _AnyType(ConfigType):
    kind = ConfigTypeKind.ANY

    @property
    def is_optional_by_default(self) -> bool:
        return True


class Scalar(ConfigType):
    kind = ConfigTypeKind.SCALAR

    def __init__(self, name: str, python_types: tuple[type, ...], exclude_bool: bool, word: str) -> None:
        self.name = name
        self.python_types = python_types
        self.exclude_bool = exclude_bool
        self.word = word

    @property
    def display_name(self) -> str:
        return self.name

    def accepts(self, value: _Any) -> bool:
        return isinstance(value, self.python_types) and not (self.exclude_bool and isinstance(value, bool))


Any = _AnyType()
Int = Scalar("Int", (int,), True, "int")
Float = Scalar("Float", (float, int), True, "float")
String = Scalar("String", (str,), False, "string")
Bool = Scalar("Bool", (bool,), False, "bool")


class Source(ConfigType):
    """A scalar that may also be given as `{"env": "VAR"}`, read when validated."""

    kind = ConfigTypeKind.SCALAR

    def __init__(self, scalar: Scalar) -> None:
        self.scalar = scalar

    @property
    def display_name(self) -> str:
        return self.scalar.display_name


StringSource = Source(String)
IntSource = Source(Int)
BoolSource = Source(Bool)


class Array(ConfigType):
    kind = ConfigTypeKind.ARRAY

    def __init__(self, inner_type: _Any, description: str | None = None) -> None:
        self.inner_type = resolve_config_type(inner_type)
        self.description = description

    @property
    def display_name(self) -> str:
        return f"[{self.inner_type.display_name}]"


class Noneable(ConfigType):
    kind = ConfigTypeKind.NONEABLE

    def __init__(self, inner_type: _Any) -> None:
        self.inner_type = resolve_config_type(inner_type)

    @property
    def display_name(self) -> str:
        return f"{self.inner_type.display_name}?"

    @property
    def is_optional_by_default(self) -> bool:
        return True


class Map(ConfigType):
    kind = ConfigTypeKind.MAP

    def __init__(self, key_type: _Any, inner_type: _Any, key_label_name: str | None = None) -> None:
        self.key_type = resolve_config_type(key_type)
        if not isinstance(self.key_type, (Scalar, Source)):
            raise DagsterInvalidConfigDefinitionError(f"Map keys must be a scalar type (str, int, float, bool), got {key_type!r}")
        self.inner_type = resolve_config_type(inner_type)
        self.key_label_name = key_label_name

    @property
    def display_name(self) -> str:
        return f"{{{self.key_type.display_name}: {self.inner_type.display_name}}}"


class EnumValue:
    def __init__(self, config_value: str, python_value: _Any = None, description: str | None = None) -> None:
        self.config_value = config_value
        self.python_value = config_value if python_value is None else python_value
        self.description = description


class Enum(ConfigType):
    kind = ConfigTypeKind.ENUM

    def __init__(self, name: str, enum_values: Sequence[EnumValue]) -> None:
        self.name = name
        self.enum_values = list(enum_values)
        self._by_config = {v.config_value: v for v in self.enum_values}

    @property
    def display_name(self) -> str:
        return self.name

    @property
    def config_values(self) -> list[str]:
        return [v.config_value for v in self.enum_values]

    def python_value(self, config_value: str) -> _Any:
        return self._by_config[config_value].python_value

    def has(self, value: _Any) -> bool:
        return isinstance(value, str) and value in self._by_config

    @classmethod
    def from_python_enum(cls, enum_type: type[_enum.Enum], name: str | None = None) -> Enum:
        """Config uses the members' names; the processed value is the member."""
        return cls(name or enum_type.__name__, [EnumValue(m.name, m) for m in enum_type])


class ScalarUnion(ConfigType):
    """A scalar, or a non-scalar value of another schema."""

    kind = ConfigTypeKind.SCALAR_UNION

    def __init__(self, scalar_type: _Any, non_scalar_schema: _Any) -> None:
        self.scalar_type = resolve_config_type(scalar_type)
        self.non_scalar_type = resolve_config_type(non_scalar_schema)

    @property
    def display_name(self) -> str:
        return f"{self.scalar_type.display_name} | {self.non_scalar_type.display_name}"


class Field:
    """A config type plus its default value, requiredness and description."""

    __slots__ = ("config_type", "default_value", "description", "_is_required", "_implicit_default")

    def __init__(self, config: _Any, default_value: _Any = NO_DEFAULT, is_required: bool | None = None, description: str | None = None) -> None:
        self.config_type = resolve_config_type(config)
        self.default_value = default_value
        self.description = description
        if is_required and default_value is not NO_DEFAULT:
            raise DagsterInvalidConfigDefinitionError(
                f"A required field cannot have a default value (default {default_value!r} given for a field of type "
                f"{self.config_type.display_name})."
            )
        # As Dagster: only a field whose requiredness is left to its type gets the
        # type's implicit default (None for a Noneable); one declared optional stays absent.
        self._implicit_default = is_required is None and default_value is NO_DEFAULT
        if is_required is None:
            is_required = default_value is NO_DEFAULT and not _optional_by_default(self.config_type)
        self._is_required = bool(is_required)

    @property
    def is_required(self) -> bool:
        return self._is_required

    @property
    def default_provided(self) -> bool:
        return self.default_value is not NO_DEFAULT

    @property
    def has_implicit_default(self) -> bool:
        return self._implicit_default

    def __repr__(self) -> str:
        return f"Field({self.config_type.display_name}, required={self.is_required})"


def _optional_by_default(config_type: ConfigType) -> bool:
    if config_type.is_optional_by_default:
        return True
    if isinstance(config_type, (Shape, Permissive)) and not isinstance(config_type, Selector):
        return all(not f.is_required for f in config_type.fields.values())
    return False


class Shape(ConfigType):
    """A dict with these fields and no others."""

    kind = ConfigTypeKind.STRICT_SHAPE

    def __init__(self, fields: Mapping[str, _Any] | None = None, description: str | None = None, field_aliases: Mapping[str, str] | None = None) -> None:
        if fields is not None and not isinstance(fields, Mapping):
            raise DagsterInvalidConfigDefinitionError(f"Shape fields must be a dict of name to type, got {fields!r}")
        self.fields: dict[str, Field] = {}
        for name, value in (fields or {}).items():
            if not isinstance(name, str):
                raise DagsterInvalidConfigDefinitionError(f"Config field names must be strings, got {name!r}")
            self.fields[name] = as_field(value)
        self.description = description
        self.field_aliases = dict(field_aliases or {})

    @property
    def display_name(self) -> str:
        parts = [f"{name}{'' if f.is_required else '?'}: {f.config_type.display_name}" for name, f in self.fields.items()]
        text = "{ " + ", ".join(parts) + " }" if parts else "{}"
        return text if len(text) <= 200 else text[:197] + "..."


class Permissive(Shape):
    """A dict with these fields, and any others."""

    kind = ConfigTypeKind.PERMISSIVE_SHAPE

    @property
    def display_name(self) -> str:
        inner = super().display_name
        return inner[:-1] + "... }" if inner != "{}" else "{ ... }"


class Selector(Shape):
    """A dict with exactly one of these fields."""

    kind = ConfigTypeKind.SELECTOR

    @property
    def display_name(self) -> str:
        return "{ " + " | ".join(f"{n}: {f.config_type.display_name}" for n, f in self.fields.items()) + " }"


# --- shorthand ------------------------------------------------------------------------

_PYTHON_SCALARS: dict[_Any, ConfigType] = {int: Int, float: Float, str: String, bool: Bool, _Any: Any}


def resolve_config_type(value: _Any) -> ConfigType:
    """The ConfigType for a type or Dagster shorthand; a bad schema says what it found."""
    if isinstance(value, ConfigType):
        return value
    if isinstance(value, Field):
        return value.config_type
    found = _PYTHON_SCALARS.get(value) if _hashable(value) else None
    if found is not None:
        return found
    if value is None:
        return Any
    alternative = getattr(value, "_config_alternative", None)
    if callable(alternative) and not isinstance(value, type):
        # A Dagster type (List[Int], Optional[...], Set, Tuple, Dict, Nothing, ...): as in
        # Dagster, the two type systems are separate.
        raise DagsterInvalidConfigDefinitionError(
            f"Cannot use the Dagster type {value!r} in a config schema: Dagster types check op inputs "
            f"and outputs (In/Out), config types describe config. {alternative()}"
        )
    if isinstance(value, Mapping):
        return Shape(value)
    if isinstance(value, list):
        if len(value) != 1:
            raise DagsterInvalidConfigDefinitionError(
                f"A list in a config schema must hold exactly one type (e.g. [int]), got {value!r}"
            )
        return Array(value[0])
    to_schema = getattr(value, "to_config_schema", None)
    if isinstance(value, type) and callable(to_schema):
        return resolve_config_type(to_schema())
    if isinstance(value, type) and issubclass(value, _enum.Enum):
        return Enum.from_python_enum(value)
    origin = typing.get_origin(value)
    if origin is list:
        args = typing.get_args(value)
        return Array(args[0] if args else _Any)
    if origin is dict:
        args = typing.get_args(value)
        return Map(args[0], args[1]) if len(args) == 2 else Permissive()
    if value is dict:
        return Permissive()
    if value is list:
        return Array(_Any)
    raise DagsterInvalidConfigDefinitionError(
        f"Cannot use {value!r} in a config schema. Expected a Python scalar type (int, float, str, "
        "bool), a list of one type ([int]), a dict of field names ({'name': str}), a config type "
        "(Field, Shape, Permissive, Selector, Array, Noneable, Enum, Map...), or a Config class."
    )


def _hashable(value: _Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def as_field(value: _Any) -> Field:
    """A Field for a Field, a type, or shorthand."""
    if isinstance(value, Field):
        return value
    return Field(resolve_config_type(value))


def is_required_type(value: _Any) -> bool:
    return as_field(value).is_required
