"""The backfill loop, in process, on a real SQLite instance whose run coordinator
queues runs (no process starts): choosing partitions, one queued run per
partition with its tags and config, chunks over iterations, no duplicate after
a crash, canceling, and the final status once the runs finish."""

from pathlib import Path

import pytest

from oprun import DagsterInstance, DagsterRunStatus
from oprun.daemon.backfills import (
    BACKFILL_ID_TAG,
    PARTITION_NAME_TAG,
    BackfillLoop,
    cancel_backfill_runs,
    create_backfill,
    find_backfill,
    job_partition_keys,
    partition_run_config_and_tags,
    partition_statuses,
    request_cancel,
    select_partitions,
    status_counts,
)
from oprun.daemon.base import DaemonContext, Workspace, create_run
from oprun.errors import DagsterInvariantViolationError, DagsterUnknownPartitionError
from oprun.events import DagsterEventType
from oprun.instigation import BulkActionStatus, PartitionBackfill
from oprun.loading import locations_from_args
from oprun.runs import RunsFilter

FIXTURE = str(Path(__file__).resolve().parents[1] / "fixtures" / "daemon_backfill_jobs.py")
QUEUED = {"run_coordinator": {"module": "oprun.execution.coordinator", "class": "QueuedRunCoordinator"}}
COLORS = ["red", "green", "blue", "yellow"]


@pytest.fixture
def instance(tmp_path):
    instance = DagsterInstance.from_directory(str(tmp_path / "home"), overrides=QUEUED)
    yield instance
    instance.dispose()


@pytest.fixture
def workspace():
    return Workspace(locations_from_args(python_files=[FIXTURE]))


@pytest.fixture
def context(instance, workspace):
    return DaemonContext(instance=instance, workspace=workspace, daemon_id="test-backfills")


def _job(workspace, name):
    location = workspace.locations[0]
    return location, location.load().resolve_job_def(name)


def _backfill(instance, workspace, job_name, tags=None, run_config=None, **select):
    location, job_def = _job(workspace, job_name)
    keys = select_partitions(job_name, job_partition_keys(job_def, instance), **select)
    return create_backfill(instance, location, job_def, keys, tags=tags, run_config=run_config)


def _runs(instance, backfill_id):
    return instance.get_runs(RunsFilter(tags={BACKFILL_ID_TAG: backfill_id}))


# -- choosing partitions --


def test_partitions_chosen_by_list_range_or_all(workspace, instance):
    _, colors = _job(workspace, "colors_job")
    keys = job_partition_keys(colors, instance)
    assert keys == COLORS
    # A list is kept in the partitions' order (as Dagster's CLI), without repeats.
    assert select_partitions("colors_job", keys, partitions=["blue", "red", "blue"]) == ["red", "blue"]
    assert select_partitions("colors_job", keys, from_key="green", to_key="yellow") == ["green", "blue", "yellow"]
    assert select_partitions("colors_job", keys, from_key="blue") == ["blue", "yellow"]
    assert select_partitions("colors_job", keys, to_key="green") == ["red", "green"]
    assert select_partitions("colors_job", keys, all_partitions=True) == COLORS
    assert select_partitions("colors_job", keys) == COLORS
    _, daily = _job(workspace, "daily_job")
    days = job_partition_keys(daily, instance)
    assert select_partitions("daily_job", days, from_key="2024-01-02", to_key="2024-01-04") == ["2024-01-02", "2024-01-03", "2024-01-04"]


def test_bad_choices_are_clear_errors(workspace, instance):
    _, colors = _job(workspace, "colors_job")
    keys = job_partition_keys(colors, instance)
    with pytest.raises(DagsterUnknownPartitionError, match=r"Unknown partition 'gren'.*Did you mean 'green'\?"):
        select_partitions("colors_job", keys, partitions=["red", "gren"])
    with pytest.raises(DagsterUnknownPartitionError, match=r"'purple' \(--to\)"):
        select_partitions("colors_job", keys, to_key="purple")
    with pytest.raises(DagsterInvariantViolationError, match="comes after"):
        select_partitions("colors_job", keys, from_key="yellow", to_key="red")
    with pytest.raises(DagsterInvariantViolationError, match="one way"):
        select_partitions("colors_job", keys, partitions=["red"], all_partitions=True)
    _, plain = _job(workspace, "unpartitioned_job")
    with pytest.raises(DagsterInvariantViolationError, match="'unpartitioned_job' is not partitioned"):
        job_partition_keys(plain, instance)
    _, regions = _job(workspace, "regions_job")
    with pytest.raises(DagsterInvariantViolationError, match="dynamic partitions named 'regions'"):
        job_partition_keys(regions, instance)


