"""Re-execution: which steps of a parent run a new run executes again, and what it
reuses. `ReexecutionOptions` names the parent and the steps (all, a selection, or
`from_failure`); the reused steps' outputs are read from the storage of the run
that produced them (the parent, or an ancestor the parent itself reused them from).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from oprun.definitions.jobs.job import JobDefinition
from oprun.errors import DagsterInvalidDefinitionError, DagsterInvariantViolationError, DagsterRunNotFoundError, did_you_mean
from oprun.events import DagsterEventType
from oprun.execution.plan import ExecutionPlan, create_execution_plan
from oprun.execution.resolve import ResolvedRunConfig
from oprun.runs import DagsterRun, DagsterRunStatus


class ReexecutionOptions(NamedTuple):
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
        if e.dagster_event is not None and e.dagster_event.event_type_value == DagsterEventType.STEP_SUCCESS.value and e.step_key
    )


def _emitted_in(instance: Any, run_id: str) -> dict[str, dict[str, list[str] | None]]:
    """What each step of a run yielded: output name -> mapping keys (None if plain)."""
    emitted: dict[str, dict[str, list[str] | None]] = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or event.event_type_value != DagsterEventType.STEP_OUTPUT.value or not event.step_key:
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


def reexecution_state(
    job: JobDefinition, resolved: ResolvedRunConfig, plan: ExecutionPlan, instance: Any, parent_run_id: str, step_keys_to_execute: Sequence[str],
) -> tuple[dict[str, Any], dict[str, str]]:
    """What a re-execution reuses: each reused step's yielded outputs and the run
    that stored them. Raises, naming the step and output, if any is gone."""
    parent = instance.get_run_by_id(parent_run_id)
    if parent is None:
        raise DagsterRunNotFoundError(f"Parent run {parent_run_id} not found.", parent_run_id)
    to_execute = set(step_keys_to_execute)
    reusable = [k for k in plan.order if handle_of(k) not in to_execute and not k.endswith("[?]")]
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


def handle_of(step_key: str) -> str:
    return step_key.split("[", 1)[0]


def _check_reused_outputs_exist(
    job: JobDefinition, resource_defs: Mapping[str, Any], resolved: ResolvedRunConfig, instance: Any,
    step_key: str, run_id: str, emitted: Mapping[str, Any],
) -> None:
    """A re-execution whose parent outputs are gone says which step and output."""
    from oprun.definitions.resources.resource import fs_io_manager

    op = job.get_op(handle_of(step_key)).definition
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


class Reexecution(NamedTuple):
    """What a new run re-executes of its parent."""

    parent: DagsterRun
    step_keys: list[str] | None  # None: every step


def plan_reexecution(job: JobDefinition, instance: Any, options: ReexecutionOptions) -> Reexecution:
    """The parent run and the step keys to execute, checked against the job."""
    parent = instance.get_run_by_id(options.parent_run_id)
    if parent is None:
        raise DagsterRunNotFoundError(f"Run {options.parent_run_id} not found: cannot re-execute it.", options.parent_run_id)
    if parent.op_selection:
        job = job.get_subset(op_selection=parent.op_selection)
    handles = [handle_of(k) for k in create_execution_plan(job).order]
    step_keys = None
    if isinstance(options.step_selection, _FromFailure):
        done = {handle_of(k) for k in options.step_selection}
        step_keys = list(dict.fromkeys(h for h in handles if h not in done))
    elif options.step_selection:
        step_keys = list(options.step_selection)
        unknown = [k for k in step_keys if k not in handles]
        if unknown:
            raise DagsterInvalidDefinitionError(
                f"Step selection {unknown} names steps job '{job.name}' does not have.{did_you_mean(unknown[0], handles)}"
            )
    return Reexecution(parent, step_keys)


def reexecution_tags(parent: DagsterRun, tags: Mapping[str, Any]) -> dict[str, Any]:
    """The parent's own tags (not oprun's bookkeeping ones), the caller's, and the lineage."""
    merged = {**{k: v for k, v in parent.tags.items() if not k.startswith(("dagster/", "oprun/"))}, **tags}
    merged["dagster/parent_run_id"] = parent.run_id
    merged["dagster/root_run_id"] = parent.root_run_id or parent.run_id
    return merged
