"""The Dask executor: each step is a Dask task, submitted when its inputs are
ready.

In each Dask worker process a task gets (or builds once per run) a
`WorkerSession`: the job loaded from its pointer and its resources, as in the
multiprocess executor's warm workers. The task returns the step's events and
outcome; the run process forwards them to the instance (it alone writes there)
and updates the run's state. Retries stay oprun's: Dask retries nothing. A worker
that dies mid-step fails that step with the cause.
"""

from __future__ import annotations

import time
from typing import Any

import distributed

from oprun.events import DagsterEvent, SerializableErrorInfo, StepFailureData, StepRetryData, current_pid
from oprun.execution.active import ActiveExecution
from oprun.execution.executors.multiprocess import _filtered_inputs

_SESSIONS: dict[str, Any] = {}


def _run_step_task(payload: dict[str, Any], message: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """Runs inside a Dask worker: one step, its events and outcome returned."""
    from oprun.execution.worker import WorkerSession

    sent: list[tuple[Any, ...]] = []
    session = _SESSIONS.get(payload["run_id"])
    if session is None:
        session = WorkerSession(payload, sent.append)
        # Dask may run several tasks in one process at once: swap Python's
        # streams per step rather than the process's file descriptors.
        session.rc.capture_fds = False
        _SESSIONS[payload["run_id"]] = session
    session.send = sent.append
    session.execute(message)
    return sent


def _close_session(run_id: str) -> bool:
    session = _SESSIONS.pop(run_id, None)
    if session is not None:
        session.close()
    return True


class DaskExecutor:
    runs_steps_in_process = False

    def __init__(self, cluster: dict[str, Any], max_concurrent: int | None, retries_enabled: bool) -> None:
        self.cluster_config = cluster
        self.max_concurrent = max_concurrent
        self.retries_enabled = retries_enabled

    def _client(self) -> tuple[distributed.Client, Any]:
        if "existing" in self.cluster_config:
            return distributed.Client(self.cluster_config["existing"]["address"]), None
        local = self.cluster_config.get("local") or {}
        cluster = distributed.LocalCluster(
            n_workers=local.get("n_workers"), threads_per_worker=local.get("threads_per_worker", 1),
            processes=local.get("processes", True), dashboard_address=":0",
        )
        return distributed.Client(cluster), cluster

    def execute(self, rc: Any, active: ActiveExecution) -> BaseException | None:
        payload = {
            "recon": rc.reconstructable_job.to_dict(),
            "run_id": rc.run_id,
            "run_config": dict(rc.run.run_config),
            "partition_key": rc.partition_key,
            "run_tags": dict(rc.run.tags),
            "parent_run_id": rc.parent_run_id,
            "reused_steps": dict(rc.reused_steps),
            "instance": rc.instance.worker_ref(),
            "retries_enabled": self.retries_enabled,
        }
        client, cluster = self._client()
        futures: dict[Any, Any] = {}
        first_error: BaseException | None = None
        try:
            waiter = distributed.as_completed()
            while not active.is_complete:
                self._submit(rc, active, client, payload, futures, waiter)
                if not futures:
                    wait = active.seconds_until_retry()
                    if wait is None:
                        break
                    time.sleep(wait)  # a retry policy's delay; nothing is in flight
                    continue
                future = next(waiter)
                step = futures.pop(future)
                error = self._collect(rc, active, future, step)
                if error is not None and first_error is None:
                    first_error = error
                    if rc.raise_on_error:
                        active.mark_interrupted()
                        break
        finally:
            for future in futures:
                future.cancel()
            try:
                client.run(_close_session, rc.run_id)
            except Exception:  # noqa: BLE001 - workers may be gone already; their sessions die with them
                pass
            client.close()
            if cluster is not None:
                cluster.close()
        return first_error

    def _submit(self, rc: Any, active: ActiveExecution, client: Any, payload: dict[str, Any], futures: dict[Any, Any], waiter: Any) -> None:
        from oprun.execution.step import skip_step

        room = None if self.max_concurrent is None else max(0, self.max_concurrent - len(futures))
        if room == 0:
            return
        for step in active.get_steps_to_execute(limit=room):
            reason = active.should_skip(step)
            if reason is not None:
                skip_step(rc, step, reason)
                active.mark_skipped(step.key)
                continue
            attempt = rc.attempts.get(step.key, 0)
            message = ("step", step.key, step.template_key, step.mapping_key, _filtered_inputs(active, step), attempt)
            future = client.submit(
                _run_step_task, payload, message, pure=False, retries=0,
                key=f"oprun-{rc.run_id}-{step.key}-{attempt}",
            )
            futures[future] = step
            waiter.add(future)

    def _collect(self, rc: Any, active: ActiveExecution, future: Any, step: Any) -> BaseException | None:
        try:
            messages = future.result()
        except Exception as exc:  # noqa: BLE001 - the task itself failed: its worker died or the cluster broke
            return self._task_lost(rc, active, step, exc)
        error = None
        for message in messages:
            if message[0] == "entry":
                rc.log_manager.forward(message[1])
            elif message[0] == "done":
                _, key, status, emitted, seconds_to_wait, step_error = message
                if status == "success":
                    active.mark_success(key, emitted)
                elif status == "retry":
                    rc.attempts[key] = rc.attempts.get(key, 0) + 1
                    active.mark_up_for_retry(key, seconds_to_wait)
                else:
                    active.mark_failed(key)
                    error = step_error or RuntimeError(f"Step '{key}' failed")
        return error

    def _task_lost(self, rc: Any, active: ActiveExecution, step: Any, exc: BaseException) -> BaseException | None:
        cause = f"the Dask worker running it died ({type(exc).__name__}: {exc})"
        info = SerializableErrorInfo(f"Step '{step.key}' failed: {cause}.", [], type(exc).__name__)
        attempt = rc.attempts.get(step.key, 0)
        policy = step.retry_policy
        if self.retries_enabled and policy is not None and attempt < policy.max_retries:
            wait = policy.calculate_delay(attempt + 1)
            rc.emit(DagsterEvent("STEP_UP_FOR_RETRY", rc.job_name, step.key, step.handle, StepRetryData(info, wait), f'Execution of step "{step.key}" failed ({cause}) and has requested a retry.', current_pid()))
            rc.attempts[step.key] = attempt + 1
            active.mark_up_for_retry(step.key, wait)
            return None
        rc.emit(DagsterEvent("STEP_FAILURE", rc.job_name, step.key, step.handle, StepFailureData(info, None, "FRAMEWORK_ERROR"), f'Execution of step "{step.key}" failed: {cause}.', current_pid()))
        active.mark_failed(step.key)
        return RuntimeError(f"Step '{step.key}' failed: {cause}")


def create_dask_executor(init_context: Any) -> DaskExecutor:
    config = init_context.executor_config or {}
    retries = config.get("retries") or {"enabled": {}}
    return DaskExecutor(config.get("cluster") or {"local": {}}, config.get("max_concurrent"), "disabled" not in retries)
