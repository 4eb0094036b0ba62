"""The run queue loop: max_concurrent_runs and tag_concurrency_limits hold as
runs finish, priority order, per-unique-value buckets, queued runs canceled,
launch failures, no run launched twice by two daemons, and one real launch."""

from __future__ import annotations

import threading

import pytest

from oprun import DagsterRunStatus
from oprun.daemon.base import DaemonContext, Workspace
from oprun.daemon.run_queue import RunQueueLoop
from oprun.events import DagsterEventType
from oprun.execution.execute_job import create_run_for_job
from oprun.execution.reconstruct import reconstructable
from oprun.instance import DagsterInstance
from oprun.runs import IN_PROGRESS_RUN_STATUSES, RunsFilter
from tests.fixtures import daemon_jobs
from tests.waiting import wait_for


def _queued_instance(home, **config):
    return DagsterInstance.from_directory(
        str(home),
        overrides={"run_coordinator": {"module": "oprun.execution.coordinator", "class": "QueuedRunCoordinator", "config": config}},
    )


@pytest.fixture
def make_instance(tmp_path):
    made = []

    def make(**config):
        instance = _queued_instance(tmp_path, **config)
        made.append(instance)
        return instance

    yield make
    for instance in made:
        instance.dispose()


class FakeLauncher:
    """Records launches and marks each run STARTED, as a run worker would."""

    def __init__(self, instance, fail_for=()):
        self.instance = instance
        self.launched: list[str] = []
        self.fail_for = set(fail_for)
        self._lock = threading.Lock()

    def launch_run(self, run_id):
        if run_id in self.fail_for:
            raise RuntimeError("no room for the run worker")
        with self._lock:
            self.launched.append(run_id)
        run = self.instance.get_run_by_id(run_id)
        self.instance.report_run_event(run, DagsterEventType.RUN_START, "Started (fake run worker).")


def _queue(instance, count=1, tags=None):
    recon = reconstructable(daemon_jobs.quick)
    job_def = recon.get_definition()
    ids = []
    for _ in range(count):
        run = create_run_for_job(recon, job_def, instance, tags=dict(tags or {}))
        assert instance.submit_run(run.run_id).status == DagsterRunStatus.QUEUED
        ids.append(run.run_id)
    return ids


def _context(instance):
    return DaemonContext(instance, Workspace([]), "test-daemon")


def _in_progress(instance):
    return [r.run_id for r in instance.get_runs(RunsFilter(statuses=list(IN_PROGRESS_RUN_STATUSES)))]


def _finish(instance, run_id, kind=DagsterEventType.RUN_SUCCESS):
    instance.report_run_event(instance.get_run_by_id(run_id), kind, "Finished (fake run worker).")


def _status(instance, run_id):
    return instance.get_run_by_id(run_id).status


def test_max_concurrent_runs_holds_as_runs_finish(make_instance):
    instance = make_instance(max_concurrent_runs=3)
    ids = _queue(instance, 50)
    launcher = FakeLauncher(instance)
    loop = RunQueueLoop(launcher=launcher)
    context = _context(instance)
    assert loop.run_iteration(context) == "50 queued, 3 launched, 3 in progress"
    assert launcher.launched == ids[:3]
    assert loop.run_iteration(context) == "47 queued, 0 launched, 3 in progress"
    finished = 0
    while finished < 50:
        # Finish one or two of the runs in progress, then let the queue refill.
        running = _in_progress(instance)
        assert 0 < len(running) <= 3
        for run_id in sorted(running)[: 1 + finished % 2]:
            _finish(instance, run_id, DagsterEventType.RUN_SUCCESS if finished % 3 else DagsterEventType.RUN_FAILURE)
            finished += 1
        loop.run_iteration(context)
        assert len(_in_progress(instance)) <= 3
    assert launcher.launched == ids  # each once, oldest first
    for run_id in ids:
        kinds = [e.dagster_event.event_type_value for e in instance.all_logs(run_id) if e.dagster_event]
        assert kinds[:4] == ["RUN_ENQUEUED", "RUN_DEQUEUED", "RUN_STARTING", "RUN_START"]


