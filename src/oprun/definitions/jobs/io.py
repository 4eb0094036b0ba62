"""Input and output specs of ops and graphs: `In`, `Out`, `DynamicOut`,
`GraphIn`, `GraphOut`.

Plain records: they say what an op consumes and produces; the op decorator merges
them with the function's annotations.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from oprun.definitions.jobs.metadata import normalize_metadata
from oprun.definitions.jobs.types import DagsterType, resolve_dagster_type
from oprun.errors import DagsterInvalidDefinitionError

DEFAULT_OUTPUT = "result"
DEFAULT_IO_MANAGER_KEY = "io_manager"

_NAME = re.compile(r"^[A-Za-z0-9_]+$")
_RESERVED = frozenset(
    {
        "context", "conf", "config", "meta", "arg_dict", "dict", "input_arg_dict",
        "output_arg_dict", "int", "str", "float", "bool", "input", "output", "type",
    }
)


class _Unset:
    def __repr__(self) -> str:
        return "<unset>"


NO_VALUE: Any = _Unset()


def check_valid_name(name: str, allow_reserved: bool = False, what: str = "name") -> str:
    """Dagster's name rule: `^[A-Za-z0-9_]+$`, and no reserved words."""
    import keyword

    if not isinstance(name, str) or not _NAME.match(name):
        raise DagsterInvalidDefinitionError(
            f'"{name}" is not a valid {what} in oprun. Names must be in regex ^[A-Za-z0-9_]+$.'
        )
    if not allow_reserved and (name in _RESERVED or keyword.iskeyword(name)):
        raise DagsterInvalidDefinitionError(
            f'"{name}" is not a valid {what} in oprun. It conflicts with an oprun or python reserved keyword.'
        )
    return name


class In:
    """An op input: its type, description, default value, metadata and input manager."""

    def __init__(
        self,
        dagster_type: Any = NO_VALUE,
        description: str | None = None,
        default_value: Any = NO_VALUE,
        metadata: Mapping[str, Any] | None = None,
        asset_key: Any = None,
        asset_partitions: Any = None,
        input_manager_key: str | None = None,
    ) -> None:
        self.dagster_type: DagsterType | None = (
            None if dagster_type is NO_VALUE else resolve_dagster_type(dagster_type)
        )
        self.description = description
        self.default_value = default_value
        self.metadata = dict(metadata or {})
        self.asset_key = asset_key
        self.asset_partitions = asset_partitions
        self.input_manager_key = input_manager_key

    @property
    def has_default_value(self) -> bool:
        return self.default_value is not NO_VALUE


class Out:
    """An op output: its type, whether it is required, and its IO manager key."""

    is_dynamic = False

    def __init__(
        self,
        dagster_type: Any = NO_VALUE,
        description: str | None = None,
        is_required: bool = True,
        io_manager_key: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        code_version: str | None = None,
    ) -> None:
        self.dagster_type: DagsterType | None = (
            None if dagster_type is NO_VALUE else resolve_dagster_type(dagster_type)
        )
        self.description = description
        self.is_required = is_required
        self.io_manager_key = io_manager_key or DEFAULT_IO_MANAGER_KEY
        self.metadata = normalize_metadata(metadata)
        self.code_version = code_version


class DynamicOut(Out):
    """An output that yields any number of `DynamicOutput`s, each with a mapping key."""

    is_dynamic = True


class GraphIn:
    """A graph input: description and type for documentation."""

    def __init__(self, description: str | None = None, dagster_type: Any = NO_VALUE, metadata: Any = None) -> None:
        self.description = description
        self.dagster_type = None if dagster_type is NO_VALUE else resolve_dagster_type(dagster_type)
        self.metadata = dict(metadata or {})


class GraphOut:
    """A graph output: description for documentation."""

    def __init__(self, description: str | None = None, metadata: Any = None) -> None:
        self.description = description
        self.metadata = dict(metadata or {})


class InputDefinition:
    """A resolved op input: name plus everything `In` says, type always set."""

    __slots__ = ("name", "dagster_type", "description", "default_value", "metadata", "input_manager_key")

    def __init__(self, name: str, spec: In, dagster_type: DagsterType) -> None:
        self.name = name
        self.dagster_type = dagster_type
        self.description = spec.description
        self.default_value = spec.default_value
        self.metadata = spec.metadata
        self.input_manager_key = spec.input_manager_key

    @property
    def has_default_value(self) -> bool:
        return self.default_value is not NO_VALUE

    @property
    def is_nothing(self) -> bool:
        return self.dagster_type.is_nothing


class OutputDefinition:
    """A resolved op output: name plus everything `Out` says, type always set."""

    __slots__ = ("name", "dagster_type", "description", "is_required", "io_manager_key", "metadata", "is_dynamic", "code_version")

    def __init__(self, name: str, spec: Out, dagster_type: DagsterType) -> None:
        self.name = name
        self.dagster_type = dagster_type
        self.description = spec.description
        self.is_required = spec.is_required
        self.io_manager_key = spec.io_manager_key
        self.metadata = spec.metadata
        self.is_dynamic = spec.is_dynamic
        self.code_version = spec.code_version

    @property
    def optional(self) -> bool:
        return not self.is_required
