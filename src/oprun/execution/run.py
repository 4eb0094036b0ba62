"""Running a whole run: `RunContext`, the one internal context of a run, and
`execute_run`, which starts the run, builds its resources, hands its steps to an
executor, tears the resources down, and records the terminal event last.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from oprun.definitions.jobs.io import NO_VALUE
from oprun.errors import DagsterExecutionInterruptedError
from oprun.events import DagsterEvent, EngineEventData, EventLogEntry, JobFailureData, SerializableErrorInfo, current_pid
from oprun.execution.active import ActiveExecution
from oprun.execution.context import OpExecutionContext
from oprun.execution.resources import Resources
from oprun.execution.logs import ERROR, WARNING, RunLogManager, set_current_step
from oprun.execution.plan import ExecutionPlan, ExecutionStep, FromStepOutput

# Events after which the batch of entries is written to the instance, so that a
# crash loses nothing before the last step boundary.
RUN_BOUNDARIES = frozenset({"RUN_START", "RUN_SUCCESS", "RUN_FAILURE", "RUN_CANCELED"})
FLUSH_AFTER = frozenset(
    {
        "STEP_START", "STEP_SUCCESS", "STEP_FAILURE", "STEP_SKIPPED", "STEP_UP_FOR_RETRY",
        "RUN_START", "RUN_SUCCESS", "RUN_FAILURE", "RUN_CANCELED", "ENGINE_EVENT",
    }
)


class RunContext:
    """Everything one run's steps need; the executor and `execute_step` use it."""

    def __init__(
        self,
        *,
        job: Any,
        run: Any,
        plan: ExecutionPlan,
        resolved_config: Any,
        instance: Any,
        log_manager: RunLogManager,
        resources: Mapping[str, Any],
        active: ActiveExecution,
        retries_enabled: bool = True,
        raise_on_error: bool = False,
        output_capture: dict[tuple[str, str, str | None], Any] | None = None,
        capture_only_managers: frozenset[str] = frozenset(),
        partition_key: str | None = None,
        parent_run_id: str | None = None,
        entries: list[EventLogEntry] | None = None,
        catch_interrupts: bool = False,
        reconstructable_job: Any = None,
    ) -> None:
        self.job = job
        self.job_name = job.name
        self.run = run
        self.run_id = run.run_id
        self.plan = plan
        self.resolved_config = resolved_config
        self.instance = instance
        self.log_manager = log_manager
        self._resources = dict(resources)
        self.active = active
        self.retries_enabled = retries_enabled
        self.raise_on_error = raise_on_error
        self.output_capture = output_capture if output_capture is not None else {}
        self.capture_only_managers = capture_only_managers
        self.partition_key = partition_key
        self.parent_run_id = parent_run_id
        self.catch_interrupts = catch_interrupts
        self.reconstructable_job = reconstructable_job
        # Step stdout/stderr go to files only for runs a persistent instance keeps.
        self.compute_logs_directory: str | None = (
            instance.compute_logs_directory() if instance is not None and not instance.is_ephemeral else None
        )
        self.capture_fds = False
        self.attempts: dict[str, int] = {}
        self._step_resources: dict[int, Resources] = {}
        self._run_tags = {k: str(v) for k, v in run.tags.items()}
        self.entries = entries
        self._outputs_by_step: dict[str, dict[str, Any]] = {}

    # -- events --

    def emit(self, event: DagsterEvent) -> None:
        self.log_manager.emit(event)

    def log_message(self, level: int, message: str, step_key: str | None = None) -> None:
        self.log_manager.log_message(level, message, step_key)

    def log_for_step(self, step_key: str | None) -> Any:
        return self.log_manager.for_step(step_key)

    def set_current_step(self, step_key: str | None) -> None:
        set_current_step(step_key)

    # -- plan and state --

    def plan_step(self, key: str) -> ExecutionStep | None:
        """A step by key; a mapped step's key (`op[k]`) falls back to its template."""
        step = self.active._steps.get(key)  # noqa: SLF001 - the run owns its active execution
        if step is None:
            step = self.plan.steps.get(key)
        if step is None and key.endswith("]"):
            step = self.plan.steps.get(key[: key.index("[")] + "[?]")
        return step

    def concrete_inputs(self, step: ExecutionStep) -> Any:
        return self.active.concrete_inputs(step)

    def output_available(self, source: FromStepOutput) -> bool:
        return self.active.output_available(source)

    def output_run_id(self, step_key: str) -> str:
        """The run whose storage holds a step's outputs (the parent, when re-executing)."""
        if self.parent_run_id is not None and step_key in self.reused_steps:
            return self.reused_steps[step_key]
        return self.run_id

    reused_steps: dict[str, str] = {}

    # -- contexts, resources, outputs --

    def op_context(self, step: ExecutionStep, attempt: int) -> OpExecutionContext:
        op_def = step.op_def
        resources = self._step_resources.get(id(op_def))
        if resources is None:
            keys = op_def.required_resource_keys
            resources = Resources({k: self._resources[k] for k in keys if k in self._resources}, keys)
            self._step_resources[id(op_def)] = resources
        return OpExecutionContext(
            run_id=self.run_id,
            job_name=self.job_name,
            op_def=op_def,
            op_config=self.op_config(step),
            resources=resources,
            log=self.log_manager.for_step(step.key),
            step_key=step.key,
            handle=step.handle,
            run=self.run,
            instance=self.instance,
            partition_key=self.partition_key,
            partitions_def=self.job.partitions_def,
            retry_number=attempt,
            mapping_key=step.mapping_key,
            run_tags=self._run_tags,
            op_tags=step.tags,
        )

    def op_config(self, step: ExecutionStep) -> Any:
        value = self.resolved_config.node_config(step.handle)
        configured_from = getattr(step.op_def, "configured_from", None)
        if configured_from is not None:
            from oprun.definitions.jobs.configured import _check_against

            original, to_inner = configured_from
            inner = to_inner(value)
            value = _check_against(original.config_schema, inner, f"op {step.handle}") if original.config_schema is not None else inner
        return value

    def resource(self, key: str) -> Any:
        try:
            return self._resources[key]
        except KeyError:
            from oprun.errors import DagsterUnknownResourceError

            raise DagsterUnknownResourceError(key, sorted(self._resources)) from None

    def has_resource(self, key: str) -> bool:
        return key in self._resources

    def io_manager_key_for(self, source: FromStepOutput) -> str:
        step = self.plan_step(source.step_key)
        if step is None:
            return "io_manager"
        return step.op_def.output_dict[source.output_name].io_manager_key

    def stores_output(self, manager_key: str) -> bool:
        return manager_key not in self.capture_only_managers

    def loads_from_capture(self, manager_key: str) -> bool:
        return manager_key in self.capture_only_managers

    def capture_output(self, step_key: str, name: str, mapping_key: str | None, value: Any) -> None:
        self.output_capture[(step_key, name, mapping_key)] = value
        outputs = self._outputs_by_step.setdefault(step_key, {})
        if mapping_key is None:
            outputs[name] = value
        else:
            outputs.setdefault(name, {})[mapping_key] = value

    def captured_output(self, source: FromStepOutput) -> Any:
        return self.output_capture.get((source.step_key, source.output_name, source.mapping_key), NO_VALUE)

    def outputs_of_step(self, step_key: str) -> dict[str, Any]:
        return dict(self._outputs_by_step.get(step_key, {}))

    def output_config(self, handle: str, output_name: str) -> Any:
        return None

    def graph_input_value(self, name: str) -> Any:
        if name in self.job.input_values:
            return self.job.input_values[name]
        inputs = self.resolved_config.graph_inputs()
        if name in inputs:
            loader = self.job.graph.input_dict[name].dagster_type.loader
            return loader.load(None, inputs[name]) if loader is not None else inputs[name]
        from oprun.errors import DagsterInvariantViolationError

        raise DagsterInvariantViolationError(
            f"Job '{self.job_name}' has a top-level input '{name}' with no value: pass input_values={{'{name}': ...}} "
            f"or set run config inputs.{name}."
        )


