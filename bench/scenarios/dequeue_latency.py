"""Dequeue latency: the time from a launcher's `launch_run` call to the run's
first STEP_START (the event's own timestamp), for a one-op job with the
in-process executor on a SQLite instance. This is what the run queue adds to a
run between dequeuing it and its first step.

- oprun: `warm_s`, the warm pool's `WarmRunLauncher` (runs forked from a zygote
  that has already imported this location: the first run, which imports it, is
  `warm_first_s`), and `default_s`, oprun's `DefaultRunLauncher` (a fresh
  `python -m oprun.execution.run_worker` per run).
- Dagster has no warm pool: `default_s` is its default launch path, the one
  `dagster job launch` takes: a workspace on this file (a gRPC code server), a
  run created as the CLI creates it, then `instance.launch_run`, whose
  DefaultRunLauncher asks the code server to start the run in a new process.
  Its CLI helpers are private modules, so this half is Dagster-specific code
  (the run's job is the shared part).

The run workers load this file to find the job; they read the package from
`BENCH_DEQUEUE_PACKAGE`, which the scenario sets.

Usage: ``dequeue_latency.py PACKAGE [N=5]`` (N measured runs per launcher).
"""

import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # for the run workers, which load this file

from _common import check, int_arg, load_package, require, run

PACKAGE = os.environ.get("BENCH_DEQUEUE_PACKAGE") or (sys.argv[1] if len(sys.argv) > 1 else "oprun")
PKG = load_package(PACKAGE)
op, job, in_process_executor = require(PKG, "op", "job", "in_process_executor")
WAIT_S = 120.0


@op
def touch():
    return 1


@job(executor_def=in_process_executor)
def dequeue_one():
    touch()


def _wait(predicate, what):
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.002)
    raise AssertionError(f"{what} not reached in {WAIT_S:g} s")


def _first_step_start(instance, run_id):
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is not None and event.event_type_value == "STEP_START":
            return entry.timestamp
    return None


def _measure(instance, create, launch, n):
    """Latencies of n runs, each launched and awaited before the next."""
    latencies = []
    for _ in range(n):
        run_id = create()
        started = time.time()
        launch(run_id)
        step_start = _wait(lambda run_id=run_id: _first_step_start(instance, run_id), "the first STEP_START")
        _wait(lambda run_id=run_id: instance.get_run_by_id(run_id).is_finished, "the end of the run")
        check(instance.get_run_by_id(run_id).is_success, f"run {run_id} did not succeed")
        latencies.append(step_start - started)
    return latencies


def _oprun(pkg, n):
    instance_class, reconstructable = require(pkg, "DagsterInstance", "reconstructable")
    from oprun.execution.execute_job import create_run_for_job
    from oprun.execution.launcher import DefaultRunLauncher
    from oprun.execution.warm_pool import WarmRunLauncher

    with tempfile.TemporaryDirectory() as home:
        os.environ["OPRUN_HOME"] = home
        instance = instance_class.from_directory(home)
        recon = reconstructable(dequeue_one)
        job_def = recon.get_definition()

        def create():
            return create_run_for_job(recon, job_def, instance).run_id

        try:
            with WarmRunLauncher(instance) as warm:
                warm.start()
                first = _measure(instance, create, warm.launch_run, 1)[0]
                warm_latencies = _measure(instance, create, warm.launch_run, n)
            default = DefaultRunLauncher(instance)
            default_latencies = _measure(instance, create, default.launch_run, n)
        finally:
            instance.dispose()
    return {
        "warm_s": statistics.median(warm_latencies),
        "warm_first_s": first,
        "default_s": statistics.median(default_latencies),
    }


def _dagster(pkg, n):
    instance_class = require(pkg, "DagsterInstance")
    from dagster._cli.job import _create_run
    from dagster._cli.workspace.cli_target import (
        get_code_location_from_workspace,
        get_remote_job_from_remote_repo,
        get_remote_repository_from_code_location,
        get_workspace_from_cli_opts,
    )
    from dagster_shared.cli import WorkspaceOpts

    here = os.path.abspath(__file__)
    with tempfile.TemporaryDirectory() as home:
        os.environ["DAGSTER_HOME"] = home
        instance = instance_class.get()
        opts = WorkspaceOpts(python_file=(here,), working_directory=os.path.dirname(here))
        try:
            with get_workspace_from_cli_opts(instance, version=pkg.__version__, workspace_opts=opts) as workspace:
                location = get_code_location_from_workspace(workspace, None)
                repo = get_remote_repository_from_code_location(location, None)
                remote_job = get_remote_job_from_remote_repo(repo, "dequeue_one")

                def create():
                    return _create_run(
                        instance=instance, code_location=location, remote_repo=repo, remote_job=remote_job,
                        run_config={}, tags=None, op_selection=None, run_id=None,
                    ).run_id

                def launch(run_id):
                    instance.launch_run(run_id, workspace)

                _measure(instance, create, launch, 1)  # warm-up, as on oprun's warm side
                latencies = _measure(instance, create, launch, n)
        finally:
            instance.dispose()
    return {"default_s": statistics.median(latencies)}


def scenario(pkg):
    os.environ["BENCH_DEQUEUE_PACKAGE"] = pkg.__name__
    n = int_arg(1, 5)
    # The processes started here (Dagster's code server logs to stdout) get
    # stderr as their stdout: the result line must be the last line on stdout.
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        return _oprun(pkg, n) if pkg.__name__ == "oprun" else _dagster(pkg, n)
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


if __name__ == "__main__":
    run(scenario)
