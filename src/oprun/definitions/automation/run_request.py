"""What schedules and sensors ask for: `RunRequest` (launch a run) and
`SkipReason` (launch nothing, and say why).

Plain values: nothing here launches, stores or validates run config against a
job; the daemon does that when it acts on a request.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from oprun.errors import DagsterInvalidDefinitionError, DagsterInvariantViolationError


def run_config_dict(run_config: Any, where: str) -> dict[str, Any]:
    """A run config as a plain dict: None, a mapping, or a `RunConfig` (anything
    with `to_config_dict`)."""
    if run_config is None:
        return {}
    to_dict = getattr(run_config, "to_config_dict", None)
    if callable(to_dict):
        return dict(to_dict())
    if isinstance(run_config, Mapping):
        return dict(run_config)
    raise DagsterInvariantViolationError(
        f"{where}: run_config must be a dict or a RunConfig, got {type(run_config).__name__} {run_config!r}."
    )


def normalize_tags(tags: Mapping[str, Any] | None, where: str) -> dict[str, str]:
    """Tags as `{str: str}`: other JSON values are stored as JSON text, like Dagster."""
    if tags is None:
        return {}
    if not isinstance(tags, Mapping):
        raise DagsterInvalidDefinitionError(f"{where}: tags must be a dict of str to str, got {type(tags).__name__}.")
    out: dict[str, str] = {}
    for key, value in tags.items():
        if not isinstance(key, str):
            raise DagsterInvalidDefinitionError(f"{where}: tag keys must be strings, got {key!r}.")
        if isinstance(value, str):
            out[key] = value
            continue
        try:
            encoded = json.dumps(value)
            if json.loads(encoded) != value:
                raise ValueError(value)
        except (TypeError, ValueError):
            raise DagsterInvalidDefinitionError(
                f"{where}: tag '{key}' has value {value!r}, which cannot be stored: tag values must be strings "
                "or JSON values that round-trip through JSON."
            ) from None
        out[key] = encoded
    return out


@dataclass(frozen=True)
class RunRequest:
    """Ask for one run. A sensor launches a given `run_key` at most once, ever."""

    run_key: str | None = None
    run_config: Mapping[str, Any] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    job_name: str | None = None
    asset_selection: Sequence[Any] | None = None
    partition_key: str | None = None

    def __post_init__(self) -> None:
        where = f"RunRequest(run_key={self.run_key!r})"
        if self.run_key is not None and not isinstance(self.run_key, str):
            raise DagsterInvariantViolationError(f"{where}: run_key must be a string, got {type(self.run_key).__name__}.")
        if self.asset_selection:
            raise DagsterInvalidDefinitionError(
                f"{where}: asset_selection is not supported: oprun runs op jobs, not assets. Request a job instead."
            )
        if self.partition_key is not None and not isinstance(self.partition_key, str):
            raise DagsterInvariantViolationError(f"{where}: partition_key must be a string, got {self.partition_key!r}.")
        object.__setattr__(self, "run_config", run_config_dict(self.run_config, where))
        object.__setattr__(self, "tags", normalize_tags(self.tags, where))

    def with_replaced_attrs(self, **changes: Any) -> RunRequest:
        return replace(self, **changes)


@dataclass(frozen=True)
class SkipReason:
    """Nothing to run this time; `skip_message` says why (shown on the tick)."""

    skip_message: str | None = None

    def __post_init__(self) -> None:
        if self.skip_message is not None and not isinstance(self.skip_message, str):
            raise DagsterInvariantViolationError(
                f"SkipReason's skip_message must be a string, got {type(self.skip_message).__name__}."
            )