def _event(rc_or_job: str, kind: str, message: str, data: Any = None) -> DagsterEvent:
    return DagsterEvent(kind, rc_or_job, None, None, data, message, current_pid())


def execute_run(
    *,
    job: Any,
    run: Any,
    plan: ExecutionPlan,
    resolved_config: Any,
    instance: Any,
    executor: Any,
    resource_defs: Mapping[str, Any],
    sink: Callable[[EventLogEntry], None],
    raise_on_error: bool = False,
    output_capture: dict[Any, Any] | None = None,
    capture_only_managers: frozenset[str] = frozenset(),
    partition_key: str | None = None,
    already_done: Mapping[str, Any] | None = None,
    reused_steps: Mapping[str, str] | None = None,
    parent_run_id: str | None = None,
    reconstructable_job: Any = None,
) -> tuple[bool, BaseException | None]:
    """Run every step; returns (success, the first user error when raise_on_error)."""
    from oprun.execution.resources import initialize_resources

    loggers = build_loggers(job, resolved_config, run.run_id)
    log_manager = RunLogManager(run.run_id, job.name, loggers, sink)
    active = ActiveExecution(plan, already_done)
    first_error: BaseException | None = None
    failure_reason = None
    error_info = None
    canceled = False
    with log_manager:
        log_manager.emit(_event(job.name, "RUN_START", f'Started execution of run for "{job.name}".'))
        # Executors that run steps elsewhere build resources in their workers.
        wanted = _resources_wanted(plan) if getattr(executor, "runs_steps_in_process", True) else set()
        try:
            with initialize_resources(
                resource_defs, wanted, {k: resolved_config.resource_config(k) for k in resource_defs},
                instance, run.run_id, log_manager.for_step(None), run,
                emit=lambda kind, message, data: log_manager.emit(_event(job.name, kind, message, data)),
            ) as built:
                rc = RunContext(
                    job=job, run=run, plan=plan, resolved_config=resolved_config, instance=instance,
                    log_manager=log_manager, resources=built, active=active,
                    retries_enabled=executor.retries_enabled, raise_on_error=raise_on_error,
                    output_capture=output_capture, capture_only_managers=capture_only_managers,
                    partition_key=partition_key, parent_run_id=parent_run_id,
                    reconstructable_job=reconstructable_job,
                )
                if reused_steps:
                    rc.reused_steps = dict(reused_steps)
                first_error = executor.execute(rc, active)
                _log_abandoned(rc, active)
        except (KeyboardInterrupt, DagsterExecutionInterruptedError):
            # Canceled (SIGTERM from the run launcher, or Ctrl-C): steps still
            # unfinished are abandoned and the run ends CANCELED.
            canceled = True
            for key in active.mark_interrupted():
                if not key.endswith("[?]"):
                    log_manager.log_message(WARNING, f"Step {key} did not finish: the run was canceled.", key)
        except Exception as exc:  # noqa: BLE001 - a run-level failure is recorded, then re-raised if asked
            error_info = SerializableErrorInfo.from_exception(exc)
            failure_reason = "JOB_INITIALIZATION_FAILURE" if not active.status else "RUN_EXCEPTION"
            log_manager.emit(_event(
                job.name, "ENGINE_EVENT",
                f"An error occurred while running the job: {type(exc).__name__}: {exc}",
                EngineEventData({}, error_info),
            ))
            if first_error is None:
                first_error = exc
        failed = active.failed_steps()
        success = not canceled and error_info is None and not failed and not active.abandoned_steps()
        if canceled:
            log_manager.emit(_event(job.name, "RUN_CANCELED", f'Execution of run for "{job.name}" was canceled.'))
        elif success:
            log_manager.emit(_event(job.name, "RUN_SUCCESS", f'Finished execution of run for "{job.name}".'))
        else:
            reason = failure_reason or "STEP_FAILURE"
            detail = f" Steps failed: {failed}." if failed else ""
            log_manager.emit(_event(
                job.name, "RUN_FAILURE", f'Execution of run for "{job.name}" failed.{detail}',
                JobFailureData(error_info, reason),
            ))
    return success, first_error


