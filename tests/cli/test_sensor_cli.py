"""`oprun sensor ...` as a real subprocess on its own OPRUN_HOME: list, start,
stop (with did-you-mean), preview (storing nothing), cursor, logs."""

import json
import os
import subprocess
import sys

import pytest

from oprun import DagsterInstance, clock
from oprun.daemon.base import DaemonContext, Workspace
from oprun.daemon.sensors import SensorLoop
from oprun.loading import locations_from_args
from tests.waiting import wait_for

SENSORS_FILE = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures", "daemon_sensors.py")
QUEUED = {"run_coordinator": {"module": "oprun.execution.coordinator", "class": "QueuedRunCoordinator"}}


@pytest.fixture
def home(tmp_path):
    return str(tmp_path / "home")


@pytest.fixture
def oprun(home, tmp_path):
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "oprun", "sensor", *args, "-f", SENSORS_FILE],
            capture_output=True, text=True, cwd=str(tmp_path), env={**os.environ, "OPRUN_HOME": home}, timeout=120,
        )

    return run


def _listed(oprun) -> dict[str, dict]:
    out = oprun("list", "--json")
    assert out.returncode == 0, out.stderr
    return {row["name"]: row for row in json.loads(out.stdout)}


def test_list_start_stop_and_the_default_status(oprun):
    rows = _listed(oprun)
    assert rows["counting"]["status"] == "STOPPED" and rows["counting"]["status_from_default"] is True
    assert rows["default_on"]["status"] == "RUNNING" and rows["default_on"]["status_from_default"] is True
    assert rows["on_failure"]["type"] == "RUN_STATUS" and rows["on_failure"]["jobs"] == ["alert"]
    assert rows["two_jobs"]["jobs"] == ["process", "alert"]
    assert rows["counting"]["minimum_interval_seconds"] == 10

    started = oprun("start", "counting")
    assert started.returncode == 0, started.stderr
    assert "Started sensor counting" in started.stdout
    stopped = oprun("stop", "default_on")
    assert stopped.returncode == 0, stopped.stderr
    rows = _listed(oprun)
    assert rows["counting"]["status"] == "RUNNING" and rows["counting"]["status_from_default"] is False
    assert rows["default_on"]["status"] == "STOPPED" and rows["default_on"]["status_from_default"] is False

    table = oprun("list")
    assert table.returncode == 0
    line = next(line for line in table.stdout.splitlines() if line.startswith("counting"))
    assert "RUNNING" in line and "10s" in line and "(default)" not in line


def test_an_unknown_sensor_is_one_message_with_a_close_match(oprun):
    out = oprun("stop", "countng")
    assert out.returncode == 2
    assert "no sensor named 'countng'" in out.stderr and "Did you mean 'counting'?" in out.stderr
    assert "Traceback" not in out.stderr


def test_cursor_show_set_delete_and_preview_from_it(oprun, home):
    assert "has no cursor" in oprun("cursor", "counting").stdout
    assert oprun("cursor", "counting", "--set", "41").returncode == 0
    assert oprun("cursor", "counting").stdout.strip() == "41"
    assert _listed(oprun)["counting"]["cursor"] == "41"

    preview = oprun("preview", "counting")
    assert preview.returncode == 0, preview.stderr
    assert "run_key=count-42" in preview.stdout and '"n": 42' in preview.stdout and "New cursor: '42'" in preview.stdout
    given = json.loads(oprun("preview", "counting", "--cursor", "7", "--json").stdout)
    assert given["run_requests"][0]["run_key"] == "count-8" and given["cursor"] == "8"
    assert oprun("cursor", "counting").stdout.strip() == "41"  # a preview stores nothing

    assert oprun("cursor", "counting", "--delete").returncode == 0
    assert "has no cursor" in oprun("cursor", "counting").stdout
    both = oprun("cursor", "counting", "--set", "1", "--delete")
    assert both.returncode == 2 and "not both" in both.stderr

    with DagsterInstance.from_directory(home) as instance:
        assert instance.get_runs() == []
        assert instance.get_ticks("daemon_sensors.py:counting") == []


