"""The sensor loop on a real SQLite instance, in process, "as of" a set clock:
intervals, run keys launched once (also after a restart), cursors kept, skip and
failure ticks, stopped sensors, run failure sensors firing once per failed run,
a crashed tick resumed, previews that store nothing, and a thousand idle sensors
costing little."""

import os
import time

import pytest

from oprun import DagsterInstance, clock
from oprun.daemon.base import DaemonContext, Workspace, create_run
from oprun.daemon.sensors import SensorLoop, preview_sensor, set_sensor_cursor, start_sensor, stop_sensor
from oprun.instigation import InstigatorStatus, InstigatorTick, InstigatorType, TickStatus
from oprun.loading import locations_from_args
from oprun.runs import DagsterRunStatus, RunsFilter

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures")
SENSORS_FILE = os.path.join(FIXTURES, "daemon_sensors.py")
LOCATION = "daemon_sensors.py"
T0 = 1_800_000_000.0
QUEUED = {"run_coordinator": {"module": "oprun.execution.coordinator", "class": "QueuedRunCoordinator"}}


class Daemon:
    """A sensor loop over the fixture location and an instance; `restart()` makes a
    new loop, instance and workspace on the same directory, as a new daemon process."""

    def __init__(self, home: str, file: str = SENSORS_FILE) -> None:
        self.home = home
        self.file = file
        self.instance = None
        self.restart()

    def restart(self) -> None:
        if self.instance is not None:
            self.instance.dispose()
        self.instance = DagsterInstance.from_directory(self.home, overrides=QUEUED)
        self.workspace = Workspace(locations_from_args(python_files=[self.file]))
        self.location, self.defs = self.workspace.loaded()[0]
        self.loop = SensorLoop()
        self.context = DaemonContext(self.instance, self.workspace, "test-daemon")

    def tick(self) -> str | None:
        return self.loop.run_iteration(self.context)

    def start(self, *names: str) -> None:
        for name in names:
            start_sensor(self.instance, self.location.name, self.defs.get_sensor_def(name))

    def ticks(self, name: str) -> list[InstigatorTick]:
        return list(reversed(self.instance.get_ticks(f"{LOCATION}:{name}")))

    def state(self, name: str):
        return self.instance.get_instigator_state(f"{LOCATION}:{name}")

    def runs(self, sensor_name: str):
        return list(reversed(self.instance.get_runs(RunsFilter(tags={"dagster/sensor_name": sensor_name}))))


@pytest.fixture
def daemon(tmp_path):
    d = Daemon(str(tmp_path / "home"))
    yield d
    d.instance.dispose()


def test_a_sensor_is_evaluated_when_started_then_every_minimum_interval(daemon):
    daemon.start("counting")  # minimum_interval_seconds=10
    with clock.clock_at(T0) as move:
        daemon.tick()
        assert len(daemon.ticks("counting")) == 1
        for later in (1, 5, 9.9):
            move(T0 + later)
            daemon.tick()
        assert len(daemon.ticks("counting")) == 1
        move(T0 + 10)
        daemon.tick()
        daemon.tick()
        ticks = daemon.ticks("counting")
        assert [t.timestamp for t in ticks] == [T0, T0 + 10]
        assert daemon.state("counting").data["last_tick_start_timestamp"] == T0 + 10


def test_a_run_key_is_launched_once_across_evaluations_and_daemon_restarts(daemon):
    daemon.start("same_key")  # interval 30, always run_key "only-once"
    with clock.clock_at(T0) as move:
        for step in range(3):
            move(T0 + 30 * step)
            daemon.tick()
        daemon.restart()
        move(T0 + 90)
        daemon.tick()
    runs = daemon.runs("same_key")
    assert len(runs) == 1
    assert runs[0].tags["dagster/run_key"] == "only-once"
    assert runs[0].status is DagsterRunStatus.QUEUED
    ticks = daemon.ticks("same_key")
    assert [t.status for t in ticks] == [TickStatus.SUCCESS] + [TickStatus.SKIPPED] * 3
    assert ticks[0].run_ids == (runs[0].run_id,)
    assert runs[0].tags["oprun/tick_id"] == str(ticks[0].tick_id)
    assert all(t.run_keys == ("only-once",) and not t.run_ids for t in ticks[1:])
    assert "only-once" in ticks[-1].skip_reason


def test_the_cursor_is_stored_and_given_back(daemon):
    daemon.start("counting", "result_cursor")
    with clock.clock_at(T0) as move:
        for step in range(3):
            move(T0 + 10 * step)
            daemon.tick()
        daemon.restart()
        move(T0 + 30)
        daemon.tick()
    assert [t.cursor for t in daemon.ticks("counting")] == ["1", "2", "3", "4"]
    assert daemon.state("counting").cursor == "4"
    assert daemon.state("counting").data["last_run_key"] == "count-4"
    runs = daemon.runs("counting")
    assert [r.tags["dagster/run_key"] for r in runs] == ["count-1", "count-2", "count-3", "count-4"]
    assert [r.run_config["ops"]["take_n"]["config"]["n"] for r in runs] == [1, 2, 3, 4]
    assert daemon.state("result_cursor").cursor == '["item-0", "item-1", "item-2", "item-3"]'
    assert [r.tags["dagster/run_key"] for r in daemon.runs("result_cursor")] == ["item-0", "item-1", "item-2", "item-3"]


