"""Running a reconstructable job on an instance with the job's own executor:
`execute_job`, re-execution (`ReexecutionOptions`), and `execute_stored_run`, the
run worker that the CLI and the run launcher use for a run already recorded.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from oprun.definitions.executor import ExecutorRequirement
from oprun.definitions.resources.resource import mem_io_manager
from oprun.definitions.jobs.config_schema import missing_resources_error, resolve_run_config
from oprun.errors import (
    DagsterInvalidDefinitionError,
    DagsterInvariantViolationError,
    DagsterRunNotFoundError,
    DagsterUnmetExecutorRequirementsError,
)
from oprun.events import EventLogEntry
from oprun.execution.api import check_partition_key, run_tags_for
from oprun.execution.plan import create_execution_plan
from oprun.execution.reconstruct import ReconstructableJob, reconstructable
from oprun.execution.result import _MISSING, ExecutionResult
from oprun.execution.run import FLUSH_AFTER, execute_run
from oprun.runs import DagsterRun, DagsterRunStatus, make_new_run_id

# --- re-execution -------------------------------------------------------------------------


@dataclass(frozen=True)
class ReexecutionOptions:
    """Re-run a parent run: all its steps, a step selection, or (`from_failure`) the
    steps that did not succeed. Outputs of the other steps are loaded from the
    parent's storage, not recomputed."""

    parent_run_id: str
    step_selection: Sequence[str] | None = None

    @staticmethod
    def from_failure(run_id: str, instance: Any) -> ReexecutionOptions:
        parent = instance.get_run_by_id(run_id)
        if parent is None:
            raise DagsterRunNotFoundError(f"Run {run_id} not found: cannot re-execute it from failure.", run_id)
        if parent.status != DagsterRunStatus.FAILURE:
            raise DagsterInvariantViolationError(
                f"Cannot re-execute run {run_id} from failure: its status is {parent.status.value}, not FAILURE. "
                "Re-execute all of its steps instead."
            )
        succeeded = _succeeded_steps(instance, run_id)
        return ReexecutionOptions(run_id, step_selection=_FromFailure(succeeded))


class _FromFailure(tuple):  # type: ignore[type-arg]
    """A step selection meaning 'every step except these, which succeeded'."""


def _succeeded_steps(instance: Any, run_id: str) -> tuple[str, ...]:
    return tuple(
        e.step_key for e in instance.all_logs(run_id)
        if e.dagster_event is not None and e.dagster_event.event_type_value == "STEP_SUCCESS" and e.step_key
    )


def _emitted_in(instance: Any, run_id: str) -> dict[str, dict[str, list[str] | None]]:
    """What each step of a run yielded: output name -> mapping keys (None if plain)."""
    emitted: dict[str, dict[str, list[str] | None]] = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or event.event_type_value != "STEP_OUTPUT" or not event.step_key:
            continue
        data = event.event_specific_data
        outputs = emitted.setdefault(event.step_key, {})
        mapping_key = data.mapping_key if data is not None else None
        name = data.output_name if data is not None else "result"
        if mapping_key is None:
            outputs[name] = None
        else:
            outputs.setdefault(name, []).append(mapping_key)  # type: ignore[union-attr]
    return emitted


