"""Executor definitions: which executor a job uses and its config schema.

`in_process_executor`, `multiprocess_executor` and `multi_or_in_process_executor`
(every job's default) are definitions only. Their engines live in the execution
layer, which definitions never import: each built-in's creation function is a
`BuiltinEngine`, which `oprun.execution.executors` fills in when it loads (every
run loads it before it creates its executor).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import Enum
from typing import Any, ClassVar

from oprun.config.types import Array, Field, Noneable, Permissive, Selector, Shape
from oprun.errors import DagsterInvalidDefinitionError, DagsterInvariantViolationError


class ExecutorRequirement(Enum):
    RECONSTRUCTABLE_JOB = "RECONSTRUCTABLE_JOB"
    NON_EPHEMERAL_INSTANCE = "NON_EPHEMERAL_INSTANCE"
    PERSISTENT_OUTPUTS = "PERSISTENT_OUTPUTS"


def multiple_process_executor_requirements() -> list[ExecutorRequirement]:
    return list(ExecutorRequirement)


class ExecutorDefinition:
    """An executor: its name, config schema, requirements, and the function that
    builds the executor from an `InitExecutorContext`."""

    def __init__(
        self,
        name: str,
        config_schema: Any = None,
        requirements: Sequence[ExecutorRequirement] | Callable[[Any], Sequence[ExecutorRequirement]] | None = None,
        executor_creation_fn: Callable[[Any], Any] | None = None,
        description: str | None = None,
    ) -> None:
        self.name = name
        self.config_schema = config_schema
        self._requirements = requirements
        self.executor_creation_fn = executor_creation_fn
        self.description = description

    def get_requirements(self, executor_config: Any) -> list[ExecutorRequirement]:
        reqs = self._requirements
        if callable(reqs):
            return list(reqs(executor_config))
        return list(reqs or ())

    def configured(self, config_or_config_fn: Any, name: str | None = None, config_schema: Any = None, description: str | None = None) -> ExecutorDefinition:
        """A copy whose config is fixed (or mapped from a new schema)."""
        from oprun.definitions.jobs.configured import configured_executor

        return configured_executor(self, config_or_config_fn, name, config_schema, description)

    def __repr__(self) -> str:
        return f"<ExecutorDefinition {self.name}>"


def executor(
    name: Any = None,
    config_schema: Any = None,
    requirements: Any = None,
) -> Any:
    """Decorator: `@executor(name=..., config_schema=...)` on `fn(init_context) -> Executor`."""
    if callable(name):
        fn = name
        return ExecutorDefinition(fn.__name__, None, None, fn, fn.__doc__)

    def wrap(fn: Callable[[Any], Any]) -> ExecutorDefinition:
        return ExecutorDefinition(name or fn.__name__, config_schema, requirements, fn, fn.__doc__)

    return wrap


class BuiltinEngine:
    """The creation function of a built-in executor, by name; the execution layer
    registers the engine behind each name (definitions describe executors, they
    do not import the engines)."""

    _engines: ClassVar[dict[str, Callable[[Any], Any]]] = {}

    def __init__(self, name: str) -> None:
        self.name = name
        self.__name__ = f"create_{name}_executor"

    @classmethod
    def register(cls, name: str, create: Callable[[Any], Any]) -> None:
        cls._engines[name] = create

    def __call__(self, init_context: Any) -> Any:
        create = self._engines.get(self.name)
        if create is None:
            raise DagsterInvariantViolationError(
                f"The engine of the built-in '{self.name}' executor is not loaded: executors are created "
                "when a run starts (to create one by hand, import oprun.execution.executors first)."
            )
        return create(init_context)

    def __repr__(self) -> str:
        return f"<BuiltinEngine {self.name}>"


_RETRIES = Field(
    Selector({"enabled": Field(Shape({}), is_required=False), "disabled": Field(Shape({}), is_required=False)}),
    default_value={"enabled": {}},
    is_required=False,
)

IN_PROCESS_CONFIG = {
    "retries": _RETRIES,
    "marker_to_close": Field(str, is_required=False, description="Deprecated; ignored."),
}

MULTIPROCESS_CONFIG = {
    "max_concurrent": Field(
        Noneable(int), default_value=None, is_required=False,
        description="How many step processes run at once; 0 or null means the number of CPUs.",
    ),
    "tag_concurrency_limits": Field(
        Noneable(Array(Permissive({"key": str, "limit": int}))), default_value=None, is_required=False,
        description="Limits on steps that share an op tag: [{key, value?, limit}].",
    ),
    "start_method": Field(
        Selector({
            "spawn": Field(Shape({}), is_required=False),
            "forkserver": Field(Shape({"preload_modules": Field(Array(str), is_required=False)}), is_required=False),
        }),
        is_required=False,
        description="How worker processes are started.",
    ),
    "retries": _RETRIES,
}

in_process_executor = ExecutorDefinition(
    "in_process",
    IN_PROCESS_CONFIG,
    [],
    BuiltinEngine("in_process"),
    "Runs every step in the run's own process, one after another.",
)

multiprocess_executor = ExecutorDefinition(
    "multiprocess",
    MULTIPROCESS_CONFIG,
    multiple_process_executor_requirements(),
    BuiltinEngine("multiprocess"),
    "Runs steps in a pool of warm worker processes, independent steps in parallel.",
)


def _multi_or_in_process_requirements(config: Any) -> list[ExecutorRequirement]:
    if isinstance(config, dict) and "multiprocess" in config:
        return multiple_process_executor_requirements()
    return []


multi_or_in_process_executor = ExecutorDefinition(
    "multi_or_in_process_executor",
    Field(
        Selector({
            "multiprocess": Field(Shape(MULTIPROCESS_CONFIG), is_required=False),
            "in_process": Field(Shape(IN_PROCESS_CONFIG), is_required=False),
        }),
        default_value={"multiprocess": {}},
        is_required=False,
    ),
    _multi_or_in_process_requirements,
    BuiltinEngine("multi_or_in_process"),
    "Multiprocess when launched, in process under execute_in_process (every job's default).",
)


def check_executor_def(value: Any, where: str) -> ExecutorDefinition:
    if not isinstance(value, ExecutorDefinition):
        raise DagsterInvalidDefinitionError(f"{where}: executor_def must be an ExecutorDefinition, got {value!r}")
    return value
