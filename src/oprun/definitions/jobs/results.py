"""What an op body returns or yields: `Output`, `DynamicOutput`, and user events
(`AssetMaterialization`, `AssetObservation`, `ExpectationResult`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Generic, TypeVar

from oprun.definitions.jobs.io import DEFAULT_OUTPUT, check_valid_name
from oprun.definitions.jobs.metadata import MetadataEntryValue, normalize_metadata
from oprun.errors import DagsterInvalidDefinitionError

T = TypeVar("T")


class Output(Generic[T]):
    """A value for one named output, with optional metadata."""

    __slots__ = ("value", "output_name", "metadata", "data_version", "tags")

    def __init__(
        self,
        value: T,
        output_name: str = DEFAULT_OUTPUT,
        metadata: Mapping[str, Any] | None = None,
        data_version: Any = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        self.value = value
        self.output_name = output_name
        self.metadata: dict[str, MetadataEntryValue] = normalize_metadata(metadata)
        self.data_version = data_version
        self.tags = dict(tags or {})

    @property
    def mapping_key(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"Output(value={self.value!r}, output_name={self.output_name!r})"


class DynamicOutput(Generic[T]):
    """One item of a dynamic output, identified by its mapping key."""

    __slots__ = ("value", "mapping_key", "output_name", "metadata")

    def __init__(
        self,
        value: T,
        mapping_key: str,
        output_name: str = DEFAULT_OUTPUT,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(mapping_key, str):
            raise DagsterInvalidDefinitionError(
                f"DynamicOutput mapping_key must be a string, got {mapping_key!r}"
            )
        check_valid_name(mapping_key, allow_reserved=True, what="mapping key")
        self.value = value
        self.mapping_key = mapping_key
        self.output_name = output_name
        self.metadata = normalize_metadata(metadata)

    def __repr__(self) -> str:
        return f"DynamicOutput(value={self.value!r}, mapping_key={self.mapping_key!r}, output_name={self.output_name!r})"


class AssetKey:
    """A path naming an asset, e.g. AssetKey(["warehouse", "users"])."""

    __slots__ = ("path",)

    def __init__(self, path: str | Sequence[str]) -> None:
        self.path = [path] if isinstance(path, str) else [str(p) for p in path]

    @staticmethod
    def from_coercible(value: Any) -> AssetKey:
        """As in Dagster: a string is a one-part key, a list or tuple the parts."""
        if isinstance(value, AssetKey):
            return value
        if isinstance(value, str):
            return AssetKey([value])
        return AssetKey(list(value))

    def to_user_string(self) -> str:
        return "/".join(self.path)

    def to_plain(self) -> list[str]:
        return list(self.path)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AssetKey) and other.path == self.path

    def __hash__(self) -> int:
        return hash(tuple(self.path))

    def __repr__(self) -> str:
        return f"AssetKey({self.path!r})"


class AssetMaterialization:
    """Records that an asset was written (an ASSET_MATERIALIZATION event)."""

    def __init__(
        self,
        asset_key: Any,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        partition: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        # As in Dagster, a string key given to an asset event is split on every character
        # that is not a letter, a digit or "_": "s3.my_asset" is AssetKey(["s3", "my_asset"]).
        self.asset_key = AssetKey([p for p in re.split(r"[^a-zA-Z0-9_]", asset_key) if p]) if isinstance(asset_key, str) else AssetKey.from_coercible(asset_key)
        self.description = description
        self.metadata = normalize_metadata(metadata)
        self.partition = partition
        self.tags = dict(tags or {})

    @property
    def label(self) -> str:
        return " ".join(self.asset_key.path)

    def to_plain(self) -> dict[str, Any]:
        return {
            "__class__": type(self).__name__,
            "asset_key": self.asset_key.path,
            "description": self.description,
            "metadata": {k: v.to_plain() for k, v in self.metadata.items()},
            "partition": self.partition,
            "tags": self.tags,
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}(asset_key={self.asset_key!r})"


class AssetObservation(AssetMaterialization):
    """Records that an asset was looked at (an ASSET_OBSERVATION event)."""


class ExpectationResult:
    """The outcome of a data quality check; a failed one does not fail the step."""

    def __init__(
        self,
        success: bool,
        label: str | None = None,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        self.success = bool(success)
        self.label = label or "result"
        self.description = description
        self.metadata = normalize_metadata(metadata)

    def to_plain(self) -> dict[str, Any]:
        return {
            "__class__": "ExpectationResult",
            "success": self.success,
            "label": self.label,
            "description": self.description,
            "metadata": {k: v.to_plain() for k, v in self.metadata.items()},
        }

    def __repr__(self) -> str:
        return f"ExpectationResult(success={self.success}, label={self.label!r})"


USER_EVENT_TYPES = (AssetMaterialization, ExpectationResult)
