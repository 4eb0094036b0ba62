"""Preparing a run: the one path from a job and what the caller asked for to a run
that can start.

Everything a user can get wrong is checked here, before a run is recorded and
before any step runs: the op selection, the resources, the partition key, the run
config (every error at once, including the job's default config and what each
config mapping and `configured` mapping returns), the executor's requirements,
and what a re-execution reuses. `prepare_run` records a new run; `prepare_stored_run`
prepares one already recorded (in its run worker, and in each step worker), so
every process of a run sees the same config, plan and op configs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from oprun.config.validate import validate_config
from oprun.definitions.executor import ExecutorRequirement
from oprun.definitions.jobs.config_schema import missing_resources_error
from oprun.definitions.jobs.job import JobDefinition
from oprun.definitions.resources.resource import ResourceDefinition, as_resource_definition, mem_io_manager
from oprun.errors import (
    DagsterInvalidConfigError,
    DagsterInvalidDefinitionError,
    DagsterUnknownPartitionError,
    DagsterUnmetExecutorRequirementsError,
)
from oprun.execution.active import Emitted
from oprun.execution.plan import ExecutionPlan, create_execution_plan
from oprun.execution.reexecution import ReexecutionOptions, plan_reexecution, reexecution_state, reexecution_tags
from oprun.execution.resolve import ResolvedRunConfig, resolve_run_config
from oprun.runs import DagsterRun, make_new_run_id

if TYPE_CHECKING:
    # Loading code by pointer is for launched runs; a run in process never needs it.
    from oprun.execution.reconstruct import ReconstructableJob


class PreparedRun(NamedTuple):
    """A run ready to start: nothing about it is left to check."""

    job: JobDefinition
    run: DagsterRun
    resolved: ResolvedRunConfig
    plan: ExecutionPlan
    # handle -> the config its op sees (configured() mappings applied and validated).
    op_configs: Mapping[str, Any]
    resource_defs: Mapping[str, ResourceDefinition]
    # IO managers whose outputs stay in this process's memory (execute_in_process).
    capture_only_managers: frozenset[str]
    reconstructable: ReconstructableJob | None
    # Re-execution: what each reused step yielded, and the run that stored it.
    already_done: Mapping[str, Emitted]
    reused_steps: Mapping[str, str]


def prepare_run(
    job: JobDefinition,
    instance: Any,
    *,
    run_config: Any = None,
    tags: Mapping[str, Any] | None = None,
    partition_key: str | None = None,
    op_selection: Sequence[str] | None = None,
    input_values: Mapping[str, Any] | None = None,
    resources: Mapping[str, Any] | None = None,
    run_id: str | None = None,
    reconstructable: ReconstructableJob | None = None,
    reexecution: ReexecutionOptions | None = None,
    lineage: tuple[str | None, str | None] | None = None,
) -> PreparedRun:
    """Check everything, then record the run (NOT_STARTED) on the instance.

    Without `reconstructable` the run executes in this process (execute_in_process:
    outputs of the default IO manager stay in memory); with it, the run records the
    pointer another process needs, and the job's executor must be satisfied.
    `lineage` (parent run id, root run id) records a run as another's child without
    re-executing it (`DagsterInstance.create_run_for_job`).
    """
    parent = None
    step_keys = None
    merged_tags = dict(tags or {})
    if reexecution is not None:
        planned = plan_reexecution(job, instance, reexecution)
        parent, step_keys = planned.parent, planned.step_keys
        op_selection = parent.op_selection
        run_config = parent.run_config if run_config is None else run_config
        partition_key = parent.partition_key
        merged_tags = reexecution_tags(parent, merged_tags)
    elif partition_key is None and reconstructable is not None:
        partition_key = _partition_from_tags(merged_tags)
    if reconstructable is not None:
        # A launched run names its selection itself: start from the whole job.
        job = job.parent_job
        reconstructable = reconstructable.with_op_selection(op_selection)
    if op_selection:
        job = job.get_subset(op_selection=op_selection)
    if input_values:
        job = job._copy(input_values={**job.input_values, **input_values})  # noqa: SLF001 - a run-scoped copy
    in_process = reconstructable is None
    resource_defs, capture_only = _resource_defs(job, resources, in_process)
    error = missing_resources_error(job, resource_defs)
    if error is not None:
        raise error
    partition_key = check_partition_key(job, partition_key)
    resolved, plan, op_configs = _resolve(job, run_config, partition_key)
    already_done: Mapping[str, Emitted] = {}
    reused: Mapping[str, str] = {}
    if not in_process:
        check_executor_requirements(job, resolved, reconstructable, instance, resource_defs)
    if parent is not None and step_keys is not None:
        already_done, reused = reexecution_state(job, resolved, plan, instance, parent.run_id, step_keys)
    run = DagsterRun(
        job_name=job.name,
        run_id=run_id or make_new_run_id(),
        # The config as given: values from environment variables stay {"env": NAME}.
        run_config=resolved.raw,
        tags=run_tags_for(job, partition_key, merged_tags),
        op_selection=list(job.op_selection) if job.op_selection else None,
        step_keys_to_execute=step_keys,
        parent_run_id=parent.run_id if parent else (lineage[0] if lineage else None),
        root_run_id=(parent.root_run_id or parent.run_id) if parent else (lineage[1] if lineage else None),
        partition_key=partition_key,
        job_code_origin=reconstructable.to_dict() if reconstructable is not None else None,
    )
    run = instance.create_run(run, None if instance.is_ephemeral else job.get_snapshot_json())
    return PreparedRun(job, run, resolved, plan, op_configs, resource_defs, capture_only, reconstructable, already_done, reused)


def prepare_stored_run(
    reconstructable: ReconstructableJob, run: DagsterRun, instance: Any, reused_steps: Mapping[str, str] | None = None,
) -> PreparedRun:
    """A run already recorded, prepared again in the process that executes it (its
    run worker) or its steps (a step worker): the same checks, config and plan.
    A step worker passes `reused_steps` as its run process found them, so that it
    need not read the parent run's events again."""
    recon = reconstructable.with_op_selection(run.op_selection)
    job = recon.get_definition()
    resolved, plan, op_configs = _resolve(job, run.run_config, run.partition_key)
    already_done: Mapping[str, Emitted] = {}
    reused: Mapping[str, str] = {}
    if reused_steps is not None:
        reused = reused_steps
    elif run.parent_run_id is not None and run.step_keys_to_execute is not None:
        already_done, reused = reexecution_state(job, resolved, plan, instance, run.parent_run_id, run.step_keys_to_execute)
    return PreparedRun(job, run, resolved, plan, op_configs, dict(job.resource_defs), frozenset(), recon, already_done, reused)


