"""Pythonic resources: `ConfigurableResource`, `ConfigurableResourceFactory`,
`ConfigurableIOManager`, `ConfigurableIOManagerFactory`.

A resource class is a `Config` (pydantic) whose fields are the resource's config.
An instance given to a job becomes a `ResourceDefinition` whose schema is the
class's, with the instance's own values as defaults, so run config
(`resources.<key>.config`) can still override them; `configure_at_launch()`
leaves every field to run config. Importing this module imports pydantic, so the
package exports these names lazily.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Iterator
from typing import Any, ClassVar

from oprun.config.pythonic import Config
from oprun.definitions.resources.resource import IOManager, IOManagerDefinition, ResourceDefinition


class ConfigurableResourceFactory(Config):
    """A resource configured by its fields, which builds the object ops receive
    with `create_resource`."""

    # Marks op parameters annotated with a subclass as resource parameters
    # (a ClassVar, so pydantic does not take it for a field).
    _is_oprun_resource: ClassVar[bool] = True

    def create_resource(self, context: Any) -> Any:
        return self

    def setup_for_execution(self, context: Any) -> None:
        """Called once per run (per process) before the resource is used."""

    def teardown_after_execution(self, context: Any) -> None:
        """Called once per run (per process) after the last step, even on failure."""

    @contextlib.contextmanager
    def yield_for_execution(self, context: Any) -> Iterator[Any]:
        self.setup_for_execution(context)
        try:
            yield self.create_resource(context)
        finally:
            self.teardown_after_execution(context)

    @classmethod
    def configure_at_launch(cls, **defaults: Any) -> ResourceDefinition:
        """A resource definition whose config is given in run config at launch."""
        return _definition_for(cls, defaults, io_manager=issubclass(cls, IOManager) or issubclass(cls, ConfigurableIOManagerFactory))

    def get_resource_definition(self) -> ResourceDefinition:
        values = self.to_config_dict()
        return _definition_for(type(self), values, io_manager=isinstance(self, (IOManager, ConfigurableIOManagerFactory)))

    @classmethod
    def from_resource_context(cls, context: Any) -> Any:
        """Build the resource from an init context (as a function-style resource would)."""
        return cls.from_config_value(context.resource_config or {})


def _definition_for(cls: type[ConfigurableResourceFactory], defaults: dict[str, Any], io_manager: bool) -> ResourceDefinition:
    from oprun.config.types import Field, Shape, as_field

    schema = as_field(cls.to_config_schema()).config_type
    fields = dict(getattr(schema, "fields", {}))
    for name, value in defaults.items():
        if name in fields:
            old = fields[name]
            fields[name] = Field(old.config_type, default_value=value, is_required=False, description=old.description)
    config_schema = Shape(fields)

    def resource_fn(init_context: Any) -> Iterator[Any]:
        instance = cls.from_config_value(init_context.resource_config or {})
        with instance.yield_for_execution(init_context) as value:
            yield value

    if not io_manager:
        return ResourceDefinition(resource_fn, config_schema=config_schema, description=cls.__doc__)
    return IOManagerDefinition(
        resource_fn,
        config_schema=config_schema,
        description=cls.__doc__,
        input_config_schema=_io_config_schema(cls, "input_config_schema"),
        output_config_schema=_io_config_schema(cls, "output_config_schema"),
    )


def _io_config_schema(cls: type, method: str) -> Any:
    """What an IO manager class's `input_config_schema()`/`output_config_schema()`
    classmethod returns (as in Dagster: a schema, a Config class, or None)."""
    get = getattr(cls, method, None)
    schema = get() if callable(get) else None
    to_schema = getattr(schema, "to_config_schema", None)
    return to_schema() if isinstance(schema, type) and callable(to_schema) else schema


class _IOConfigSchemas:
    """The per-input and per-output config schemas of a pythonic IO manager
    (`ops.<op>.inputs.<input>`, `ops.<op>.outputs.<output>`): override these
    classmethods to declare them, as in Dagster."""

    @classmethod
    def input_config_schema(cls) -> Any:
        return None

    @classmethod
    def output_config_schema(cls) -> Any:
        return None


class ConfigurableResource(ConfigurableResourceFactory):
    """A resource that is itself the object ops receive."""


class ConfigurableIOManagerFactory(_IOConfigSchemas, ConfigurableResourceFactory):
    """Builds an IOManager from its fields: override `create_io_manager`."""

    @abc.abstractmethod
    def create_io_manager(self, context: Any) -> IOManager:
        """Build the IO manager for a run."""

    def create_resource(self, context: Any) -> Any:
        return self.create_io_manager(context)


class ConfigurableIOManager(_IOConfigSchemas, ConfigurableResource, IOManager):
    """An IO manager configured by its fields: implement handle_output and load_input."""
