"""Running a whole run: `RunContext`, the one internal context of a run, and
`execute_run`, which starts a prepared run, builds its resources, hands its steps
to an executor, tears the resources down, and records the terminal event last.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from oprun.definitions.jobs.io import NO_VALUE
from oprun.errors import DagsterExecutionInterruptedError, DagsterInvariantViolationError, DagsterUnknownResourceError
from oprun.events import (
    DagsterEvent,
    DagsterEventType,
    EngineEventData,
    EventLogEntry,
    JobFailureData,
    SerializableErrorInfo,
    current_pid,
)
from oprun.execution.active import ActiveExecution
from oprun.execution.context import OpExecutionContext
from oprun.execution.executors.base import Executor
from oprun.execution.logs import ERROR, WARNING, RunLogManager, set_current_step
from oprun.execution.plan import ExecutionPlan, ExecutionStep, FromStepOutput
from oprun.execution.prepare import PreparedRun
from oprun.execution.resources import Resources, initialize_resources
from oprun.execution.sink import EventStorageFailed

E = DagsterEventType


class RunContext:
    """Everything one run's steps need, in the process that runs them (the run's
    own, or a step worker): the prepared run, its instance, its log manager and
    the resources built for it. `execute_step` and the executors use it."""

    def __init__(
        self,
        prepared: PreparedRun,
        instance: Any,
        log_manager: RunLogManager,
        resources: Mapping[str, Any],
        *,
        retries_enabled: bool = True,
        output_capture: dict[tuple[str, str, str | None], Any] | None = None,
        catch_interrupts: bool = False,
    ) -> None:
        self.prepared = prepared
        self.job = prepared.job
        self.job_name = prepared.job.name
        self.run = prepared.run
        self.run_id = prepared.run.run_id
        self.plan: ExecutionPlan = prepared.plan
        self.resolved_config = prepared.resolved
        self.instance = instance
        self.log_manager = log_manager
        self._resources = dict(resources)
        self.retries_enabled = retries_enabled
        self.output_capture = output_capture if output_capture is not None else {}
        self.capture_only_managers = prepared.capture_only_managers
        self.partition_key = prepared.run.partition_key
        self.parent_run_id = prepared.run.parent_run_id
        self.reused_steps = prepared.reused_steps
        self.reconstructable_job = prepared.reconstructable
        self.catch_interrupts = catch_interrupts
        # Step stdout/stderr go to files only for runs a persistent instance keeps.
        self.compute_logs_directory: str | None = (
            instance.compute_logs_directory() if instance is not None and not instance.is_ephemeral else None
        )
        # A worker process's own output is its step's output: it swaps file
        # descriptors; the run process swaps Python's streams.
        self.capture_fds = False
        self._step_resources: dict[int, Resources] = {}
        self._run_tags = {k: str(v) for k, v in prepared.run.tags.items()}
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

    # -- plan --

    def plan_step(self, key: str) -> ExecutionStep | None:
        """A step by key; a mapped step's key (`op[k]`) falls back to its template."""
        step = self.plan.steps.get(key)
        if step is None and key.endswith("]"):
            step = self.plan.steps.get(key[: key.index("[")] + "[?]")
        return step

    def output_run_id(self, step_key: str) -> str:
        """The run whose storage holds a step's outputs (an ancestor, when re-executing)."""
        return self.reused_steps.get(step_key, self.run_id) if self.reused_steps else self.run_id

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
        """The op's config, resolved and validated when the run was prepared."""
        return self.prepared.op_configs.get(step.handle)

    def resource(self, key: str) -> Any:
        try:
            return self._resources[key]
        except KeyError:
            raise DagsterUnknownResourceError(key, sorted(self._resources)) from None

    def has_resource(self, key: str) -> bool:
        return key in self._resources

    def io_manager_key_for(self, source: FromStepOutput) -> str:
        step = self.plan_step(source.step_key)
        if step is None:
            return "io_manager"
        key: str = step.op_def.output_dict[source.output_name].io_manager_key
        return key

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
        """`ops.<op>.outputs.<output>` (validated against the output's IO manager's
        output_config_schema), for OutputContext.config; a step key's mapping key
        (`op[key]`) is ignored, as every mapped copy shares its op's config."""
        return self.resolved_config.node_outputs(handle.split("[", 1)[0]).get(output_name)

    def graph_input_value(self, name: str) -> Any:
        if name in self.job.input_values:
            return self.job.input_values[name]
        inputs = self.resolved_config.graph_inputs()
        if name in inputs:
            loader = self.job.graph.input_dict[name].dagster_type.loader
            return loader.load(None, inputs[name]) if loader is not None else inputs[name]
        raise DagsterInvariantViolationError(
            f"Job '{self.job_name}' has a top-level input '{name}' with no value: pass input_values={{'{name}': ...}} "
            f"or set run config inputs.{name}."
        )


def engine_event(job_name: str, kind: DagsterEventType, message: str, data: Any = None) -> DagsterEvent:
    """A run-level event (no step)."""
    return DagsterEvent(kind.value, job_name, None, None, data, message, current_pid())


def build_run_resources(prepared: PreparedRun, instance: Any, log_manager: RunLogManager, wanted: set[str]) -> Any:
    """A context manager building the wanted resources of a prepared run (and what
    they need), reporting RESOURCE_INIT_* events; used by the run process and by
    each step worker."""
    job_name = prepared.job.name
    return initialize_resources(
        prepared.resource_defs, wanted, {k: prepared.resolved.resource_config(k) for k in prepared.resource_defs},
        instance, prepared.run.run_id, log_manager.for_step(None), prepared.run,
        emit=lambda kind, message, data: log_manager.emit(engine_event(job_name, kind, message, data)),
    )