def _resolve(job: JobDefinition, run_config: Any, partition_key: str | None) -> tuple[ResolvedRunConfig, ExecutionPlan, dict[str, Any]]:
    resolved = resolve_run_config(job, run_config, partition_key)
    plan = create_execution_plan(job, resolved)
    return resolved, plan, op_configs_for(job, plan, resolved)


def op_configs_for(job: JobDefinition, plan: ExecutionPlan, resolved: ResolvedRunConfig) -> dict[str, Any]:
    """The config each step's op sees. A `configured` op's mapping runs here, once,
    and its result is validated against the original op's schema: a mapping that
    returns bad config fails the run before it starts, naming the op and the path."""
    configs: dict[str, Any] = {}
    for step in plan.steps.values():
        if step.handle in configs:
            continue
        value = resolved.node_config(step.handle)
        op_def = step.op_def
        # A configured op may itself be a configured copy: map down to the original.
        while getattr(op_def, "configured_from", None) is not None:
            original, to_inner = op_def.configured_from
            value = to_inner(value)
            if original.config_schema is not None:
                value = _check_mapped(original, value, job.name, step.handle, op_def.name)
            op_def = original
        configs[step.handle] = value
    return configs


def _check_mapped(original: Any, value: Any, job_name: str, handle: str, configured_name: str) -> Any:
    path = ("root", "ops", *_interleave(handle.split(".")), "config")
    result = validate_config(original.config_schema, value, root=path)
    if not result.success:
        raise DagsterInvalidConfigError(
            f"Error in config for op '{handle}' of job '{job_name}': the config its configured() mapping "
            f"returned (configured op '{configured_name}') does not match the schema of op '{original.name}'",
            result.errors,
            value,
        )
    return result.value


def _interleave(parts: list[str]) -> list[str]:
    """`a.b` -> a, ops, b: the path of a nested node in run config."""
    out: list[str] = []
    for part in parts:
        if out:
            out.append("ops")
        out.append(part)
    return out


def _resource_defs(job: JobDefinition, resources: Mapping[str, Any] | None, in_process: bool) -> tuple[dict[str, ResourceDefinition], frozenset[str]]:
    resource_defs = dict(job.resource_defs)
    capture_only: frozenset[str] = frozenset()
    if in_process and job.uses_default_io_manager:
        # In process, outputs stay in memory (Dagster swaps in mem_io_manager too).
        resource_defs["io_manager"] = mem_io_manager
        capture_only = frozenset({"io_manager"})
    for key, value in (resources or {}).items():
        resource_defs[key] = as_resource_definition(value)
        capture_only = capture_only - {key}
    return resource_defs, capture_only


