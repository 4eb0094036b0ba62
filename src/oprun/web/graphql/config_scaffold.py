"""The launchpad's config text: the schema a job's run config is written
against (its config mapping's, or its run config schema with the job's own
`config=` shown as defaults), the default config as YAML, and scaffolds of a
document: every missing required entry filled with a placeholder, or every
default written out too.

Defaults are shown as written in the definition: an `EnvVar` stays
`{"env": NAME}`, whatever the environment holds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from oprun.config import types as ct
from oprun.config.scaffold import sample_value
from oprun.web.graphql.config_schema import plain_config_value


def presented_schema(job: Any) -> ct.ConfigType:
    """The type of the document a user writes for `job`: its config mapping's
    schema, else its run config schema."""
    from oprun.definitions.jobs.config_schema import outer_config_schema

    return ct.as_field(outer_config_schema(job)).config_type


def own_config(job: Any) -> dict[str, Any]:
    """The job's `config=` dict: what a run takes for each section, and each entry
    of a section, that the document leaves out (`oprun.execution.resolve.with_job_defaults`)."""
    hardcoded = job.hardcoded_config
    return {str(k): plain_config_value(v) for k, v in hardcoded.items()} if job.config_mapping is None and isinstance(hardcoded, Mapping) else {}


def job_default_values(job: Any, config_type: ct.ConfigType) -> dict[str, Any]:
    """What the launchpad starts from: the schema's defaults, and the job's own config over them."""
    out = default_values(config_type)
    _merge(out, own_config(job))
    return out


def _merge(target: dict[str, Any], source: Mapping[str, Any]) -> None:
    for key, value in source.items():
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value


def default_values(config_type: ct.ConfigType) -> dict[str, Any]:
    """The values a document left empty takes: every default, nested (Dagster's rootDefaultYaml)."""
    out: dict[str, Any] = {}
    if not isinstance(config_type, ct.Shape) or isinstance(config_type, ct.Selector):
        return out
    for name, field in config_type.fields.items():
        if field.default_provided:
            out[name] = plain_config_value(field.default_value)
        elif isinstance(field.config_type, ct.Shape):
            nested = default_values(field.config_type)
            if nested:
                out[name] = nested
    return out


def nests_too_deep(value: Any) -> bool:
    """Whether a document nests dicts and lists deeper than config values may
    (`MAX_CONFIG_DEPTH`); walked without recursion, as it may nest thousands deep."""
    from oprun.config.validate import MAX_CONFIG_DEPTH

    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, Mapping) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > MAX_CONFIG_DEPTH:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def to_yaml(value: Any) -> str:
    import yaml

    if value in ({}, None):
        return "{}\n"
    plain = plain_config_value(value)
    try:
        text: str = yaml.safe_dump(plain, default_flow_style=False, sort_keys=False, allow_unicode=True)
    except yaml.YAMLError:
        # A default YAML cannot write (an object of the user's): shown as its text.
        plain = json.loads(json.dumps(plain, default=str))
        text = yaml.safe_dump(plain, default_flow_style=False, sort_keys=False, allow_unicode=True)
    return text


def scaffold(config_type: ct.ConfigType, value: Mapping[str, Any], all_defaults: bool) -> dict[str, Any]:
    """`value` with every missing required entry added, each a placeholder of its
    type; with `all_defaults`, every entry with a default (at its default) too.
    What is given, and keys the schema does not know, are kept."""
    if not isinstance(config_type, ct.Shape):
        return dict(value)
    return _fill_shape(config_type, value, all_defaults)


def _fill_shape(shape: ct.Shape, value: Mapping[str, Any], all_defaults: bool) -> dict[str, Any]:
    out = dict(value)
    if isinstance(shape, ct.Selector):
        if len(value) == 1:
            (name, given), = value.items()
            field = shape.fields.get(str(name))
            if field is not None:
                out[name] = _fill(field, given, True, all_defaults)[1]
        return out
    for name, field in shape.fields.items():
        include, filled = _fill(field, value.get(name), name in value, all_defaults)
        if include:
            out[name] = filled
    return out


def _fill(field: ct.Field, value: Any, present: bool, all_defaults: bool) -> tuple[bool, Any]:
    """(whether the entry belongs in the document, its value)."""
    config_type = field.config_type
    if isinstance(config_type, ct.Noneable) and value is not None:
        config_type = config_type.inner_type
    if present:
        if isinstance(config_type, ct.Shape) and isinstance(value, Mapping):
            return True, _fill_shape(config_type, value, all_defaults)
        return True, value
    if field.default_provided:
        if not all_defaults:
            return False, None
        default = plain_config_value(field.default_value)
        if isinstance(config_type, ct.Shape) and isinstance(default, Mapping):
            default = _fill_shape(config_type, default, all_defaults)
        return True, default
    if isinstance(config_type, ct.Selector):
        if not field.is_required:
            return False, None
        name, inner = next(iter(config_type.fields.items()))
        include, filled = _fill(inner, None, False, all_defaults)
        return True, {name: filled if include else sample_value(inner.config_type)}
    if isinstance(config_type, ct.Shape):
        if not (field.is_required or all_defaults):
            return False, None
        filled = _fill_shape(config_type, {}, all_defaults)
        return bool(filled) or field.is_required, filled
    if field.is_required:
        return True, sample_value(config_type)
    return False, None