def _reused_outputs(instance: Any, parent: DagsterRun, steps: Sequence[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """For each reused step: what it yielded, and the run whose storage holds it
    (the parent, or an ancestor when the parent itself reused it)."""
    already: dict[str, Any] = {}
    where: dict[str, str] = {}
    run: DagsterRun | None = parent
    wanted = set(steps)
    while run is not None and wanted:
        emitted = _emitted_in(instance, run.run_id)
        succeeded = set(_succeeded_steps(instance, run.run_id))
        for key in list(wanted):
            if key in succeeded:
                already[key] = emitted.get(key, {})
                where[key] = run.run_id
                wanted.discard(key)
        run = instance.get_run_by_id(run.parent_run_id) if run.parent_run_id else None
    return already, where


# --- executors ------------------------------------------------------------------------------


class InitExecutorContext:
    def __init__(self, job: Any, executor_def: Any, executor_config: Any, instance: Any, reconstructable_job: Any = None) -> None:
        self.job = job
        self.executor_def = executor_def
        self.executor_config = executor_config
        self.instance = instance
        self.reconstructable_job = reconstructable_job

    def replace_config(self, config: Any) -> InitExecutorContext:
        return InitExecutorContext(self.job, self.executor_def, config, self.instance, self.reconstructable_job)


def _check_requirements(job: Any, executor_def: Any, executor_config: Any, recon: Any, instance: Any, resource_defs: Mapping[str, Any]) -> None:
    requirements = executor_def.get_requirements(executor_config)
    if ExecutorRequirement.RECONSTRUCTABLE_JOB in requirements and not isinstance(recon, ReconstructableJob):
        raise DagsterUnmetExecutorRequirementsError(
            f'You have attempted to use an executor that uses multiple processes with the job "{job.name}" '
            "that is not reconstructable. Job must be loaded in a way that allows other processes to "
            "load it: run it with execute_job(reconstructable(job), ...) or from the oprun command line, "
            "or use the in_process_executor."
        )
    if ExecutorRequirement.NON_EPHEMERAL_INSTANCE in requirements and instance.is_ephemeral:
        raise DagsterUnmetExecutorRequirementsError(
            f'You have attempted to use an executor that uses multiple processes with the job "{job.name}" '
            "with an ephemeral DagsterInstance. A non-ephemeral instance is needed to coordinate "
            "execution between multiple processes: use DagsterInstance.get() (set OPRUN_HOME) or "
            "instance_for_test(), or use the in_process_executor."
        )
    if ExecutorRequirement.PERSISTENT_OUTPUTS in requirements:
        for step_job_op in job.graph.iterate_op_defs():
            for out in step_job_op.output_defs:
                if resource_defs.get(out.io_manager_key) is mem_io_manager:
                    raise DagsterUnmetExecutorRequirementsError(
                        f'You have attempted to use an executor that uses multiple processes, but your job '
                        f'"{job.name}" includes op outputs that will not be stored somewhere where other '
                        f'processes can retrieve them (output "{out.name}" of op "{step_job_op.name}" uses '
                        f'the in-memory IO manager "{out.io_manager_key}"). Please use a persistent IO '
                        "manager for these outputs (fs_io_manager), or use the in_process_executor."
                    )


def create_executor(job: Any, resolved: Any, instance: Any, recon: Any, resource_defs: Mapping[str, Any]) -> Any:
    executor_def = job.executor_def
    executor_config = resolved.executor_config()
    _check_requirements(job, executor_def, executor_config, recon, instance, resource_defs)
    return executor_def.executor_creation_fn(InitExecutorContext(job, executor_def, executor_config, instance, recon))


# --- running a stored run ----------------------------------------------------------------------


def _instance_sink(instance: Any, listener: Any = None) -> tuple[Any, Any]:
    batch: list[EventLogEntry] = []

    def sink(entry: EventLogEntry) -> None:
        if listener is not None:
            listener(entry)
        batch.append(entry)
        event = entry.dagster_event
        if event is not None and event.event_type_value in FLUSH_AFTER:
            instance.handle_new_events(batch)
            batch.clear()

    def flush() -> None:
        if batch:
            instance.handle_new_events(batch)
            batch.clear()

    return sink, flush


def execute_stored_run(recon: ReconstructableJob, run: DagsterRun, instance: Any, raise_on_error: bool = False, listener: Any = None) -> tuple[bool, BaseException | None]:
    """Execute a run already recorded on the instance, in this process, with the
    job's executor. The run worker of the CLI and the run launcher. `listener`,
    if given, sees every entry as it is recorded (the CLI's progress display)."""
    job = recon.get_definition()
    resolved = resolve_run_config(job, run.run_config, run.partition_key)
    resource_defs = dict(job.resource_defs)
    already_done: dict[str, Any] = {}
    reused: dict[str, str] = {}
    plan = create_execution_plan(job, resolved)
    if run.parent_run_id is not None and run.step_keys_to_execute is not None:
        already_done, reused = reexecution_state(job, resolved, plan, instance, run.parent_run_id, run.step_keys_to_execute)
    executor = create_executor(job, resolved, instance, recon, resource_defs)
    sink, flush = _instance_sink(instance, listener)
    try:
        return execute_run(
            job=job, run=run, plan=plan, resolved_config=resolved, instance=instance, executor=executor,
            resource_defs=resource_defs, sink=sink, raise_on_error=raise_on_error,
            partition_key=run.partition_key, already_done=already_done, reused_steps=reused,
            parent_run_id=run.parent_run_id, reconstructable_job=recon,
        )
    finally:
        flush()


def reexecution_state(job: Any, resolved: Any, plan: Any, instance: Any, parent_run_id: str, step_keys_to_execute: Sequence[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """What a re-execution reuses: each reused step's yielded outputs and the run
    that stored them. Raises, naming the step and output, if any is gone."""
    parent = instance.get_run_by_id(parent_run_id)
    if parent is None:
        raise DagsterRunNotFoundError(f"Parent run {parent_run_id} not found.", parent_run_id)
    to_execute = set(step_keys_to_execute)
    reusable = [k for k in plan.order if _handle_of(k) not in to_execute and not k.endswith("[?]")]
    already_done, reused = _reused_outputs(instance, parent, reusable)
    missing = [k for k in reusable if k not in already_done]
    if missing:
        raise DagsterInvariantViolationError(
            f"Cannot re-execute run {parent.run_id}: steps {missing} did not succeed in it (or its "
            "ancestors), so their outputs cannot be reused. Select them for re-execution too."
        )
    for key, run_id in reused.items():
        _check_reused_outputs_exist(job, job.resource_defs, resolved, instance, key, run_id, already_done[key])
    return already_done, reused


def _handle_of(step_key: str) -> str:
    return step_key.split("[", 1)[0]


def _check_reused_outputs_exist(job: Any, resource_defs: Mapping[str, Any], resolved: Any, instance: Any, step_key: str, run_id: str, emitted: Mapping[str, Any]) -> None:
    """A re-execution whose parent outputs are gone says which step and output."""
    import os

    from oprun.definitions.resources.resource import fs_io_manager

    op = job.get_op(_handle_of(step_key)).definition
    for name in emitted:
        out = op.output_dict.get(name)
        if out is None or out.dagster_type.is_nothing or resource_defs.get(out.io_manager_key) is not fs_io_manager:
            continue
        base = ((resolved.resource_config(out.io_manager_key) or {}).get("base_dir")) or instance.storage_directory()
        keys = emitted[name] or [None]
        for mapping_key in keys:
            path = os.path.join(base, run_id, step_key, name, *( [mapping_key] if mapping_key else []))
            if not os.path.exists(path):
                raise DagsterInvariantViolationError(
                    f"Cannot reuse output '{name}' of step '{step_key}' from run {run_id}: it is no longer "
                    f"stored (no file at {path}; the run's storage was deleted or pruned). Re-execute all "
                    "steps instead."
                )


# --- the public API ---------------------------------------------------------------------------------


def execute_job(
    job: Any,
    instance: Any,
    run_config: Any = None,
    tags: Mapping[str, Any] | None = None,
    raise_on_error: bool = False,
    op_selection: Sequence[str] | None = None,
    reexecution_options: ReexecutionOptions | None = None,
    asset_selection: Any = None,
) -> JobExecutionResult:
    """Run a reconstructable job on an instance with the job's own executor.

    Use the result as a context manager: `with execute_job(...) as result:`.
    """
    if not isinstance(job, ReconstructableJob):
        if hasattr(job, "execute_in_process"):
            job = reconstructable(job)
        else:
            raise DagsterInvariantViolationError(f"execute_job takes reconstructable(job), got {job!r}")
    recon = job.with_op_selection(op_selection) if op_selection else job
    job_def = recon.get_definition()
    run = create_run_for_job(recon, job_def, instance, run_config, tags, reexecution_options)
    success, first_error = execute_stored_run(recon.with_op_selection(run.op_selection), run, instance, raise_on_error)
    if raise_on_error and first_error is not None:
        raise first_error
    return JobExecutionResult(job_def, run.run_id, instance, run_config)


def create_run_for_job(
    recon: ReconstructableJob,
    job: Any,
    instance: Any,
    run_config: Any = None,
    tags: Mapping[str, Any] | None = None,
    options: ReexecutionOptions | None = None,
) -> DagsterRun:
    """Check everything about a run that can be checked without running it (config,
    resources, partition, re-execution state) and record it, NOT_STARTED, with the
    pointer another process needs to run it."""
    parent = None
    step_keys = None
    if options is not None:
        parent = instance.get_run_by_id(options.parent_run_id)
        if parent is None:
            raise DagsterRunNotFoundError(f"Run {options.parent_run_id} not found: cannot re-execute it.", options.parent_run_id)
        if run_config is None:
            run_config = parent.run_config
        parent_job = recon.with_op_selection(parent.op_selection).get_definition() if parent.op_selection else job
        job = parent_job
        recon = recon.with_op_selection(parent.op_selection)
        handles = [_handle_of(k) for k in create_execution_plan(job).order]
        if isinstance(options.step_selection, _FromFailure):
            done = {_handle_of(k) for k in options.step_selection}
            step_keys = list(dict.fromkeys(h for h in handles if h not in done))
        elif options.step_selection:
            step_keys = list(options.step_selection)
            unknown = [k for k in step_keys if k not in handles]
            if unknown:
                from oprun.errors import did_you_mean

                raise DagsterInvalidDefinitionError(
                    f"Step selection {unknown} names steps job '{job.name}' does not have.{did_you_mean(unknown[0], handles)}"
                )
    error = missing_resources_error(job)
    if error is not None:
        raise error
    partition_key = None
    merged_tags = dict(tags or {})
    if parent is not None:
        partition_key = parent.partition_key
        merged_tags = {**{k: v for k, v in parent.tags.items() if not k.startswith("dagster/")}, **merged_tags}
        merged_tags["dagster/parent_run_id"] = parent.run_id
        merged_tags["dagster/root_run_id"] = parent.root_run_id or parent.run_id
    else:
        partition_key = _partition_from_tags(tags)
    check_partition_key(job, partition_key)
    resolved = resolve_run_config(job, run_config, partition_key)
    # Checked before the run is recorded, so that a run that cannot start leaves
    # nothing behind: the executor's requirements, and what a re-execution reuses.
    _check_requirements(job, job.executor_def, resolved.executor_config(), recon, instance, job.resource_defs)
    if parent is not None and step_keys is not None:
        reexecution_state(job, resolved, create_execution_plan(job, resolved), instance, parent.run_id, step_keys)
    run = DagsterRun(
        job_name=job.name,
        run_id=make_new_run_id(),
        run_config=resolved.raw,
        tags=run_tags_for(job, partition_key, merged_tags),
        op_selection=list(recon.op_selection) if recon.op_selection else None,
        step_keys_to_execute=step_keys,
        parent_run_id=parent.run_id if parent else None,
        root_run_id=(parent.root_run_id or parent.run_id) if parent else None,
        partition_key=partition_key,
        job_code_origin=recon.to_dict(),
    )
    return instance.create_run(run, job.get_snapshot())


def _partition_from_tags(tags: Mapping[str, Any] | None) -> str | None:
    value = (tags or {}).get("dagster/partition")
    return str(value) if value is not None else None


class JobExecutionResult(ExecutionResult):
    """The result of `execute_job`: events from the instance, outputs loaded through
    the job's IO managers. Use it as a context manager."""

    def __init__(self, job_def: Any, run_id: str, instance: Any, run_config: Any) -> None:
        super().__init__(job_def, run_id, instance.all_logs(run_id))
        self._instance = instance
        self._run_config = run_config
        self._stack = contextlib.ExitStack()
        self._resources: dict[str, Any] | None = None

    @property
    def dagster_run(self) -> Any:
        return self._instance.get_run_by_id(self._run_id)

    def __enter__(self) -> JobExecutionResult:
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stack.close()

    def _outputs(self, handle: str, output: str, is_dynamic: bool) -> Any:
        keys: list[tuple[str, str | None]] = []
        for event in self.all_events:
            if event.event_type_value != "STEP_OUTPUT" or event.step_key is None:
                continue
            data = event.event_specific_data
            if data.output_name != output:
                continue
            if event.step_key == handle or event.step_key.startswith(handle + "["):
                keys.append((event.step_key, data.mapping_key))
        if not keys:
            return _MISSING
        op_def = self._job_def.get_op(handle).definition
        out = op_def.output_dict[output]
        manager = self._io_manager(out.io_manager_key)
        from oprun.execution.context import InputContext, OutputContext

        values: dict[str, Any] = {}
        single = _MISSING
        for step_key, mapping_key in keys:
            upstream = OutputContext(step_key=step_key, name=output, job_name=self._job_def.name, run_id=self._run_id, mapping_key=mapping_key, dagster_type=out.dagster_type, op_def=op_def)
            value = manager.load_input(InputContext(name=output, job_name=self._job_def.name, upstream_output=upstream, dagster_type=out.dagster_type, run_id=self._run_id))
            if mapping_key is not None:
                values[mapping_key] = value
            elif step_key != handle:
                values[step_key[len(handle) + 1:-1]] = value
            else:
                single = value
        return values if values or is_dynamic else single

    def _io_manager(self, key: str) -> Any:
        if self._resources is None or key not in self._resources:
            from oprun.execution.resources import initialize_resources

            resolved = resolve_run_config(self._job_def, self.dagster_run.run_config if self._run_config is None else self._run_config)
            built = self._stack.enter_context(initialize_resources(
                self._job_def.resource_defs, {key}, {k: resolved.resource_config(k) for k in self._job_def.resource_defs}, self._instance, self._run_id,
            ))
            self._resources = {**(self._resources or {}), **built}
        return self._resources[key]
