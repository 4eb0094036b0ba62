"""Twenty processes, released together, each running the first runs of a job
version the database has never seen, on one SQLite file and on PostgreSQL: every
process exits 0, every run ends SUCCESS with its complete event stream, and the
job's snapshot is stored once.

The processes are forked by one conductor process (`concurrent_main` in
tests/fixtures/reliability_jobs.py) after it has imported oprun, so that they
race on storage rather than spend the test's time importing SQLAlchemy 20 times;
each opens the instance itself after the fork.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

from oprun import DagsterRunStatus, RunsFilter, execute_job, instance_for_test, reconstructable
from tests.fixtures import reliability_jobs as jobs
from tests.reliability.conftest import stream

PROCESSES = 20
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_SCRIPT = f"from tests.fixtures.reliability_jobs import concurrent_main; concurrent_main({PROCESSES})"


def _reference() -> list[tuple[str | None, str]]:
    with instance_for_test() as other:
        with execute_job(reconstructable(jobs.fresh_version), other) as result:
            assert result.success
            return stream(other, result.run_id)


def test_twenty_processes_start_a_new_job_version_together(instance, home):
    reference = _reference()
    nonce = uuid.uuid4().hex  # a job version no test has stored
    env = {**os.environ, **instance.environment_for_children(), "OPRUN_TEST_VERSION_NONCE": nonce}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH")) if p)
    conductor = subprocess.Popen(
        [sys.executable, "-c", _SCRIPT], cwd=ROOT, env=env, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )
    try:
        assert conductor.stdout.readline().strip() == "ready", conductor.communicate(timeout=30)
        # All children now block on the barrier: open it.
        out, err = conductor.communicate("go\n", timeout=120)
    finally:
        if conductor.poll() is None:
            os.killpg(conductor.pid, 9)
            conductor.wait(timeout=10)
    exits = [line.split() for line in out.splitlines() if line.startswith("exit ")]
    assert len(exits) == PROCESSES, out
    failed = [pid for _, pid, code in exits if code != "0"]
    assert not failed and conductor.returncode == 0, f"{len(failed)} of {PROCESSES} processes failed:\n{err[-4000:]}"

    runs = instance.get_runs(RunsFilter(tags={"oprun_test/version": nonce}))
    assert len(runs) == PROCESSES
    assert {line.split()[1] for line in out.splitlines() if line.startswith("run ")} == {r.run_id for r in runs}
    assert {r.status for r in runs} == {DagsterRunStatus.SUCCESS}
    for run in runs:
        assert stream(instance, run.run_id) == reference, f"run {run.run_id} lost or reordered events"
    snapshots = {r.job_snapshot_id for r in runs}
    assert len(snapshots) == 1 and None not in snapshots
    assert instance.get_job_snapshot(snapshots.pop()) is not None
