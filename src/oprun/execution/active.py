"""The state of a run's steps while it executes, and the one place where step
outcomes are applied.

An executor takes ready steps (`take_ready`), runs them wherever it likes (in
this process, in worker processes, on a cluster) and reports each outcome back
(`report`, or `report_lost` when it lost the step: a worker died). The active
execution applies it: success unblocks downstream steps (and resolves dynamic
steps from the mapping keys a producer yielded), a retry waits for the policy's
delay, a failure abandons what depends on it, and a step whose inputs were not
yielded is skipped here, so executors never see it. See docs/architecture.md.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Literal, NamedTuple

from oprun.errors import DagsterExecutionStepExecutionError
from oprun.events import DagsterEvent, DagsterEventType, SerializableErrorInfo, StepFailureData, StepRetryData, StepSkippedData, current_pid
from oprun.execution.logs import RunLogManager
from oprun.execution.plan import (
    ExecutionPlan,
    ExecutionStep,
    FromCollect,
    FromMultipleSources,
    FromStepOutput,
    StepInput,
    expand_collect,
    resolve_mapped_steps,
)

SUCCESS, FAILED, SKIPPED, ABANDONED = "success", "failed", "skipped", "abandoned"

# What a step emitted: output name -> mapping keys (None for a plain output).
Emitted = dict[str, list[str] | None]


class StepOutcome(NamedTuple):
    """What running one step came to, as the step reports it. The step has already
    recorded its closing event (STEP_SUCCESS, STEP_FAILURE or STEP_UP_FOR_RETRY)."""

    status: Literal["success", "failure", "retry"]
    emitted: Emitted
    error: BaseException | None = None
    seconds_to_wait: float | None = None


def _step_failed(step_key: str, cause: str | None = None) -> DagsterExecutionStepExecutionError:
    """The error of a step that failed with no user exception to raise (its worker
    died): what a `raise_on_error` run raises."""
    return DagsterExecutionStepExecutionError(f"Step '{step_key}' failed" + (f": {cause}" if cause else ""), None, step_key)


def retry_delay(step: ExecutionStep, attempt: int, retries_enabled: bool) -> float | None:
    """Seconds to wait before retrying a step that failed on its own (not through a
    RetryRequested or Failure, which the step weighs itself), or None: fail now."""
    policy = step.retry_policy
    if not retries_enabled or policy is None or attempt >= policy.max_retries:
        return None
    return float(policy.calculate_delay(attempt + 1))


class ActiveExecution:
    def __init__(
        self,
        plan: ExecutionPlan,
        log_manager: RunLogManager,
        *,
        retries_enabled: bool = True,
        stop_on_failure: bool = False,
        already_done: Mapping[str, Emitted] | None = None,
    ) -> None:
        self.plan = plan
        self.log_manager = log_manager
        self.retries_enabled = retries_enabled
        # raise_on_error: the first failure stops the run, and is raised.
        self.stop_on_failure = stop_on_failure
        self.first_error: BaseException | None = None
        self.stopped = False
        self.status: dict[str, str] = {}
        self.emitted: dict[str, Emitted] = {}
        self.keys_for: dict[tuple[str, str], list[str]] = {}
        self._key_sets: dict[tuple[str, str], frozenset[str]] = {}
        self._attempts: dict[str, int] = {}
        self._in_flight: set[str] = set()
        self._retry_at: dict[str, float] = {}
        self._ready: list[ExecutionStep] = []
        self._waiting: dict[str, set[str]] = {}
        self._downstream: dict[str, list[str]] = {}
        self._steps: dict[str, ExecutionStep] = {}
        self._template_left: dict[str, set[str]] = {}
        self._template_producer: dict[str, tuple[str, str]] = {}
        self._order: dict[str, int] = {}
        self.skip_reasons: dict[str, str] = {}
        self.abandon_reasons: dict[str, list[str]] = {}
        for index, key in enumerate(plan.order):
            step = plan.steps[key]
            self._order[key] = index
            if step.mapped_over is not None and step.is_template:
                self._template_producer[key] = step.mapped_over
            self._add(step)
        for key, outputs in (already_done or {}).items():
            self._finish_known(key, outputs)

    # -- building the waiting graph --

    def _add(self, step: ExecutionStep) -> None:
        self._steps[step.key] = step
        waiting = {k for k in step.upstream_keys if self.status.get(k) is None}
        if step.mapped_over is not None and step.is_template:
            # A template finishes when its producer has resolved it and all its
            # instances have finished; nothing runs it directly.
            waiting.add(step.mapped_over[0])
        self._waiting[step.key] = waiting
        for upstream in waiting:
            self._downstream.setdefault(upstream, []).append(step.key)
        if not waiting:
            self._on_unblocked(step.key)

    def _finish_known(self, key: str, outputs: Emitted) -> None:
        """A step done in a parent run (re-execution): its outputs are reused."""
        if key in self.status:
            return
        self._ready = [s for s in self._ready if s.key != key]
        self._record_success(key, outputs)

    # -- what executors call --

    @property
    def is_complete(self) -> bool:
        return self.stopped or (not self._ready and not self._in_flight and not self._retry_at and all(
            key in self.status for key in self._steps
        ))

    @property
    def ready_count(self) -> int:
        return len(self._ready)

    @property
    def in_flight_count(self) -> int:
        return len(self._in_flight)

    def attempt(self, key: str) -> int:
        """How many times the step has been tried already (0 for its first run)."""
        return self._attempts.get(key, 0)

    def take_ready(self, limit: int | None = None) -> list[ExecutionStep]:
        """Steps to run now, highest `dagster/priority` first, then in plan order,
        each with its concrete inputs (collects expanded, fan-ins reduced to the
        outputs that were yielded). Steps whose inputs were not yielded are skipped
        here, so they are never returned."""
        while True:
            chosen = self._take(limit)
            runnable = []
            for step in chosen:
                reason = self.skip_reasons.get(step.key)
                if reason is None:
                    runnable.append(self.concrete_step(step))
                    continue
                self._emit(DagsterEventType.STEP_SKIPPED, step, StepSkippedData(reason), f'Skipped execution of step "{step.key}": {reason}.')
                self._in_flight.discard(step.key)
                self._finish(step.key, SKIPPED)
            # Skipping may have made other steps ready: take again rather than
            # return nothing while work is waiting.
            if runnable or not chosen or not self._ready:
                return runnable

    def _take(self, limit: int | None) -> list[ExecutionStep]:
        if self._retry_at:
            now = time.monotonic()
            for key, at in list(self._retry_at.items()):
                if at <= now:
                    del self._retry_at[key]
                    self._ready.append(self._steps[key])
        if not self._ready or self.stopped:
            return []
        self._ready.sort(key=lambda s: (-s.priority, self._order.get(s.template_key or s.key, 0), s.key))
        count = len(self._ready) if limit is None else max(0, min(limit, len(self._ready)))
        chosen, self._ready = self._ready[:count], self._ready[count:]
        for step in chosen:
            self._in_flight.add(step.key)
        return chosen

    def put_back(self, steps: list[ExecutionStep]) -> None:
        """Return steps taken by take_ready that could not start yet."""
        for step in steps:
            self._in_flight.discard(step.key)
            self._ready.append(self._steps[step.key])

    def seconds_until_retry(self) -> float | None:
        if not self._retry_at:
            return None
        return max(0.0, min(self._retry_at.values()) - time.monotonic())

    def report(self, step: ExecutionStep, outcome: StepOutcome) -> None:
        """Apply what running a step came to."""
        key = step.key
        self._in_flight.discard(key)
        if outcome.status == "success":
            self._record_success(key, outcome.emitted)
        elif outcome.status == "retry":
            self._attempts[key] = self._attempts.get(key, 0) + 1
            self._retry_at[key] = time.monotonic() + (outcome.seconds_to_wait or 0.0)
        else:
            self._fail(key, outcome.error if outcome.error is not None else _step_failed(key))

    def report_lost(self, step: ExecutionStep, cause: str, error_type: str) -> None:
        """The executor lost the step before it reported (its worker process or
        Dask worker died): retry it as its policy says, else fail it, with the cause."""
        key = step.key
        self._in_flight.discard(key)
        attempt = self._attempts.get(key, 0)
        error = SerializableErrorInfo(f"Step '{key}' failed: its {cause}.", [], error_type)
        wait = retry_delay(step, attempt, self.retries_enabled)
        if wait is not None:
            self._emit(
                DagsterEventType.STEP_UP_FOR_RETRY, step, StepRetryData(error, wait),
                f'Execution of step "{key}" failed ({cause}) and has requested a retry.',
            )
            self._attempts[key] = attempt + 1
            self._retry_at[key] = time.monotonic() + wait
            return
        self._emit(DagsterEventType.STEP_FAILURE, step, StepFailureData(error, None, "FRAMEWORK_ERROR"), f'Execution of step "{key}" failed: its {cause}.')
        self._fail(key, _step_failed(key, cause))

    def report_interrupted(self, step: ExecutionStep) -> None:
        """The run was canceled while the step ran elsewhere: it ends failed."""
        error = SerializableErrorInfo(f"Step '{step.key}' was interrupted: the run was canceled.", [], "Interrupted")
        self._emit(
            DagsterEventType.STEP_FAILURE, step, StepFailureData(error, None, "INTERRUPT"),
            f'Execution of step "{step.key}" was interrupted: the run was canceled.',
        )

    def _fail(self, key: str, error: BaseException) -> None:
        self._finish(key, FAILED)
        if self.first_error is None:
            self.first_error = error
        if self.stop_on_failure:
            self.stopped = True
            self.mark_interrupted()

    def _emit(self, kind: DagsterEventType, step: ExecutionStep, data: object, message: str) -> None:
        self.log_manager.emit(DagsterEvent(kind.value, self.log_manager.job_name, step.key, step.handle, data, message, current_pid()))

    def concrete_inputs(self, step: ExecutionStep) -> tuple[StepInput, ...]:
        """The step's inputs with collects expanded to the items that exist."""
        if not step.expands_inputs:
            return step.inputs
        return tuple(
            StepInput(i.name, i.input_def, expand_collect(i.source, self.keys_for, self._template_producer))
            for i in step.inputs
        )

    def concrete_step(self, step: ExecutionStep) -> ExecutionStep:
        """The step as it runs: collects expanded, fan-ins reduced to the outputs that
        were yielded, so running it needs no run state (a worker has none)."""
        if not step.expands_inputs:
            return step
        inputs = []
        for step_input in self.concrete_inputs(step):
            source = step_input.source
            if isinstance(source, FromMultipleSources):
                source = FromMultipleSources(tuple(s for s in source.sources if not isinstance(s, FromStepOutput) or self.output_available(s)))
            inputs.append(StepInput(step_input.name, step_input.input_def, source))
        return step.with_inputs(tuple(inputs))

    def output_available(self, source: FromStepOutput) -> bool:
        emitted = self.emitted.get(source.step_key)
        if emitted is None or source.output_name not in emitted:
            return False
        if source.mapping_key is None:
            return True
        key = (source.step_key, source.output_name)
        keys = self._key_sets.get(key)
        if keys is None:
            keys = self._key_sets[key] = frozenset(emitted[source.output_name] or ())
        return source.mapping_key in keys

    def mark_interrupted(self) -> list[str]:
        """Stop: everything not yet finished is abandoned; returns those keys."""
        left = [k for k in self._steps if k not in self.status]
        for key in left:
            self.status[key] = ABANDONED
        self._ready.clear()
        self._retry_at.clear()
        self._in_flight.clear()
        return left

    # -- transitions --

    def _record_success(self, key: str, outputs: Emitted) -> None:
        self.emitted[key] = outputs
        step = self._steps.get(key)
        new_steps: list[ExecutionStep] = []
        if step is not None:
            for output_name, mapping_keys in outputs.items():
                if mapping_keys is None:
                    continue
                source = (key, output_name)
                self.keys_for[source] = list(mapping_keys)
                made = resolve_mapped_steps(self.plan, source, list(mapping_keys))
                for template in self.plan.templates_by_source.get(source, []):
                    self._template_left[template.key] = {s.key for s in made if s.template_key == template.key}
                new_steps.extend(made)
        self._finish(key, SUCCESS)
        for new_step in new_steps:
            self._add(new_step)
        if step is not None:
            for template in self._templates_of(key):
                if not self._template_left.get(template.key):
                    self._complete_template(template.key)

    def _templates_of(self, producer_key: str) -> list[ExecutionStep]:
        return [t for (k, _o), ts in self.plan.templates_by_source.items() if k == producer_key for t in ts]

    def _complete_template(self, template_key: str) -> None:
        if template_key in self.status:
            return
        instances = [k for k, s in self._steps.items() if s.template_key == template_key]
        statuses = {self.status.get(k) for k in instances}
        if not instances or statuses <= {SKIPPED}:
            self.skip_reasons[template_key] = "no mapped items"
            self._finish(template_key, SKIPPED)
        elif statuses & {FAILED, ABANDONED}:
            self._finish(template_key, FAILED)
        else:
            self.emitted[template_key] = {}
            self._finish(template_key, SUCCESS)

    def _finish(self, key: str, status: str) -> None:
        self.status[key] = status
        step = self._steps.get(key)
        if step is not None and step.template_key is not None:
            left = self._template_left.get(step.template_key)
            if left is not None:
                left.discard(key)
                if not left:
                    self._complete_template(step.template_key)
        for down in self._downstream.pop(key, ()):
            waiting = self._waiting.get(down)
            if waiting is None or down in self.status:
                continue
            waiting.discard(key)
            if not waiting:
                self._on_unblocked(down)

    def _on_unblocked(self, key: str) -> None:
        step = self._steps[key]
        if step.is_template:
            assert step.mapped_over is not None
            producer = step.mapped_over[0]
            producer_status = self.status.get(producer)
            if producer_status != SUCCESS:
                # The producer failed or was skipped: no instances will ever exist.
                self._finish(key, ABANDONED if producer_status in (FAILED, ABANDONED) else SKIPPED)
            elif step.mapped_over not in self.keys_for:
                self.skip_reasons[key] = "the dynamic output yielded no items"
                self._finish(key, SKIPPED)
            return
        failed = sorted(k for k in step.upstream_keys if self.status.get(k) in (FAILED, ABANDONED))
        if failed:
            self.abandon_reasons[key] = failed
            self._finish(key, ABANDONED)
            return
        reason = self._skip_reason(step)
        if reason is not None:
            self.skip_reasons[key] = reason
            self._ready.append(step)  # take_ready records STEP_SKIPPED for it
            return
        self._ready.append(step)

    def _skip_reason(self, step: ExecutionStep) -> str | None:
        for step_input in self.concrete_inputs(step):
            source = step_input.source
            if isinstance(source, FromStepOutput):
                if not self.output_available(source):
                    return f'its input "{step_input.name}" depends on output "{source.output_name}" of step "{source.step_key}", which was not yielded'
            elif isinstance(source, FromMultipleSources):
                items = [s for s in source.sources if isinstance(s, FromStepOutput)]
                # Graph inputs in the list always have a value; only outputs can be missing.
                if items and len(items) == len(source.sources) and not any(self.output_available(s) for s in items):
                    return f'none of the outputs fanned in to input "{step_input.name}" were yielded'
                if not items and any(isinstance(i.source, FromCollect) for i in step.inputs if i.name == step_input.name):
                    upstream = next(i.source.step_key for i in step.inputs if i.name == step_input.name)
                    if self.status.get(upstream) == SKIPPED:
                        return f'the dynamic output collected by input "{step_input.name}" yielded no items'
        return None

    def abandoned_steps(self) -> list[str]:
        return [k for k, v in self.status.items() if v == ABANDONED and not k.endswith("[?]")]

    def failed_steps(self) -> list[str]:
        return [k for k, v in self.status.items() if v == FAILED and not k.endswith("[?]")]
