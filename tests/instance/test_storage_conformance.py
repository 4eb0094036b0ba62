"""One conformance suite for every storage backend: runs, statuses, filters,
cursors, snapshots, events and their cursor API, deletion and pruning."""

import logging
import time
from datetime import datetime, timedelta, timezone

import pytest

from oprun import DagsterEventType, DagsterInvariantViolationError, DagsterRun, DagsterRunStatus, RunsFilter
from oprun.events import (
    DagsterEvent,
    EventLogEntry,
    SerializableErrorInfo,
    StepFailureData,
    StepOutputData,
    TypeCheckData,
    UserFailureData,
)


def _run(job="job_a", **kw):
    return DagsterRun(job_name=job, **kw)


def _event(run, kind, step_key=None, data=None):
    event = DagsterEvent(kind, run.job_name, step_key, step_key, data, f"{kind} happened", 1)
    level = logging.ERROR if kind.endswith("FAILURE") else logging.DEBUG
    return EventLogEntry(run.run_id, time.time(), level, event.message, run.job_name, step_key, None, event)


def test_create_get_and_duplicate_runs(instance):
    run = instance.create_run(_run(tags={"team": "a"}, run_config={"ops": {"x": {"config": 1}}}), {"name": "job_a", "nodes": [1]})
    stored = instance.get_run_by_id(run.run_id)
    assert stored.tags == {"team": "a"} and stored.run_config == {"ops": {"x": {"config": 1}}}
    assert stored.status == DagsterRunStatus.NOT_STARTED
    assert instance.get_job_snapshot(stored.job_snapshot_id) == {"name": "job_a", "nodes": [1]}
    again = instance.create_run(_run(), {"name": "job_a", "nodes": [1]})
    assert again.job_snapshot_id == stored.job_snapshot_id  # deduplicated by hash
    with pytest.raises(DagsterInvariantViolationError, match="already exists"):
        instance.create_run(_run(run_id=run.run_id))
    assert instance.get_run_by_id("nope") is None


def test_run_events_move_statuses_and_finished_runs_stay_finished(instance):
    run = instance.create_run(_run())
    instance.handle_new_events([_event(run, "RUN_START"), _event(run, "STEP_START", "a")])
    record = instance.get_run_record_by_id(run.run_id)
    assert record.dagster_run.status == DagsterRunStatus.STARTED and record.start_time is not None
    instance.handle_new_event(_event(run, "RUN_SUCCESS"))
    assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.SUCCESS
    instance.handle_new_event(_event(run, "RUN_FAILURE"))
    instance.update_run_status(run.run_id, DagsterRunStatus.STARTED)
    instance.report_run_failed(run, "late")
    record = instance.get_run_record_by_id(run.run_id)
    assert record.dagster_run.status == DagsterRunStatus.SUCCESS and record.end_time is not None


def test_filters_cursor_and_limit(instance):
    made = []
    for i in range(6):
        run = instance.create_run(_run("job_a" if i % 2 else "job_b", tags={"i": str(i), "kind": "even" if i % 2 == 0 else "odd"}))
        made.append(run)
    instance.handle_new_event(_event(made[0], "RUN_START"))
    instance.handle_new_event(_event(made[0], "RUN_FAILURE"))
    ids = [r.run_id for r in instance.get_runs()]
    assert ids == [r.run_id for r in reversed(made)]
    assert [r.run_id for r in instance.get_runs(limit=2)] == ids[:2]
    assert [r.run_id for r in instance.get_runs(cursor=ids[1], limit=2)] == ids[2:4]
    assert {r.job_name for r in instance.get_runs(RunsFilter(job_name="job_a"))} == {"job_a"}
    assert [r.run_id for r in instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.FAILURE]))] == [made[0].run_id]
    assert len(instance.get_runs(RunsFilter(tags={"kind": "odd"}))) == 3
    assert len(instance.get_runs(RunsFilter(tags={"i": ["1", "2"]}))) == 2
    assert len(instance.get_runs(RunsFilter(tags={"kind": "odd", "i": "3"}))) == 1
    assert instance.get_runs_count(RunsFilter(job_name="job_b")) == 3
    assert instance.get_runs(RunsFilter(run_ids=[made[2].run_id]))[0].run_id == made[2].run_id
    future = datetime.now(timezone.utc) + timedelta(hours=1)
    assert len(instance.get_runs(RunsFilter(created_before=future))) == 6
    assert instance.get_runs(RunsFilter(created_after=future)) == []
    records = instance.get_run_records(limit=1, ascending=True)
    assert records[0].dagster_run.run_id == made[0].run_id