def _resources_wanted(plan: ExecutionPlan) -> set[str]:
    """Only what the run's steps need: the selected ops, their IO managers and hooks."""
    wanted: set[str] = set()
    for step in plan.steps.values():
        op_def = step.op_def
        wanted |= op_def.required_resource_keys
        for out in op_def.output_defs:
            wanted.add(out.io_manager_key)
        for input_def in op_def.input_defs:
            if input_def.input_manager_key:
                wanted.add(input_def.input_manager_key)
        for hook in step.hook_defs:
            wanted |= hook.required_resource_keys
    return wanted


def _log_abandoned(rc: RunContext, active: ActiveExecution) -> None:
    for key, failed in active.abandon_reasons.items():
        if key.endswith("[?]"):
            continue
        rc.log_message(ERROR, f"Dependencies for step {key} failed: {failed}. Not executing.", key)


def build_loggers(job: Any, resolved_config: Any, run_id: str) -> list[Any]:
    from oprun.definitions.logger import InitLoggerContext

    loggers = []
    configured = (resolved_config.value.get("loggers") or {}) if resolved_config is not None else {}
    names = list(configured) if configured else list(job.loggers)
    for name in names:
        logger_def = job.loggers.get(name)
        if logger_def is None:
            continue
        config = resolved_config.logger_config(name) if resolved_config is not None else None
        loggers.append(logger_def.logger_fn(InitLoggerContext(config, logger_def, run_id, job.name)))
    return loggers
