"""The executor protocol: how a run's ready steps get run.

An executor decides only *where* and *when* a ready step runs. It takes steps
from the run's `ActiveExecution` and reports what each came to; the active
execution applies every outcome (success, failure, retry after the policy's
delay, skipping or abandoning downstream steps), so no executor repeats that
logic. A third-party executor (`@executor`) implements `execute`:

    class ThreadExecutor(Executor):
        def execute(self, run, steps):
            while not steps.is_complete:
                ready = steps.take_ready()
                if not ready:
                    wait = steps.seconds_until_retry()
                    if wait is None:
                        return          # nothing running, nothing will become ready
                    time.sleep(wait)
                    continue
                for step in ready:      # or hand them to threads, a queue, a cluster...
                    steps.report(step, run_step(run, step, steps.attempt(step.key)))

`run_step(run, step, attempt)` runs one step in this process and records its
events; an executor that runs steps elsewhere uses a `WorkerSession` there
(`oprun.execution.worker`) and calls `steps.report_lost(step, cause, kind)` when
it loses one. See docs/architecture.md.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from oprun.execution.active import ActiveExecution
    from oprun.execution.run import RunContext


class Executor(abc.ABC):
    """Runs a run's steps. Subclasses implement `execute`."""

    #: Steps run in the run's own process, with the resources the run built. An
    #: executor whose steps run elsewhere sets False: its workers build their own.
    runs_steps_in_process: bool = True
    #: Whether retry policies and RetryRequested retry (the `retries` config).
    retries_enabled: bool = True

    @abc.abstractmethod
    def execute(self, run: RunContext, steps: ActiveExecution) -> None:
        """Run steps until `steps.is_complete`, reporting each outcome to `steps`."""


def retries_enabled_from(config: object) -> bool:
    """The `retries: {enabled: {}} | {disabled: {}}` part of an executor's config."""
    retries = config.get("retries") if isinstance(config, dict) else None
    return not (isinstance(retries, dict) and "disabled" in retries)
