"""Resource definitions: `ResourceDefinition`, `@resource`, and the IO manager
definitions built on them (`IOManager`, `@io_manager`, `mem_io_manager`).

A definition says how to build a resource (a function of an init context) and
which config and other resources it needs; building it happens at run time in
`oprun.execution.resources`.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from typing import Any

from oprun.config.types import Field, StringSource
from oprun.definitions.jobs import functions
from oprun.errors import DagsterInvalidDefinitionError


class ResourceDefinition:
    """How to build one resource: `resource_fn(init_context)` returns the object, or
    yields it (code after the yield is the teardown)."""

    def __init__(
        self,
        resource_fn: Callable[..., Any],
        config_schema: Any = None,
        description: str | None = None,
        required_resource_keys: set[str] | frozenset[str] | None = None,
        version: str | None = None,
    ) -> None:
        if not callable(resource_fn):
            raise DagsterInvalidDefinitionError(f"resource_fn must be callable, got {resource_fn!r}")
        self.resource_fn = resource_fn
        self.config_schema = config_schema
        self.description = description
        self.required_resource_keys = frozenset(required_resource_keys or ())
        self.version = version
        self._fn_takes_context = _takes_positional(resource_fn)

    @property
    def is_io_manager(self) -> bool:
        return False

    def configured(self, config_or_config_fn: Any, config_schema: Any = None, description: str | None = None) -> ResourceDefinition:
        """A copy whose config is fixed (or mapped from a new, smaller schema)."""
        from oprun.definitions.jobs.configured import configured_resource

        return configured_resource(self, config_or_config_fn, config_schema, description)

    def get_resource_context_fn_result(self, context: Any) -> Any:
        return self.resource_fn(context) if self._fn_takes_context else self.resource_fn()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Direct invocation, as in tests: `my_resource(build_init_resource_context(...))`."""
        if self._fn_takes_context:
            # The context parameter may have any name, and may be passed by it.
            # No context, or None (as in Dagster): an empty one, as build_init_resource_context() gives.
            if (not args and _first_positional(self.resource_fn) not in kwargs) or (args and args[0] is None):
                from oprun.execution.resources import build_init_resource_context

                args = (build_init_resource_context(), *args[1:])
            return self.resource_fn(*args, **kwargs)
        return self.resource_fn()

    @staticmethod
    def hardcoded_resource(value: Any, description: str | None = None) -> ResourceDefinition:
        """A resource that is always `value`."""
        return ResourceDefinition(lambda _init_context: value, description=description)

    @staticmethod
    def mock_resource(description: str | None = None) -> ResourceDefinition:
        """A resource that is a fresh `unittest.mock.MagicMock`."""

        def make(_init_context: Any) -> Any:
            from unittest import mock

            return mock.MagicMock()

        return ResourceDefinition(make, description=description)

    @staticmethod
    def none_resource(description: str | None = None) -> ResourceDefinition:
        return ResourceDefinition.hardcoded_resource(None, description)

    @staticmethod
    def string_resource(description: str | None = None) -> ResourceDefinition:
        return ResourceDefinition(lambda ctx: ctx.resource_config, config_schema=str, description=description)


def _takes_positional(fn: Callable[..., Any]) -> bool:
    try:
        params = functions.parameters(fn)
    except (TypeError, ValueError):
        return True
    return any(p.kind in (functions.POSITIONAL, functions.VAR_POSITIONAL) for p in params)


def resource(
    config_schema: Any = None,
    description: str | None = None,
    required_resource_keys: set[str] | None = None,
    version: str | None = None,
) -> Any:
    """Decorator: `@resource` or `@resource(config_schema=...)` on `fn(init_context)`."""
    if callable(config_schema) and not _looks_like_schema(config_schema):
        _check_resource_fn(config_schema)
        return ResourceDefinition(config_schema)

    def wrap(fn: Callable[..., Any]) -> ResourceDefinition:
        _check_resource_fn(fn)
        return ResourceDefinition(
            fn,
            config_schema=config_schema,
            description=description or functions.docstring(fn),
            required_resource_keys=required_resource_keys,
            version=version,
        )

    return wrap


