"""The in-process executor: every step in the run's own process, one at a time."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from oprun.execution.executors.base import Executor, retries_enabled_from
from oprun.execution.step import run_step

if TYPE_CHECKING:
    from oprun.execution.active import ActiveExecution
    from oprun.execution.run import RunContext


class InProcessExecutor(Executor):
    def __init__(self, retries_enabled: bool = True) -> None:
        self.retries_enabled = retries_enabled

    def execute(self, run: RunContext, steps: ActiveExecution) -> None:
        while not steps.is_complete:
            ready = steps.take_ready()
            if not ready:
                wait = steps.seconds_until_retry()
                if wait is None:
                    return
                time.sleep(wait)  # a retry policy's delay: nothing else can run meanwhile
                continue
            for step in ready:
                steps.report(step, run_step(run, step, steps.attempt(step.key)))
                if steps.stopped:
                    return


def create_in_process_executor(init_context: Any) -> InProcessExecutor:
    return InProcessExecutor(retries_enabled_from(init_context.executor_config))