def test_preview_shows_a_skip_reason_or_the_sensors_error(oprun):
    skipped = oprun("preview", "nothing_new")
    assert skipped.returncode == 0 and "Skipped: no new files" in skipped.stdout
    failed = oprun("preview", "broken")
    assert failed.returncode == 1
    assert "the bucket is gone" in failed.stdout and "daemon_sensors.py" in failed.stdout


def test_logs_show_the_ticks_the_loop_made(oprun, home):
    assert oprun("start", "counting").returncode == 0
    assert "no ticks yet" in oprun("logs", "counting").stdout
    with DagsterInstance.from_directory(home, overrides=QUEUED) as instance, clock.clock_at(1_800_000_000) as move:
        context = DaemonContext(instance, Workspace(locations_from_args(python_files=[SENSORS_FILE])), "test")
        loop = SensorLoop()
        loop.run_iteration(context)
        move(1_800_000_010)
        loop.run_iteration(context)
    logs = oprun("logs", "counting", "-n", "1")
    assert logs.returncode == 0, logs.stderr
    (line,) = logs.stdout.splitlines()
    assert "SUCCESS" in line and "2027-01-15" in line
    ticks = json.loads(oprun("logs", "counting", "--json").stdout)
    assert [t["cursor"] for t in ticks] == ["2", "1"]
    assert _listed(oprun)["counting"]["last_tick"]["status"] == "SUCCESS"


def _ticks(home: str, name: str) -> list:
    with DagsterInstance.from_directory(home) as instance:
        return instance.get_ticks(f"daemon_sensors.py:{name}")


def _daemon(home: str, clock_file: str, tmp_path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "oprun", "daemon", "run", "-f", SENSORS_FILE],
        cwd=str(tmp_path), env={**os.environ, "OPRUN_HOME": home, "OPRUN_CLOCK_FILE": clock_file},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
    )


def _stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    process.wait(timeout=60)


def test_the_daemon_evaluates_a_sensor_started_from_the_cli_and_a_restart_repeats_nothing(oprun, home, tmp_path):
    os.makedirs(home, exist_ok=True)
    with open(os.path.join(home, "oprun.yaml"), "w") as f:
        f.write("run_queue:\n  max_concurrent_runs: 0\n")  # runs stay QUEUED: no run processes
    clock_file = str(tmp_path / "clock")
    clock.write_clock_file(clock_file, 1_800_000_000)
    assert oprun("start", "counting").returncode == 0
    daemon = _daemon(home, clock_file, tmp_path)
    try:
        wait_for(lambda: len(_ticks(home, "counting")) == 1, seconds=60)
        clock.write_clock_file(clock_file, 1_800_000_010)
        wait_for(lambda: len(_ticks(home, "counting")) == 2, seconds=60)
    finally:
        _stop(daemon)
    first_id = _daemon_id(home)
    daemon = _daemon(home, clock_file, tmp_path)
    try:
        # The new daemon's sensor loop has run (and found nothing due at the same time).
        wait_for(lambda: (beat := _sensor_beat(home)) is not None and beat.daemon_id != first_id and "0 evaluated" in (beat.info or ""), seconds=60)
    finally:
        _stop(daemon)
    assert [t.cursor for t in _ticks(home, "counting")] == ["2", "1"]
    with DagsterInstance.from_directory(home) as instance:
        keys = sorted(r.tags["dagster/run_key"] for r in instance.get_runs() if r.tags.get("dagster/sensor_name") == "counting")
    assert keys == ["count-1", "count-2"]


def _sensor_beat(home: str):
    with DagsterInstance.from_directory(home) as instance:
        return instance.get_daemon_heartbeats().get("SENSOR")


def _daemon_id(home: str) -> str:
    beat = _sensor_beat(home)
    assert beat is not None
    return beat.daemon_id
