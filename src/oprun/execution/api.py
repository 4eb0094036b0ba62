"""The execution API: `execute_in_process` (and, with the instance, `execute_job`).

Everything a user can get wrong is checked before a run is recorded: the run
config (every error at once), resources, the op selection and the partition key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from oprun.definitions.resources.resource import as_resource_definition, mem_io_manager
from oprun.definitions.jobs.config_schema import missing_resources_error, resolve_run_config
from oprun.errors import DagsterInvalidDefinitionError
from oprun.events import EventLogEntry
from oprun.execution.executors.in_process import InProcessExecutor, retries_enabled_from
from oprun.execution.plan import create_execution_plan
from oprun.execution.result import ExecuteInProcessResult
from oprun.execution.run import FLUSH_AFTER, RUN_BOUNDARIES, execute_run
from oprun.runs import DagsterRun, make_new_run_id


def run_tags_for(job: Any, partition_key: str | None, tags: Mapping[str, Any] | None) -> dict[str, str]:
    """Job run tags, then partition tags, then the caller's tags."""
    merged: dict[str, str] = {k: str(v) for k, v in job.run_tags.items()}
    if partition_key is not None and job.partitioned_config is not None:
        merged.update({k: str(v) for k, v in job.partitioned_config.get_tags_for_partition_key(partition_key, job_name=job.name).items()})
    elif partition_key is not None:
        merged["dagster/partition"] = partition_key
    for key, value in (tags or {}).items():
        if not isinstance(value, str):
            import json

            value = json.dumps(value)
        merged[str(key)] = value
    return merged


def check_partition_key(job: Any, partition_key: str | None) -> None:
    if partition_key is None:
        return
    if job.partitions_def is None:
        raise DagsterInvalidDefinitionError(
            f"Job '{job.name}' is not partitioned, but partition_key='{partition_key}' was given. "
            "Give the job a PartitionedConfig or partitions_def=, or drop partition_key."
        )
    job.partitions_def.validate_partition_key(partition_key, owner_name=f"job '{job.name}'")


def execute_in_process(
    job: Any,
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
    if op_selection:
        job = job.get_subset(op_selection=op_selection)
    if input_values:
        job = job._copy(input_values={**job.input_values, **input_values})  # noqa: SLF001
    resource_defs = dict(job.resource_defs)
    capture_only: frozenset[str] = frozenset()
    if job.uses_default_io_manager:
        # In process, outputs stay in memory (Dagster swaps in mem_io_manager too).
        resource_defs["io_manager"] = mem_io_manager
        capture_only = frozenset({"io_manager"})
    for key, value in (resources or {}).items():
        resource_defs[key] = as_resource_definition(value)
        capture_only = capture_only - {key}
    error = missing_resources_error(job, resource_defs)
    if error is not None:
        raise error
    check_partition_key(job, partition_key)
    resolved = resolve_run_config(job, run_config, partition_key)
    plan = create_execution_plan(job, resolved)

    if instance is None:
        from oprun.instance import DagsterInstance

        instance = DagsterInstance.ephemeral()
    run = DagsterRun(
        job_name=job.name,
        run_id=run_id or make_new_run_id(),
        # The config as given: values from environment variables stay {"env": NAME}.
        run_config=resolved.raw,
        tags=run_tags_for(job, partition_key, tags),
        op_selection=job.op_selection,
        partition_key=partition_key,
    )
    run = instance.create_run(run, None if instance.is_ephemeral else job.get_snapshot())
    entries: list[EventLogEntry] = []
    batch: list[EventLogEntry] = []
    # A persistent instance gets each step boundary as it happens (nothing lost
    # on a crash); an in-memory one only needs the run's boundaries.
    flush_after = RUN_BOUNDARIES if instance.is_ephemeral else FLUSH_AFTER

    def sink(entry: EventLogEntry) -> None:
        entries.append(entry)
        batch.append(entry)
        event = entry.dagster_event
        if event is not None and event.event_type_value in flush_after:
            instance.handle_new_events(batch)
            batch.clear()

    output_capture: dict[Any, Any] = {}
    executor_config = _in_process_config(resolved)
    success, first_error = execute_run(
        job=job, run=run, plan=plan, resolved_config=resolved, instance=instance,
        executor=InProcessExecutor(retries_enabled_from(executor_config)),
        resource_defs=resource_defs, sink=sink, raise_on_error=raise_on_error,
        output_capture=output_capture, capture_only_managers=capture_only, partition_key=partition_key,
    )
    if batch:
        instance.handle_new_events(batch)
        batch.clear()
    stored = instance.get_run_by_id(run.run_id) or run
    if raise_on_error and first_error is not None:
        raise first_error
    return ExecuteInProcessResult(job, run.run_id, entries, output_capture, stored)


def _in_process_config(resolved: Any) -> Any:
    config = resolved.executor_config()
    if isinstance(config, dict) and "in_process" in config:
        return config["in_process"]
    return config
