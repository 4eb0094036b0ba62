"""Dagster types as GraphQL: the `DagsterType` interface (`RegularDagsterType`,
`ListDagsterType`, `NullableDagsterType`), the types of ops' inputs and outputs."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from oprun.web.graphql import common as c
from oprun.web.graphql.config_schema import ConfigType, ConfigTypeRegistry
from oprun.web.graphql.events import MetadataEntry, metadata_entries


@strawberry.interface(name="DagsterType")
class DagsterType:
    key: str
    name: str | None
    display_name: str
    description: str | None
    is_nullable: bool
    is_list: bool
    is_builtin: bool
    is_nothing: bool
    definition: strawberry.Private[Any]

    @strawberry.field
    def input_schema_type(self) -> ConfigType | None:
        """The config schema an unconnected input of this type is loaded from."""
        schema = self.definition.loader_schema if self.definition.loader is not None else None
        if schema is None:
            return None
        from oprun.config.types import as_field

        registry = ConfigTypeRegistry(as_field(schema).config_type)
        return registry.graphql(registry.root_key)

    @strawberry.field
    def output_schema_type(self) -> ConfigType | None:
        return None  # oprun types have no output materializer

    @strawberry.field
    def inner_types(self) -> list[DagsterType]:
        found: list[DagsterType] = []
        inner = self.definition.inner_type
        while inner is not None:
            found.append(dagster_type(inner))
            inner = inner.inner_type
        return found

    @strawberry.field
    def metadata_entries(self) -> list[MetadataEntry]:
        return metadata_entries(self.definition.metadata)


@strawberry.interface(name="WrappingDagsterType")
class WrappingDagsterType:
    definition: strawberry.Private[Any]

    @strawberry.field
    def of_type(self) -> DagsterType:
        return dagster_type(self.definition.inner_type)


@strawberry.type(name="RegularDagsterType")
class RegularDagsterType(DagsterType):
    pass


@strawberry.type(name="ListDagsterType")
class ListDagsterType(DagsterType, WrappingDagsterType):
    pass


@strawberry.type(name="NullableDagsterType")
class NullableDagsterType(DagsterType, WrappingDagsterType):
    pass


@strawberry.type(name="DagsterTypeNotFoundError")
class DagsterTypeNotFoundError:
    message: str
    dagster_type_name: str


DAGSTER_TYPE_TYPES: tuple[type, ...] = (RegularDagsterType, ListDagsterType, NullableDagsterType)


def dagster_type(definition: Any, cls: type[DagsterType] | None = None) -> DagsterType:
    kind = definition.kind
    if cls is not None:
        pass
    elif kind == "LIST" and definition.inner_type is not None:
        cls = ListDagsterType
    elif kind == "NULLABLE" and definition.inner_type is not None:
        cls = NullableDagsterType
    else:
        cls = RegularDagsterType
    return cls(
        key=definition.key,
        name=definition.name,
        display_name=definition.display_name,
        description=definition.description,
        is_nullable=kind == "NULLABLE",
        is_list=kind == "LIST",
        is_builtin=bool(definition.is_builtin),
        is_nothing=definition.is_nothing,
        definition=definition,
    )


DagsterTypeOrError = Annotated[
    RegularDagsterType | c.PipelineNotFoundError | DagsterTypeNotFoundError | c.PythonError,
    strawberry.union("DagsterTypeOrError"),
]


def dagster_type_or_error(types: list[Any], name: str) -> DagsterTypeOrError:
    """The job's type named `name` (Dagster's union has the regular member only)."""
    for definition in types:
        if definition.name == name or definition.key == name:
            found = dagster_type(definition, RegularDagsterType)
            assert isinstance(found, RegularDagsterType)
            return found
    return DagsterTypeNotFoundError(message=f"Type {name} not found.", dagster_type_name=name)