def test_backfill_is_stored_requested_with_the_job_origin(workspace, instance):
    backfill = _backfill(instance, workspace, "colors_job", tags={"team": "paint"}, partitions=["red", "blue"])
    stored = instance.get_backfill(backfill.backfill_id)
    assert stored == backfill
    assert len(backfill.backfill_id) == 8 and backfill.backfill_id.isalpha() and backfill.backfill_id.islower()
    assert stored.status is BulkActionStatus.REQUESTED
    assert stored.partition_names == ("red", "blue") and stored.run_ids == {}
    assert stored.location_name == "daemon_backfill_jobs.py"
    assert stored.job_origin["python_file"] == FIXTURE and stored.job_origin["job_name"] == "colors_job"
    assert not _runs(instance, backfill.backfill_id)  # the daemon makes the runs
    with pytest.raises(DagsterInvariantViolationError, match=r"No backfill with id 'zzzzzzzz'"):
        find_backfill(instance, "zzzzzzzz")
    with pytest.raises(DagsterInvariantViolationError, match=rf"Did you mean '{backfill.backfill_id}'"):
        find_backfill(instance, backfill.backfill_id[:-1] + ("a" if backfill.backfill_id[-1] != "a" else "b"))


# -- the loop --


def test_one_queued_run_per_partition_with_tags_and_config(workspace, instance, context):
    backfill = _backfill(instance, workspace, "colors_job", tags={"team": "paint"}, partitions=["green", "yellow"])
    summary = BackfillLoop().run_iteration(context)
    assert summary and backfill.backfill_id in summary
    runs = _runs(instance, backfill.backfill_id)
    assert len(runs) == 2
    stored = instance.get_backfill(backfill.backfill_id)
    by_partition = {run.tags[PARTITION_NAME_TAG]: run for run in runs}
    assert set(by_partition) == {"green", "yellow"}
    assert stored.run_ids == {key: run.run_id for key, run in by_partition.items()}
    for key, run in by_partition.items():
        assert run.status is DagsterRunStatus.QUEUED
        assert run.job_name == "colors_job"
        assert run.tags[BACKFILL_ID_TAG] == backfill.backfill_id
        assert run.tags["team"] == "paint" and run.tags["shade"] == key.upper()
        assert run.run_config == {"ops": {"paint": {"config": {"color": key}}}}
    assert stored.status is BulkActionStatus.REQUESTED  # its runs have not finished
    # Another iteration makes nothing more.
    BackfillLoop().run_iteration(context)
    assert len(_runs(instance, backfill.backfill_id)) == 2


def test_daily_partitions_get_their_window_config(workspace, instance, context):
    backfill = _backfill(instance, workspace, "daily_job", from_key="2024-01-03", to_key="2024-01-04")
    BackfillLoop().run_iteration(context)
    configs = {run.tags[PARTITION_NAME_TAG]: run.run_config for run in _runs(instance, backfill.backfill_id)}
    assert configs == {day: {"ops": {"load_day": {"config": {"day": day}}}} for day in ("2024-01-03", "2024-01-04")}


def test_run_config_of_the_backfill_is_merged_over_the_partition_config(workspace, instance):
    location, job_def = _job(workspace, "colors_job")
    backfill = create_backfill(instance, location, job_def, ["red"], run_config={"ops": {"paint": {"config": {"color": "black"}}}})
    config, tags = partition_run_config_and_tags(job_def, backfill, "red")
    assert config == {"ops": {"paint": {"config": {"color": "black"}}}}
    assert tags[PARTITION_NAME_TAG] == "red" and tags[BACKFILL_ID_TAG] == backfill.backfill_id