def _first_positional(fn: Callable[..., Any]) -> str | None:
    try:
        return next((p.name for p in functions.parameters(fn) if p.kind == functions.POSITIONAL), None)
    except (TypeError, ValueError):
        return None


def _check_resource_fn(fn: Callable[..., Any]) -> None:
    """As Dagster: the first parameter, whatever its name, is the init context, and
    no other parameter may be required."""
    try:
        params = functions.parameters(fn)
    except (TypeError, ValueError):
        return
    extras = [p.name for p in params[1:] if p.default is functions.EMPTY and p.kind in (functions.POSITIONAL, functions.KEYWORD_ONLY)]
    if extras:
        raise DagsterInvalidDefinitionError(
            f"@resource decorated function '{getattr(fn, '__name__', fn)}' expects only a single positional "
            f"required argument. Got required extra params {', '.join(extras)}"
        )


def _looks_like_schema(value: Any) -> bool:
    return isinstance(value, type) or hasattr(value, "to_config_schema") or hasattr(value, "config_type")


def make_values_resource(**kwargs: Any) -> ResourceDefinition:
    """A resource whose value is its validated config: a dict of the given fields, or
    any value when no fields are given."""
    schema = dict(kwargs) if kwargs else Field(Any, is_required=False)
    return ResourceDefinition(lambda ctx: ctx.resource_config, config_schema=schema)


def coerce_resource_defs(resource_defs: Mapping[str, Any] | None, where: str) -> dict[str, ResourceDefinition]:
    """Wrap plain objects as hardcoded resources and check the keys."""
    out: dict[str, ResourceDefinition] = {}
    for key, value in (resource_defs or {}).items():
        if not isinstance(key, str) or not key.isidentifier():
            raise DagsterInvalidDefinitionError(f"Resource key '{key}' must be a valid Python identifier ({where}).")
        out[key] = as_resource_definition(value)
    return out


def as_resource_definition(value: Any) -> ResourceDefinition:
    if isinstance(value, ResourceDefinition):
        return value
    as_def = getattr(value, "get_resource_definition", None)
    if callable(as_def):
        made: ResourceDefinition = as_def()  # a ConfigurableResource
        return made
    return ResourceDefinition.hardcoded_resource(value)


# --- IO managers -----------------------------------------------------------------


class InputManager(abc.ABC):
    """Loads an op input: `load_input(context) -> value`."""

    @abc.abstractmethod
    def load_input(self, context: Any) -> Any:
        """Return the value of the input `context` describes."""


class IOManager(InputManager):
    """Stores each op output (`handle_output`) and loads it for downstream inputs
    (`load_input`)."""

    @abc.abstractmethod
    def handle_output(self, context: Any, obj: Any) -> None:
        """Store `obj`, the value of the output `context` describes."""


class IOManagerDefinition(ResourceDefinition):
    """A resource definition whose resource is an IOManager or InputManager."""

    def __init__(
        self,
        resource_fn: Callable[..., Any],
        config_schema: Any = None,
        description: str | None = None,
        required_resource_keys: set[str] | None = None,
        version: str | None = None,
        input_config_schema: Any = None,
        output_config_schema: Any = None,
    ) -> None:
        super().__init__(resource_fn, config_schema, description, required_resource_keys, version)
        self.input_config_schema = input_config_schema
        self.output_config_schema = output_config_schema

    @property
    def is_io_manager(self) -> bool:
        return True

    @staticmethod
    def hardcoded_io_manager(value: IOManager, description: str | None = None) -> IOManagerDefinition:
        return IOManagerDefinition(lambda _ctx: value, description=description)


