"""Building resources at run time: once per run (per process), only those the run
needs, in dependency order, torn down in reverse order even when the run fails.

Also the testing helpers `build_init_resource_context` and `build_resources`.
"""

from __future__ import annotations

import contextlib
import time
import types
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from oprun.definitions.resources.resource import ResourceDefinition, as_resource_definition
from oprun.errors import (
    DagsterInvalidConfigError,
    DagsterInvalidDefinitionError,
    DagsterInvariantViolationError,
    DagsterResourceFunctionError,
    DagsterUnknownResourceError,
    did_you_mean,
)
from oprun.events import DagsterEventType, EngineEventData, SerializableErrorInfo


class Resources:
    """`context.resources`: attribute access to the resources an op required."""

    def __init__(self, values: Mapping[str, Any], allowed: frozenset[str] | None = None) -> None:
        object.__setattr__(self, "_values", dict(values))
        object.__setattr__(self, "_allowed", allowed)

    def __getattr__(self, name: str) -> Any:
        values = object.__getattribute__(self, "_values")
        allowed = object.__getattribute__(self, "_allowed")
        if name.startswith("__"):
            raise AttributeError(name)
        if (allowed is not None and name not in allowed) or name not in values:
            raise DagsterUnknownResourceError(name, sorted(allowed if allowed is not None else values))
        return values[name]

    def __setattr__(self, name: str, value: Any) -> None:
        raise DagsterInvariantViolationError("context.resources is read-only")

    def __contains__(self, name: str) -> bool:
        return name in object.__getattribute__(self, "_values")

    def _asdict(self) -> dict[str, Any]:
        return dict(object.__getattribute__(self, "_values"))

    def original_resource_dict(self) -> dict[str, Any]:
        return self._asdict()





class InitResourceContext:
    """What a resource function receives: its config, the resources it depends on,
    a log, and the instance."""

    def __init__(
        self,
        resource_config: Any = None,
        resources: Resources | None = None,
        resource_def: ResourceDefinition | None = None,
        instance: Any = None,
        run_id: str | None = None,
        log: Any = None,
        dagster_run: Any = None,
        all_resource_defs: Mapping[str, Any] | None = None,
    ) -> None:
        self.resource_config = resource_config
        self.resources = resources if resources is not None else Resources({})
        self.resource_def = resource_def
        self.instance = instance
        self.run_id = run_id
        self.log = log
        self.dagster_run = dagster_run
        self.all_resource_defs = dict(all_resource_defs or {})

    def replace_config(self, config: Any) -> InitResourceContext:
        return InitResourceContext(config, self.resources, self.resource_def, self.instance, self.run_id, self.log, self.dagster_run, self.all_resource_defs)


def build_init_resource_context(
    config: Any = None,
    resources: Mapping[str, Any] | None = None,
    instance: Any = None,
) -> InitResourceContext:
    """An InitResourceContext for invoking a resource function directly in a test."""
    from oprun.execution.logs import direct_log

    return InitResourceContext(resource_config=config, resources=Resources(resources or {}), instance=instance, log=direct_log())


def resource_order(resource_defs: Mapping[str, ResourceDefinition], wanted: set[str]) -> list[str]:
    """Keys to build, dependencies first; a missing or circular dependency is an error."""
    order: list[str] = []
    state: dict[str, str] = {}

    def visit(key: str, needed_by: str | None) -> None:
        if state.get(key) == "done":
            return
        if state.get(key) == "visiting":
            raise DagsterInvalidDefinitionError(f"Resource '{key}' depends on itself through its required resources.")
        definition = resource_defs.get(key)
        if definition is None:
            who = f" (required by resource '{needed_by}')" if needed_by else ""
            raise DagsterInvalidDefinitionError(
                f"Resource '{key}'{who} was not provided. Provided resources: {sorted(resource_defs)}."
                f"{did_you_mean(key, resource_defs)}"
            )
        state[key] = "visiting"
        for dep in sorted(definition.required_resource_keys):
            visit(dep, key)
        state[key] = "done"
        order.append(key)

    for key in sorted(wanted):
        visit(key, None)
    return order


def _enter_result(stack: contextlib.ExitStack, result: Any) -> Any:
    if isinstance(result, types.GeneratorType):
        return stack.enter_context(contextlib.contextmanager(lambda: result)())
    if isinstance(result, contextlib.AbstractContextManager) and isinstance(result, contextlib._GeneratorContextManager):  # noqa: SLF001 - what @contextmanager returns
        return stack.enter_context(result)
    return result


