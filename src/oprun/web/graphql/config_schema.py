"""A config schema as GraphQL: Dagster's `ConfigType` interface and its concrete
types (`CompositeConfigType`, `EnumConfigType`, `ArrayConfigType`,
`NullableConfigType`, `MapConfigType`, `ScalarUnionConfigType`,
`RegularConfigType`), and `ConfigTypeField`, built from oprun's config types.

Every type has a stable `key` (Dagster's spelling: `Int`, `Array.Int`,
`Noneable.String`, `Shape.<hash>`, `StringSourceType`, ...): a `ConfigTypeRegistry`
walks a schema once, names every type it holds, and serves each type's GraphQL
object by key, so a schema of 10,000 ops is built once per request.

Default values are shown as written in the definition, never as read from the
environment: an `EnvVar` default is `{"env": NAME}`.
"""

from __future__ import annotations

import enum
import hashlib
import json
from typing import Any

import strawberry

from oprun.config import types as ct

# Dagster's `{env: NAME}` alternative of a source scalar, one per source.
_ENV_SELECTORS: dict[str, ct.Selector] = {}


def _env_selector(source: ct.Source) -> ct.Selector:
    name = source.scalar.name
    selector = _ENV_SELECTORS.get(name)
    if selector is None:
        selector = _ENV_SELECTORS[name] = ct.Selector({"env": ct.Field(ct.String, is_required=True)})
    return selector


