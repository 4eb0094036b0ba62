"""The config system: schema types, validation with every error at once, run
config documents, config mappings, scaffolds, and (in `pythonic`, which imports
pydantic) `Config` classes.

A leaf below definitions: knows nothing of ops, jobs or execution. The names
below load with their module on first use, so that importing one submodule (the
schema types, which every op definition needs) does not import the others.
"""

from __future__ import annotations

import importlib
from typing import Any as _Any

_EXPORTS = {
    "EnvVar": "env",
    "ConfigMapping": "mapping", "config_mapping": "mapping",
    **dict.fromkeys(
        ("RunConfig", "coerce_run_config", "load_yaml_configs", "load_yaml_string", "merge_run_configs"),
        "run_config",
    ),
    **dict.fromkeys(
        (
            "Any", "Array", "Bool", "BoolSource", "ConfigType", "Enum", "EnumValue", "Field", "Float", "Int",
            "IntSource", "Map", "Noneable", "Permissive", "ScalarUnion", "Selector", "Shape", "String",
            "StringSource", "as_field", "resolve_config_type",
        ),
        "types",
    ),
    **dict.fromkeys(("ConfigResult", "EvaluationError", "mask_secrets", "validate_config"), "validate"),
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> _Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'oprun.config' has no attribute '{name}'")
    value = getattr(importlib.import_module(f"oprun.config.{module}"), name)
    globals()[name] = value
    return value
