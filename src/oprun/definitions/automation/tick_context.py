"""What schedule and sensor evaluation contexts share: resources built on first
use and closed with the context, an instance made on demand, and calling a
decorated evaluation function with its context and resource arguments.

The instance and resource machinery live in later layers; they are imported when
first used, never when this module is imported.
"""

from __future__ import annotations

import inspect
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
        from oprun.definitions.jobs.op import _is_resource_annotation

        self.fn = fn
        self.kind = kind
        self.name = name
        params = list(inspect.signature(fn).parameters.values())
        self.context_param: str | None = None
        self.resource_params: list[str] = []
        for index, param in enumerate(params):
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            if index == 0 and not _is_resource_annotation(param.annotation):
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
        """The context of a direct call such as `my_schedule(context)`."""
        kwargs = dict(kwargs)
        context = None
        if args:
            if len(args) > 1:
                raise DagsterInvalidInvocationError(
                    f"{self.kind} '{self.name}' takes one positional argument, its context; got {len(args)}."
                )
            context = args[0]
        elif self.context_param is not None and self.context_param in kwargs:
            context = kwargs.pop(self.context_param)
        elif "context" in kwargs:
            context = kwargs.pop("context")
        if kwargs:
            raise DagsterInvalidInvocationError(
                f"{self.kind} '{self.name}' was invoked with unexpected keyword arguments {sorted(kwargs)}; "
                "pass only the context (resources come from the context)."
            )
        if context is None:
            if self.context_param is not None:
                raise DagsterInvalidInvocationError(
                    f"{self.kind} '{self.name}' expected a context argument ('{self.context_param}'), but none was "
                    f"given: build one with build_{self.kind}_context(...) and pass it."
                )
            context = default()
        # A function without a context parameter may still be given one: its
        # resource arguments come from it.
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
                        f"Pass it in resources= when building the context."
                    )
                kwargs[key] = getattr(resources, key)
        return self.fn(**kwargs)
