"""One conformance suite for the daemon's records on every backend (memory, a
SQLite file, PostgreSQL): schedule and sensor state, ticks and their filters,
heartbeats, backfills, and leases that two claimants never both hold."""

import threading

import pytest

from oprun import DagsterInvariantViolationError
from oprun.instigation import (
    BulkActionStatus,
    DaemonHeartbeat,
    InstigatorState,
    InstigatorStatus,
    InstigatorTick,
    InstigatorType,
    PartitionBackfill,
    TickStatus,
    instigator_id,
)


def _state(name="nightly", kind=InstigatorType.SCHEDULE, status=InstigatorStatus.RUNNING, **data):
    return InstigatorState(instigator_id("jobs.py", name), name, "jobs.py", kind, status, data)


def _tick(state, timestamp, status=TickStatus.STARTED):
    return InstigatorTick(0, state.id, state.name, state.instigator_type, status, timestamp)


def test_instigator_state_is_saved_replaced_listed_and_deleted(instance):
    schedule = instance.add_instigator_state(_state(start_timestamp=10.0))
    sensor = instance.add_instigator_state(_state("watch", InstigatorType.SENSOR, InstigatorStatus.STOPPED, cursor="7"))
    assert instance.get_instigator_state(schedule.id) == schedule
    assert schedule.update_timestamp > 0
    assert instance.get_instigator_state(sensor.id).cursor == "7"
    instance.update_instigator_state(sensor.with_status(InstigatorStatus.RUNNING).with_data(cursor="8"))
    again = instance.get_instigator_state(sensor.id)
    assert again.status is InstigatorStatus.RUNNING and again.data == {"cursor": "8"}
    assert [s.name for s in instance.all_instigator_state()] == ["nightly", "watch"]
    assert [s.name for s in instance.all_instigator_state(InstigatorType.SENSOR)] == ["watch"]
    instance.delete_instigator_state(schedule.id)
    assert instance.get_instigator_state(schedule.id) is None
    assert instance.get_instigator_state("jobs.py:nope") is None


def test_ticks_get_ids_are_updated_and_read_newest_first_with_filters(instance):
    state = _state()
    other = _state("other")
    first = instance.create_tick(_tick(state, 100.0))
    second = instance.create_tick(_tick(state, 200.0))
    instance.create_tick(_tick(other, 150.0))
    assert first.tick_id and second.tick_id and first.tick_id != second.tick_id
    done = instance.update_tick(
        first.with_status(TickStatus.FAILURE, error={"message": "boom", "traceback": "Traceback ...", "class": "ValueError"})
    )
    instance.update_tick(second.with_run("run-1", "key-1").with_status(TickStatus.SUCCESS, cursor="c2"))
    ticks = instance.get_ticks(state.id)
    assert [t.timestamp for t in ticks] == [200.0, 100.0]
    assert ticks[0].run_ids == ("run-1",) and ticks[0].run_keys == ("key-1",) and ticks[0].cursor == "c2"
    assert ticks[1] == done
    assert [t.timestamp for t in instance.get_ticks(state.id, before=200.0)] == [100.0]
    assert [t.timestamp for t in instance.get_ticks(state.id, after=100.0)] == [200.0]
    assert [t.timestamp for t in instance.get_ticks(state.id, limit=1)] == [200.0]
    assert [t.status for t in instance.get_ticks(state.id, statuses=[TickStatus.FAILURE])] == [TickStatus.FAILURE]
    assert instance.get_ticks("jobs.py:never") == []


def test_heartbeats_keep_the_latest_per_daemon_type(instance):
    instance.add_daemon_heartbeat(DaemonHeartbeat("SCHEDULER", "d1", 1.0, "2 schedules"))
    instance.add_daemon_heartbeat(DaemonHeartbeat("SCHEDULER", "d1", 2.0, "3 schedules", ("Traceback ...",)))
    instance.add_daemon_heartbeat(DaemonHeartbeat("SENSOR", "d1", 2.0))
    beats = instance.get_daemon_heartbeats()
    assert set(beats) == {"SCHEDULER", "SENSOR"}
    assert beats["SCHEDULER"].timestamp == 2.0 and beats["SCHEDULER"].info == "3 schedules"
    assert beats["SCHEDULER"].errors == ("Traceback ...",)
    assert not instance.daemon_is_alive("SCHEDULER")  # beat at t=2.0, decades ago
    instance.wipe_daemon_heartbeats()
    assert instance.get_daemon_heartbeats() == {}


def test_backfills_are_stored_updated_and_listed_newest_first(instance):
    first = PartitionBackfill("aaaaaaaa", "job", "jobs.py", ("a", "b"), BulkActionStatus.REQUESTED, 1.0, tags={"t": "1"})
    second = PartitionBackfill("bbbbbbbb", "job", "jobs.py", ("c",), BulkActionStatus.REQUESTED, 2.0)
    instance.add_backfill(first)
    instance.add_backfill(second)
    with pytest.raises(DagsterInvariantViolationError, match="already exists"):
        instance.add_backfill(first)
    instance.update_backfill(first.with_run("a", "run-a").with_status(BulkActionStatus.CANCELING))
    stored = instance.get_backfill("aaaaaaaa")
    assert stored.run_ids == {"a": "run-a"} and stored.pending_partitions == ["b"] and stored.tags == {"t": "1"}
    assert [b.backfill_id for b in instance.get_backfills()] == ["bbbbbbbb", "aaaaaaaa"]
    assert [b.backfill_id for b in instance.get_backfills(status=BulkActionStatus.CANCELING)] == ["aaaaaaaa"]
    assert [b.backfill_id for b in instance.get_backfills(limit=1)] == ["bbbbbbbb"]
    assert instance.get_backfill("zzzzzzzz") is None


def test_a_lease_is_held_by_one_owner_until_it_expires_or_is_released(instance):
    leases = instance.automation_storage
    assert leases.claim_lease("daemon", "a", now=100.0, duration=10.0)
    assert leases.claim_lease("daemon", "a", now=105.0, duration=10.0)  # renewed
    assert not leases.claim_lease("daemon", "b", now=110.0, duration=10.0)  # a's runs to 115
    assert leases.get_lease("daemon") == ("a", 115.0)
    assert leases.claim_lease("daemon", "b", now=115.0, duration=10.0)  # expired: b takes it
    assert not leases.claim_lease("daemon", "a", now=116.0, duration=10.0)
    assert leases.claim_lease("daemon", "c", now=117.0, duration=10.0, replacing="b")  # b is known dead
    leases.release_lease("daemon", "b")  # not b's any more: nothing happens
    assert leases.get_lease("daemon") == ("c", 127.0)
    leases.release_lease("daemon", "c")
    assert leases.get_lease("daemon") is None


def test_concurrent_claims_of_a_free_lease_have_exactly_one_winner(instance):
    leases = instance.automation_storage
    results: dict[str, bool] = {}
    start = threading.Barrier(8)

    def claim(owner: str) -> None:
        start.wait()
        results[owner] = leases.claim_lease("race", owner, now=1000.0, duration=60.0)

    threads = [threading.Thread(target=claim, args=(f"owner-{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [owner for owner, won in results.items() if won]
    assert len(winners) == 1, results
    assert leases.get_lease("race")[0] == winners[0]
