"""The schema of the instance config file (`oprun.yaml` / `dagster.yaml`).

Every section oprun accepts is described with oprun's own config types and the
whole file is checked with `validate_config`, so that a misspelt key or a wrong
type anywhere is an error naming the file and the path (with a close match),
never a silent default. The sections follow Dagster's `dagster.yaml`; sections
that name a class by `module`/`class` keep that class's `config` open where
oprun cannot know its schema.

The check only reads: the settings the instance keeps are the file's own values
(`{env: NAME}` is read again where a value is used), so no secret read from the
environment is copied into the settings handed to worker processes.

Imported only when a config file exists (or overrides are given), so a command
run without one pays nothing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from oprun.config.types import (
    Array,
    Bool,
    ConfigType,
    Field,
    Float,
    Int,
    IntSource,
    Noneable,
    Permissive,
    ScalarUnion,
    Selector,
    Shape,
    String,
    StringSource,
)
from oprun.config.validate import EvaluationError, Path, path_to_str, validate_config
from oprun.errors import DagsterInstanceConfigError, did_you_mean


def _optional(config: Any) -> Field:
    return Field(config, is_required=False)


def _configurable_class(config: Any = None, class_required: bool = True) -> Shape:
    """Dagster's `{module, class, config}`: which class, and its config."""
    return Shape(
        {
            "module": Field(String, is_required=class_required),
            "class": Field(String, is_required=class_required),
            "config": _optional(config if config is not None else Permissive()),
        }
    )


POSTGRES_DB = Shape(
    {
        "username": StringSource,
        "password": _optional(StringSource),
        "hostname": StringSource,
        "db_name": StringSource,
        "port": _optional(IntSource),
        "params": _optional(Permissive()),  # added to the URL's query: sslmode, connect_timeout, ...
        "scheme": _optional(StringSource),
    }
)

STORAGE = Selector(
    {
        "sqlite": Field(Shape({"base_dir": _optional(Noneable(StringSource))})),
        "postgres": Field(
            Shape(
                {
                    "postgres_url": _optional(StringSource),
                    "postgres_db": _optional(POSTGRES_DB),
                    "should_autocreate_tables": _optional(Bool),  # accepted; oprun always creates its tables
                }
            )
        ),
    }
)

# oprun's own shorthand `{base_dir}`, or Dagster's LocalArtifactStorage by module/class.
LOCAL_ARTIFACT_STORAGE = Shape(
    {
        "base_dir": _optional(Noneable(StringSource)),
        "module": _optional(String),
        "class": _optional(String),
        "config": _optional(Shape({"base_dir": StringSource})),
    }
)

PYTHON_LOGS = Shape(
    {
        "managed_python_loggers": _optional(Array(String)),
        "python_log_level": _optional(String),
        "dagster_handler_config": _optional(
            Shape(
                {
                    "handlers": _optional(Permissive()),
                    "formatters": _optional(Permissive()),
                    "filters": _optional(Permissive()),
                }
            )
        ),
    }
)

RUN_MONITORING = Shape(
    {
        "enabled": _optional(Bool),
        "start_timeout_seconds": _optional(Int),
        "cancel_timeout_seconds": _optional(Int),
        "max_resume_run_attempts": _optional(Int),
        "poll_interval_seconds": _optional(Int),
        "cancellation_thread_poll_interval_seconds": _optional(Int),
        "free_slots_after_run_end_seconds": _optional(Int),
        "max_runtime_seconds": _optional(Int),
    }
)

CONCURRENCY = Shape(
    {
        "pools": _optional(
            Shape(
                {
                    "granularity": _optional(String),
                    "default_limit": _optional(Int),
                    "op_run_buffer": _optional(Int),
                }
            )
        ),
        "runs": _optional(
            Shape(
                {
                    "max_concurrent_runs": _optional(Int),
                    "tag_concurrency_limits": _optional(
                        Array(
                            Shape(
                                {
                                    "key": String,
                                    "value": _optional(ScalarUnion(String, Shape({"applyLimitPerUniqueValue": Bool}))),
                                    "limit": Int,
                                }
                            )
                        )
                    ),
                }
            )
        ),
        "default_op_concurrency_limit": _optional(Int),
    }
)