def test_runs_are_made_a_chunk_per_iteration(workspace, instance, context):
    backfill = _backfill(instance, workspace, "many_job", all_partitions=True)
    loop = BackfillLoop(chunk_size=25)
    counts = []
    for _ in range(4):
        loop.run_iteration(context)
        counts.append(len(instance.get_backfill(backfill.backfill_id).run_ids))
    assert counts == [25, 50, 60, 60]
    runs = _runs(instance, backfill.backfill_id)
    assert len(runs) == 60
    assert sorted(run.tags[PARTITION_NAME_TAG] for run in runs) == [f"p{i:02d}" for i in range(60)]
    # The first chunk is the first keys, in order.
    first = list(instance.get_backfill(backfill.backfill_id).run_ids)[:25]
    assert first == [f"p{i:02d}" for i in range(25)]


def test_a_run_made_before_a_crash_is_recorded_not_made_again(workspace, instance, context):
    location, job_def = _job(workspace, "colors_job")
    backfill = _backfill(instance, workspace, "colors_job", partitions=["red", "green", "blue"])
    # The loop died after making (and submitting) red's run, before recording it,
    # and after making green's run, before submitting it.
    for key, submit in (("red", True), ("green", False)):
        config, tags = partition_run_config_and_tags(job_def, backfill, key)
        run = create_run(instance, location, job_def, config, tags)
        if submit:
            instance.submit_run(run.run_id)
    made_before = {run.tags[PARTITION_NAME_TAG]: run.run_id for run in _runs(instance, backfill.backfill_id)}
    BackfillLoop().run_iteration(context)
    runs = _runs(instance, backfill.backfill_id)
    assert sorted(run.tags[PARTITION_NAME_TAG] for run in runs) == ["blue", "green", "red"]
    stored = instance.get_backfill(backfill.backfill_id)
    assert stored.run_ids["red"] == made_before["red"] and stored.run_ids["green"] == made_before["green"]
    assert {run.status for run in runs} == {DagsterRunStatus.QUEUED}  # green's was submitted now


def test_status_completes_once_every_run_finished(workspace, instance, context):
    good = _backfill(instance, workspace, "colors_job", partitions=["red", "green"])
    bad = _backfill(instance, workspace, "colors_job", partitions=["blue", "yellow"])
    loop = BackfillLoop()
    loop.run_iteration(context)
    good_runs = _runs(instance, good.backfill_id)
    bad_runs = _runs(instance, bad.backfill_id)
    instance.report_run_event(good_runs[0], DagsterEventType.RUN_SUCCESS, "done")
    instance.report_run_event(bad_runs[0], DagsterEventType.RUN_SUCCESS, "done")
    loop.run_iteration(context)
    assert instance.get_backfill(good.backfill_id).status is BulkActionStatus.REQUESTED  # a run is still queued
    instance.report_run_event(good_runs[1], DagsterEventType.RUN_SUCCESS, "done")
    instance.report_run_failed(bad_runs[1], "it broke")
    summary = loop.run_iteration(context)
    done_good = instance.get_backfill(good.backfill_id)
    done_bad = instance.get_backfill(bad.backfill_id)
    assert done_good.status is BulkActionStatus.COMPLETED_SUCCESS and done_good.end_timestamp is not None
    assert done_bad.status is BulkActionStatus.COMPLETED_FAILED
    assert "COMPLETED_SUCCESS" in summary and "COMPLETED_FAILED" in summary
    rows = partition_statuses(instance, done_bad)
    assert status_counts(rows) == {"SUCCESS": 1, "FAILURE": 1}
    assert loop.run_iteration(context) is None  # nothing left to do


