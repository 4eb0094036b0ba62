"""The in-process executor: every step in the run's own process, one at a time."""

from __future__ import annotations

import time
from typing import Any

from oprun.execution.active import ActiveExecution
from oprun.execution.step import run_step, skip_step


class InProcessExecutor:
    def __init__(self, retries_enabled: bool = True) -> None:
        self.retries_enabled = retries_enabled

    def execute(self, rc: Any, active: ActiveExecution) -> BaseException | None:
        """Run until every step is done; returns the first step error when the run
        must stop at it (raise_on_error), else None."""
        while not active.is_complete:
            steps = active.get_steps_to_execute()
            if not steps:
                wait = active.seconds_until_retry()
                if wait is None:
                    break
                time.sleep(wait)  # a retry policy's delay: nothing else can run meanwhile
                continue
            for step in steps:
                reason = active.should_skip(step)
                if reason is not None:
                    skip_step(rc, step, reason)
                    active.mark_skipped(step.key)
                    continue
                attempt = rc.attempts.get(step.key, 0)
                outcome = run_step(rc, step, attempt)
                if outcome.status == "success":
                    active.mark_success(step.key, outcome.emitted)
                elif outcome.status == "retry":
                    rc.attempts[step.key] = attempt + 1
                    active.mark_up_for_retry(step.key, outcome.seconds_to_wait)
                else:
                    active.mark_failed(step.key)
                    if rc.raise_on_error:
                        active.mark_interrupted()
                        return outcome.error
        return None


def retries_enabled_from(config: Any) -> bool:
    retries = (config or {}).get("retries") if isinstance(config, dict) else None
    return not (isinstance(retries, dict) and "disabled" in retries)


def create_in_process_executor(init_context: Any) -> InProcessExecutor:
    return InProcessExecutor(retries_enabled_from(init_context.executor_config))
