"""Hook definitions: `@success_hook` and `@failure_hook`.

A hook runs after a step, with a `HookContext`; the engine records HOOK_COMPLETED,
HOOK_SKIPPED or HOOK_ERRORED, and a hook's failure never changes the step or run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from oprun.definitions.jobs import functions
from oprun.definitions.jobs.io import check_valid_name
from oprun.errors import DagsterInvalidDefinitionError

SUCCESS = "success"
FAILURE = "failure"


class HookDefinition:
    """A function run after each step it is attached to, on success or on failure."""

    def __init__(
        self,
        name: str,
        hook_fn: Callable[[Any], Any],
        fires_on: str,
        required_resource_keys: set[str] | frozenset[str] | None = None,
        decorated_fn: Callable[..., Any] | None = None,
    ) -> None:
        self.name = check_valid_name(name, what="hook name")
        self.hook_fn = hook_fn
        self.fires_on = fires_on
        self.required_resource_keys = frozenset(required_resource_keys or ())
        self.decorated_fn = decorated_fn or hook_fn

    def should_fire(self, step_succeeded: bool) -> bool:
        return step_succeeded if self.fires_on == SUCCESS else not step_succeeded

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Direct invocation in tests: `my_hook(build_hook_context(...))`."""
        if not args and not functions.CONTEXT_NAMES.intersection(kwargs):
            from oprun.execution.hooks import build_hook_context

            args = (build_hook_context(),)
        return self.hook_fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<{self.fires_on}_hook {self.name}>"


def _make_hook_decorator(fires_on: str) -> Callable[..., Any]:
    def decorator(
        hook_fn: Callable[..., Any] | None = None,
        *,
        name: str | None = None,
        required_resource_keys: set[str] | None = None,
    ) -> Any:
        def wrap(fn: Callable[..., Any]) -> HookDefinition:
            # As Dagster: the first parameter must be positional and named `context`
            # (or `_`, `_context`, `context_`).
            if not functions.has_context_param(functions.parameters(fn), positional_only=True):
                raise DagsterInvalidDefinitionError(
                    f"'{fn.__name__}' decorated function does not have required positional "
                    "parameter 'context'. Hook functions should only have keyword arguments "
                    "that match input names and a first positional parameter named 'context' "
                    "(or '_', '_context', 'context_')."
                )
            return HookDefinition(name or fn.__name__, fn, fires_on, required_resource_keys, fn)

        if hook_fn is not None:
            return wrap(hook_fn)
        return wrap

    decorator.__name__ = f"{fires_on}_hook"
    decorator.__doc__ = f"Decorator: a hook that runs after each step that {'succeeds' if fires_on == SUCCESS else 'fails'}."
    return decorator


success_hook = _make_hook_decorator(SUCCESS)
failure_hook = _make_hook_decorator(FAILURE)


def check_hooks(hooks: Any, where: str) -> frozenset[HookDefinition]:
    checked = frozenset(hooks or ())
    for hook in checked:
        if not isinstance(hook, HookDefinition):
            raise DagsterInvalidDefinitionError(
                f"{where}: hooks must be defined with @success_hook or @failure_hook, got {hook!r}"
            )
    return checked