@contextlib.contextmanager
def initialize_resources(
    resource_defs: Mapping[str, ResourceDefinition],
    wanted: set[str],
    resource_configs: Mapping[str, Any],
    instance: Any = None,
    run_id: str | None = None,
    log: Any = None,
    dagster_run: Any = None,
    emit: Callable[[DagsterEventType, str, Any], object] | None = None,
    generators: set[str] | None = None,
) -> Iterator[dict[str, Any]]:
    """Build the wanted resources (and what they need); tear them down on exit.
    The keys of those that need teardown (generators, context managers) are added
    to `generators` when it is given.

    With `emit(kind, message, data)`, report RESOURCE_INIT_STARTED, then
    RESOURCE_INIT_SUCCESS with each resource's init time, or RESOURCE_INIT_FAILURE.
    """
    built: dict[str, Any] = {}
    order = resource_order(resource_defs, wanted)
    names = f"[{', '.join(order)}]"
    if emit is not None and order:
        emit(DagsterEventType.RESOURCE_INIT_STARTED, f"Starting initialization of resources {names}.", EngineEventData({}))
    timings: dict[str, str] = {}
    with contextlib.ExitStack() as stack:
        for key in order:
            definition = resource_defs[key]
            deps = {k: built[k] for k in definition.required_resource_keys}
            context = InitResourceContext(
                resource_configs.get(key), Resources(deps), definition, instance, run_id, log, dagster_run, resource_defs,
            )
            started = time.perf_counter()
            try:
                result = definition.get_resource_context_fn_result(context)
                built[key] = _enter_result(stack, result)
                if generators is not None and built[key] is not result:
                    generators.add(key)
            except Exception as exc:
                if emit is not None:
                    emit(
                        DagsterEventType.RESOURCE_INIT_FAILURE, f"Initialization of resources {names} failed.",
                        EngineEventData({}, SerializableErrorInfo.from_exception(exc)),
                    )
                if isinstance(exc, DagsterResourceFunctionError):
                    raise
                raise DagsterResourceFunctionError(
                    f"Error executing resource_fn on ResourceDefinition {key}: {type(exc).__name__}: {exc}"
                ) from exc
            timings[key] = f"{(time.perf_counter() - started) * 1000:.2f}ms"
        if emit is not None and order:
            emit(DagsterEventType.RESOURCE_INIT_SUCCESS, f"Finished initialization of resources {names}.", EngineEventData(timings))
        yield built


class _BuiltResources:
    """The context manager `build_resources` returns."""

    def __init__(self, resources: Mapping[str, Any], instance: Any, resource_config: Mapping[str, Any] | None) -> None:
        self._defs = {k: as_resource_definition(v) for k, v in resources.items()}
        self._instance = instance
        self._config = dict(resource_config or {})
        self._cm: Any = None
        # The keys of the resources that need teardown, once built.
        self.generators: set[str] = set()

    def __enter__(self) -> Resources:
        configs = {}
        for key, definition in self._defs.items():
            entry = self._config.get(key)
            raw = entry["config"] if isinstance(entry, Mapping) and "config" in entry else entry
            configs[key] = _validated_resource_config(key, definition, raw)
        from oprun.execution.logs import direct_log

        self._cm = initialize_resources(
            self._defs, set(self._defs), configs, self._instance, log=direct_log(), generators=self.generators,
        )
        return Resources(self._cm.__enter__())

    def __exit__(self, *exc: Any) -> None:
        if self._cm is not None:
            self._cm.__exit__(*exc)
            self._cm = None


def _validated_resource_config(key: str, definition: ResourceDefinition, raw: Any) -> Any:
    if definition.config_schema is None:
        return raw
    from oprun.config.validate import validate_config

    result = validate_config(definition.config_schema, raw)
    if not result.success:
        raise DagsterInvalidConfigError(f"Error in config for resource {key}", result.errors, raw)
    return result.value


def build_resources(
    resources: Mapping[str, Any],
    instance: Any = None,
    resource_config: Mapping[str, Any] | None = None,
) -> _BuiltResources:
    """Build resources outside a run: `with build_resources({...}) as resources:`."""
    return _BuiltResources(resources, instance, resource_config)
