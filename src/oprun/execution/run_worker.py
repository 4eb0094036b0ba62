"""The run worker: a process that executes one run already recorded on the
instance (`python -m oprun.execution.run_worker RUN_ID`).

The run launcher starts it so that the CLI, the web server and the daemon never
block on a run. SIGTERM cancels the run: steps are stopped, the run ends
CANCELED, and RUN_CANCELED is its last event.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from oprun.errors import DagsterExecutionInterruptedError, DagsterStorageError

RUN_WORKER_PID_TAG = "oprun/run_worker_pid"


def _interrupt(_signum: int, _frame: Any) -> None:
    # Raised in the main thread wherever it is: the executor's loop, or a step
    # running in this process.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise DagsterExecutionInterruptedError("The run was canceled (SIGTERM).")


def run_stored_run(run_id: str, instance: Any) -> int:
    from oprun.execution.execute_job import execute_stored_run
    from oprun.execution.reconstruct import ReconstructableJob

    run = instance.get_run_by_id(run_id)
    if run is None:
        print(f"oprun run worker: run {run_id} not found in {instance.root_directory}", file=sys.stderr)
        return 2
    if run.is_finished:
        return 0 if run.is_success else 1
    if not run.job_code_origin:
        instance.report_run_failed(run, "The run has no stored job pointer, so no process can load its job.")
        return 2
    instance.add_run_tags(run_id, {RUN_WORKER_PID_TAG: str(os.getpid())})
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        recon = ReconstructableJob.from_dict(dict(run.job_code_origin))
        success, _error = execute_stored_run(recon, run, instance)
    except DagsterStorageError:
        raise  # nothing more can be recorded: `main` says why
    except Exception as exc:  # noqa: BLE001 - the job could not even load: record why
        current = instance.get_run_by_id(run_id)
        if current is not None and not current.is_finished:
            instance.report_run_failed(current, f"The run worker could not run the job: {type(exc).__name__}: {exc}")
        return 1
    return 0 if success else 1


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m oprun.execution.run_worker RUN_ID", file=sys.stderr)
        return 2
    from oprun.errors import DagsterError
    from oprun.instance import DagsterInstance

    try:
        instance = DagsterInstance.get()
    except DagsterError as exc:  # the home or its database cannot be opened: say why, no traceback
        print(f"oprun run worker: cannot open the instance for run {args[0]}: {exc}", file=sys.stderr)
        return 2
    try:
        return run_stored_run(args[0], instance)
    except DagsterStorageError as exc:
        # The instance can no longer be written (disk full, read-only, database
        # gone): say why where the launcher keeps this process's output, and stop.
        print(f"oprun run worker: run {args[0]} stopped: {exc}", file=sys.stderr)
        return 1
    finally:
        instance.dispose()


if __name__ == "__main__":
    sys.exit(main())
