"""The multiprocess executor: a pool of warm worker processes.

Each worker loads the job's code and builds its resources once, then takes steps
one at a time as they become ready; independent steps run in parallel up to
`max_concurrent`. The run process keeps the `ActiveExecution`, sends each worker
the step to run (with its concrete inputs), and receives its events and outcome
over a pipe; it alone writes to the instance. A worker that dies (segfault,
`os._exit`, SIGKILL, out of memory) fails its step with the cause, is replaced,
and the run goes on with the steps that do not depend on it.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection, wait
from typing import TYPE_CHECKING, Any

from oprun.errors import DagsterInvariantViolationError, DagsterUserCodeExecutionError
from oprun.events import SerializableErrorInfo
from oprun.execution.executors.base import Executor, retries_enabled_from
from oprun.execution.plan import ExecutionStep, StepInput

if TYPE_CHECKING:
    from oprun.execution.active import ActiveExecution
    from oprun.execution.run import RunContext

# --- the worker side ----------------------------------------------------------------------


def _worker_main(conn: Connection, payload: dict[str, Any]) -> None:
    """Entry point of a worker process (importable, so `spawn` can start it)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the run process decides when to stop
    _exit_with_parent()
    from oprun.execution.worker import WorkerSession

    try:
        session = WorkerSession(payload, conn.send)
    except BaseException as exc:  # noqa: BLE001 - report why the worker could not start
        conn.send(("init_failed", SerializableErrorInfo.from_exception(exc)))
        return
    conn.send(("ready", os.getpid()))
    try:
        session.serve(conn)
    finally:
        session.close()


def _exit_with_parent(interval: float = 0.25) -> None:
    """End this worker when the run process dies (SIGKILL, out of memory): a busy
    worker does not read its pipe, so a thread watches for the parent to change."""
    import threading

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(70)  # orphaned: no one would record what this step does

    threading.Thread(target=watch, name="oprun-parent-watch", daemon=True).start()


# --- the run-process side -------------------------------------------------------------------


class _Worker:
    def __init__(self, process: Any, conn: Connection) -> None:
        self.process = process
        self.conn = conn
        self.ready = False
        self.used = False
        self.step: ExecutionStep | None = None
        self.started_at = 0.0

    @property
    def pid(self) -> int | None:
        pid: int | None = self.process.pid
        return pid


def _exit_description(exitcode: int | None) -> str:
    if exitcode is None:
        return "worker process disappeared"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = "unknown"
        return f"worker process exited with signal {-exitcode} ({name})"
    return f"worker process exited with code {exitcode}"


@contextlib.contextmanager
def _main_module_hidden() -> Iterator[None]:
    """Start a worker without re-importing the parent's `__main__` in it.

    multiprocessing's spawn re-runs the parent's main script in each child; a
    worker loads the job from its own pointer instead, so that would only cost
    time (and run an unguarded script's top level again).
    """
    main = sys.modules.get("__main__")
    saved: dict[str, Any] = {k: main.__dict__[k] for k in ("__file__", "__spec__") if main is not None and k in main.__dict__}
    try:
        if main is not None:
            main.__dict__.pop("__file__", None)
            main.__dict__["__spec__"] = None
        yield
    finally:
        if main is not None:
            main.__dict__.update(saved)
            if "__spec__" not in saved:
                main.__dict__.pop("__spec__", None)


# How long a step may take to stop after SIGTERM before it gets SIGKILL.
TERMINATION_GRACE_SECONDS = float(os.environ.get("OPRUN_TERMINATION_GRACE_SECONDS", "10"))