def test_tags_delete_and_events(instance):
    run = instance.create_run(_run(tags={"a": "1"}))
    instance.add_run_tags(run.run_id, {"a": "2", "b": "3"})
    assert instance.get_run_by_id(run.run_id).tags == {"a": "2", "b": "3"}
    instance.handle_new_events([_event(run, "RUN_START"), _event(run, "STEP_START", "x")])
    assert len(instance.all_logs(run.run_id)) == 2
    instance.delete_run(run.run_id)
    assert instance.get_run_by_id(run.run_id) is None
    assert instance.all_logs(run.run_id) == []


def test_every_payload_round_trips(instance):
    run = instance.create_run(_run())
    try:
        try:
            raise ValueError("inner")
        except ValueError as inner:
            raise RuntimeError("outer") from inner
    except RuntimeError as exc:
        error = SerializableErrorInfo.from_exception(exc)
    failure = StepFailureData(error, UserFailureData("why", {"k": 1}), "USER_CODE_ERROR")
    output = StepOutputData("result", "key", TypeCheckData(True, "result", None, {}), {})
    instance.handle_new_events([_event(run, "STEP_FAILURE", "a", failure), _event(run, "STEP_OUTPUT", "a", output)])
    logs = instance.all_logs(run.run_id)
    stored_failure = logs[0].dagster_event.step_failure_data
    assert stored_failure.error.cls_name == "RuntimeError" and stored_failure.error.cause.message.startswith("ValueError")
    assert stored_failure.user_failure_data.description == "why"
    assert logs[1].dagster_event.step_output_data.mapping_key == "key"
    assert logs[0].dagster_event.event_type == DagsterEventType.STEP_FAILURE
    only_outputs = instance.all_logs(run.run_id, of_type=DagsterEventType.STEP_OUTPUT)
    assert len(only_outputs) == 1


def test_cursor_api_for_live_surfaces(instance):
    run = instance.create_run(_run())
    instance.handle_new_events([_event(run, "STEP_START", f"s{i}") for i in range(5)])
    first = instance.get_records_for_run(run.run_id, limit=2)
    assert len(first.records) == 2 and first.has_more
    rest = instance.get_records_for_run(run.run_id, cursor=first.cursor)
    assert [r.event_log_entry.step_key for r in rest.records] == ["s2", "s3", "s4"] and not rest.has_more
    nothing_new = instance.get_records_for_run(run.run_id, cursor=rest.cursor)
    assert nothing_new.records == [] and nothing_new.cursor == rest.cursor


def test_prune_deletes_old_finished_runs(instance):
    old = instance.create_run(_run())
    instance.handle_new_events([_event(old, "RUN_START"), _event(old, "RUN_SUCCESS")])
    running = instance.create_run(_run())
    instance.handle_new_event(_event(running, "RUN_START"))
    assert instance.prune_runs(timedelta(days=1)) == []
    assert instance.prune_runs(timedelta(seconds=-60)) == [old.run_id]
    assert instance.get_run_by_id(old.run_id) is None
    assert instance.get_run_by_id(running.run_id) is not None


@pytest.mark.parametrize("common_above", [3, 1000])
def test_tag_filter_pages_and_counts_for_common_and_rare_tags(instance, monkeypatch, common_above):
    # A page of a common tag and of a rare one are written differently on SQL
    # storages (sql.COMMON_TAG_RUNS): both must give the same runs, newest first.
    from oprun.instance import sql

    monkeypatch.setattr(sql, "COMMON_TAG_RUNS", common_above)
    made = [instance.create_run(_run(tags={"team": "a" if i % 2 else "b", "every": "x", **({"rare": "y"} if i == 3 else {})})) for i in range(12)]
    newest_first = [r.run_id for r in reversed(made)]
    team = {r.run_id: r.tags["team"] for r in made}
    for tags, expected in (
        ({"every": "x"}, newest_first),
        ({"team": "a"}, [r for r in newest_first if team[r] == "a"]),
        ({"team": ["a", "b"]}, newest_first),
        ({"rare": "y"}, [made[3].run_id]),
        ({"every": "x", "team": "b"}, [r for r in newest_first if team[r] == "b"]),
    ):
        flt = RunsFilter(tags=tags)
        assert [r.run_id for r in instance.get_runs(flt, limit=4)] == expected[:4], tags
        if len(expected) > 1:
            assert [r.run_id for r in instance.get_runs(flt, cursor=expected[1], limit=3)] == expected[2:5], tags
        assert instance.get_runs_count(flt) == len(expected), tags
    instance.delete_run(made[0].run_id)  # a deleted run's tags go with it
    assert instance.get_runs_count(RunsFilter(tags={"every": "x"})) == len(made) - 1
    assert instance.get_runs_count(RunsFilter(tags={"every": "x"}, job_name="elsewhere")) == 0
