"""The schedule loop (oprun/daemon/schedules.py), in process, on a real SQLite
instance, with the clock moved by `clock_at`. Runs go to a QueuedRunCoordinator,
so a launched run is a stored QUEUED run and nothing is started."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime

import pytest

from oprun import clock
from oprun.daemon.base import DaemonContext, Workspace
from oprun.daemon.schedules import ScheduleLoop, preview_schedule, start_schedule, stop_schedule
from oprun.instance import DagsterInstance
from oprun.instigation import InstigatorStatus, TickStatus, instigator_id
from oprun.loading import locations_from_args
from oprun.runs import RunsFilter

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "fixtures", "daemon_schedules.py")
QUEUED = {"run_coordinator": {"module": "oprun.execution.coordinator", "class": "QueuedRunCoordinator"}}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


class Harness:
    def __init__(self, home, overrides=None, path=FIXTURE):
        self.instance = DagsterInstance.from_directory(str(home), {**QUEUED, **(overrides or {})})
        self.workspace = Workspace(locations_from_args(python_files=[path]))
        self.location, self.defs = self.workspace.loaded()[0]
        self.context = DaemonContext(self.instance, self.workspace, "test-daemon")
        self.loop = ScheduleLoop()

    def sid(self, name):
        return instigator_id(self.location.name, name)

    def start(self, name):
        return start_schedule(self.instance, self.location.name, self.defs.get_schedule_def(name))

    def ticks(self, name):
        return list(reversed(self.instance.get_ticks(self.sid(name))))

    def runs(self, name):
        return list(reversed(self.instance.get_runs(RunsFilter(tags={"dagster/schedule_name": name}))))


@pytest.fixture
def harness(tmp_path):
    h = Harness(tmp_path / "home")
    yield h
    h.instance.dispose()


def _stamps(ticks):
    return [datetime.fromtimestamp(t.timestamp, UTC) for t in ticks]


def test_hourly_ticks_launch_one_run_each(harness):
    with clock.clock_at(utc(2024, 5, 1, 9, 30)) as move:
        harness.start("hourly")
        assert harness.loop.run_iteration(harness.context) is None  # nothing due yet
        move(utc(2024, 5, 1, 10, 0, 5))
        summary = harness.loop.run_iteration(harness.context)
        assert summary is not None and "2 run(s) launched" in summary  # hourly and default_running
        move(utc(2024, 5, 1, 10, 30))
        assert harness.loop.run_iteration(harness.context) is None
        move(utc(2024, 5, 1, 11, 0))  # due exactly at the fire time
        harness.loop.run_iteration(harness.context)
    ticks = harness.ticks("hourly")
    assert _stamps(ticks) == [utc(2024, 5, 1, 10), utc(2024, 5, 1, 11)]
    assert [t.status for t in ticks] == [TickStatus.SUCCESS, TickStatus.SUCCESS]
    runs = harness.runs("hourly")
    assert [r.status.value for r in runs] == ["QUEUED", "QUEUED"]
    assert [r.run_id for r in runs] == [t.run_ids[0] for t in ticks]
    assert runs[0].tags["dagster/scheduled_execution_time"] == "2024-05-01T10:00:00+00:00"
    assert runs[0].tags["oprun/tick_id"] == str(ticks[0].tick_id)
    assert runs[0].run_config == {"ops": {"counted": {"config": {"n": 1}}}}
    state = harness.instance.get_instigator_state(harness.sid("hourly"))
    assert state.status is InstigatorStatus.RUNNING
    assert state.data["last_tick_timestamp"] == utc(2024, 5, 1, 11).timestamp()


def _run_through(harness, name, start, end, step_hours=1):
    with clock.clock_at(start) as move:
        harness.start(name)
        moment = start.timestamp()
        while moment < end.timestamp():
            moment += step_hours * 3600
            move(moment)
            harness.loop.run_iteration(harness.context)


def test_dst_spring_forward_runs_at_the_first_time_after_the_gap(harness):
    # 2:30 AM does not exist in Los Angeles on 2024-03-10: Dagster runs at 3:00 AM PDT.
    _run_through(harness, "dst_gap", utc(2024, 3, 9, 0), utc(2024, 3, 12, 0))
    assert _stamps(harness.ticks("dst_gap")) == [
        utc(2024, 3, 9, 10, 30),  # 02:30 PST
        utc(2024, 3, 10, 10, 0),  # 03:00 PDT
        utc(2024, 3, 11, 9, 30),  # 02:30 PDT
    ]
    assert len(harness.runs("dst_gap")) == 3


def test_dst_fall_back_runs_a_daily_schedule_once_at_the_second_pass(harness):
    # 1:30 AM happens twice on 2024-11-03: Dagster runs at the second one (PST).
    _run_through(harness, "dst_repeat", utc(2024, 11, 2, 0), utc(2024, 11, 5, 0))
    assert _stamps(harness.ticks("dst_repeat")) == [
        utc(2024, 11, 2, 8, 30),  # 01:30 PDT
        utc(2024, 11, 3, 9, 30),  # 01:30 PST, the second pass
        utc(2024, 11, 4, 9, 30),
    ]


def test_dst_fall_back_hourly_schedule_runs_every_hour(harness):
    _run_through(harness, "dst_hourly", utc(2024, 11, 3, 6, 30), utc(2024, 11, 3, 11, 0))
    ticks = harness.ticks("dst_hourly")
    assert _stamps(ticks) == [utc(2024, 11, 3, h) for h in (7, 8, 9, 10, 11)]
    # 01:00 twice: once in PDT, once in PST
    runs = harness.runs("dst_hourly")
    assert len(runs) == 5


def test_catch_up_after_downtime_is_bounded_by_max_catchup_runs(tmp_path):
    harness = Harness(tmp_path / "home", {"schedules": {"max_catchup_runs": 3}})
    with clock.clock_at(utc(2024, 5, 1, 0, 30)) as move:
        harness.start("hourly")
        move(utc(2024, 5, 1, 10, 15))  # down for ten ticks
        summary = harness.loop.run_iteration(harness.context)
    assert summary is not None and "7 older missed tick(s)" in summary
    assert _stamps(harness.ticks("hourly")) == [utc(2024, 5, 1, h) for h in (8, 9, 10)]
    assert len(harness.runs("hourly")) == 3


def test_starting_records_now_so_nothing_before_is_caught_up(harness):
    with clock.clock_at(utc(2024, 5, 1, 0, 30)) as move:
        harness.start("hourly")
        stop_schedule(harness.instance, harness.location.name, harness.defs.get_schedule_def("hourly"))
        move(utc(2024, 5, 1, 5, 30))
        assert harness.loop.run_iteration(harness.context) is None  # stopped: not evaluated
        harness.start("hourly")
        assert harness.loop.run_iteration(harness.context) is None
        move(utc(2024, 5, 1, 6, 0))
        harness.loop.run_iteration(harness.context)
    assert _stamps(harness.ticks("hourly")) == [utc(2024, 5, 1, 6)]


def test_stopped_and_default_stopped_schedules_are_not_evaluated(harness):
    with clock.clock_at(utc(2024, 5, 1, 0, 30)) as move:
        move(utc(2024, 5, 3, 0, 30))
        harness.loop.run_iteration(harness.context)
    for name in ("hourly", "skipping", "failing", "keyed"):
        assert harness.ticks(name) == []
    assert harness.instance.get_ticks(harness.sid("default_running")) == []  # first seen: starts now


def test_default_status_running_ticks_without_being_started(harness):
    with clock.clock_at(utc(2024, 5, 1, 0, 30)) as move:
        harness.loop.run_iteration(harness.context)
        state = harness.instance.get_instigator_state(harness.sid("default_running"))
        assert state.status is InstigatorStatus.DECLARED_IN_CODE
        assert state.data["start_timestamp"] == utc(2024, 5, 1, 0, 30).timestamp()
        move(utc(2024, 5, 1, 2, 0))
        harness.loop.run_iteration(harness.context)
    assert _stamps(harness.ticks("default_running")) == [utc(2024, 5, 1, 1), utc(2024, 5, 1, 2)]
    assert len(harness.runs("default_running")) == 2


def test_skip_reason_is_stored_on_a_skipped_tick(harness):
    with clock.clock_at(utc(2024, 5, 1, 0, 30)) as move:
        harness.start("skipping")
        move(utc(2024, 5, 1, 1, 0))
        harness.loop.run_iteration(harness.context)
    (tick,) = harness.ticks("skipping")
    assert tick.status is TickStatus.SKIPPED
    assert tick.skip_reason == "nothing to do at 2024-05-01T01:00:00+00:00"
    assert harness.runs("skipping") == []


def test_a_failing_schedule_function_stores_the_users_traceback(harness):
    with clock.clock_at(utc(2024, 5, 1, 0, 30)) as move:
        harness.start("failing")
        harness.start("hourly")
        move(utc(2024, 5, 1, 1, 0))
        summary = harness.loop.run_iteration(harness.context)
    assert "1 failed" in summary
    (tick,) = harness.ticks("failing")
    assert tick.status is TickStatus.FAILURE
    assert tick.error["class"] == "ValueError"
    assert "the schedule function broke" in tick.error["message"]
    assert "failing" in tick.error["message"]
    assert "daemon_schedules.py" in tick.error["traceback"]
    assert "_explode" in tick.error["traceback"]
    assert "oprun/definitions" not in tick.error["traceback"]
    assert len(harness.runs("hourly")) == 1  # the next schedule went on


def test_invalid_run_config_fails_the_tick_naming_schedule_job_and_path(harness):
    with clock.clock_at(utc(2024, 5, 1, 0, 30)) as move:
        harness.start("bad_config")
        move(utc(2024, 5, 1, 1, 0))
        harness.loop.run_iteration(harness.context)
    (tick,) = harness.ticks("bad_config")
    assert tick.status is TickStatus.FAILURE
    message = tick.error["message"]
    assert "bad_config" in message and "config_job" in message and "ops:counted:config:n" in message
    assert harness.runs("bad_config") == []


def test_run_keys_are_once_per_tick(harness):
    with clock.clock_at(utc(2024, 5, 1, 0, 30)) as move:
        harness.start("keyed")
        move(utc(2024, 5, 1, 1, 0))
        harness.loop.run_iteration(harness.context)
        move(utc(2024, 5, 1, 2, 0))
        harness.loop.run_iteration(harness.context)
    ticks = harness.ticks("keyed")
    assert [list(t.run_keys) for t in ticks] == [["same-every-tick", "hour-01"], ["same-every-tick", "hour-02"]]
    runs = harness.runs("keyed")
    assert len(runs) == 4
    assert sorted(r.tags["dagster/run_key"] for r in runs) == ["hour-01", "hour-02", "same-every-tick", "same-every-tick"]


def test_a_started_tick_is_resumed_without_duplicate_runs(harness):
    """The daemon died after the tick's first run: the tick is STARTED and the
    state's cursor is behind. The next iteration finishes that same tick."""
    with clock.clock_at(utc(2024, 5, 1, 0, 30)) as move:
        harness.start("keyed")
        move(utc(2024, 5, 1, 1, 0))
        harness.loop.run_iteration(harness.context)
        (done,) = harness.ticks("keyed")
        # Rewind to "mid-tick": the tick STARTED again, one of its runs made, the cursor not stored.
        harness.instance.update_tick(done.with_status(TickStatus.STARTED, run_ids=(), run_keys=(), end_timestamp=None))
        state = harness.instance.get_instigator_state(harness.sid("keyed"))
        harness.instance.add_instigator_state(state.with_data(last_tick_timestamp=None))
        second = harness.runs("keyed")[1]
        harness.instance.delete_run(second.run_id)
        before = {r.run_id for r in harness.runs("keyed")}
        assert len(before) == 1
        move(utc(2024, 5, 1, 1, 20))
        ScheduleLoop().run_iteration(harness.context)  # a new daemon process
    (tick,) = harness.ticks("keyed")
    assert tick.tick_id == done.tick_id
    assert tick.status is TickStatus.SUCCESS
    runs = harness.runs("keyed")
    assert len(runs) == 2
    assert before <= {r.run_id for r in runs}
    assert set(tick.run_ids) == {r.run_id for r in runs}