class MultiprocessExecutor(Executor):
    runs_steps_in_process = False

    def __init__(
        self,
        max_concurrent: int | None = None,
        retries_enabled: bool = True,
        start_method: str = "spawn",
        preload_modules: list[str] | None = None,
        tag_concurrency_limits: list[dict[str, Any]] | None = None,
    ) -> None:
        self.max_concurrent = max_concurrent or os.cpu_count() or 1
        self.retries_enabled = retries_enabled
        self.start_method = start_method
        self.preload_modules = list(preload_modules or [])
        self.tag_concurrency_limits = list(tag_concurrency_limits or [])

    # -- pool management --

    def _start_worker(self, ctx: Any, payload: dict[str, Any]) -> _Worker:
        parent_conn, child_conn = ctx.Pipe(duplex=True)
        process = ctx.Process(target=_worker_main, args=(child_conn, payload), daemon=True, name="oprun-step-worker")
        with _main_module_hidden():
            process.start()
        child_conn.close()
        return _Worker(process, parent_conn)

    def _context(self) -> Any:
        ctx = multiprocessing.get_context(self.start_method)
        if self.start_method == "forkserver" and self.preload_modules:
            ctx.set_forkserver_preload(self.preload_modules)
        return ctx

    # -- the loop --

    def execute(self, run: RunContext, steps: ActiveExecution) -> None:
        payload = worker_payload(run, self.retries_enabled)
        ctx = self._context()
        workers: list[_Worker] = []
        interrupted = True  # until the loop ends normally
        try:
            while not steps.is_complete:
                self._top_up(ctx, payload, workers, steps)
                self._dispatch(steps, workers)
                if steps.is_complete:
                    break
                busy = [w for w in workers if w.step is not None or not w.ready]
                timeout = steps.seconds_until_retry()
                if not busy and timeout is None and not steps.in_flight_count:
                    break  # nothing running, nothing will become ready
                sources: list[Any] = [w.conn for w in workers] + [w.process.sentinel for w in workers]
                for ready in wait(sources, timeout=timeout if timeout is not None else 5.0):
                    worker = next((w for w in workers if w.conn is ready or w.process.sentinel is ready), None)
                    if worker is not None:
                        self._service(run, steps, worker, workers)
            interrupted = False
        finally:
            self._shutdown(workers, steps if interrupted else None)

    def _top_up(self, ctx: Any, payload: dict[str, Any], workers: list[_Worker], steps: ActiveExecution) -> None:
        # Start workers up to the limit, but no more than there could be work for.
        wanted = min(self.max_concurrent, max(1, steps.ready_count + steps.in_flight_count))
        while len(workers) < wanted:
            workers.append(self._start_worker(ctx, payload))

    def _allowed_by_tags(self, step: ExecutionStep, workers: list[_Worker]) -> bool:
        for limit in self.tag_concurrency_limits:
            key = limit.get("key")
            if key not in step.tags:
                continue
            value = limit.get("value")
            if value is not None and not isinstance(value, dict) and str(step.tags[key]) != str(value):
                continue
            per_value = isinstance(value, dict) and value.get("applyLimitPerUniqueValue")
            running = [
                w.step for w in workers
                if w.step is not None and key in w.step.tags
                and (value is None or per_value or str(w.step.tags[key]) == str(value))
                and (not per_value or str(w.step.tags[key]) == str(step.tags[key]))
            ]
            if len(running) >= int(limit.get("limit", 0)):
                return False
        return True

    def _dispatch(self, steps: ActiveExecution, workers: list[_Worker]) -> None:
        idle = self._idle_workers(steps, workers)
        if not idle:
            return
        held_back: list[ExecutionStep] = []
        for step in steps.take_ready(limit=len(idle)):
            if not self._allowed_by_tags(step, workers):
                held_back.append(step)
                continue
            worker = idle.pop(0)
            worker.step = step
            worker.used = True
            worker.started_at = time.perf_counter()
            worker.conn.send(step_message(step, steps.attempt(step.key)))
        steps.put_back(held_back)

    def _idle_workers(self, steps: ActiveExecution, workers: list[_Worker]) -> list[_Worker]:
        """Idle workers that may take a step now, fresh ones first.

        Steps ready at the same time run in separate processes, as Dagster's do:
        a worker that has already run a step leaves them to workers still starting,
        unless there are more ready steps than those workers will take.
        """
        idle = [w for w in workers if w.ready and w.step is None]
        starting = sum(1 for w in workers if not w.ready)
        fresh = [w for w in idle if not w.used]
        used = [w for w in idle if w.used]
        if not starting:
            return fresh + used
        spare = max(0, steps.ready_count - len(fresh) - starting)
        return fresh + used[:spare]

    def _service(self, run: RunContext, steps: ActiveExecution, worker: _Worker, workers: list[_Worker]) -> None:
        """Handle what one worker sent, or its death."""
        try:
            while worker.conn.poll():
                self._handle(run, steps, worker, worker.conn.recv())
        except (EOFError, OSError):
            pass
        if not worker.process.is_alive():
            worker.process.join(timeout=1)
            workers.remove(worker)
            self._on_worker_death(steps, worker)

    def _handle(self, run: RunContext, steps: ActiveExecution, worker: _Worker, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "ready":
            worker.ready = True
        elif kind == "entry":
            run.log_manager.forward(message[1])
        elif kind == "init_failed":
            raise _worker_init_error(message[1])
        elif kind == "done":
            step = worker.step
            worker.step = None
            if step is not None:
                steps.report(step, message[1])

    def _on_worker_death(self, steps: ActiveExecution, worker: _Worker) -> None:
        step = worker.step
        if step is None:
            if not worker.ready:
                raise _worker_init_error(SerializableErrorInfo(_exit_description(worker.process.exitcode) + " while starting", [], "WorkerDied"))
            return
        steps.report_lost(step, _exit_description(worker.process.exitcode), "StepWorkerDied")

    def _shutdown(self, workers: list[_Worker], interrupted: ActiveExecution | None) -> None:
        """Stop the pool. When the run was interrupted, busy workers get SIGTERM
        and, after a grace period, SIGKILL (a step may ignore SIGTERM); their steps
        end failed."""
        for worker in workers:
            if interrupted is not None and worker.step is not None and worker.process.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(worker.process.pid, signal.SIGTERM)
                interrupted.report_interrupted(worker.step)
                continue
            with contextlib.suppress(OSError):
                worker.conn.send(("stop",))
        deadline = time.monotonic() + (TERMINATION_GRACE_SECONDS if interrupted is not None else 5.0)
        for worker in workers:
            worker.process.join(timeout=max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(timeout=5)
            worker.conn.close()


def worker_payload(run: RunContext, retries_enabled: bool) -> dict[str, Any]:
    """What a worker needs to prepare the run for itself: the job's pointer and the
    stored run (the same run preparation as the run process's)."""
    recon = run.reconstructable_job
    if recon is None:
        raise DagsterInvariantViolationError(f"Run {run.run_id}: steps can run in other processes only for a reconstructable job.")
    return {
        "recon": recon.to_dict(),
        "run": run.run,
        "reused_steps": dict(run.reused_steps),
        "instance": run.instance.worker_ref() if hasattr(run.instance, "worker_ref") else None,
        "retries_enabled": retries_enabled,
    }


def step_message(step: ExecutionStep, attempt: int) -> tuple[Any, ...]:
    """A step as sent to a worker: its key, template and mapping key, its concrete
    inputs (definitions stay behind: the worker has the job), and the attempt."""
    inputs = tuple(StepInput(i.name, None, i.source) for i in step.inputs)
    return ("step", step.key, step.template_key, step.mapping_key, inputs, attempt)


def _worker_init_error(error: SerializableErrorInfo) -> DagsterUserCodeExecutionError:
    """A worker could not load the job or build its resources: the run fails with why."""
    return DagsterUserCodeExecutionError(f"A step worker could not start: {error.message}")


def create_multiprocess_executor(init_context: Any) -> MultiprocessExecutor:
    config = init_context.executor_config or {}
    start = config.get("start_method") or {"spawn": {}}
    method = next(iter(start)) if isinstance(start, dict) and start else "spawn"
    preload = (start.get("forkserver") or {}).get("preload_modules") if method == "forkserver" else None
    return MultiprocessExecutor(
        max_concurrent=config.get("max_concurrent"),
        retries_enabled=retries_enabled_from(config),
        start_method=method,
        preload_modules=preload,
        tag_concurrency_limits=config.get("tag_concurrency_limits"),
    )

