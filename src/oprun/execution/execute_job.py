"""Running a reconstructable job on an instance with the job's own executor:
`execute_job`, its result, and `execute_stored_run`, the run worker that the CLI
and the run launcher use for a run already recorded.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from oprun.errors import DagsterInvariantViolationError
from oprun.events import DagsterEventType, EventLogEntry
from oprun.execution.prepare import PreparedRun, create_executor, prepare_run, prepare_stored_run
from oprun.execution.reconstruct import ReconstructableJob, reconstructable
from oprun.execution.reexecution import ReexecutionOptions
from oprun.execution.resolve import resolve_run_config
from oprun.execution.result import _MISSING, ExecutionResult
from oprun.execution.run import execute_run
from oprun.execution.sink import InstanceSink
from oprun.runs import DagsterRun


def execute_stored_run(
    recon: ReconstructableJob, run: DagsterRun, instance: Any, raise_on_error: bool = False,
    listener: Callable[[EventLogEntry], None] | None = None,
) -> tuple[bool, BaseException | None]:
    """Execute a run already recorded on the instance, in this process, with the
    job's executor. The run worker of the CLI and the run launcher. `listener`,
    if given, sees every entry as it is recorded (the CLI's progress display)."""
    return _execute_prepared(prepare_stored_run(recon, run, instance), instance, raise_on_error, listener)


def _execute_prepared(
    prepared: PreparedRun, instance: Any, raise_on_error: bool, listener: Callable[[EventLogEntry], None] | None = None,
) -> tuple[bool, BaseException | None]:
    executor = create_executor(prepared, instance)
    with InstanceSink(instance, listener=listener) as sink:
        return execute_run(prepared, instance, executor, sink.write, raise_on_error=raise_on_error)


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
    # Recorded and executed from one preparation: the job is defined, its config
    # resolved and its plan built once (a large job's are most of a run's memory).
    prepared = prepare_run(
        job_def, instance, run_config=run_config, tags=tags, op_selection=recon.op_selection,
        reconstructable=recon, reexecution=reexecution_options,
    )
    run = prepared.run
    _success, first_error = _execute_prepared(prepared, instance, raise_on_error)
    if raise_on_error and first_error is not None:
        raise first_error
    result_job = job_def.parent_job.get_subset(op_selection=run.op_selection) if run.op_selection else job_def.parent_job
    return JobExecutionResult(result_job, run.run_id, instance, run_config)


def create_run_for_job(
    recon: ReconstructableJob,
    job: Any,
    instance: Any,
    run_config: Any = None,
    tags: Mapping[str, Any] | None = None,
    options: ReexecutionOptions | None = None,
) -> DagsterRun:
    """Prepare a run of a reconstructable job (`job` is its loaded definition) and
    record it, NOT_STARTED, with the pointer another process needs to run it; the
    selection is the pointer's (a re-execution's is its parent's). See `prepare_run`."""
    return prepare_run(
        job, instance, run_config=run_config, tags=tags, op_selection=recon.op_selection,
        reconstructable=recon, reexecution=options,
    ).run


class JobExecutionResult(ExecutionResult):
    """The result of `execute_job`: events from the instance, outputs loaded through
    the job's IO managers. Use it as a context manager. Its events are read from
    the instance when first asked for, so a large run's result costs nothing until
    then; `success` is the stored run's status."""

    def __init__(self, job_def: Any, run_id: str, instance: Any, run_config: Any) -> None:
        super().__init__(job_def, run_id, None)
        self._instance = instance
        self._run_config = run_config
        self._stack = contextlib.ExitStack()
        self._resources: dict[str, Any] | None = None

    def _load_entries(self) -> list[EventLogEntry]:
        return list(self._instance.all_logs(self._run_id))

    @property
    def dagster_run(self) -> Any:
        return self._instance.get_run_by_id(self._run_id)

    @property
    def success(self) -> bool:
        run = self.dagster_run
        return bool(run is not None and run.is_success)

    def __enter__(self) -> JobExecutionResult:
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stack.close()

    def _outputs(self, handle: str, output: str, is_dynamic: bool) -> Any:
        keys: list[tuple[str, str | None]] = []
        for event in self.all_events:
            if event.event_type_value != DagsterEventType.STEP_OUTPUT.value or event.step_key is None:
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
            upstream = OutputContext(
                step_key=step_key, name=output, job_name=self._job_def.name, run_id=self._run_id,
                mapping_key=mapping_key, dagster_type=out.dagster_type, op_def=op_def,
            )
            value = manager.load_input(InputContext(
                name=output, job_name=self._job_def.name, upstream_output=upstream, dagster_type=out.dagster_type, run_id=self._run_id,
            ))
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
