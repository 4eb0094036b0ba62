"""What schedule and sensor evaluation contexts share: resources built on first
use and closed with the context, an instance made on demand, and calling a
decorated evaluation function with its context and resource arguments.

The instance and resource machinery live in later layers; they are imported when
first used, never when this module is imported.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from oprun.errors import (
    DagsterInvalidDefinitionError,
    DagsterInvalidInvocationError,
    DagsterInvariantViolationError,
    DagsterUnknownResourceError,
)


class _NoResources:
    """`context.resources` when no resources were given."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise DagsterUnknownResourceError(name, [])

    def __contains__(self, name: str) -> bool:
        return False


def _is_resource_value(value: Any) -> bool:
    """A resource definition or a Configurable* resource: what Dagster refuses as a
    positional argument of a direct call."""
    from oprun.definitions.resources.resource import ResourceDefinition

    return isinstance(value, ResourceDefinition) or getattr(type(value), "_is_oprun_resource", False) is True


class TickContext:
    """Base of schedule and sensor contexts; also a context manager that closes
    the resources it built."""

    def __init__(self, instance: Any = None, resources: Mapping[str, Any] | None = None) -> None:
        if resources is not None and not isinstance(resources, Mapping):
            raise DagsterInvariantViolationError(
                f"resources must be a dict of resource key to resource, got {type(resources).__name__}."
            )
        self._instance = instance
        self._resource_defs = dict(resources or {})
        self._resources: Any = None
        self._resources_cm: Any = None

    @property
    def instance(self) -> Any:
        if self._instance is None:
            from oprun.instance import DagsterInstance

            self._instance = DagsterInstance.ephemeral()
        return self._instance

    @property
    def resources(self) -> Any:
        if self._resources is None:
            if not self._resource_defs:
                self._resources = _NoResources()
            else:
                from oprun.execution.resources import build_resources

                self._resources_cm = build_resources(self._resource_defs, instance=self._instance)
                self._resources = self._resources_cm.__enter__()
        return self._resources

    @property
    def resource_keys(self) -> set[str]:
        return set(self._resource_defs)

    @property
    def log(self) -> logging.Logger:
        return logging.getLogger("oprun")

    def merge_resources(self, resources: Mapping[str, Any]) -> Any:
        """A copy of this context with `resources` added to (or replacing) its own:
        the resources a direct call passes as keyword arguments, as in Dagster."""
        import copy

        merged = copy.copy(self)
        merged._resource_defs = {**self._resource_defs, **resources}  # noqa: SLF001 - a copy of self
        merged._resources = merged._resources_cm = None  # noqa: SLF001
        return merged

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._resources_cm is not None:
            cm, self._resources_cm, self._resources = self._resources_cm, None, None
            cm.__exit__(*exc)


class DecoratedFunction:
    """A user's evaluation function: its context parameter (if any) and the
    parameters it takes as resources, found once when it is decorated."""

    def __init__(self, fn: Callable[..., Any], kind: str, name: str) -> None:
        from oprun.definitions.jobs import functions
        from oprun.definitions.jobs.op import _is_resource_annotation, _type_hints

        self.fn = fn
        self.kind = kind
        self.name = name
        params = functions.parameters(fn)
        hints = _type_hints(fn) if any(p.annotation is not functions.EMPTY for p in params) else {}
        self.context_param: str | None = None
        self.resource_params: list[str] = []
        # As Dagster: the context is the first parameter that is not a resource,
        # whatever its name; the others are resources, by name.
        for param in params:
            if param.kind in (functions.VAR_POSITIONAL, functions.VAR_KEYWORD):
                continue
            if self.context_param is None and not _is_resource_annotation(hints.get(param.name)):
                self.context_param = param.name
            else:
                self.resource_params.append(param.name)

    def check_required_keys(self, required_resource_keys: Any) -> set[str]:
        keys = set(required_resource_keys or ())
        if keys and self.resource_params:
            raise DagsterInvalidDefinitionError(
                f"{self.kind} '{self.name}': cannot specify resource requirements both in the @{self.kind} "
                f"decorator (required_resource_keys) and as arguments to the decorated function "
                f"({', '.join(self.resource_params)}). Use one or the other."
            )
        return keys or set(self.resource_params)

    def context_from_call(self, args: tuple[Any, ...], kwargs: dict[str, Any], default: Callable[[], Any]) -> Any:
        """The context of a direct call, by Dagster's rules: `my_schedule(context)`,
        `my_schedule()` (or `my_schedule(None)`) for a function without a context
        parameter, and resources as keyword arguments (`my_schedule(context,
        db=...)`, `my_schedule(db=...)`), added to the context's resources."""
        kind, name, context_param = self.kind.capitalize(), self.name, self.context_param
        resources = {key: kwargs[key] for key in self.resource_params if key in kwargs}
        others = [key for key in kwargs if key not in resources]
        if len(args) + len(others) > 1:
            raise DagsterInvalidInvocationError(
                f"{kind} invocation received multiple non-resource arguments. Only a first positional context "
                f"parameter should be provided when invoking. {kind} '{name}' was given {len(args)} positional "
                f"argument(s) and the keyword arguments {sorted(others)}; its resources are {sorted(self.resource_params)}."
            )
        if any(_is_resource_value(arg) for arg in args):
            raise DagsterInvalidInvocationError(
                f"If directly invoking a {self.kind}, you may not provide resources as positional arguments, only as "
                f"keyword arguments. {kind} '{name}' takes the resources {sorted(self.resource_params)}: pass "
                "each as name=value."
            )
        context = None
        if args:
            context = args[0]
        elif kwargs:
            if context_param is not None and context_param not in kwargs:
                from oprun.errors import did_you_mean

                hint = did_you_mean(others[0], [context_param]) if others else ""
                raise DagsterInvalidInvocationError(
                    f"{kind} invocation expected argument '{context_param}'. {kind} '{name}' takes its context as "
                    f"'{context_param}' and was given only {sorted(kwargs)}: pass the context first, or as "
                    f"{context_param}=...{hint}"
                )
            context = kwargs.get(context_param or "context")
        elif context_param is not None:
            raise DagsterInvalidInvocationError(
                f"{kind} evaluation function expected context argument, but no context argument was provided when "
                f"invoking. {kind} '{name}' expected a context argument ('{context_param}'): build one with "
                f"build_{self.kind}_context(...) and pass it."
            )
        if context is None:
            context = default()
        if resources and isinstance(context, TickContext):
            context = context.merge_resources(resources)
        return context

    def invoke(self, context: Any) -> Any:
        kwargs: dict[str, Any] = {}
        if self.context_param is not None:
            kwargs[self.context_param] = context
        if self.resource_params:
            resources = context.resources
            for key in self.resource_params:
                if key not in resources:
                    raise DagsterInvalidInvocationError(
                        f"Resource with key '{key}' required by {self.kind} '{self.name}' was not provided. "
                        f"Pass it in resources= when building the context, or as a keyword argument ({key}=...)."
                    )
                kwargs[key] = getattr(resources, key)
        return self.fn(**kwargs)
