"""Metadata values attached to outputs, materializations, failures and definitions.

`MetadataValue` builds typed values; `normalize_metadata` turns a user's
`{str: primitive | MetadataValue}` mapping into typed values, rejecting what cannot
be shown or stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from oprun.errors import DagsterInvalidMetadata


class MetadataEntryValue(NamedTuple):
    """A typed metadata value: `kind` says how surfaces render `value`."""

    kind: str
    value: Any

    def to_plain(self) -> dict[str, Any]:
        return {"kind": self.kind, "value": self.value}

    @property
    def text(self) -> Any:
        return self.value


class MetadataValue:
    """Constructors for typed metadata values (Dagster's `MetadataValue.*`)."""

    @staticmethod
    def text(text: str) -> MetadataEntryValue:
        return MetadataEntryValue("text", str(text))

    @staticmethod
    def int(value: int) -> MetadataEntryValue:
        return MetadataEntryValue("int", value)

    @staticmethod
    def float(value: float) -> MetadataEntryValue:
        return MetadataEntryValue("float", value)

    @staticmethod
    def bool(value: bool) -> MetadataEntryValue:
        return MetadataEntryValue("bool", value)

    @staticmethod
    def json(data: Any) -> MetadataEntryValue:
        try:
            import json

            json.dumps(data)
        except (TypeError, ValueError) as exc:
            raise DagsterInvalidMetadata(f"MetadataValue.json needs JSON-able data: {exc}") from exc
        return MetadataEntryValue("json", data)

    @staticmethod
    def md(markdown: str) -> MetadataEntryValue:
        return MetadataEntryValue("md", str(markdown))

    @staticmethod
    def url(url: str) -> MetadataEntryValue:
        return MetadataEntryValue("url", str(url))

    @staticmethod
    def path(path: Any) -> MetadataEntryValue:
        return MetadataEntryValue("path", str(path))

    @staticmethod
    def notebook(path: Any) -> MetadataEntryValue:
        return MetadataEntryValue("notebook", str(path))

    @staticmethod
    def python_artifact(obj: Any) -> MetadataEntryValue:
        return MetadataEntryValue("python_artifact", f"{obj.__module__}.{obj.__qualname__}")

    @staticmethod
    def timestamp(value: Any) -> MetadataEntryValue:
        stamp = value.timestamp() if hasattr(value, "timestamp") else float(value)
        return MetadataEntryValue("timestamp", stamp)

    @staticmethod
    def table(records: list[Any], schema: Any = None) -> MetadataEntryValue:
        return MetadataEntryValue("table", {"records": list(records), "schema": schema})

    @staticmethod
    def null() -> MetadataEntryValue:
        return MetadataEntryValue("null", None)


def normalize_metadata_value(key: str, value: Any) -> MetadataEntryValue:
    if isinstance(value, MetadataEntryValue):
        return value
    if value is None:
        return MetadataValue.null()
    if isinstance(value, bool):
        return MetadataValue.bool(value)
    if isinstance(value, int):
        return MetadataValue.int(value)
    if isinstance(value, float):
        return MetadataValue.float(value)
    if isinstance(value, str):
        return MetadataValue.text(value)
    if isinstance(value, (dict, list)):
        try:
            return MetadataValue.json(value)
        except DagsterInvalidMetadata:
            pass
    if hasattr(value, "__fspath__"):
        return MetadataValue.path(value)
    raise DagsterInvalidMetadata(
        f'Could not resolve the metadata value for "{key}" to a known type. '
        f"Its type was {type(value)}. Consider wrapping the value with the appropriate "
        "MetadataValue type."
    )


def normalize_metadata(metadata: Mapping[str, Any] | None) -> dict[str, MetadataEntryValue]:
    if not metadata:
        return {}
    if not isinstance(metadata, Mapping):
        raise DagsterInvalidMetadata(f"Metadata must be a dict of str to values, got {type(metadata).__name__}")
    return {str(k): normalize_metadata_value(str(k), v) for k, v in metadata.items()}


def metadata_values(metadata: Mapping[str, MetadataEntryValue]) -> dict[str, Any]:
    """The raw values of normalised metadata, for tests and plain display."""
    return {k: v.value for k, v in metadata.items()}