TAG_CONCURRENCY_LIMITS = Array(
    Shape(
        {
            "key": String,
            "value": _optional(ScalarUnion(String, Shape({"applyLimitPerUniqueValue": Bool}))),
            "limit": Int,
        }
    )
)

RUN_QUEUE = Shape(
    {
        "max_concurrent_runs": _optional(Int),
        "tag_concurrency_limits": _optional(TAG_CONCURRENCY_LIMITS),
        "dequeue_interval_seconds": _optional(Int),
        "dequeue_use_threads": _optional(Bool),
        "dequeue_num_workers": _optional(Int),
        "max_user_code_failure_retries": _optional(Int),
        "user_code_failure_retry_delay": _optional(Int),
        "block_op_concurrency_limited_runs": _optional(Permissive()),
    }
)

# Dagster's `schedules:` and `sensors:` (how its daemon evaluates them); oprun
# takes the catch-up bound here too (`max_catchup_runs`, as DagsterDaemonScheduler's config).
SCHEDULES = Shape(
    {
        "use_threads": _optional(Bool),
        "num_workers": _optional(Int),
        "num_submit_workers": _optional(Int),
        "max_catchup_runs": _optional(Int),
        "max_tick_retries": _optional(Int),
    }
)
SENSORS = Shape({"use_threads": _optional(Bool), "num_workers": _optional(Int), "num_submit_workers": _optional(Int)})

INSTANCE_CONFIG = Shape(
    {
        "storage": _optional(STORAGE),
        "local_artifact_storage": _optional(LOCAL_ARTIFACT_STORAGE),
        "compute_logs": _optional(_configurable_class()),
        # module and class default to oprun's DefaultRunLauncher
        "run_launcher": _optional(_configurable_class(class_required=False)),
        "run_coordinator": _optional(_configurable_class()),
        "telemetry": _optional(Shape({"enabled": _optional(Bool)})),
        "run_monitoring": _optional(RUN_MONITORING),
        "run_queue": _optional(RUN_QUEUE),
        "scheduler": _optional(_configurable_class()),
        "schedules": _optional(SCHEDULES),
        "sensors": _optional(SENSORS),
        "run_retries": _optional(Shape({"enabled": _optional(Bool), "max_retries": _optional(Int), "retry_on_asset_or_op_failure": _optional(Bool)})),
        "retention": _optional(Permissive()),
        "code_servers": _optional(Permissive()),
        "concurrency": _optional(CONCURRENCY),
        "python_logs": _optional(PYTHON_LOGS),
    }
)

TOP_LEVEL_KEYS = frozenset(INSTANCE_CONFIG.fields)

# The config of oprun's own run launcher: `run_launcher` without a module (the
# instance then loads oprun's), and no class or its DefaultRunLauncher.
DEFAULT_LAUNCHER_CONFIG = Shape({"grace_seconds": _optional(Float)})
DEFAULT_LAUNCHER_CLASS = "DefaultRunLauncher"


def check_instance_config(data: Mapping[str, Any], where: str) -> None:
    """Raise a `DagsterInstanceConfigError` listing every error in `data`, each
    line naming `where` (the file) and the path, e.g.
    `Instance config /home/oprun.yaml: storage:sqlite:base_dir: expected a string, found 5`."""
    document = dict(data)
    if document.get("storage") is None or document.get("storage") == {}:
        document.pop("storage", None)  # empty: the default SQLite storage
    result = validate_config(INSTANCE_CONFIG, document)
    errors = list(result.errors)
    if not errors:
        errors = _cross_checks(document)
    if not errors:
        return
    lines = [line for error in errors for line in _describe(error, document)]
    exc = DagsterInstanceConfigError("\n".join(f"Instance config {where}: {line}" for line in lines))
    exc.errors = errors
    exc.config_value = dict(data)
    raise exc


def _error(path: Path, message: str) -> EvaluationError:
    return EvaluationError(path, "FIELDS_IN_CONFLICT", message)