def plain_config_value(value: Any) -> Any:
    """A default as config text shows it: `EnvVar`s as `{"env": NAME}` (never their
    value), Config objects as dicts, enum members by name."""
    kind = type(value).__name__
    if kind in ("EnvVar", "IntEnvVar"):
        return value.to_config()
    to_dict = getattr(value, "to_config_dict", None)
    if callable(to_dict):
        return to_dict()
    if isinstance(value, dict):
        return {str(k): plain_config_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_config_value(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.name
    return value


def default_json(field: ct.Field) -> str | None:
    if not field.default_provided:
        return None
    return json.dumps(plain_config_value(field.default_value), sort_keys=True, default=repr)


def _children(config_type: ct.ConfigType) -> list[ct.ConfigType]:
    if isinstance(config_type, ct.Shape):
        return [f.config_type for f in config_type.fields.values()]
    if isinstance(config_type, (ct.Array, ct.Noneable)):
        return [config_type.inner_type]
    if isinstance(config_type, ct.Map):
        return [config_type.key_type, config_type.inner_type]
    if isinstance(config_type, ct.ScalarUnion):
        return [config_type.scalar_type, config_type.non_scalar_type]
    if isinstance(config_type, ct.Source):
        return [config_type.scalar, _env_selector(config_type)]
    return []


class ConfigTypeRegistry:
    """Every config type reachable from a root, by key, and their GraphQL objects."""

    def __init__(self, root: ct.ConfigType) -> None:
        self._keys: dict[int, str] = {}
        self.types: dict[str, ct.ConfigType] = {}
        self._objects: dict[str, ConfigType] = {}
        self._recursive: dict[str, list[str]] = {}
        self.root_key = self.key(root)

    def key(self, config_type: ct.ConfigType) -> str:
        """The type's key, naming it and the types it holds (iteratively: a
        schema may nest deep)."""
        known = self._keys.get(id(config_type))
        if known is not None:
            return known
        stack: list[tuple[ct.ConfigType, bool]] = [(config_type, False)]
        while stack:
            item, expanded = stack.pop()
            if id(item) in self._keys:
                continue
            children = _children(item)
            if not expanded and any(id(c) not in self._keys for c in children):
                stack.append((item, True))
                stack.extend((c, False) for c in children if id(c) not in self._keys)
                continue
            made = self._make_key(item)
            self._keys[id(item)] = made
            self.types.setdefault(made, item)
        return self._keys[id(config_type)]

    def _make_key(self, config_type: ct.ConfigType) -> str:
        k = self._keys
        if isinstance(config_type, ct.Shape):
            parts = [
                [name, k[id(f.config_type)], f.is_required, default_json(f), f.description]
                for name, f in config_type.fields.items()
            ]
            kind = "Selector" if isinstance(config_type, ct.Selector) else "Permissive" if isinstance(config_type, ct.Permissive) else "Shape"
            canonical = json.dumps([parts, config_type.description], sort_keys=True, default=repr)
            return f"{kind}.{hashlib.sha1(canonical.encode(), usedforsecurity=False).hexdigest()}"
        if isinstance(config_type, ct.Array):
            return f"Array.{k[id(config_type.inner_type)]}"
        if isinstance(config_type, ct.Noneable):
            return f"Noneable.{k[id(config_type.inner_type)]}"
        if isinstance(config_type, ct.Map):
            label = f":{config_type.key_label_name}" if config_type.key_label_name else ""
            return f"Map.{k[id(config_type.key_type)]}.{k[id(config_type.inner_type)]}{label}"
        if isinstance(config_type, ct.ScalarUnion):
            return f"ScalarUnion.{k[id(config_type.scalar_type)]}-{k[id(config_type.non_scalar_type)]}"
        if isinstance(config_type, ct.Source):
            return f"{config_type.scalar.name}SourceType"
        if isinstance(config_type, ct.Enum):
            return config_type.name
        if isinstance(config_type, ct.Scalar):
            return config_type.name
        return "Any"

    def recursive_keys(self, key: str) -> list[str]:
        """The keys of every type inside the type `key` (not itself)."""
        found = self._recursive.get(key)
        if found is None:
            seen: dict[str, None] = {}
            stack = [self.types[key]]
            while stack:
                for child in _children(stack.pop()):
                    child_key = self.key(child)
                    if child_key not in seen and child_key != key:
                        seen[child_key] = None
                        stack.append(child)
            found = self._recursive[key] = list(seen)
        return found

    def graphql(self, key: str) -> ConfigType:
        made = self._objects.get(key)
        if made is None:
            made = self._objects[key] = _graphql_type(self, key, self.types[key])
        return made

    def graphql_of(self, config_type: ct.ConfigType) -> ConfigType:
        return self.graphql(self.key(config_type))

    def all_types(self) -> list[ConfigType]:
        return [self.graphql(key) for key in self.types]

    def field(self, name: str, field: ct.Field) -> ConfigTypeField:
        return ConfigTypeField(
            name=name,
            description=field.description,
            config_type_key=self.key(field.config_type),
            is_required=field.is_required,
            default_value_as_json=default_json(field),
            registry=self,
        )


# ---------- the GraphQL types ----------


@strawberry.interface(name="ConfigType")
class ConfigType:
    key: str
    description: str | None
    type_param_keys: list[str]
    is_selector: bool
    registry: strawberry.Private[ConfigTypeRegistry]

    @strawberry.field
    def recursive_config_types(self) -> list[ConfigType]:
        return [self.registry.graphql(k) for k in self.registry.recursive_keys(self.key)]


@strawberry.type(name="ConfigTypeField")
class ConfigTypeField:
    name: str
    description: str | None
    config_type_key: str
    is_required: bool
    default_value_as_json: str | None
    registry: strawberry.Private[ConfigTypeRegistry]

    @strawberry.field
    def config_type(self) -> ConfigType:
        return self.registry.graphql(self.config_type_key)


@strawberry.interface(name="WrappingConfigType")
class WrappingConfigType:
    of_type_key: strawberry.Private[str]
    registry: strawberry.Private[ConfigTypeRegistry]

    @strawberry.field
    def of_type(self) -> ConfigType:
        return self.registry.graphql(self.of_type_key)


@strawberry.type(name="RegularConfigType")
class RegularConfigType(ConfigType):
    given_name: str


@strawberry.type(name="CompositeConfigType")
class CompositeConfigType(ConfigType):
    shape: strawberry.Private[ct.Shape]

    @strawberry.field
    def fields(self) -> list[ConfigTypeField]:
        return [self.registry.field(name, f) for name, f in self.shape.fields.items()]


@strawberry.type(name="EnumConfigValue")
class EnumConfigValue:
    value: str
    description: str | None


@strawberry.type(name="EnumConfigType")
class EnumConfigType(ConfigType):
    values: list[EnumConfigValue]
    given_name: str


@strawberry.type(name="ArrayConfigType")
class ArrayConfigType(ConfigType, WrappingConfigType):
    pass


@strawberry.type(name="NullableConfigType")
class NullableConfigType(ConfigType, WrappingConfigType):
    pass


@strawberry.type(name="MapConfigType")
class MapConfigType(ConfigType):
    key_label_name: str | None
    key_type_key: strawberry.Private[str]
    value_type_key: strawberry.Private[str]

    @strawberry.field
    def key_type(self) -> ConfigType:
        return self.registry.graphql(self.key_type_key)

    @strawberry.field
    def value_type(self) -> ConfigType:
        return self.registry.graphql(self.value_type_key)


@strawberry.type(name="ScalarUnionConfigType")
class ScalarUnionConfigType(ConfigType):
    scalar_type_key: str
    non_scalar_type_key: str

    @strawberry.field
    def scalar_type(self) -> ConfigType:
        return self.registry.graphql(self.scalar_type_key)

    @strawberry.field
    def non_scalar_type(self) -> ConfigType:
        return self.registry.graphql(self.non_scalar_type_key)


# The concrete types, reached only through the ConfigType interface: the schema
# must be told of them.
CONFIG_TYPE_TYPES: tuple[type, ...] = (
    RegularConfigType, CompositeConfigType, EnumConfigType, ArrayConfigType, NullableConfigType,
    MapConfigType, ScalarUnionConfigType,
)


def _graphql_type(registry: ConfigTypeRegistry, key: str, config_type: ct.ConfigType) -> ConfigType:
    common: dict[str, Any] = {"key": key, "description": config_type.description, "registry": registry, "is_selector": False}
    k = registry.key
    if isinstance(config_type, ct.Shape):
        is_selector = isinstance(config_type, ct.Selector)
        return CompositeConfigType(**{**common, "is_selector": is_selector}, type_param_keys=[], shape=config_type)
    if isinstance(config_type, (ct.Array, ct.Noneable)):
        inner = k(config_type.inner_type)
        cls = ArrayConfigType if isinstance(config_type, ct.Array) else NullableConfigType
        return cls(**common, type_param_keys=[inner], of_type_key=inner)
    if isinstance(config_type, ct.Map):
        key_key, value_key = k(config_type.key_type), k(config_type.inner_type)
        return MapConfigType(
            **common, type_param_keys=[key_key, value_key], key_label_name=config_type.key_label_name,
            key_type_key=key_key, value_type_key=value_key,
        )
    if isinstance(config_type, (ct.ScalarUnion, ct.Source)):
        if isinstance(config_type, ct.Source):
            scalar, non_scalar = k(config_type.scalar), k(_env_selector(config_type))
        else:
            scalar, non_scalar = k(config_type.scalar_type), k(config_type.non_scalar_type)
        return ScalarUnionConfigType(
            **common, type_param_keys=[scalar, non_scalar], scalar_type_key=scalar, non_scalar_type_key=non_scalar
        )
    if isinstance(config_type, ct.Enum):
        values = [EnumConfigValue(value=v.config_value, description=v.description) for v in config_type.enum_values]
        return EnumConfigType(**common, type_param_keys=[], values=values, given_name=config_type.name)
    return RegularConfigType(**common, type_param_keys=[], given_name=key)
