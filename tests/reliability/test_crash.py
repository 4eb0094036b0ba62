"""A run worker SIGKILLed at random points: what it stored is always a prefix of
the complete run's event stream (in order, every row readable, nothing
half-written, no gaps), and the run, marked failed as the daemon's run monitor
will do, re-executes from failure to the right result.

The kill points come from a seeded RNG: a number of stored events to wait for,
then a short extra delay so that the kill also lands between and inside writes.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import time

from oprun import DagsterRunStatus, ReexecutionOptions, execute_job, reconstructable
from oprun.execution.execute_job import create_run_for_job
from tests.fixtures import reliability_jobs as jobs
from tests.reliability.conftest import assert_prefix, backend_of, sqlite_integrity, stream

RUNS = {"sqlite": 20, "postgres": 4}
WAVE = 4  # runs launched and killed together
SEED = 20261201


def _reference(instance) -> list[tuple[str | None, str]]:
    with execute_job(reconstructable(jobs.chain), instance) as result:
        assert result.success
        assert result.output_for_node(jobs.LAST_LINK) == jobs.CHAIN_TOTAL
        return stream(instance, result.run_id)


class _Victim:
    """One launched run and where to kill it: once `events` events are stored,
    `extra_delay` seconds later."""

    def __init__(self, instance, run_id: str, events: int, extra_delay: float) -> None:
        self.run_id = run_id
        self.events = events
        self.extra_delay = extra_delay
        self.pgid = instance.run_launcher.launch_run(run_id)
        self.kill_at: float | None = None
        self.done = False
        self.cursor: str | None = None
        self.stored = 0  # events seen so far, counted from the cursor on

    def count_stored(self, instance) -> int:
        # Only the rows stored since the last poll are read, so a poll stays
        # cheap however far the run has got (reading the whole stream every
        # time let a worker on PostgreSQL run to its end between two polls).
        connection = instance.get_records_for_run(self.run_id, cursor=self.cursor)
        self.stored += len(connection.records)
        self.cursor = connection.cursor or self.cursor
        return self.stored

    def describe(self, backend: str) -> str:
        return f"{backend} run {self.run_id} (kill after {self.events} events + {self.extra_delay * 1000:.1f} ms)"


def _kill_all(instance, victims: list[_Victim], seconds: float = 90) -> None:
    """Kill each run worker's process group at its point (or let it be, if it
    ended before), polling the runs together through the instance."""
    launcher = instance.run_launcher
    deadline = time.monotonic() + seconds
    while not all(v.done for v in victims):
        assert time.monotonic() < deadline, f"kill points not reached within {seconds} s"
        for victim in victims:
            if victim.done:
                continue
            if launcher.wait(victim.run_id, timeout=0) is not None:
                victim.done = True  # ended before its kill point: the caller checks how
            elif victim.kill_at is None:
                if victim.count_stored(instance) >= victim.events:
                    victim.kill_at = time.monotonic() + victim.extra_delay
            elif time.monotonic() >= victim.kill_at:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(victim.pgid, signal.SIGKILL)
                victim.done = True
        time.sleep(0.002)  # polling other processes' progress through the instance


def test_sigkilled_run_workers_leave_a_prefix_and_reexecute_from_failure(instance):
    backend = backend_of(instance)
    reference = _reference(instance)
    rng = random.Random(f"{SEED}-{backend}")
    recon = reconstructable(jobs.chain)
    job_def = recon.get_definition()
    killed = 0
    points = []
    for _wave in range(RUNS[backend] // WAVE):
        victims = [
            _Victim(instance, create_run_for_job(recon, job_def, instance).run_id, rng.randint(1, len(reference) - 12), rng.uniform(0, 0.01))
            for _ in range(WAVE)
        ]
        try:
            _kill_all(instance, victims)
        finally:
            for victim in victims:  # none left running, whatever failed
                with contextlib.suppress(ProcessLookupError):
                    if instance.run_launcher.wait(victim.run_id, timeout=0) is None:
                        os.killpg(victim.pgid, signal.SIGKILL)
                instance.run_launcher.wait(victim.run_id, timeout=30)
        for victim in victims:
            instance.run_launcher.wait(victim.run_id, timeout=30)
            points.append(len(stream(instance, victim.run_id)))
            killed += _check_and_reexecute(instance, recon, victim, reference, victim.describe(backend))
    print(f"{backend}: {RUNS[backend]} runs, {killed} killed, events stored at the kill: {sorted(points)} of {len(reference)}")
    # The points lie before the last step's end, but a worker may store its
    # end before the signal arrives (the event writes run ahead of the poll).
    assert killed >= RUNS[backend] // 2, f"only {killed} of {RUNS[backend]} runs were killed before they ended"
    assert sqlite_integrity(instance) in (None, "ok")


def _check_and_reexecute(instance, recon, victim: _Victim, reference: list, what: str) -> int:
    """1 if the run was killed (and then re-executed from failure), 0 if it had
    stored its end before the signal."""
    code = instance.run_launcher.wait(victim.run_id, timeout=30)
    assert code is not None, f"{what}: the worker did not end after SIGKILL"
    stored = stream(instance, victim.run_id)
    assert_prefix(stored, reference, what)
    if stored == reference:
        # It stored its end before the signal came (it may have died after).
        assert code in (0, -signal.SIGKILL), f"{what}: exit code {code}"
        assert instance.get_run_by_id(victim.run_id).status == DagsterRunStatus.SUCCESS
        return 0
    assert code == -signal.SIGKILL, f"{what}: exit code {code}"
    assert len(stored) >= victim.events, what
    assert instance.get_run_by_id(victim.run_id).status == DagsterRunStatus.STARTED, what

    # What the daemon's run monitor will do for a run whose worker is gone.
    instance.report_run_failed(instance.get_run_by_id(victim.run_id), "The run worker disappeared (SIGKILL).")
    assert instance.get_run_by_id(victim.run_id).status == DagsterRunStatus.FAILURE
    assert stream(instance, victim.run_id) == [*stored, (None, "RUN_FAILURE")], f"{what}: marking the run failed changed its stored events"

    succeeded = {key for key, kind in stored if kind == "STEP_SUCCESS"}
    options = ReexecutionOptions.from_failure(victim.run_id, instance)
    with execute_job(recon, instance, reexecution_options=options) as retried:
        assert retried.success, what
        if jobs.LAST_LINK not in succeeded:
            assert retried.output_for_node(jobs.LAST_LINK) == jobs.CHAIN_TOTAL, what
        # (Killed after the last step's end but before RUN_SUCCESS: nothing is left to run.)
        rerun = {e.step_key for e in retried.get_step_success_events()}
    assert rerun == {link.name for link in jobs.LINKS} - succeeded, what
    return 1