def _cross_checks(document: Mapping[str, Any]) -> list[EvaluationError]:
    """What a schema cannot say: keys that go together, and the config of oprun's own launcher."""
    errors: list[EvaluationError] = []
    artifacts = document.get("local_artifact_storage") or {}
    if ("module" in artifacts) != ("class" in artifacts):
        errors.append(_error(("root", "local_artifact_storage"), "module and class go together (Dagster's LocalArtifactStorage)."))
    if "base_dir" in artifacts and "config" in artifacts:
        errors.append(_error(("root", "local_artifact_storage"), "give base_dir, or config: {base_dir}, not both."))
    launcher = document.get("run_launcher") or {}
    if "module" not in launcher and launcher.get("class", DEFAULT_LAUNCHER_CLASS) == DEFAULT_LAUNCHER_CLASS:
        config = validate_config(DEFAULT_LAUNCHER_CONFIG, launcher.get("config"), ("root", "run_launcher", "config"))
        errors.extend(config.errors)
    return errors


def _type_at(path: Path) -> ConfigType | None:
    if path == ("run_launcher", "config"):
        return DEFAULT_LAUNCHER_CONFIG
    config_type: ConfigType | None = INSTANCE_CONFIG
    for part in path:
        if isinstance(config_type, Noneable):
            config_type = config_type.inner_type
        if isinstance(config_type, Shape) and isinstance(part, str) and part in config_type.fields:
            config_type = config_type.fields[part].config_type
        elif isinstance(config_type, Array):
            config_type = config_type.inner_type
        else:
            return None
    if isinstance(config_type, Noneable):
        config_type = config_type.inner_type
    return config_type


def _value_at(document: Any, path: Path) -> Any:
    for part in path:
        try:
            document = document[part]
        except (KeyError, IndexError, TypeError):
            return None
    return document


_WORDS = {"String": "a string", "Int": "an integer", "Float": "a number", "Bool": "true or false", "Any": "any value"}


def _expected(display_name: str | None) -> str:
    if display_name is None:
        return "another value"
    parts = []
    for part in display_name.split(" | "):
        part = part.rstrip("?")
        parts.append(_WORDS.get(part) or ("a list" if part.startswith("[") else "a mapping" if part.startswith("{") else part))
    return " or ".join(parts)


def _describe(error: EvaluationError, document: Mapping[str, Any]) -> list[str]:
    path = error.path[1:] if error.path[:1] == ("root",) else error.path
    at = path_to_str(path)
    if error.reason == "FIELD_NOT_DEFINED" and path:
        parent, key = path[:-1], str(path[-1])
        prefix = f"{path_to_str(parent)}: " if parent else ""
        config_type = _type_at(parent)
        fields = sorted(config_type.fields) if isinstance(config_type, Shape) else []
        if parent == ("storage",):
            return [f"{prefix}unknown storage '{key}'. Expected 'sqlite' or 'postgres'.{did_you_mean(key, fields)}"]
        return [f"{prefix}unknown key '{key}'. Expected one of {fields}.{did_you_mean(key, fields)}"]
    if error.reason == "MISSING_REQUIRED_FIELD" and path:
        return [f"{path_to_str(path[:-1])}: missing required key '{path[-1]}'."]
    if error.reason == "MISSING_REQUIRED_FIELDS":
        config_type = _type_at(path)
        value = _value_at(document, path) or {}
        names = [n for n, f in config_type.fields.items() if f.is_required and n not in value] if isinstance(config_type, Shape) else []
        return [f"{at}: missing required key '{name}'." for name in names] or [error.message]
    if error.reason == "SELECTOR_FIELD_ERROR":
        config_type = _type_at(path)
        fields = sorted(config_type.fields) if isinstance(config_type, Shape) else []
        return [f"{at}: expected exactly one of {' or '.join(repr(f) for f in fields)}, found {error.found}."]
    if error.reason == "FAILED_POST_PROCESSING":
        value = _value_at(document, path)
        name = value.get("env") if isinstance(value, Mapping) else None
        if name is not None and os.environ.get(str(name)) is None:
            return [f"{at}: environment variable {name} is not set."]
        return [f"{at}: environment variable {name} is not {_expected(error.expected)}."]
    if error.reason == "RUNTIME_TYPE_MISMATCH" and error.found is not None:
        return [f"{at}: expected {_expected(error.expected)}, found {error.found}."]
    return [f"{at}: {error.message}" if at else error.message]
