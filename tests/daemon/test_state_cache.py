"""The loops' copy of schedule and sensor state: after the first full read, a
refresh reads what was stored since the previous one (however long ago that
was), and everything again after FULL_SECONDS (a deletion)."""

import time

from oprun import DagsterInstance
from oprun.daemon.base import StateCache
from oprun.instigation import InstigatorState, InstigatorStatus, InstigatorType, instigator_id


def _state(name: str, **data) -> InstigatorState:
    return InstigatorState(instigator_id("jobs.py", name), name, "jobs.py", InstigatorType.SENSOR, InstigatorStatus.RUNNING, data)


def test_a_refresh_sees_every_write_since_the_previous_one_however_long_ago(tmp_path):
    with DagsterInstance.from_directory(str(tmp_path / "home")) as instance:
        instance.add_instigator_state(_state("a", cursor="1"))
        wall = [time.time()]
        cache = StateCache(InstigatorType.SENSOR, wallclock=lambda: wall[0])
        assert cache.refresh(instance)["jobs.py:a"].cursor == "1"  # the first read is a full one
        instance.add_instigator_state(_state("a", cursor="2"))
        instance.add_instigator_state(_state("b"))
        wall[0] += 20  # the next refresh comes long after the writes (a long tick in between)
        states = cache.refresh(instance)
        assert states["jobs.py:a"].cursor == "2" and "jobs.py:b" in states


def test_an_idle_refresh_reads_nothing_and_a_full_one_forgets_deleted_states(tmp_path):
    with DagsterInstance.from_directory(str(tmp_path / "home")) as instance:
        instance.add_instigator_state(_state("a"))
        instance.add_instigator_state(_state("b"))
        wall = [time.time()]
        cache = StateCache(InstigatorType.SENSOR, wallclock=lambda: wall[0])
        assert set(cache.refresh(instance)) == {"jobs.py:a", "jobs.py:b"}
        calls = []
        original = instance.all_instigator_state

        def counting(instigator_type=None, updated_after=None):
            found = original(instigator_type, updated_after)
            calls.append((updated_after, len(found)))
            return found

        instance.all_instigator_state = counting
        wall[0] += StateCache.MARGIN_SECONDS + 1
        cache.refresh(instance)  # reads what changed since the last refresh, less the margin: both writes, once
        wall[0] += StateCache.MARGIN_SECONDS + 1
        cache.refresh(instance)
        assert calls[-1] == (wall[0] - 2 * StateCache.MARGIN_SECONDS - 1, 0)  # idle: nothing read
        instance.delete_instigator_state("jobs.py:b")
        wall[0] += StateCache.FULL_SECONDS
        assert set(cache.refresh(instance)) == {"jobs.py:a"}
        assert calls[-1] == (None, 1)