def test_priority_then_age(make_instance):
    instance = make_instance(max_concurrent_runs=1)
    low = _queue(instance, tags={"dagster/priority": "-1"})
    first_default, second_default = _queue(instance, 2)
    high = _queue(instance, tags={"dagster/priority": "5"})
    junk = _queue(instance, tags={"dagster/priority": "not a number"})  # counts as 0
    launcher = FakeLauncher(instance)
    loop = RunQueueLoop(launcher=launcher)
    context = _context(instance)
    for _ in range(5):
        loop.run_iteration(context)
        for run_id in _in_progress(instance):
            _finish(instance, run_id)
    assert launcher.launched == [*high, first_default, second_default, *junk, *low]


def test_tag_limits_key_value_and_per_unique_value(make_instance):
    instance = make_instance(
        max_concurrent_runs=-1,
        tag_concurrency_limits=[
            {"key": "team", "limit": 2},  # any value of "team": one bucket
            {"key": "db", "value": "pg", "limit": 1},  # only db=pg
            {"key": "dagster/backfill", "value": {"applyLimitPerUniqueValue": True}, "limit": 1},
        ],
    )
    team = _queue(instance, tags={"team": "a"}) + _queue(instance, tags={"team": "b"}) + _queue(instance, tags={"team": "c"})
    pg = _queue(instance, 2, tags={"db": "pg"})
    mysql = _queue(instance, 2, tags={"db": "mysql"})
    bf1 = _queue(instance, 2, tags={"dagster/backfill": "bf1"})
    bf2 = _queue(instance, 2, tags={"dagster/backfill": "bf2"})
    both = _queue(instance, tags={"db": "pg", "team": "d"})  # blocked by both of its buckets
    untagged = _queue(instance, 3)
    launcher = FakeLauncher(instance)
    loop = RunQueueLoop(launcher=launcher)
    context = _context(instance)
    loop.run_iteration(context)
    assert set(launcher.launched) == {*team[:2], pg[0], *mysql, bf1[0], bf2[0], *untagged}
    # A held-back run does not hold back those behind it: the untagged ones went.
    assert _status(instance, team[2]) == DagsterRunStatus.QUEUED
    assert _status(instance, both[0]) == DagsterRunStatus.QUEUED

    _finish(instance, team[0])
    loop.run_iteration(context)
    assert team[2] in launcher.launched and both[0] not in launcher.launched  # db=pg still full
    _finish(instance, pg[0])
    _finish(instance, bf1[0])
    loop.run_iteration(context)
    # team: team[1] and team[2] running, so `both` (team=d) still waits; pg[1] goes.
    assert pg[1] in launcher.launched and bf1[1] in launcher.launched and bf2[1] not in launcher.launched
    assert both[0] not in launcher.launched
    _finish(instance, team[1])
    _finish(instance, pg[1])
    loop.run_iteration(context)
    assert both[0] in launcher.launched
    assert len(launcher.launched) == len(set(launcher.launched))


def test_canceled_queued_run_is_never_launched(make_instance):
    instance = make_instance(max_concurrent_runs=1)
    first, second, third = _queue(instance, 3)
    assert instance.run_coordinator.cancel_run(second)
    assert _status(instance, second) == DagsterRunStatus.CANCELED
    launcher = FakeLauncher(instance)
    loop = RunQueueLoop(launcher=launcher)
    context = _context(instance)
    for _ in range(3):
        loop.run_iteration(context)
        for run_id in _in_progress(instance):
            _finish(instance, run_id)
    assert launcher.launched == [first, third]


def test_zero_launches_none_and_the_default_is_dagsters_ten(make_instance, tmp_path):
    instance = make_instance(max_concurrent_runs=0)
    _queue(instance, 12)
    launcher = FakeLauncher(instance)
    assert RunQueueLoop(launcher=launcher).run_iteration(_context(instance)) == "12 queued, 0 launched, 0 in progress"
    assert launcher.launched == []

    default = make_instance()
    loop = RunQueueLoop(launcher=FakeLauncher(default))
    assert loop.run_iteration(_context(default)) == "12 queued, 10 launched, 10 in progress"
    assert loop.interval_seconds == 0.25