def io_manager(
    config_schema: Any = None,
    description: str | None = None,
    output_config_schema: Any = None,
    input_config_schema: Any = None,
    required_resource_keys: set[str] | None = None,
    version: str | None = None,
) -> Any:
    """Decorator: `@io_manager` or `@io_manager(config_schema=...)` on `fn(init_context)`
    returning an IOManager."""
    if callable(config_schema) and not _looks_like_schema(config_schema):
        return IOManagerDefinition(config_schema)

    def wrap(fn: Callable[..., Any]) -> IOManagerDefinition:
        return IOManagerDefinition(
            fn,
            config_schema=config_schema,
            description=description or functions.docstring(fn),
            required_resource_keys=required_resource_keys,
            version=version,
            input_config_schema=input_config_schema,
            output_config_schema=output_config_schema,
        )

    return wrap


def input_manager(
    config_schema: Any = None,
    description: str | None = None,
    input_config_schema: Any = None,
    required_resource_keys: set[str] | None = None,
    version: str | None = None,
) -> Any:
    """Decorator for a function `fn(init_context)` returning an InputManager, or for
    a plain `fn(context) -> value` load function."""

    def build(fn: Callable[..., Any], schema: Any) -> IOManagerDefinition:
        if not _returns_manager(fn):
            # As Dagster: the decorated function is the load function, called with the
            # input's context whatever its parameter's name (or with none).
            return IOManagerDefinition(lambda _ctx: _FunctionInputManager(fn), schema, description, required_resource_keys, version, input_config_schema)

        def make(init_context: Any) -> Any:
            made = fn(init_context) if _takes_positional(fn) else fn()
            if isinstance(made, InputManager):
                return made
            raise DagsterInvalidDefinitionError(
                f"@input_manager function '{fn.__name__}' returned {made!r}: it must return an "
                "InputManager, or take a single `context` parameter and return the input's value."
            )

        return IOManagerDefinition(make, schema, description, required_resource_keys, version, input_config_schema)

    if callable(config_schema) and not _looks_like_schema(config_schema):
        return build(config_schema, None)
    return lambda fn: build(fn, config_schema)


class _FunctionInputManager(InputManager):
    def __init__(self, fn: Callable[..., Any]) -> None:
        self._fn = fn
        self._takes_context = _takes_positional(fn)

    def load_input(self, context: Any) -> Any:
        loaded = self._fn(context) if self._takes_context else self._fn()
        # A load function may return an InputManager, which then loads the input.
        return loaded.load_input(context) if isinstance(loaded, InputManager) else loaded


def _returns_manager(fn: Callable[..., Any]) -> bool:
    ret = functions.return_annotation(fn)
    return isinstance(ret, type) and issubclass(ret, InputManager)


class InMemoryIOManager(IOManager):
    """Keeps outputs in a dict keyed by (run id, step key, output name): for runs
    in one process, and for tests."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, ...], Any] = {}

    def handle_output(self, context: Any, obj: Any) -> None:
        self.values[tuple(context.get_identifier())] = obj

    def load_input(self, context: Any) -> Any:
        upstream = context.upstream_output
        key = tuple(upstream.get_identifier())
        try:
            return self.values[key]
        except KeyError:
            from oprun.errors import DagsterInvariantViolationError

            raise DagsterInvariantViolationError(
                f"The in-memory IO manager has no value for output '{upstream.name}' of step "
                f"'{upstream.step_key}' of run {upstream.run_id}: in-memory outputs do not "
                "outlive their process. Use a persistent IO manager (fs_io_manager) to "
                "re-execute or to pass outputs between processes."
            ) from None


mem_io_manager = IOManagerDefinition(lambda _ctx: InMemoryIOManager(), description="Keeps outputs in memory")


def _make_fs_io_manager(init_context: Any) -> Any:
    from oprun.definitions.resources.fs_io_manager import PickledObjectFilesystemIOManager

    base_dir = (init_context.resource_config or {}).get("base_dir")
    if base_dir is None:
        instance = init_context.instance
        base_dir = instance.storage_directory() if instance is not None else None
    return PickledObjectFilesystemIOManager(base_dir=base_dir)


fs_io_manager = IOManagerDefinition(
    _make_fs_io_manager,
    config_schema={"base_dir": Field(StringSource, is_required=False)},
    description="Pickles each output to a file under the instance's storage folder",
)
