"""The execution API: `execute_in_process`.

The run is prepared (every check, before anything is recorded: see `prepare.py`),
then executed in this process with the in-process executor; outputs of the
default IO manager stay in memory, and the result holds every event.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from oprun.definitions.jobs.job import JobDefinition
from oprun.events import EventLogEntry
from oprun.execution.executors.base import retries_enabled_from
from oprun.execution.executors.in_process import InProcessExecutor
from oprun.execution.prepare import prepare_run
from oprun.execution.result import ExecuteInProcessResult
from oprun.execution.run import execute_run
from oprun.execution.sink import InstanceSink


def execute_in_process(
    job: JobDefinition,
    run_config: Any = None,
    instance: Any = None,
    partition_key: str | None = None,
    raise_on_error: bool = True,
    op_selection: Sequence[str] | None = None,
    run_id: str | None = None,
    input_values: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    resources: Mapping[str, Any] | None = None,
) -> ExecuteInProcessResult:
    """Run a job in this process; see JobDefinition.execute_in_process."""
    if instance is None:
        from oprun.instance import DagsterInstance

        instance = DagsterInstance.ephemeral()
    prepared = prepare_run(
        job, instance, run_config=run_config, tags=tags, partition_key=partition_key,
        op_selection=op_selection, input_values=input_values, resources=resources, run_id=run_id,
    )
    entries: list[EventLogEntry] = []
    output_capture: dict[Any, Any] = {}
    executor = InProcessExecutor(retries_enabled_from(_in_process_config(prepared.resolved.executor_config())))
    with InstanceSink(instance, keep=entries) as sink:
        _success, first_error = execute_run(
            prepared, instance, executor, sink.write, raise_on_error=raise_on_error, output_capture=output_capture,
        )
    stored = instance.get_run_by_id(prepared.run.run_id) or prepared.run
    if raise_on_error and first_error is not None:
        raise first_error
    return ExecuteInProcessResult(prepared.job, prepared.run.run_id, entries, output_capture, stored)


def _in_process_config(config: Any) -> Any:
    """execute_in_process always runs in process; of a multi_or_in_process config,
    its `in_process` part applies."""
    if isinstance(config, dict) and "in_process" in config:
        return config["in_process"]
    return config