def test_a_skip_reason_makes_a_skipped_tick(daemon):
    daemon.start("nothing_new")
    with clock.clock_at(T0):
        daemon.tick()
    (tick,) = daemon.ticks("nothing_new")
    assert tick.status is TickStatus.SKIPPED
    assert tick.skip_reason == "no new files"
    assert tick.end_timestamp is not None
    assert daemon.runs("nothing_new") == []


def test_a_failing_sensor_makes_a_failure_tick_with_its_traceback_and_keeps_its_cursor(daemon):
    daemon.start("broken")
    set_sensor_cursor(daemon.instance, LOCATION, daemon.defs.get_sensor_def("broken"), "c1")
    with clock.clock_at(T0) as move:
        daemon.tick()
        move(T0 + 10)
        daemon.tick()
    ticks = daemon.ticks("broken")
    assert [t.status for t in ticks] == [TickStatus.FAILURE, TickStatus.FAILURE]  # retried after the interval
    error = ticks[0].error
    assert error["class"] == "ValueError"
    assert "the bucket is gone (cursor c1)" in error["message"]
    assert "broken" in error["message"]
    assert "daemon_sensors.py" in error["traceback"]
    assert 'raise ValueError(f"the bucket is gone' in error["traceback"]
    assert "oprun/daemon" not in error["traceback"]  # the user's frames, not the loop's
    assert daemon.state("broken").cursor == "c1"
    assert [t.cursor for t in ticks] == ["c1", "c1"]


def test_invalid_run_config_fails_the_tick_naming_the_sensor_job_and_path(daemon):
    daemon.start("bad_config")
    with clock.clock_at(T0):
        daemon.tick()
    (tick,) = daemon.ticks("bad_config")
    assert tick.status is TickStatus.FAILURE
    message = tick.error["message"]
    assert "bad_config" in message and "process" in message and "ops:take_n:config:n" in message
    assert daemon.instance.get_runs() == []


def test_requests_go_to_the_job_they_name_and_resources_come_from_the_definitions(daemon):
    daemon.start("two_jobs", "uses_resource")
    with clock.clock_at(T0):
        daemon.tick()
    assert sorted((r.job_name, r.tags["dagster/run_key"]) for r in daemon.runs("two_jobs")) == [("alert", "a"), ("process", "p")]
    assert [r.tags["dagster/run_key"] for r in daemon.runs("uses_resource")] == ["src-1"]


def test_stopped_sensors_are_not_evaluated_and_a_stored_status_beats_the_default(daemon):
    with clock.clock_at(T0) as move:
        daemon.tick()
        evaluated = {s.name for s in daemon.instance.all_instigator_state(InstigatorType.SENSOR) if daemon.ticks(s.name)}
        assert evaluated == {"default_on"}  # the only sensor whose default_status is RUNNING
        assert daemon.state("default_on").status is InstigatorStatus.DECLARED_IN_CODE
        daemon.start("nothing_new")
        move(T0 + 10)
        daemon.tick()
        stop_sensor(daemon.instance, LOCATION, daemon.defs.get_sensor_def("nothing_new"))
        stop_sensor(daemon.instance, LOCATION, daemon.defs.get_sensor_def("default_on"))
        for step in (20, 30, 40):
            move(T0 + step)
            daemon.tick()
    assert len(daemon.ticks("nothing_new")) == 1
    assert len(daemon.ticks("default_on")) == 2
    assert daemon.ticks("counting") == []


def _failed_run(daemon: Daemon, job_name: str = "monitored", tags=None):
    run = create_run(daemon.instance, daemon.location, daemon.defs.resolve_job_def(job_name), tags=tags)
    daemon.instance.report_run_failed(run)
    assert daemon.instance.get_run_by_id(run.run_id).status is DagsterRunStatus.FAILURE
    return run.run_id


def _alerts(daemon: Daemon) -> list[str]:
    return [r.tags["failed_run"] for r in daemon.runs("on_failure")]


