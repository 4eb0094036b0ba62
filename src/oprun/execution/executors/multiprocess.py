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
from typing import Any

from oprun.events import DagsterEvent, SerializableErrorInfo, StepFailureData, StepRetryData, current_pid
from oprun.execution.active import ActiveExecution
from oprun.execution.plan import ExecutionStep, StepInput

# --- the worker side ----------------------------------------------------------------------


def _worker_main(conn: Connection, payload: dict[str, Any]) -> None:
    """Entry point of a worker process (importable, so `spawn` can start it)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the run process decides when to stop
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
        return self.process.pid


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
    saved = {k: main.__dict__[k] for k in ("__file__", "__spec__") if main is not None and k in main.__dict__}
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


class MultiprocessExecutor:
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

    def execute(self, rc: Any, active: ActiveExecution) -> BaseException | None:
        recon = rc.reconstructable_job
        payload = {
            "recon": recon.to_dict(),
            "run_id": rc.run_id,
            "run_config": dict(rc.run.run_config),
            "partition_key": rc.partition_key,
            "run_tags": dict(rc.run.tags),
            "parent_run_id": rc.parent_run_id,
            "reused_steps": dict(rc.reused_steps),
            "instance": rc.instance.worker_ref() if hasattr(rc.instance, "worker_ref") else None,
            "retries_enabled": self.retries_enabled,
        }
        ctx = self._context()
        workers: list[_Worker] = []
        first_error: BaseException | None = None
        interrupted = True  # until the loop ends normally
        try:
            while not active.is_complete:
                self._top_up(ctx, payload, workers, active)
                self._dispatch(rc, active, workers)
                if active.is_complete:
                    break
                busy = [w for w in workers if w.step is not None or not w.ready]
                timeout = active.seconds_until_retry()
                if not busy and timeout is None and not active.has_in_flight():
                    break  # nothing running, nothing will become ready
                sources: list[Any] = [w.conn for w in workers] + [w.process.sentinel for w in workers]
                for ready in wait(sources, timeout=timeout if timeout is not None else 5.0):
                    worker = next((w for w in workers if w.conn is ready or w.process.sentinel is ready), None)
                    if worker is None or worker not in workers:
                        continue
                    error = self._service(rc, active, worker, workers)
                    if error is not None and first_error is None:
                        first_error = error
                if first_error is not None and rc.raise_on_error:
                    active.mark_interrupted()
                    break
            interrupted = False
        finally:
            self._shutdown(workers, interrupted, rc)
        return first_error

    def _top_up(self, ctx: Any, payload: dict[str, Any], workers: list[_Worker], active: ActiveExecution) -> None:
        # Start workers up to the limit, but no more than there could be work for.
        wanted = min(self.max_concurrent, max(1, len(active._ready) + len(active._in_flight)))  # noqa: SLF001
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

    def _dispatch(self, rc: Any, active: ActiveExecution, workers: list[_Worker]) -> None:
        idle = self._idle_workers(active, workers)
        if not idle:
            return
        steps = active.get_steps_to_execute(limit=len(idle))
        held_back: list[ExecutionStep] = []
        from oprun.execution.step import skip_step

        for step in steps:
            reason = active.should_skip(step)
            if reason is not None:
                skip_step(rc, step, reason)
                active.mark_skipped(step.key)
                continue
            if not self._allowed_by_tags(step, workers):
                held_back.append(step)
                continue
            worker = idle.pop(0)
            inputs = _filtered_inputs(active, step)
            worker.step = step
            worker.used = True
            worker.started_at = time.perf_counter()
            worker.conn.send(("step", step.key, step.template_key, step.mapping_key, inputs, rc.attempts.get(step.key, 0)))
        active.put_back(held_back)

    def _idle_workers(self, active: ActiveExecution, workers: list[_Worker]) -> list[_Worker]:
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
        waiting = len(active._ready)  # noqa: SLF001 - the executor owns the run's state
        spare = max(0, waiting - len(fresh) - starting)
        return fresh + used[:spare]

    def _service(self, rc: Any, active: ActiveExecution, worker: _Worker, workers: list[_Worker]) -> BaseException | None:
        """Handle what one worker sent, or its death."""
        try:
            while worker.conn.poll():
                message = worker.conn.recv()
                error = self._handle(rc, active, worker, message)
                if error is not None:
                    return error
        except (EOFError, OSError):
            pass
        if not worker.process.is_alive():
            worker.process.join(timeout=1)
            workers.remove(worker)
            return self._on_worker_death(rc, active, worker)
        return None

    def _handle(self, rc: Any, active: ActiveExecution, worker: _Worker, message: tuple[Any, ...]) -> BaseException | None:
        kind = message[0]
        if kind == "ready":
            worker.ready = True
        elif kind == "entry":
            rc.log_manager.forward(message[1])
        elif kind == "init_failed":
            raise _WorkerInitError(message[1])
        elif kind == "done":
            _, step_key, status, emitted, seconds_to_wait, error = message
            worker.step = None
            if status == "success":
                active.mark_success(step_key, emitted)
            elif status == "retry":
                rc.attempts[step_key] = rc.attempts.get(step_key, 0) + 1
                active.mark_up_for_retry(step_key, seconds_to_wait)
            else:
                active.mark_failed(step_key)
                return error if error is not None else _StepFailed(step_key)
        return None

    def _on_worker_death(self, rc: Any, active: ActiveExecution, worker: _Worker) -> BaseException | None:
        step = worker.step
        if step is None:
            if not worker.ready:
                raise _WorkerInitError(SerializableErrorInfo(_exit_description(worker.process.exitcode) + " while starting", [], "WorkerDied"))
            return None
        cause = _exit_description(worker.process.exitcode)
        error = SerializableErrorInfo(f"Step '{step.key}' failed: its {cause}.", [], "StepWorkerDied")
        attempt = rc.attempts.get(step.key, 0)
        policy = step.retry_policy
        if self.retries_enabled and policy is not None and attempt < policy.max_retries:
            wait_seconds = policy.calculate_delay(attempt + 1)
            rc.emit(DagsterEvent("STEP_UP_FOR_RETRY", rc.job_name, step.key, step.handle, StepRetryData(error, wait_seconds), f'Execution of step "{step.key}" failed ({cause}) and has requested a retry.', current_pid()))
            rc.attempts[step.key] = attempt + 1
            active.mark_up_for_retry(step.key, wait_seconds)
            return None
        rc.emit(DagsterEvent("STEP_FAILURE", rc.job_name, step.key, step.handle, StepFailureData(error, None, "FRAMEWORK_ERROR"), f'Execution of step "{step.key}" failed: its {cause}.', current_pid()))
        active.mark_failed(step.key)
        return _StepFailed(step.key, cause)

    def _shutdown(self, workers: list[_Worker], interrupted: bool = False, rc: Any = None) -> None:
        """Stop the pool. When the run was interrupted, busy workers get SIGTERM
        and, after a grace period, SIGKILL (a step may ignore SIGTERM)."""
        for worker in workers:
            if interrupted and worker.step is not None and worker.process.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(worker.process.pid, signal.SIGTERM)
                if rc is not None:
                    error = SerializableErrorInfo(f"Step '{worker.step.key}' was interrupted: the run was canceled.", [], "Interrupted")
                    rc.emit(DagsterEvent("STEP_FAILURE", rc.job_name, worker.step.key, worker.step.handle, StepFailureData(error, None, "FRAMEWORK_ERROR"), f'Execution of step "{worker.step.key}" was interrupted: the run was canceled.', current_pid()))
                continue
            try:
                worker.conn.send(("stop",))
            except (OSError, BrokenPipeError):
                pass
        deadline = time.monotonic() + (TERMINATION_GRACE_SECONDS if interrupted else 5.0)
        for worker in workers:
            worker.process.join(timeout=max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(timeout=5)
            worker.conn.close()


def _filtered_inputs(active: ActiveExecution, step: ExecutionStep) -> tuple[StepInput, ...]:
    """Concrete inputs with fan-ins reduced to the outputs that exist, so the worker
    needs no run state."""
    from oprun.execution.plan import FromMultipleSources, FromStepOutput

    out = []
    for step_input in active.concrete_inputs(step):
        source = step_input.source
        if isinstance(source, FromMultipleSources):
            source = FromMultipleSources(tuple(s for s in source.sources if not isinstance(s, FromStepOutput) or active.output_available(s)))
        out.append(StepInput(step_input.name, None, source))
    return tuple(out)


class _StepFailed(Exception):
    def __init__(self, step_key: str, cause: str | None = None) -> None:
        super().__init__(f"Step '{step_key}' failed" + (f": {cause}" if cause else ""))
        self.step_key = step_key


class _WorkerInitError(Exception):
    def __init__(self, error: SerializableErrorInfo) -> None:
        super().__init__(f"A step worker could not start: {error.message}")
        self.error = error


def create_multiprocess_executor(init_context: Any) -> MultiprocessExecutor:
    config = init_context.executor_config or {}
    start = config.get("start_method") or {"spawn": {}}
    method = next(iter(start)) if isinstance(start, dict) and start else "spawn"
    preload = (start.get("forkserver") or {}).get("preload_modules") if method == "forkserver" else None
    retries = config.get("retries") or {"enabled": {}}
    return MultiprocessExecutor(
        max_concurrent=config.get("max_concurrent"),
        retries_enabled="disabled" not in retries,
        start_method=method,
        preload_modules=preload,
        tag_concurrency_limits=config.get("tag_concurrency_limits"),
    )