def run_tags_for(job: JobDefinition, partition_key: str | None, tags: Mapping[str, Any] | None) -> dict[str, str]:
    """Job run tags, then partition tags, then the caller's tags."""
    merged: dict[str, str] = {k: str(v) for k, v in job.run_tags.items()}
    if partition_key is not None and job.partitioned_config is not None:
        merged.update({k: str(v) for k, v in job.partitioned_config.get_tags_for_partition_key(partition_key, job_name=job.name).items()})
    elif partition_key is not None:
        merged["dagster/partition"] = partition_key
    for key, value in (tags or {}).items():
        if not isinstance(value, str):
            import json  # only for tags that are not strings: a first run need not load it

            value = json.dumps(value)
        merged[str(key)] = value
    return merged


def check_partition_key(job: JobDefinition, partition_key: str | None) -> str | None:
    """The run's partition key, checked. As in Dagster, a run of a partitioned job
    needs none (and "" is none): it runs with no partition, and an op that reads
    `context.partition_key` fails naming the job's partitions."""
    if not partition_key:
        return None
    if job.partitions_def is None:
        raise DagsterInvalidDefinitionError(
            f"Job '{job.name}' is not partitioned, but partition_key='{partition_key}' was given. "
            "Give the job a PartitionedConfig or partitions_def=, or drop partition_key."
        )
    try:
        job.partitions_def.validate_partition_key(partition_key, owner_name=f"job '{job.name}'")
    except DagsterUnknownPartitionError as error:
        first = f"Could not find a partition with key `{partition_key}`."
        if str(error).startswith(first):
            raise
        # Dagster's sentence first (tests match it), then where and what was expected.
        raise DagsterUnknownPartitionError(f"{first} {error}") from None
    return partition_key


def _partition_from_tags(tags: Mapping[str, Any]) -> str | None:
    value = tags.get("dagster/partition")
    return str(value) if value is not None else None


# --- the executor ------------------------------------------------------------------------


class InitExecutorContext:
    """What an executor's creation function receives."""

    def __init__(self, job: Any, executor_def: Any, executor_config: Any, instance: Any, reconstructable_job: Any = None) -> None:
        self.job = job
        self.executor_def = executor_def
        self.executor_config = executor_config
        self.instance = instance
        self.reconstructable_job = reconstructable_job

    def replace_config(self, config: Any) -> InitExecutorContext:
        return InitExecutorContext(self.job, self.executor_def, config, self.instance, self.reconstructable_job)


def check_executor_requirements(job: JobDefinition, resolved: ResolvedRunConfig, recon: Any, instance: Any, resource_defs: Mapping[str, Any]) -> None:
    executor_def = job.executor_def
    requirements = executor_def.get_requirements(resolved.executor_config())
    from oprun.execution.reconstruct import ReconstructableJob

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
        for op_def in job.graph.iterate_op_defs():
            for out in op_def.output_defs:
                if resource_defs.get(out.io_manager_key) is mem_io_manager:
                    raise DagsterUnmetExecutorRequirementsError(
                        f'You have attempted to use an executor that uses multiple processes, but your job '
                        f'"{job.name}" includes op outputs that will not be stored somewhere where other '
                        f'processes can retrieve them (output "{out.name}" of op "{op_def.name}" uses '
                        f'the in-memory IO manager "{out.io_manager_key}"). Please use a persistent IO '
                        "manager for these outputs (fs_io_manager), or use the in_process_executor."
                    )


def create_executor(prepared: PreparedRun, instance: Any) -> Any:
    """The job's executor for a prepared run (launched and persistent runs)."""
    import oprun.execution.executors  # noqa: F401 - registers the built-in executors' engines

    job = prepared.job
    executor_config = prepared.resolved.executor_config()
    check_executor_requirements(job, prepared.resolved, prepared.reconstructable, instance, prepared.resource_defs)
    init = InitExecutorContext(job, job.executor_def, executor_config, instance, prepared.reconstructable)
    create = job.executor_def.executor_creation_fn
    if create is None:
        raise DagsterInvalidDefinitionError(f"Executor '{job.executor_def.name}' of job '{job.name}' has no creation function.")
    executor = create(init)
    if not callable(getattr(executor, "execute", None)):
        raise DagsterInvalidDefinitionError(
            f"Executor '{job.executor_def.name}' of job '{job.name}': its creation function returned {executor!r}, "
            "which has no execute(run, steps) method. Return an oprun Executor (see oprun.execution.executors.base)."
        )
    return executor
