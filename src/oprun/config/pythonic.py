"""Pythonic config: `Config` and `PermissiveConfig`, pydantic models whose fields
are a config schema.

`Config.to_config_schema()` turns the class into a Shape (cached per class);
`Config.from_config_value()` builds an instance from a validated value;
`to_config_dict()` gives back the plain dict a run config holds (an `EnvVar`
field stays `{"env": NAME}`). This is the one config module that imports pydantic;
the package exports it lazily.
"""

from __future__ import annotations

import enum
import typing
from typing import Any, ClassVar, Self

import pydantic
from pydantic_core import PydanticUndefined

from oprun.config.env import EnvVar, IntEnvVar
from oprun.config.types import (
    Any as AnyType,
    Array,
    BoolSource,
    ConfigType,
    Enum as EnumType,
    EnumValue,
    Field,
    Float as FloatType,
    IntSource,
    Map,
    Noneable,
    Permissive,
    Shape,
    StringSource,
    resolve_config_type,
)
from oprun.errors import DagsterInvalidConfigDefinitionError

_UNION_TYPES: tuple[Any, ...] = (typing.Union, __import__("types").UnionType)


def _annotation_type(owner: str, name: str, annotation: Any) -> tuple[ConfigType, bool]:
    """(config type, optional because None is allowed) for a field annotation."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _annotation_type(owner, name, args[0])
    if origin in _UNION_TYPES:
        non_none = [a for a in args if a is not type(None)]
        if len(non_none) == 1:
            inner, _ = _annotation_type(owner, name, non_none[0])
            return Noneable(inner), len(non_none) != len(args)
        return AnyType, type(None) in args
    if origin is typing.Literal:
        return EnumType(f"{owner}.{name}", [EnumValue(str(a), a) for a in args]), False
    if annotation is str:
        return StringSource, False
    if annotation is int:
        return IntSource, False
    if annotation is bool:
        return BoolSource, False
    if annotation is float:
        return FloatType, False
    if annotation is Any or annotation is typing.Any:
        return AnyType, False
    if isinstance(annotation, type) and issubclass(annotation, Config):
        return annotation.to_config_schema(), False
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return EnumType.from_python_enum(annotation), False
    if origin is list or annotation is list:
        inner_annotation = args[0] if args else Any
        inner, _ = _annotation_type(owner, name, inner_annotation)
        return Array(inner), False
    if origin is dict or annotation is dict:
        if len(args) == 2:
            inner, _ = _annotation_type(owner, name, args[1])
            return Map(str, inner), False
        return Permissive(), False
    try:
        return resolve_config_type(annotation), False
    except DagsterInvalidConfigDefinitionError:
        raise DagsterInvalidConfigDefinitionError(
            f"Config class {owner}: field '{name}' has type {annotation!r}, which config cannot hold. "
            "Use str, int, float, bool, list, dict, Optional, an Enum, a Literal or another Config class."
        ) from None


def _plain_default(value: Any) -> Any:
    if isinstance(value, (EnvVar, IntEnvVar)):
        return value.to_config()
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, Config):
        return value.to_config_dict()
    if isinstance(value, list):
        return [_plain_default(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain_default(v) for k, v in value.items()}
    return value


class Config(pydantic.BaseModel):
    """A config schema as a class: `class MyConfig(Config): path: str; retries: int = 3`."""

    model_config = pydantic.ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    _oprun_schema: ClassVar[dict[type, Shape]] = {}
    # Fields given as EnvVar (or EnvVar.int): pydantic stores their value as a
    # plain str (int), but the run config must keep {"env": NAME} so the secret is
    # read, and converted to the field's type, at run time.
    _oprun_env: dict[str, EnvVar | IntEnvVar] = pydantic.PrivateAttr(default_factory=dict)

    def __init__(self, **data: Any) -> None:
        super().__init__(**data)
        env = {k: v for k, v in data.items() if isinstance(v, (EnvVar, IntEnvVar))}
        if env:
            self._oprun_env.update(env)

    @classmethod
    def to_config_schema(cls) -> Shape:
        cached = Config._oprun_schema.get(cls)
        if cached is not None:
            return cached
        fields: dict[str, Field] = {}
        for name, info in cls.model_fields.items():
            config_type, none_allowed = _annotation_type(cls.__name__, name, info.annotation)
            key = info.alias or name
            if info.default is not PydanticUndefined:
                fields[key] = Field(config_type, default_value=_plain_default(info.default), description=info.description)
            elif info.default_factory is not None:
                fields[key] = Field(config_type, default_value=_plain_default(info.default_factory()), description=info.description)  # type: ignore[call-arg]  # factories taking the validated data are not supported
            elif none_allowed:
                fields[key] = Field(config_type, default_value=None, description=info.description)
            else:
                fields[key] = Field(config_type, is_required=True, description=info.description)
        shape_cls = Permissive if cls.model_config.get("extra") == "allow" else Shape
        made = shape_cls(fields, description=cls.__doc__ if cls.__doc__ != Config.__doc__ else None)
        Config._oprun_schema[cls] = made
        return made

    @classmethod
    def from_config_value(cls, value: Any) -> Self:
        """An instance from a validated config value (nested dicts, enum members)."""
        return cls.model_validate(value or {})

    def to_config_dict(self) -> dict[str, Any]:
        """The plain dict a run config holds for this instance."""
        out: dict[str, Any] = {}
        for name in type(self).model_fields:
            env = self._oprun_env.get(name)
            out[name] = env.to_config() if env is not None else _plain_default(getattr(self, name))
        extra = self.__pydantic_extra__ or {}
        for name, value in extra.items():
            out[name] = _plain_default(value)
        return out

    @classmethod
    def _get_non_default_fields(cls) -> list[str]:
        return [n for n, f in cls.model_fields.items() if f.is_required()]


class PermissiveConfig(Config):
    """A Config that also accepts keys it does not declare."""

    model_config = pydantic.ConfigDict(frozen=True, extra="allow", arbitrary_types_allowed=True)
