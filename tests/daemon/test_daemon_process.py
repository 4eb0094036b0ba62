"""`oprun daemon run` as a real subprocess on a real SQLite home, its clock set
through OPRUN_CLOCK_FILE: a schedule's tick becomes runs that the daemon's queue
launches to SUCCESS; `daemon status` follows the daemon; SIGTERM stops it
cleanly; a daemon SIGKILLed mid-tick and started again makes no duplicate run; a
sensor's run key is launched once across a restart.

Nothing here sleeps for time to pass: the clock file moves time on, and the
tests wait on what the daemon stores, with deadlines.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest

from oprun import DagsterInstance, DagsterRunStatus, RunsFilter
from oprun.clock import CLOCK_FILE_ENV, write_clock_file
from oprun.instigation import InstigatorStatus, TickStatus, instigator_id
from tests.waiting import wait_for

DEFS = str(Path(__file__).resolve().parent.parent / "fixtures" / "daemon_process_defs.py")
LOCATION = "daemon_process_defs.py"
NOON = datetime(2026, 6, 1, 12, 0, 30, tzinfo=timezone.utc)


class _Daemon:
    """A daemon subprocess on `home`, its output kept in a file for failures."""

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.log = home / f"daemon-{len(list(home.glob('daemon-*.log')))}.log"
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "oprun", "daemon", "run", "-f", DEFS], env=env, stdout=out, stderr=subprocess.STDOUT,
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"the daemon did not stop on {sig}:\n{self.output()}") from None


@pytest.fixture
def env(tmp_path):
    home = tmp_path / "home"
    work = tmp_path / "work"
    work.mkdir()
    clock_file = tmp_path / "clock"
    write_clock_file(str(clock_file), NOON)
    environment = {**os.environ, "OPRUN_HOME": str(home), CLOCK_FILE_ENV: str(clock_file), "OPRUN_TEST_DIR": str(work)}
    return {"home": home, "work": work, "clock": str(clock_file), "env": environment, "tmp": tmp_path}


def _oprun(env, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "oprun", *args], env=env["env"], capture_output=True, text=True, timeout=120)


def _runs(instance, **tags: str):
    return instance.get_runs(RunsFilter(tags=tags)) if tags else instance.get_runs()


def _started(env) -> _Daemon:
    daemon = _Daemon(env["tmp"], env["env"])
    with DagsterInstance.from_directory(str(env["home"])) as instance:
        wait_for(lambda: daemon.process.poll() is not None or instance.daemon_is_alive("SCHEDULER"), seconds=60)
    assert daemon.process.poll() is None, daemon.output()
    return daemon


def test_a_scheduled_tick_is_queued_launched_and_succeeds_and_status_follows_the_daemon(env):
    daemon = _started(env)
    try:
        status = _oprun(env, "daemon", "status")
        assert status.returncode == 0, status.stdout + status.stderr
        assert "SCHEDULER: alive" in status.stdout
        write_clock_file(env["clock"], NOON.replace(minute=1, second=5))  # 12:01:00 is due
        with DagsterInstance.from_directory(str(env["home"])) as instance:
            runs = wait_for(lambda: len(r := _runs(instance, **{"dagster/schedule_name": "every_minute"})) == 3 and r, seconds=60)
            assert sorted(r.tags["part"] for r in runs) == ["a", "b", "c"]
            def finished():
                current = [instance.get_run_by_id(run.run_id) for run in runs]
                return all(r.is_finished for r in current) and current

            done = wait_for(finished, seconds=120)
            assert {r.status for r in done} == {DagsterRunStatus.SUCCESS}, daemon.output()
            ticks = instance.get_ticks(instigator_id(LOCATION, "every_minute"))
            assert [t.status for t in ticks] == [TickStatus.SUCCESS]
            assert ticks[0].timestamp == NOON.replace(minute=1, second=0).timestamp()
            assert sorted(ticks[0].run_ids) == sorted(r.run_id for r in runs)
    finally:
        assert daemon.stop(signal.SIGTERM) == 0, daemon.output()
    after = _oprun(env, "daemon", "status")
    assert after.returncode == 1 and "none active" in after.stdout, after.stdout + after.stderr


def test_a_daemon_killed_mid_tick_makes_no_duplicate_run_when_started_again(env):
    with DagsterInstance.from_directory(str(env["home"])) as instance:
        daemon = _started(env)
        # Five minutes of downtime: five ticks of three runs are due at once.
        write_clock_file(env["clock"], NOON.replace(minute=5, second=10))
        wait_for(lambda: len(_runs(instance, **{"dagster/schedule_name": "every_minute"})) >= 1, seconds=60)
        daemon.stop(signal.SIGKILL)
        made_before = len(_runs(instance, **{"dagster/schedule_name": "every_minute"}))
        daemon = _started(env)
        try:
            runs = wait_for(lambda: len(r := _runs(instance, **{"dagster/schedule_name": "every_minute"})) >= 15 and r, seconds=120)
            ticks = wait_for(
                lambda: len(t := instance.get_ticks(instigator_id(LOCATION, "every_minute"), statuses=[TickStatus.SUCCESS])) == 5 and t,
                seconds=120,
            )
        finally:
            daemon.stop(signal.SIGTERM)
        keys = Counter(r.tags["dagster/run_key"] for r in _runs(instance, **{"dagster/schedule_name": "every_minute"}))
        assert len(runs) == 15 and set(keys.values()) == {1}, f"{made_before} runs made before the kill; keys: {keys}"
        assert sorted(t.timestamp for t in ticks) == [NOON.replace(minute=m, second=0).timestamp() for m in range(1, 6)]
        assert sum(len(t.run_ids) for t in ticks) == 15


def test_a_daemon_killed_while_evaluating_evaluates_the_tick_again_once(env):
    with DagsterInstance.from_directory(str(env["home"])) as instance:
        started = _oprun(env, "schedule", "start", "blocking_schedule", "-f", DEFS)
        assert started.returncode == 0, started.stdout + started.stderr
        stop_other = _oprun(env, "schedule", "stop", "every_minute", "-f", DEFS)
        assert stop_other.returncode == 0, stop_other.stdout + stop_other.stderr
        daemon = _started(env)
        write_clock_file(env["clock"], NOON.replace(minute=1, second=5))
        wait_for(lambda: (env["work"] / "evaluating").exists(), seconds=60)
        tick_id = instigator_id(LOCATION, "blocking_schedule")
        # Nothing is stored while the function runs: a tick is stored STARTED only
        # once its evaluation asks for runs, before they are made.
        assert instance.get_ticks(tick_id) == []
        daemon.stop(signal.SIGKILL)
        (env["work"] / "release").write_text("go")
        daemon = _started(env)
        try:
            ticks = wait_for(lambda: (t := instance.get_ticks(tick_id)) and t[0].status is not TickStatus.STARTED and t, seconds=60)
        finally:
            daemon.stop(signal.SIGTERM)
        assert [t.status for t in ticks] == [TickStatus.SUCCESS], ticks
        runs = _runs(instance, **{"dagster/schedule_name": "blocking_schedule"})
        assert len(runs) == 1 and ticks[0].run_ids == (runs[0].run_id,)
        state = instance.get_instigator_state(tick_id)
        assert state is not None and state.status is InstigatorStatus.RUNNING


def test_a_sensor_run_key_is_launched_once_across_a_restart(env):
    inbox = env["work"] / "inbox"
    inbox.mkdir()
    (inbox / "one.csv").write_text("1")
    with DagsterInstance.from_directory(str(env["home"])) as instance:
        daemon = _started(env)
        try:
            wait_for(lambda: len(_runs(instance, **{"dagster/sensor_name": "files"})) == 1, seconds=60)
        finally:
            daemon.stop(signal.SIGKILL)
        (inbox / "two.csv").write_text("2")
        # The clock file stands still: move it on so the sensor's interval has passed.
        write_clock_file(env["clock"], NOON.replace(second=50))
        daemon = _started(env)
        try:
            wait_for(lambda: len(_runs(instance, **{"dagster/sensor_name": "files"})) == 2, seconds=60)
            before = len(instance.get_ticks(instigator_id(LOCATION, "files")))
            write_clock_file(env["clock"], NOON.replace(minute=1, second=30))
            wait_for(lambda: len(instance.get_ticks(instigator_id(LOCATION, "files"))) > before, seconds=60)
        finally:
            daemon.stop(signal.SIGTERM)
        keys = sorted(r.tags["dagster/run_key"] for r in _runs(instance, **{"dagster/sensor_name": "files"}))
        assert keys == ["one.csv", "two.csv"]


def test_a_run_whose_worker_is_sigkilled_is_failed_within_10_s_and_reexecutes_from_failure(env, monkeypatch):
    import json
    import time

    from oprun import ReexecutionOptions, execute_job
    from oprun.execution.reconstruct import ReconstructableJob

    daemon = _started(env)
    try:
        with DagsterInstance.from_directory(str(env["home"])) as instance:
            wait_for(lambda: instance.daemon_is_alive("QUEUED_RUN_COORDINATOR") and instance.daemon_is_alive("MONITORING"), seconds=60)
            launched = _oprun(env, "job", "launch", "-f", DEFS, "-j", "blocking")
            assert launched.returncode == 0, launched.stdout + launched.stderr
            run_id = launched.stdout.strip().splitlines()[-1]
            wait_for(lambda: (env["work"] / "step_started").exists(), seconds=60)
            run = instance.get_run_by_id(run_id)
            assert run.status is DagsterRunStatus.STARTED
            # The queue started it warm, and the worker's pid is on the run.
            shown = json.loads(_oprun(env, "run", "show", run_id, "--json").stdout)
            pid = int(shown["tags"]["oprun/run_worker_pid"])
            assert any(e.event_type_value == "RUN_DEQUEUED" for e in (x.dagster_event for x in instance.all_logs(run_id)) if e)
            os.killpg(int(run.tags["oprun/run_worker_pgid"]), signal.SIGKILL)
            killed_at = time.monotonic()
            failed = wait_for(lambda: (r := instance.get_run_by_id(run_id)).status is DagsterRunStatus.FAILURE and r, seconds=30)
            assert time.monotonic() - killed_at <= 10, "the run monitor took more than 10 s"
            messages = [e.message for e in instance.all_logs(run_id)]
            assert any(f"pid {pid}" in m and "is gone" in m for m in messages), messages[-3:]
            (env["work"] / "unblock").write_text("go")
            monkeypatch.setenv("OPRUN_TEST_DIR", str(env["work"]))  # the re-execution runs here, in process
            recon = ReconstructableJob.from_dict(dict(failed.job_code_origin))
            with execute_job(recon, instance, reexecution_options=ReexecutionOptions.from_failure(run_id, instance)) as retried:
                assert retried.success, [e.message for e in retried.all_events if e.event_type_value.endswith("FAILURE")]
                assert retried.output_for_node("after") == 3
    finally:
        daemon.stop(signal.SIGTERM)