def test_a_run_failure_sensor_fires_once_per_failed_run_and_resumes_after_a_restart(daemon):
    before = _failed_run(daemon)  # history: failed before the sensor first ran
    daemon.start("on_failure")  # interval 5, one alert run (no run key) per failed run of `monitored`
    with clock.clock_at(T0) as move:
        daemon.tick()
        assert "starts watching" in daemon.ticks("on_failure")[0].skip_reason
        first, second = _failed_run(daemon), _failed_run(daemon)
        _failed_run(daemon, "alert")  # not monitored
        move(T0 + 5)
        daemon.tick()
        assert sorted(_alerts(daemon)) == sorted([first, second])
        assert daemon.ticks("on_failure")[-1].status is TickStatus.SUCCESS
        move(T0 + 10)
        daemon.tick()
        assert daemon.ticks("on_failure")[-1].status is TickStatus.SKIPPED
        daemon.restart()
        third = _failed_run(daemon)
        for step in (15, 20, 25):
            move(T0 + step)
            daemon.tick()
    alerts = _alerts(daemon)
    assert sorted(alerts) == sorted([first, second, third])
    assert before not in alerts
    assert all(r.job_name == "alert" for r in daemon.runs("on_failure"))


def test_a_run_status_sensor_that_fails_for_a_run_reports_it_once_and_goes_on(daemon):
    daemon.start("on_failure")
    with clock.clock_at(T0) as move:
        daemon.tick()
        bad = _failed_run(daemon, tags={"explode": "yes"})
        good = _failed_run(daemon)
        move(T0 + 5)
        daemon.tick()
        failed = daemon.ticks("on_failure")[-1]
        assert failed.status is TickStatus.FAILURE
        assert f"cannot alert about {bad}" in failed.error["message"] and failed.error["class"] == "RuntimeError"
        assert _alerts(daemon) == [good]  # the other run's request is launched
        assert failed.run_ids == tuple(r.run_id for r in daemon.runs("on_failure"))
        for step in (10, 15):
            move(T0 + step)
            daemon.tick()
    assert [t.status for t in daemon.ticks("on_failure")[-2:]] == [TickStatus.SKIPPED, TickStatus.SKIPPED]
    assert _alerts(daemon) == [good]


def test_a_tick_interrupted_after_its_runs_is_resumed_without_launching_them_again(daemon, monkeypatch):
    daemon.start("counting")
    real_update = daemon.instance.update_tick
    crashes = []

    def crash_once(tick):
        if tick.status is not TickStatus.STARTED and not crashes:
            crashes.append(tick)
            raise OSError("the daemon died here")
        return real_update(tick)

    monkeypatch.setattr(daemon.instance, "update_tick", crash_once)
    with clock.clock_at(T0):
        summary = daemon.tick()
        assert "the daemon died here" in summary
        (left,) = daemon.ticks("counting")
        assert left.status is TickStatus.STARTED
        assert daemon.state("counting").cursor is None  # the cursor is stored only after the tick
        daemon.tick()  # still due: resumes the STARTED tick from the old cursor
    (tick,) = daemon.ticks("counting")
    runs = daemon.runs("counting")
    assert len(runs) == 1 and runs[0].tags["dagster/run_key"] == "count-1"
    assert tick.tick_id == left.tick_id and tick.status is TickStatus.SUCCESS
    assert tick.run_ids == (runs[0].run_id,)
    assert daemon.state("counting").cursor == "1"


def test_preview_evaluates_without_storing_or_launching(daemon):
    sensor = daemon.defs.get_sensor_def("counting")
    set_sensor_cursor(daemon.instance, LOCATION, sensor, "41")
    preview = preview_sensor(daemon.instance, LOCATION, daemon.defs, sensor)
    assert [r.run_key for r in preview.run_requests] == ["count-42"]
    assert preview.cursor_before == "41" and preview.cursor == "42"
    other = preview_sensor(daemon.instance, LOCATION, daemon.defs, sensor, cursor="7")
    assert other.cursor == "8" and other.to_dict()["run_requests"][0]["run_config"] == {"ops": {"take_n": {"config": {"n": 8}}}}
    assert daemon.state("counting").cursor == "41"
    assert daemon.ticks("counting") == [] and daemon.instance.get_runs() == []
    failed = preview_sensor(daemon.instance, LOCATION, daemon.defs, daemon.defs.get_sensor_def("broken"))
    assert failed.error["class"] == "ValueError"
    skipped = preview_sensor(daemon.instance, LOCATION, daemon.defs, daemon.defs.get_sensor_def("nothing_new"))
    assert skipped.skip_reason == "no new files"


def test_a_thousand_idle_sensors_cost_little(tmp_path):
    daemon = Daemon(str(tmp_path / "home"), os.path.join(FIXTURES, "daemon_sensors_many.py"))
    try:
        with clock.clock_at(T0) as move:
            assert daemon.tick().startswith("1000 sensor(s) running, 1000 evaluated")
            spent = []
            for step in range(1, 11):
                move(T0 + step)
                started = time.process_time()
                summary = daemon.tick()
                spent.append(time.process_time() - started)
                assert "0 evaluated" in summary
            # Not due: no storage read per sensor, only the one read of every state.
            assert sorted(spent)[5] < 0.1, spent
            move(T0 + 30)
            assert "1000 evaluated" in daemon.tick()
    finally:
        daemon.instance.dispose()
