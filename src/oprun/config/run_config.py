"""The run config document as users give it: `RunConfig`, raw dicts, and YAML
files or strings (several merged, later ones winning).

Light: PyYAML is imported only when YAML is read.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from oprun.errors import ConfigFileError, DagsterInvalidConfigError


def _node_config(value: Any) -> Any:
    """A node's entry: a Config object becomes {"config": ...}; a dict of nested
    nodes (a graph) is converted recursively."""
    to_dict = getattr(value, "to_config_dict", None)
    if callable(to_dict):
        return {"config": to_dict()}
    if isinstance(value, Mapping):
        converted = {}
        for key, item in value.items():
            if key == "ops" and isinstance(item, Mapping):
                converted[key] = {k: _node_config(v) for k, v in item.items()}
            else:
                converted[key] = _plain(item)
        return converted
    return value


def _plain(value: Any) -> Any:
    to_dict = getattr(value, "to_config_dict", None)
    if callable(to_dict):
        return to_dict()
    to_config = getattr(value, "to_config", None)
    if callable(to_config) and type(value).__name__ in ("EnvVar", "IntEnvVar"):
        return to_config()
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class RunConfig:
    """A run config holding Config objects or dicts: `RunConfig(ops={"op": MyConfig(...)})`."""

    def __init__(
        self,
        ops: Mapping[str, Any] | None = None,
        resources: Mapping[str, Any] | None = None,
        loggers: Mapping[str, Any] | None = None,
        execution: Mapping[str, Any] | None = None,
    ) -> None:
        self.ops = dict(ops or {})
        self.resources = dict(resources or {})
        self.loggers = dict(loggers or {})
        self.execution = dict(execution or {})

    def to_config_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.ops:
            out["ops"] = {name: _node_config(value) for name, value in self.ops.items()}
        if self.resources:
            out["resources"] = {name: _node_config(value) for name, value in self.resources.items()}
        if self.loggers:
            out["loggers"] = {name: _node_config(value) for name, value in self.loggers.items()}
        if self.execution:
            out["execution"] = _plain(self.execution)
        return out

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunConfig) and other.to_config_dict() == self.to_config_dict()

    def __repr__(self) -> str:
        return f"RunConfig({self.to_config_dict()!r})"


def coerce_run_config(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, RunConfig):
        return value.to_config_dict()
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in dict(value).items()}  # _plain(dict(value)), typed as a dict
    raise DagsterInvalidConfigError(f"Run config must be a dict or a RunConfig, got {type(value).__name__}", [], value)


def merge_run_configs(*configs: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge dicts; later values win, lists are replaced whole."""
    merged: dict[str, Any] = {}
    for config in configs:
        _merge_into(merged, config)
    return merged


def _merge_into(target: dict[str, Any], source: Mapping[str, Any]) -> None:
    for key, value in source.items():
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _merge_into(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def load_yaml_string(text: str, source: str = "<string>") -> dict[str, Any]:
    import yaml

    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}, line {mark.line + 1}, column {mark.column + 1}" if mark is not None else source
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigFileError(f"Run config {where} is not valid YAML: {problem}") from exc
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigFileError(f"Run config {source} must be a YAML mapping at the top level, found {type(value).__name__}.")
    return value


def load_yaml_configs(paths: Iterable[str]) -> dict[str, Any]:
    """Read and merge YAML run config files (globs allowed), in order."""
    import glob

    loaded = []
    for pattern in paths:
        matches = sorted(glob.glob(str(pattern))) if any(c in str(pattern) for c in "*?[") else [str(pattern)]
        if not matches:
            raise ConfigFileError(f"No run config file matches {pattern}.")
        for path in matches:
            try:
                with open(path, encoding="utf-8") as f:
                    text = f.read()
            except OSError as exc:
                raise ConfigFileError(f"Cannot read run config file {path}: {exc.strerror or exc}.") from exc
            loaded.append(load_yaml_string(text, path))
    return merge_run_configs(*loaded)
