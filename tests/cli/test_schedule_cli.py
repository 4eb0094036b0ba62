"""`oprun schedule ...` as a real subprocess with its own OPRUN_HOME and a clock
file (OPRUN_CLOCK_FILE); the ticks that `logs` shows are made by the schedule
loop run in this process on the same instance."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from oprun import clock
from oprun.daemon.base import DaemonContext, Workspace
from oprun.daemon.schedules import ScheduleLoop
from oprun.instance import DagsterInstance
from oprun.loading import locations_from_args

FIXTURE = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "fixtures", "daemon_schedules.py"))
QUEUED = {"run_coordinator": {"module": "oprun.execution.coordinator", "class": "QueuedRunCoordinator"}}
START = datetime(2024, 5, 1, 0, 30, tzinfo=UTC)


@pytest.fixture
def home(tmp_path):
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def oprun(home, tmp_path):
    clock_file = tmp_path / "clock"
    clock.write_clock_file(str(clock_file), START)

    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "oprun", "schedule", *map(str, args)], capture_output=True, text=True,
            cwd=tmp_path, timeout=120,
            env={**os.environ, "OPRUN_HOME": str(home), clock.CLOCK_FILE_ENV: str(clock_file)},
        )

    return run


def _ok(result):
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _listed(oprun):
    return {row["name"]: row for row in json.loads(_ok(oprun("list", "-f", FIXTURE, "--json")))}


def _run_loop(home, moment):
    instance = DagsterInstance.from_directory(str(home), QUEUED)
    workspace = Workspace(locations_from_args(python_files=[FIXTURE]))
    with clock.clock_at(moment):
        ScheduleLoop().run_iteration(DaemonContext(instance, workspace, "test-daemon"))


def test_list_start_stop(oprun):
    rows = _listed(oprun)
    assert rows["hourly"]["status"] == "STOPPED" and rows["hourly"]["from_code_default"] is True
    assert rows["hourly"]["next_tick"] is None
    assert rows["hourly"]["cron_schedule"] == "0 * * * *" and rows["hourly"]["job_name"] == "config_job"
    assert rows["default_running"]["status"] == "RUNNING" and rows["default_running"]["from_code_default"] is True
    assert rows["default_running"]["next_tick"] == "2024-05-01T01:00:00+00:00"
    assert rows["dst_gap"]["execution_timezone"] == "America/Los_Angeles"
    assert rows["dst_gap"]["next_tick"] is None

    assert _ok(oprun("start", "hourly", "-f", FIXTURE)).strip() == "Started schedule hourly."
    rows = _listed(oprun)
    assert rows["hourly"]["status"] == "RUNNING" and rows["hourly"]["from_code_default"] is False
    assert rows["hourly"]["next_tick"] == "2024-05-01T01:00:00+00:00"

    table = _ok(oprun("list", "-f", FIXTURE))
    assert table.splitlines()[0].split("\t") == ["NAME", "CRON", "TIMEZONE", "JOB", "STATUS", "NEXT TICK"]
    assert "default_running\t0 * * * *\tUTC\tplain_job\tRUNNING (default)\t2024-05-01T01:00:00+00:00" in table

    assert "Stopped schedule hourly." in _ok(oprun("stop", "hourly", "-f", FIXTURE))
    assert _listed(oprun)["hourly"]["status"] == "STOPPED"
    _ok(oprun("start", "--all", "-f", FIXTURE))
    assert {row["status"] for row in _listed(oprun).values()} == {"RUNNING"}
    out = _ok(oprun("stop", "--all", "-f", FIXTURE))
    assert "Stopped schedule keyed." in out
    assert {row["status"] for row in _listed(oprun).values()} == {"STOPPED"}


def test_unknown_schedule_is_one_message_with_a_suggestion(oprun):
    result = oprun("start", "hourlyy", "-f", FIXTURE)
    assert result.returncode == 2
    assert "Schedule 'hourlyy' not found" in result.stderr and "Did you mean 'hourly'?" in result.stderr
    assert "Traceback" not in result.stderr
    result = oprun("start", "-f", FIXTURE)
    assert result.returncode == 2 and "--all" in result.stderr


def test_preview(oprun):
    out = _ok(oprun("preview", "hourly", "-n", "2", "-f", FIXTURE))
    assert out.splitlines()[0] == "2024-05-01T01:00:00+00:00"
    assert "2024-05-01T02:00:00+00:00" in out
    assert "      ops:\n        counted:\n          config:\n            n: 1" in out
    assert "(run_key hour-01)" in _ok(oprun("preview", "keyed", "-f", FIXTURE))
    skipped = _ok(oprun("preview", "skipping", "-f", FIXTURE))
    assert "skipped: nothing to do at 2024-05-01T01:00:00+00:00" in skipped
    bad = oprun("preview", "bad_config", "-f", FIXTURE)
    assert bad.returncode == 1 and "ops:counted:config:n" in bad.stdout
    failing = oprun("preview", "failing", "-f", FIXTURE, "--json")
    assert failing.returncode == 1
    (tick,) = json.loads(failing.stdout)
    assert tick["error"]["class"] == "ValueError" and "_explode" in tick["error"]["traceback"]
    dst = json.loads(_ok(oprun("preview", "dst_gap", "-n", "1", "-f", FIXTURE, "--json")))
    assert dst[0]["scheduled_time"] == "2024-05-01T02:30:00-07:00"
    assert dst[0]["run_requests"][0]["run_config"] == {}
    assert _ok(oprun("logs", "hourly", "-f", FIXTURE)).strip() == "No ticks of schedule hourly yet."  # nothing stored


def test_logs(oprun, home):
    _ok(oprun("start", "hourly", "failing", "skipping", "-f", FIXTURE))
    _run_loop(home, datetime(2024, 5, 1, 2, 0, tzinfo=UTC))
    ticks = json.loads(_ok(oprun("logs", "hourly", "-f", FIXTURE, "--json")))
    assert [t["time"] for t in ticks] == ["2024-05-01T02:00:00+00:00", "2024-05-01T01:00:00+00:00"]
    assert [t["status"] for t in ticks] == ["SUCCESS", "SUCCESS"]
    assert all(len(t["run_ids"]) == 1 for t in ticks)
    out = _ok(oprun("logs", "hourly", "-n", "1", "-f", FIXTURE))
    assert out.splitlines()[0].startswith("2024-05-01T02:00:00+00:00  SUCCESS")
    assert f"  run {ticks[0]['run_ids'][0]}" in out and ticks[1]["run_ids"][0] not in out
    failing = _ok(oprun("logs", "failing", "-f", FIXTURE))
    assert "FAILURE" in failing and "ValueError: the schedule function broke" in failing
    assert "_explode" in failing
    assert "skipped: nothing to do at 2024-05-01T01:00:00+00:00" in _ok(oprun("logs", "skipping", "-f", FIXTURE))
