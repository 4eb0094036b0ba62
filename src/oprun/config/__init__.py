"""The config system: schema types, validation with every error at once, run
config documents, config mappings, scaffolds, and (in `pythonic`, loaded only
when used, because it imports pydantic) `Config` classes.

A leaf below definitions: knows nothing of ops, jobs or execution.
"""

from oprun.config.env import EnvVar
from oprun.config.mapping import ConfigMapping, config_mapping
from oprun.config.run_config import RunConfig, coerce_run_config, load_yaml_configs, load_yaml_string, merge_run_configs
from oprun.config.types import (
    Any,
    Array,
    Bool,
    BoolSource,
    ConfigType,
    Enum,
    EnumValue,
    Field,
    Float,
    Int,
    IntSource,
    Map,
    Noneable,
    Permissive,
    ScalarUnion,
    Selector,
    Shape,
    String,
    StringSource,
    as_field,
    resolve_config_type,
)
from oprun.config.validate import ConfigResult, EvaluationError, mask_secrets, validate_config

__all__ = [
    "Any", "Array", "Bool", "BoolSource", "ConfigMapping", "ConfigResult", "ConfigType", "Enum",
    "EnumValue", "EnvVar", "EvaluationError", "Field", "Float", "Int", "IntSource", "Map", "Noneable",
    "Permissive", "RunConfig", "ScalarUnion", "Selector", "Shape", "String", "StringSource", "as_field",
    "coerce_run_config", "config_mapping", "load_yaml_configs", "load_yaml_string", "mask_secrets",
    "merge_run_configs", "resolve_config_type", "validate_config",
]