def test_partitioned_schedule_requests_the_latest_partition(harness):
    with clock.clock_at(utc(2024, 5, 1, 12)) as move:
        harness.start("daily_partitions")
        move(utc(2024, 5, 3, 0, 5))
        harness.loop.run_iteration(harness.context)
    ticks = harness.ticks("daily_partitions")
    assert _stamps(ticks) == [utc(2024, 5, 2), utc(2024, 5, 3)]
    runs = harness.runs("daily_partitions")
    assert [r.tags["dagster/partition"] for r in runs] == ["2024-05-01", "2024-05-02"]
    assert [r.tags["dagster/run_key"] for r in runs] == ["2024-05-01", "2024-05-02"]


def test_preview_evaluates_without_storing(harness):
    schedule = harness.defs.get_schedule_def("keyed")
    with clock.clock_at(utc(2024, 5, 1, 0, 30)):
        found = preview_schedule(harness.instance, harness.defs, schedule, count=2)
        bad = preview_schedule(harness.instance, harness.defs, harness.defs.get_schedule_def("bad_config"), count=1)
    assert [e.scheduled_time.timestamp() for e in found] == [utc(2024, 5, 1, 1).timestamp(), utc(2024, 5, 1, 2).timestamp()]
    assert [r.run_key for r in found[0].run_requests] == ["same-every-tick", "hour-01"]
    assert "ops:counted:config:n" in bad[0].error["message"]
    assert harness.instance.get_ticks(harness.sid("keyed")) == []
    assert harness.instance.get_runs() == []
    assert harness.instance.get_instigator_state(harness.sid("keyed")) is None