def test_dequeue_interval_comes_from_the_settings(make_instance):
    instance = make_instance(dequeue_interval_seconds=2)
    loop = RunQueueLoop(launcher=FakeLauncher(instance))
    loop.run_iteration(_context(instance))
    assert loop.interval_seconds == 2.0


def test_a_failed_launch_fails_the_run_and_the_queue_goes_on(make_instance):
    instance = make_instance(max_concurrent_runs=2)
    bad, good = _queue(instance, 2)
    launcher = FakeLauncher(instance, fail_for=[bad])
    RunQueueLoop(launcher=launcher).run_iteration(_context(instance))
    assert launcher.launched == [good]
    assert _status(instance, bad) == DagsterRunStatus.FAILURE
    failure = instance.all_logs(bad, of_type=DagsterEventType.RUN_FAILURE)[-1]
    assert "could not be launched" in failure.message and "no room for the run worker" in failure.message


def test_stopping_ends_the_iteration_between_launches(make_instance):
    instance = make_instance(max_concurrent_runs=-1)
    _queue(instance, 3)
    context = _context(instance)

    class StopsAfterOne(FakeLauncher):
        def launch_run(self, run_id):
            super().launch_run(run_id)
            context.stopping.set()

    launcher = StopsAfterOne(instance)
    RunQueueLoop(launcher=launcher).run_iteration(context)
    assert len(launcher.launched) == 1


def test_two_daemons_never_launch_a_run_twice(make_instance):
    first = make_instance(max_concurrent_runs=-1)
    second = make_instance(max_concurrent_runs=-1)  # another process's view of the same home
    ids = _queue(first, 30)
    launched: list[str] = []
    lock = threading.Lock()
    errors = []

    class Shared(FakeLauncher):
        def launch_run(self, run_id):
            super().launch_run(run_id)
            with lock:
                launched.append(run_id)

    def daemon(instance):
        try:
            loop = RunQueueLoop(launcher=Shared(instance))
            for _ in range(5):
                loop.run_iteration(_context(instance))
        except Exception as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)

    threads = [threading.Thread(target=daemon, args=(inst,)) for inst in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors
    assert sorted(launched) == sorted(ids)


def test_two_daemons_keep_the_limit_together(make_instance):
    first = make_instance(max_concurrent_runs=3)
    second = make_instance(max_concurrent_runs=3)
    _queue(first, 20)
    barrier = threading.Barrier(2)
    errors = []

    def daemon(instance):
        try:
            loop = RunQueueLoop(launcher=FakeLauncher(instance))
            barrier.wait(30)
            for _ in range(10):
                loop.run_iteration(_context(instance))
        except Exception as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)

    threads = [threading.Thread(target=daemon, args=(inst,)) for inst in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors
    assert len(_in_progress(first)) == 3


def test_a_run_read_before_another_loop_launched_it_is_not_launched_again(make_instance):
    instance = make_instance(max_concurrent_runs=-1)
    (run_id,) = _queue(instance)
    stale = instance.get_run_by_id(run_id)  # read as QUEUED by a pass that then stalls
    first = FakeLauncher(instance)
    RunQueueLoop(launcher=first).run_iteration(_context(instance))
    late = FakeLauncher(instance)
    assert not RunQueueLoop(launcher=late).launch_if_queued(_context(instance), stale)
    assert first.launched == [run_id] and late.launched == []


def test_the_real_launcher_runs_a_dequeued_run_to_success(make_instance):
    instance = make_instance(max_concurrent_runs=1)
    (run_id,) = _queue(instance)
    loop = RunQueueLoop()
    assert loop.run_iteration(_context(instance)) == "1 queued, 1 launched, 1 in progress"
    assert instance.run_launcher.wait(run_id, timeout=120) == 0
    wait_for(lambda: _status(instance, run_id) == DagsterRunStatus.SUCCESS)
    kinds = [e.dagster_event.event_type_value for e in instance.all_logs(run_id) if e.dagster_event]
    assert kinds[:4] == ["RUN_ENQUEUED", "RUN_DEQUEUED", "RUN_STARTING", "RUN_START"]
    assert kinds[-1] == "RUN_SUCCESS"