def test_cancel_cancels_queued_runs_and_makes_no_more(workspace, instance, context):
    backfill = _backfill(instance, workspace, "many_job", all_partitions=True)
    loop = BackfillLoop(chunk_size=25)
    loop.run_iteration(context)
    first_run = _runs(instance, backfill.backfill_id)[-1]
    instance.report_run_event(first_run, DagsterEventType.RUN_SUCCESS, "done")
    assert request_cancel(instance, backfill.backfill_id).status is BulkActionStatus.CANCELING
    assert request_cancel(instance, backfill.backfill_id).status is BulkActionStatus.CANCELING  # again: unchanged
    summary = loop.run_iteration(context)
    assert summary == f"{backfill.backfill_id} canceled"
    stored = instance.get_backfill(backfill.backfill_id)
    assert stored.status is BulkActionStatus.CANCELED and stored.end_timestamp is not None
    runs = _runs(instance, backfill.backfill_id)
    assert len(runs) == 25
    assert sorted(run.status.value for run in runs) == ["CANCELED"] * 24 + ["SUCCESS"]
    loop.run_iteration(context)
    assert len(_runs(instance, backfill.backfill_id)) == 25
    counts = status_counts(partition_statuses(instance, stored))
    assert counts == {"SUCCESS": 1, "CANCELED": 24, "NOT_LAUNCHED": 35}
    with pytest.raises(DagsterInvariantViolationError, match="is CANCELED: only a backfill in progress"):
        request_cancel(instance, backfill.backfill_id)


def test_cancel_without_a_loop_finishes_in_one_pass(workspace, instance, context):
    backfill = _backfill(instance, workspace, "colors_job", all_partitions=True)
    BackfillLoop().run_iteration(context)
    canceling = request_cancel(instance, backfill.backfill_id)
    after = cancel_backfill_runs(instance, canceling)
    assert after.status is BulkActionStatus.CANCELED
    assert {run.status for run in _runs(instance, backfill.backfill_id)} == {DagsterRunStatus.CANCELED}


def test_stopping_makes_no_run(workspace, instance, context):
    backfill = _backfill(instance, workspace, "colors_job", all_partitions=True)
    context.stopping.set()
    assert BackfillLoop().run_iteration(context) is None
    assert not _runs(instance, backfill.backfill_id)


def test_a_location_outside_the_workspace_is_loaded_from_the_backfill_origin(workspace, instance):
    backfill = _backfill(instance, workspace, "colors_job", partitions=["red"])
    context = DaemonContext(instance=instance, workspace=Workspace([]), daemon_id="elsewhere")
    BackfillLoop().run_iteration(context)
    assert [run.tags[PARTITION_NAME_TAG] for run in _runs(instance, backfill.backfill_id)] == ["red"]


def test_a_job_gone_from_its_location_fails_the_backfill(workspace, instance, context):
    backfill = _backfill(instance, workspace, "colors_job", partitions=["red"])
    gone = PartitionBackfill.from_dict({**backfill.to_dict(), "backfill_id": "gonejobx", "job_name": "colours_job"})
    instance.add_backfill(gone)
    BackfillLoop().run_iteration(context)
    failed = instance.get_backfill("gonejobx")
    assert failed.status is BulkActionStatus.FAILED
    assert "colours_job" in failed.error and "Did you mean 'colors_job'" in failed.error
    assert not _runs(instance, "gonejobx")
    assert len(_runs(instance, backfill.backfill_id)) == 1  # the other backfill goes on


def test_a_cancel_stored_while_a_run_is_made_is_kept(workspace, instance, context, monkeypatch):
    backfill = _backfill(instance, workspace, "colors_job", all_partitions=True)
    submit = instance.submit_run

    def submit_then_cancel(run_id, *args):
        result = submit(run_id, *args)
        if instance.get_backfill(backfill.backfill_id).status is BulkActionStatus.REQUESTED:
            request_cancel(instance, backfill.backfill_id)  # `oprun backfill cancel`, between two writes of the loop
        return result

    monkeypatch.setattr(instance, "submit_run", submit_then_cancel)
    BackfillLoop().run_iteration(context)
    stored = instance.get_backfill(backfill.backfill_id)
    assert stored.status is BulkActionStatus.CANCELING and len(stored.run_ids) == 1
    assert len(_runs(instance, backfill.backfill_id)) == 1
    BackfillLoop().run_iteration(context)
    assert instance.get_backfill(backfill.backfill_id).status is BulkActionStatus.CANCELED
    assert len(_runs(instance, backfill.backfill_id)) == 1
