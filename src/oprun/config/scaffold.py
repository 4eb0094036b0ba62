"""Config scaffolds: a sample value or a commented YAML skeleton of a schema (the
CLI's `scaffold-config` and the launchpad use them), and a JSON description of a
schema for GraphQL and the UI. PyYAML is imported only to write YAML."""

from __future__ import annotations

from typing import Any

from oprun.config.types import (
    Array,
    ConfigType,
    Enum,
    Field,
    Map,
    Noneable,
    Permissive,
    Scalar,
    ScalarUnion,
    Selector,
    Shape,
    Source,
    as_field,
)

_SAMPLES = {"int": 0, "float": 0.0, "string": "", "bool": False}


def sample_value(config_type: ConfigType) -> Any:
    """A value of the right shape for a type: placeholders for scalars."""
    if isinstance(config_type, Source):
        return _SAMPLES[config_type.scalar.word]
    if isinstance(config_type, Scalar):
        return _SAMPLES[config_type.word]
    if isinstance(config_type, Selector):
        name, field = next(iter(config_type.fields.items()))
        return {name: sample_value(field.config_type)}
    if isinstance(config_type, Shape):
        return {n: sample_value(f.config_type) for n, f in config_type.fields.items() if f.is_required}
    if isinstance(config_type, Array):
        return []
    if isinstance(config_type, Map):
        return {}
    if isinstance(config_type, Noneable):
        return None
    if isinstance(config_type, Enum):
        return config_type.config_values[0] if config_type.config_values else ""
    if isinstance(config_type, ScalarUnion):
        return sample_value(config_type.scalar_type)
    return None


def scaffold_config(schema: Any, required_only: bool = False) -> Any:
    """A sample document: required fields with placeholders; with
    `required_only=False` also optional fields, at their defaults."""
    return _scaffold(as_field(schema), required_only)


def _scaffold(field: Field, required_only: bool) -> Any:
    config_type = field.config_type
    if field.default_provided and not isinstance(config_type, Shape):
        return field.default_value
    if isinstance(config_type, Shape) and not isinstance(config_type, Selector):
        out = {}
        for name, inner in config_type.fields.items():
            if required_only and not inner.is_required:
                continue
            value = _scaffold(inner, required_only)
            if isinstance(value, dict) and not value and not inner.is_required:
                continue
            out[name] = value
        if field.default_provided and isinstance(field.default_value, dict):
            return {**out, **field.default_value}
        return out
    if field.default_provided:
        return field.default_value
    return sample_value(config_type)


def _comment(field: Field) -> str:
    parts = [field.config_type.display_name if not isinstance(field.config_type, Shape) else "section"]
    if field.is_required:
        parts.append("required")
    elif field.default_provided:
        parts.append(f"optional, default {field.default_value!r}")
    else:
        parts.append("optional")
    if field.description:
        parts.append(field.description)
    return ", ".join(parts)


def scaffold_yaml(schema: Any, required_only: bool = False, comments: bool = True) -> str:
    """YAML text of `scaffold_config`, each field commented with its type, whether
    it is required, its default and its description."""
    import yaml

    lines: list[str] = []
    _yaml_lines(as_field(schema), required_only, comments, 0, lines, yaml)
    return "\n".join(lines) + "\n" if lines else "{}\n"


def _yaml_lines(field: Field, required_only: bool, comments: bool, indent: int, lines: list[str], yaml: Any) -> None:
    config_type = field.config_type
    if not (isinstance(config_type, Shape) and not isinstance(config_type, Selector)):
        return
    pad = "  " * indent
    for name, inner in config_type.fields.items():
        if required_only and not inner.is_required:
            continue
        note = f"  # {_comment(inner)}" if comments else ""
        inner_type = inner.config_type
        if isinstance(inner_type, Shape) and not isinstance(inner_type, Selector) and not (inner.default_provided and not inner_type.fields):
            sub: list[str] = []
            _yaml_lines(inner, required_only, comments, indent + 1, sub, yaml)
            if not sub:
                continue
            lines.append(f"{pad}{name}:{note}")
            lines.extend(sub)
            continue
        value = _scaffold(inner, required_only)
        dumped = yaml.safe_dump(value, default_flow_style=True, width=1_000_000).strip()
        if dumped.endswith("\n..."):
            dumped = dumped[: -len("\n...")]
        dumped = dumped.removesuffix("...").strip()
        lines.append(f"{pad}{name}: {dumped}{note}")


def config_type_to_json(schema: Any) -> dict[str, Any]:
    """A JSON-able description of a schema: kind, fields, required, defaults."""
    field = as_field(schema)
    return _type_json(field.config_type)


def _type_json(config_type: ConfigType) -> dict[str, Any]:
    data: dict[str, Any] = {"kind": config_type.kind.value, "name": config_type.display_name, "description": config_type.description}
    if isinstance(config_type, Shape):
        data["fields"] = [
            {
                "name": name,
                "is_required": field.is_required,
                "default_value": field.default_value if field.default_provided else None,
                "default_provided": field.default_provided,
                "description": field.description,
                "type": _type_json(field.config_type),
            }
            for name, field in config_type.fields.items()
        ]
        data["permissive"] = isinstance(config_type, Permissive)
        data["selector"] = isinstance(config_type, Selector)
    elif isinstance(config_type, (Array, Noneable)):
        data["inner"] = _type_json(config_type.inner_type)
    elif isinstance(config_type, Map):
        data["key"] = _type_json(config_type.key_type)
        data["inner"] = _type_json(config_type.inner_type)
    elif isinstance(config_type, Enum):
        data["values"] = config_type.config_values
    elif isinstance(config_type, ScalarUnion):
        data["scalar"] = _type_json(config_type.scalar_type)
        data["non_scalar"] = _type_json(config_type.non_scalar_type)
    return data
