"""The inside of a step worker process: load the job once, build its resources
once, then run the steps the run process sends, streaming events back.

The run process owns the run's state; a worker only needs each step's concrete
inputs, which arrive with the step.
"""

from __future__ import annotations

import contextlib
import os
import pickle
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from oprun.definitions.jobs.config_schema import resolve_run_config
from oprun.errors import DagsterExecutionStepExecutionError
from oprun.execution.plan import ExecutionStep, StepInput, create_execution_plan
from oprun.execution.reconstruct import ReconstructableJob
from oprun.execution.run import RunContext, _event, _resources_wanted
from oprun.execution.step import run_step
from oprun.runs import DagsterRun


class _WorkerState:
    """What RunContext asks of the run's state, answered locally: inputs arrive
    already concrete and filtered."""

    def __init__(self) -> None:
        self._steps: dict[str, ExecutionStep] = {}

    def concrete_inputs(self, step: ExecutionStep) -> tuple[StepInput, ...]:
        return step.inputs

    def output_available(self, _source: Any) -> bool:
        return True


class WorkerSession:
    """One run's job, resources and context inside a worker; `send(message)` carries
    events back to the run process (a pipe for the multiprocess executor, a list
    returned with the task for Dask)."""

    def __init__(self, payload: dict[str, Any], send: Callable[[tuple[Any, ...]], None]) -> None:
        from oprun.execution.logs import RunLogManager

        self.send = send
        self.recon = ReconstructableJob.from_dict(payload["recon"])
        self.job = self.recon.get_definition()
        self.instance = _worker_instance(payload.get("instance"))
        run_config = payload["run_config"]
        self.resolved = resolve_run_config(self.job, run_config, payload.get("partition_key"))
        self.plan = create_execution_plan(self.job, self.resolved)
        self.run = DagsterRun(
            job_name=self.job.name, run_id=payload["run_id"], run_config=run_config,
            tags=payload.get("run_tags") or {}, parent_run_id=payload.get("parent_run_id"),
            partition_key=payload.get("partition_key"),
        )
        self.log_manager = RunLogManager(self.run.run_id, self.job.name, [], self._send_entry)
        self.state = _WorkerState()
        self._stack = contextlib.ExitStack()
        from oprun.execution.resources import initialize_resources

        built = self._stack.enter_context(initialize_resources(
            self.job.resource_defs, _resources_wanted(self.plan),
            {k: self.resolved.resource_config(k) for k in self.job.resource_defs},
            self.instance, self.run.run_id, self.log_manager.for_step(None), self.run,
            emit=lambda kind, message, data: self.log_manager.emit(_event(self.job.name, kind, message, data)),
        ))
        self.rc = RunContext(
            job=self.job, run=self.run, plan=self.plan, resolved_config=self.resolved, instance=self.instance,
            log_manager=self.log_manager, resources=built, active=self.state,  # type: ignore[arg-type]
            retries_enabled=payload.get("retries_enabled", True), partition_key=self.run.partition_key,
            parent_run_id=self.run.parent_run_id, reconstructable_job=self.recon,
        )
        # Workers print nothing (no loggers): the run process prints what they send.
        self.rc.reused_steps = dict(payload.get("reused_steps") or {})
        self.rc.capture_fds = True  # a worker's own output is its step's output

    def _send_entry(self, entry: Any) -> None:
        self.send(("entry", entry))

    def _step(self, key: str, template_key: str | None, mapping_key: str | None, inputs: tuple[StepInput, ...]) -> ExecutionStep:
        base = self.plan.steps[template_key or key]
        by_name = {i.name: i.input_def for i in base.inputs}
        concrete = tuple(StepInput(i.name, by_name[i.name], i.source) for i in inputs)
        step = ExecutionStep(
            key, base.handle, base.node, concrete, base.tags, base.hook_defs, base.retry_policy,
            base.mapped_over, mapping_key, template_key,
        )
        self.state._steps[key] = step  # noqa: SLF001
        return step

    def execute(self, message: tuple[Any, ...]) -> None:
        """Run one ("step", key, template_key, mapping_key, inputs, attempt) message."""
        _, key, template_key, mapping_key, inputs, attempt = message
        step = self._step(key, template_key, mapping_key, inputs)
        with self.log_manager:
            outcome = run_step(self.rc, step, attempt)
        self.send(("done", key, outcome.status, outcome.emitted, outcome.seconds_to_wait, _sendable(outcome.error, key)))

    def serve(self, conn: Connection) -> None:
        """Take steps from the run process until it says stop."""
        while True:
            try:
                message = conn.recv()
            except EOFError:
                return
            if message[0] == "stop":
                return
            self.execute(message)

    def close(self) -> None:
        self._stack.close()
        if self.instance is not None:
            self.instance.close()


def _sendable(error: BaseException | None, step_key: str) -> BaseException | None:
    if error is None:
        return None
    try:
        pickle.loads(pickle.dumps(error))
        return error
    except Exception:  # noqa: BLE001 - an exception that cannot cross processes becomes a description
        return DagsterExecutionStepExecutionError(
            f"Error in step '{step_key}': {type(error).__name__}: {error}", None, step_key
        )


class _WorkerInstance:
    """The run's instance as a worker sees it: where outputs and logs go, without
    opening the database (workers never write to it; the run process does). User
    code that asks for anything else gets the real instance, opened then."""

    def __init__(self, ref: dict[str, Any]) -> None:
        self._ref = ref
        self._real: Any = None

    @property
    def is_ephemeral(self) -> bool:
        return False

    @property
    def root_directory(self) -> str:
        return str(self._ref["root"])

    def storage_directory(self) -> str:
        return self._open().storage_directory() if self._has_artifact_override() else os.path.join(self.root_directory, "storage")

    def compute_logs_directory(self) -> str:
        return os.path.join(self.root_directory, "logs")

    def _has_artifact_override(self) -> bool:
        return bool((self._ref.get("overrides") or {}).get("local_artifact_storage")) or _config_mentions_artifacts(self.root_directory)

    def _open(self) -> Any:
        if self._real is None:
            from oprun.instance import DagsterInstance

            self._real = DagsterInstance.from_worker_ref(self._ref)
        return self._real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._open(), name)

    def close(self) -> None:
        if self._real is not None:
            self._real.dispose()


def _config_mentions_artifacts(root: str) -> bool:
    for name in ("oprun.yaml", "dagster.yaml"):
        path = os.path.join(root, name)
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                return "local_artifact_storage" in f.read()
    return False


def _worker_instance(ref: Any) -> Any:
    return _WorkerInstance(ref) if ref is not None else None