def test_stop_between_iterations_is_seen_by_the_running_loop(harness):
    with clock.clock_at(utc(2024, 5, 1, 0, 30)) as move:
        harness.start("hourly")
        move(utc(2024, 5, 1, 1, 0))
        harness.loop.run_iteration(harness.context)
        stop_schedule(harness.instance, harness.location.name, harness.defs.get_schedule_def("hourly"))
        move(utc(2024, 5, 1, 3, 0))
        harness.loop.run_iteration(harness.context)
    assert len(harness.ticks("hourly")) == 1


THOUSAND = '''
from oprun import Definitions, ScheduleDefinition, DefaultScheduleStatus, job, op

@op
def noop():
    return 1

@job
def plain_job():
    noop()

defs = Definitions(jobs=[plain_job], schedules=[
    ScheduleDefinition(name=f"s{i}", cron_schedule=f"{i % 60} {i % 24} * * *", job=plain_job,
                       default_status=DefaultScheduleStatus.RUNNING)
    for i in range(1000)
])
'''


def test_a_thousand_schedules_with_nothing_due_cost_little(tmp_path):
    path = tmp_path / "thousand.py"
    path.write_text(THOUSAND)
    harness = Harness(tmp_path / "home", path=str(path))
    with clock.clock_at(utc(2024, 5, 1, 0, 0, 30)) as move:
        harness.loop.run_iteration(harness.context)  # first seen: 1,000 states stored
        timings = []
        for second in range(31, 36):
            move(utc(2024, 5, 1, 0, 0, second))
            started = time.perf_counter()
            assert harness.loop.run_iteration(harness.context) is None
            timings.append(time.perf_counter() - started)
    assert min(timings) < 0.25, timings