def execute_run(
    prepared: PreparedRun,
    instance: Any,
    executor: Executor,
    sink: Callable[[EventLogEntry], None],
    *,
    raise_on_error: bool = False,
    output_capture: dict[Any, Any] | None = None,
) -> tuple[bool, BaseException | None]:
    """Run every step; returns (success, the first step error or run error)."""
    job = prepared.job
    loggers = build_loggers(job, prepared.resolved, prepared.run.run_id, instance)
    log_manager = RunLogManager(prepared.run.run_id, job.name, loggers, sink, instance=instance)
    active = ActiveExecution(
        prepared.plan, log_manager, retries_enabled=executor.retries_enabled,
        stop_on_failure=raise_on_error, already_done=prepared.already_done,
    )
    error_info = None
    failure_reason = None
    run_error: BaseException | None = None
    canceled = False
    with log_manager:
        log_manager.emit(engine_event(job.name, E.RUN_START, f'Started execution of run for "{job.name}".'))
        # Executors that run steps elsewhere build resources in their workers.
        wanted = resources_wanted(prepared.plan) if executor.runs_steps_in_process else set()
        try:
            with build_run_resources(prepared, instance, log_manager, wanted) as built:
                rc = RunContext(
                    prepared, instance, log_manager, built,
                    retries_enabled=executor.retries_enabled, output_capture=output_capture,
                )
                executor.execute(rc, active)
                _log_abandoned(log_manager, active)
        except (KeyboardInterrupt, DagsterExecutionInterruptedError):
            # Canceled (SIGTERM from the run launcher, or Ctrl-C): steps still
            # unfinished are abandoned and the run ends CANCELED.
            canceled = True
            for key in active.mark_interrupted():
                if not key.endswith("[?]"):
                    log_manager.log_message(WARNING, f"Step {key} did not finish: the run was canceled.", key)
        except EventStorageFailed:
            raise  # nothing more can be recorded: the run stops with the storage's error
        except Exception as exc:  # noqa: BLE001 - a run-level failure is recorded, then re-raised if asked
            error_info = SerializableErrorInfo.from_exception(exc)
            failure_reason = "JOB_INITIALIZATION_FAILURE" if not active.status else "RUN_EXCEPTION"
            log_manager.emit(engine_event(
                job.name, E.ENGINE_EVENT, f"An error occurred while running the job: {type(exc).__name__}: {exc}",
                EngineEventData({}, error_info),
            ))
            run_error = exc
        failed = active.failed_steps()
        success = not canceled and error_info is None and not failed and not active.abandoned_steps()
        if canceled:
            log_manager.emit(engine_event(job.name, E.RUN_CANCELED, f'Execution of run for "{job.name}" was canceled.'))
        elif success:
            log_manager.emit(engine_event(job.name, E.RUN_SUCCESS, f'Finished execution of run for "{job.name}".'))
        else:
            detail = f" Steps failed: {failed}." if failed else ""
            log_manager.emit(engine_event(
                job.name, E.RUN_FAILURE, f'Execution of run for "{job.name}" failed.{detail}',
                JobFailureData(error_info, failure_reason or "STEP_FAILURE"),
            ))
    return success, active.first_error if active.first_error is not None else run_error


def resources_wanted(plan: ExecutionPlan) -> set[str]:
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
        wanted |= _type_loader_resources(step)
    return wanted


def _type_loader_resources(step: ExecutionStep) -> frozenset[str]:
    """What the type loaders of a step's unconnected inputs need (read from run config)."""
    from oprun.execution.plan import FromUnconnected

    needed: frozenset[str] = frozenset()
    for step_input in step.inputs:
        loader = step_input.input_def.dagster_type.loader
        if loader is not None and loader.required_resource_keys and isinstance(step_input.source, FromUnconnected):
            needed |= loader.required_resource_keys
    return needed


def _log_abandoned(log_manager: RunLogManager, active: ActiveExecution) -> None:
    for key, failed in active.abandon_reasons.items():
        if key.endswith("[?]"):
            continue
        log_manager.log_message(ERROR, f"Dependencies for step {key} failed: {failed}. Not executing.", key)


def build_loggers(job: Any, resolved_config: Any, run_id: str, instance: Any = None) -> list[Any]:
    """The run's loggers, as Dagster picks them: the job's loggers that run config
    names under `loggers:`; when it names none, the default console logger, at the
    instance's `python_logs.python_log_level` (DEBUG when unset)."""
    from oprun.definitions.logger import InitLoggerContext, colored_console_logger

    loggers = []
    # The names given (the validated value also holds every logger's defaults).
    configured = (resolved_config.raw.get("loggers") or {}) if resolved_config is not None else {}
    for name, logger_def in job.loggers.items():
        if name in configured:
            config = resolved_config.logger_config(name)
            loggers.append(logger_def.logger_fn(InitLoggerContext(config, logger_def, run_id, job.name, job_def=job)))
    if not loggers:
        level = getattr(instance, "python_log_level", None) or "DEBUG"
        console = colored_console_logger
        loggers.append(console.logger_fn(InitLoggerContext({"log_level": level}, console, run_id, job.name, job_def=job)))
    return loggers
