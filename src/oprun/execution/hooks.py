"""Running hooks after a step, and the `HookContext` they receive.

A hook that raises is recorded as HOOK_ERRORED and never changes the step's or the
run's outcome.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from oprun.events import DagsterEvent, DagsterEventType, HookErroredData, SerializableErrorInfo, current_pid
from oprun.execution.resources import Resources

if TYPE_CHECKING:
    from oprun.execution.plan import ExecutionStep
    from oprun.execution.run import RunContext


class HookContext:
    """What a hook function receives."""

    def __init__(
        self,
        *,
        job_name: str | None,
        run_id: str | None,
        hook_def: Any,
        op: Any,
        step_key: str | None,
        log: Any,
        resources: Resources,
        op_config: Any = None,
        op_exception: BaseException | None = None,
        op_output_values: Mapping[str, Any] | None = None,
        op_output_metadata: Mapping[str, Any] | None = None,
        instance: Any = None,
    ) -> None:
        self.job_name = job_name
        self.run_id = run_id
        self.hook_def = hook_def
        self.op = op
        self.step_key = step_key
        self.log = log
        self.resources = resources
        self.op_config = op_config
        self.op_exception = op_exception
        self.op_output_values = dict(op_output_values or {})
        self.op_output_metadata = dict(op_output_metadata or {})
        self.instance = instance

    @property
    def required_resource_keys(self) -> frozenset[str]:
        return self.hook_def.required_resource_keys if self.hook_def is not None else frozenset()


class _OpHandle:
    """`context.op` in a hook: the node's name and its definition."""

    def __init__(self, name: str, definition: Any) -> None:
        self.name = name
        self.definition = definition

    def __repr__(self) -> str:
        return f"<op {self.name}>"


def build_hook_context(
    resources: Mapping[str, Any] | None = None,
    op: Any = None,
    run_id: str | None = None,
    job_name: str | None = None,
    op_exception: BaseException | None = None,
    instance: Any = None,
) -> HookContext:
    """A HookContext for invoking a hook directly in a test."""
    from oprun.execution.logs import direct_log

    op_handle = op if op is None or hasattr(op, "definition") else _OpHandle(getattr(op, "name", str(op)), op)
    log = direct_log()
    return HookContext(
        job_name=job_name, run_id=run_id, hook_def=None, op=op_handle, step_key=getattr(op_handle, "name", None),
        log=log, resources=Resources(resources or {}), op_exception=op_exception, instance=instance,
    )


def run_step_hooks(rc: RunContext, step: ExecutionStep, succeeded: bool, exc: BaseException | None) -> None:
    outputs = rc.outputs_of_step(step.key)
    for hook in sorted(step.hook_defs, key=lambda h: h.name):
        if not hook.should_fire(succeeded):
            rc.emit(DagsterEvent(
                DagsterEventType.HOOK_SKIPPED.value, rc.job_name, step.key, step.handle, None,
                f'Skipped the execution of hook "{hook.name}". It did not meet its triggering condition '
                f'during the execution of "{step.node_name}".', current_pid(),
            ))
            continue
        context = HookContext(
            job_name=rc.job_name, run_id=rc.run_id, hook_def=hook, op=_OpHandle(step.node_name, step.op_def),
            step_key=step.key, log=rc.log_for_step(step.key),
            resources=Resources({k: rc.resource(k) for k in hook.required_resource_keys if rc.has_resource(k)}, hook.required_resource_keys),
            op_config=rc.op_config(step), op_exception=exc if not succeeded else None,
            op_output_values=outputs, instance=rc.instance,
        )
        try:
            hook.hook_fn(context)
        except Exception as hook_exc:  # noqa: BLE001 - a hook never fails the step or the run
            rc.emit(DagsterEvent(
                DagsterEventType.HOOK_ERRORED.value, rc.job_name, step.key, step.handle,
                HookErroredData(SerializableErrorInfo.from_exception(hook_exc)),
                f'Error occurred during the execution of hook "{hook.name}" triggered for op "{step.node_name}": '
                f"{type(hook_exc).__name__}: {hook_exc}", current_pid(),
            ))
            continue
        rc.emit(DagsterEvent(
            DagsterEventType.HOOK_COMPLETED.value, rc.job_name, step.key, step.handle, None,
            f'Finished the execution of hook "{hook.name}" triggered for "{step.node_name}".', current_pid(),
        ))