def test_a_schedule_whose_job_is_missing_is_a_failure_naming_it(harness):
    from oprun import Definitions, ScheduleDefinition
    from oprun.daemon.schedules import evaluate_schedule

    orphan = ScheduleDefinition(name="orphan", cron_schedule="0 * * * *", job_name="gone_job")
    only_plain = Definitions(jobs=[harness.defs.get_job_def("plain_job")])
    evaluation = evaluate_schedule(harness.instance, only_plain, orphan, utc(2024, 5, 1, 1))
    assert evaluation.run_requests == []
    assert "Schedule 'orphan' targets job 'gone_job', which is not in its code location" in evaluation.error["message"]


def test_resuming_a_tick_without_run_keys_finds_its_run_by_the_tick_key(harness):
    with clock.clock_at(utc(2024, 5, 1, 0, 30)) as move:
        harness.start("hourly")
        move(utc(2024, 5, 1, 1, 0))
        harness.loop.run_iteration(harness.context)
        (done,) = harness.ticks("hourly")
        harness.instance.update_tick(done.with_status(TickStatus.STARTED, run_ids=(), end_timestamp=None))
        state = harness.instance.get_instigator_state(harness.sid("hourly"))
        harness.instance.add_instigator_state(state.with_data(last_tick_timestamp=None))
        move(utc(2024, 5, 1, 1, 30))
        ScheduleLoop().run_iteration(harness.context)
    (tick,) = harness.ticks("hourly")
    (run,) = harness.runs("hourly")
    assert tick.status is TickStatus.SUCCESS and list(tick.run_ids) == [run.run_id]
    assert run.tags["oprun/schedule_tick_key"] == "2024-05-01T01:00:00+00:00:0"


def test_a_stopping_daemon_evaluates_nothing_more(harness):
    with clock.clock_at(utc(2024, 5, 1, 0, 30)) as move:
        harness.start("hourly")
        move(utc(2024, 5, 1, 3, 0))
        harness.context.stopping.set()
        assert harness.loop.run_iteration(harness.context) is None
    assert harness.ticks("hourly") == []


def test_a_list_of_cron_strings_ticks_at_each_of_them(harness):
    with clock.clock_at(utc(2024, 5, 1, 9, 0)) as move:
        harness.start("two_crons")
        move(utc(2024, 5, 1, 10, 50))
        harness.loop.run_iteration(harness.context)
    assert _stamps(harness.ticks("two_crons")) == [utc(2024, 5, 1, 9, 15), utc(2024, 5, 1, 9, 45), utc(2024, 5, 1, 10, 15), utc(2024, 5, 1, 10, 45)]
    assert len(harness.runs("two_crons")) == 4


def test_a_schedule_returning_a_run_config_object_launches_with_it(harness):
    with clock.clock_at(utc(2024, 5, 1, 9, 30)) as move:
        harness.start("run_config_schedule")
        move(utc(2024, 5, 1, 10, 0, 1))
        harness.loop.run_iteration(harness.context)
    [run] = harness.runs("run_config_schedule")
    assert run.run_config == {"ops": {"greet": {"config": {"name": "10"}}}}
    assert [t.status for t in harness.ticks("run_config_schedule")] == [TickStatus.SUCCESS]

