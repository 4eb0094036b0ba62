"""The inside of a step worker process: load the job once, build its resources
once, then run the steps the run process sends, streaming events back.

The run process owns the run's state; a worker prepares the same stored run
(`prepare_stored_run`) and needs only each step's concrete inputs, which arrive
with the step.
"""

from __future__ import annotations

import contextlib
import os
import pickle
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from oprun.errors import DagsterExecutionStepExecutionError
from oprun.execution.logs import RunLogManager
from oprun.execution.plan import ExecutionStep, StepInput
from oprun.execution.prepare import prepare_stored_run
from oprun.execution.reconstruct import ReconstructableJob
from oprun.execution.run import RunContext, build_run_resources, resources_wanted
from oprun.execution.step import run_step
from oprun.instance.instance import python_logs_settings


class WorkerSession:
    """One run's job, resources and context inside a worker; `send(message)` carries
    events back to the run process (a pipe for the multiprocess executor, a list
    returned with the task for Dask)."""

    def __init__(self, payload: dict[str, Any], send: Callable[[tuple[Any, ...]], None]) -> None:
        self.send = send
        self.instance = _worker_instance(payload.get("instance"))
        # The same preparation as the run process's, from the same stored run.
        prepared = prepare_stored_run(
            ReconstructableJob.from_dict(payload["recon"]), payload["run"], self.instance, payload["reused_steps"],
        )
        self.prepared = prepared
        self.plan = prepared.plan
        # Workers print nothing (no loggers): the run process prints what they send.
        self.log_manager = RunLogManager(prepared.run.run_id, prepared.job.name, [], self._send_entry, instance=self.instance)
        self._stack = contextlib.ExitStack()
        built = self._stack.enter_context(build_run_resources(prepared, self.instance, self.log_manager, resources_wanted(prepared.plan)))
        self.run = RunContext(prepared, self.instance, self.log_manager, built, retries_enabled=payload.get("retries_enabled", True))
        self.run.capture_fds = True  # a worker's own output is its step's output

    def _send_entry(self, entry: Any) -> None:
        self.send(("entry", entry))

    def _step(self, key: str, template_key: str | None, mapping_key: str | None, inputs: tuple[StepInput, ...]) -> ExecutionStep:
        base = self.plan.steps[template_key or key]
        by_name = {i.name: i.input_def for i in base.inputs}
        concrete = tuple(StepInput(i.name, by_name[i.name], i.source) for i in inputs)
        return ExecutionStep(
            key, base.handle, base.node, concrete, base.tags, base.hook_defs, base.retry_policy,
            base.mapped_over, mapping_key, template_key,
        )

    def execute(self, message: tuple[Any, ...]) -> None:
        """Run one ("step", key, template_key, mapping_key, inputs, attempt) message."""
        _, key, template_key, mapping_key, inputs, attempt = message
        step = self._step(key, template_key, mapping_key, inputs)
        with self.log_manager:
            outcome = run_step(self.run, step, attempt)
        self.send(("done", outcome._replace(error=_sendable(outcome.error, key))))

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

    # python_logs come with the settings: a step worker's log manager reads them
    # at start, and must not open the database (and load SQLAlchemy) to do so.
    @property
    def managed_python_loggers(self) -> list[str]:
        return python_logs_settings(self._ref.get("overrides") or {})[0]

    @property
    def python_log_level(self) -> str | None:
        return python_logs_settings(self._ref.get("overrides") or {})[1]

    @property
    def python_log_handler_config(self) -> dict[str, Any]:
        return python_logs_settings(self._ref.get("overrides") or {})[2]

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
