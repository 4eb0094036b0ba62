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
from typing import TYPE_CHECKING, Any

import distributed

from oprun.execution.executors.base import Executor, retries_enabled_from
from oprun.execution.executors.multiprocess import step_message, worker_payload
from oprun.execution.plan import ExecutionStep

if TYPE_CHECKING:
    from oprun.execution.active import ActiveExecution
    from oprun.execution.run import RunContext

_SESSIONS: dict[str, Any] = {}


def _run_step_task(payload: dict[str, Any], message: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """Runs inside a Dask worker: one step, its events and outcome returned."""
    from oprun.execution.worker import WorkerSession

    sent: list[tuple[Any, ...]] = []
    session = _SESSIONS.get(payload["run"].run_id)
    if session is None:
        session = WorkerSession(payload, sent.append)
        # Dask may run several tasks in one process at once: swap Python's
        # streams per step rather than the process's file descriptors.
        session.run.capture_fds = False
        _SESSIONS[payload["run"].run_id] = session
    session.send = sent.append
    session.execute(message)
    return sent


def _close_session(run_id: str) -> bool:
    session = _SESSIONS.pop(run_id, None)
    if session is not None:
        session.close()
    return True


class DaskExecutor(Executor):
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

    def execute(self, run: RunContext, steps: ActiveExecution) -> None:
        payload = worker_payload(run, self.retries_enabled)
        client, cluster = self._client()
        futures: dict[Any, ExecutionStep] = {}
        try:
            waiter = distributed.as_completed()
            while not steps.is_complete:
                self._submit(run, steps, client, payload, futures, waiter)
                if not futures:
                    wait = steps.seconds_until_retry()
                    if wait is None:
                        break
                    time.sleep(wait)  # a retry policy's delay; nothing is in flight
                    continue
                future = next(waiter)
                self._collect(run, steps, future, futures.pop(future))
        except KeyboardInterrupt:  # the run was canceled (DagsterExecutionInterruptedError) or Ctrl-C
            # The steps in flight end failed, as the multiprocess executor's do;
            # their futures are canceled below.
            for step in futures.values():
                steps.report_interrupted(step)
            raise
        finally:
            for future in futures:
                future.cancel()
            try:
                client.run(_close_session, run.run_id)
            except Exception:  # noqa: BLE001 - workers may be gone already; their sessions die with them
                pass
            client.close()
            if cluster is not None:
                cluster.close()

    def _submit(self, run: RunContext, steps: ActiveExecution, client: Any, payload: dict[str, Any], futures: dict[Any, ExecutionStep], waiter: Any) -> None:
        room = None if self.max_concurrent is None else max(0, self.max_concurrent - len(futures))
        if room == 0:
            return
        for step in steps.take_ready(limit=room):
            attempt = steps.attempt(step.key)
            future = client.submit(
                _run_step_task, payload, step_message(step, attempt), pure=False, retries=0,
                key=f"oprun-{run.run_id}-{step.key}-{attempt}",
            )
            futures[future] = step
            waiter.add(future)

    def _collect(self, run: RunContext, steps: ActiveExecution, future: Any, step: ExecutionStep) -> None:
        try:
            messages = future.result()
        except Exception as exc:  # noqa: BLE001 - the task itself failed: its worker died or the cluster broke
            steps.report_lost(step, f"Dask worker running it died ({type(exc).__name__}: {exc})", type(exc).__name__)
            return
        for message in messages:
            if message[0] == "entry":
                run.log_manager.forward(message[1])
            elif message[0] == "done":
                steps.report(step, message[1])


def create_dask_executor(init_context: Any) -> DaskExecutor:
    config = init_context.executor_config or {}
    return DaskExecutor(config.get("cluster") or {"local": {}}, config.get("max_concurrent"), retries_enabled_from(config))
