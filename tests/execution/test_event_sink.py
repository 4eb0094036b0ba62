"""The run's event sink: entries stored in order by a writer thread; step
boundaries wait for storage once the write lag has passed, run boundaries always;
a storage failure stops the run with a DagsterStorageError and leaves a prefix."""

import threading

import pytest

from oprun import DagsterInstance, DagsterStorageError, job, op
from oprun.events import DagsterEvent, EventLogEntry
from oprun.execution.execute_job import execute_job
from oprun.execution.reconstruct import reconstructable
from oprun.execution.sink import EventStorageFailed, InstanceSink


class _Storage:
    """An instance's event storage that records batches, and can be held shut."""

    is_ephemeral = False

    def __init__(self, fail_on_batch=None):
        self.batches = []
        self.open = threading.Event()
        self.open.set()
        self.fail_on_batch = fail_on_batch

    def handle_new_events(self, entries):
        assert self.open.wait(timeout=30), "the test never opened the storage"
        if self.fail_on_batch is not None and len(self.batches) + 1 >= self.fail_on_batch:
            raise DagsterStorageError("Storage error while storing events: database or disk is full")
        self.batches.append(list(entries))

    @property
    def stored(self):
        return [e for batch in self.batches for e in batch]


def _entry(kind, step_key=None, n=0):
    event = DagsterEvent(kind, "j", step_key, step_key, None, f"{kind} {n}", 1)
    return EventLogEntry("r", float(n), 10, f"{kind} {n}", "j", step_key, None, event)


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_step_boundaries_wait_only_once_the_lag_has_passed(monkeypatch):
    monkeypatch.setenv("OPRUN_EVENT_WRITE_LAG_MS", "50")
    storage, clock = _Storage(), _Clock()
    with InstanceSink(storage, clock=clock) as sink:
        start = _entry("RUN_START")
        sink.write(start)  # a run boundary: stored before write returns
        assert storage.stored == [start]
        storage.open.clear()
        step_start = _entry("STEP_START", "a", 1)
        sink.write(step_start)  # within the lag: returns while the storage is shut
        output = _entry("STEP_OUTPUT", "a", 2)
        sink.write(output)
        assert storage.stored == [start]
        storage.open.set()
        clock.now = 0.06  # the step ran longer than the lag
        success = _entry("STEP_SUCCESS", "a", 3)
        sink.write(success)  # waits: its step's end is stored before the next starts
        assert storage.stored == [start, step_start, output, success]
        sink.write(_entry("RUN_SUCCESS", n=4))
        assert len(storage.stored) == 5


def test_a_lag_of_zero_waits_at_every_step_boundary(monkeypatch):
    monkeypatch.setenv("OPRUN_EVENT_WRITE_LAG_MS", "0")
    storage = _Storage()
    with InstanceSink(storage, clock=_Clock()) as sink:
        for n, kind in enumerate(["RUN_START", "STEP_START", "STEP_OUTPUT", "STEP_SUCCESS"]):
            entry = _entry(kind, "a" if kind.startswith("STEP") else None, n)
            sink.write(entry)
            if kind != "STEP_OUTPUT":
                assert storage.stored[-1] is entry


def test_a_run_that_emits_faster_than_storage_waits_every_max_pending_entries(monkeypatch):
    from oprun.execution import sink as sink_module

    monkeypatch.setattr(sink_module, "MAX_PENDING", 3)
    monkeypatch.setenv("OPRUN_EVENT_WRITE_LAG_MS", "60000")
    storage = _Storage()
    with InstanceSink(storage, clock=_Clock()) as sink:
        entries = [_entry("STEP_OUTPUT", "a", n) for n in range(3)]
        for entry in entries:
            sink.write(entry)
        assert storage.stored == entries  # the third write waited for all three


def test_leaving_the_sink_stores_everything_in_order():
    storage = _Storage()
    entries = [_entry("STEP_OUTPUT", "a", n) for n in range(500)]
    with InstanceSink(storage) as sink:
        for entry in entries:
            sink.write(entry)
    assert storage.stored == entries


def test_a_failed_write_is_raised_in_the_run_and_nothing_after_it_is_stored():
    storage = _Storage(fail_on_batch=2)
    with pytest.raises(EventStorageFailed) as raised:
        with InstanceSink(storage) as sink:
            sink.write(_entry("RUN_START"))
            sink.write(_entry("STEP_START", "a", 1))
            sink.flush()  # the second batch fails
    assert "database or disk is full" in str(raised.value)
    assert isinstance(raised.value, DagsterStorageError)
    assert isinstance(raised.value.__cause__, DagsterStorageError)
    assert [e.dagster_event.event_type_value for e in storage.stored] == ["RUN_START"]


@op
def first():
    return 1


@op
def second(context, x):
    return x + 1


@job
def two_steps():
    second(first())


def test_a_run_whose_events_cannot_be_stored_stops_with_the_cause(tmp_path, monkeypatch):
    instance = DagsterInstance.local_temp(str(tmp_path))
    try:
        storage = instance._storage
        real = storage.store_events
        calls = []

        def store(entries):
            calls.append(len(entries))
            if len(calls) == 2:
                raise DagsterStorageError("Storage error while storing events: (sqlite3.OperationalError) database or disk is full")
            real(entries)

        monkeypatch.setattr(storage, "store_events", store)
        monkeypatch.setenv("OPRUN_EVENT_WRITE_LAG_MS", "0")
        with pytest.raises(DagsterStorageError, match="can no longer be stored.*disk is full"):
            execute_job(reconstructable(two_steps), instance)
        monkeypatch.setattr(storage, "store_events", real)
        stored = instance.get_runs()[0]
        kinds = [e.dagster_event.event_type_value for e in instance.all_logs(stored.run_id) if e.dagster_event]
        assert kinds == ["RUN_START"]  # the first batch, and nothing after the failed one
    finally:
        instance.dispose()


@op
def sees_its_own_start(context):
    kinds = [
        (e.step_key, e.dagster_event.event_type_value)
        for e in context.instance.all_logs(context.run_id) if e.dagster_event
    ]
    return ("sees_its_own_start", "STEP_START") in kinds


@job
def reads_its_events():
    sees_its_own_start()


def test_with_no_lag_a_running_step_is_already_recorded_as_started(tmp_path, monkeypatch):
    monkeypatch.setenv("OPRUN_EVENT_WRITE_LAG_MS", "0")
    instance = DagsterInstance.local_temp(str(tmp_path))
    try:
        with execute_job(reconstructable(reads_its_events), instance) as result:
            assert result.success
            assert result.output_for_node("sees_its_own_start") is True
    finally:
        instance.dispose()


@op
def logs_a_lot(context) -> int:
    import tracemalloc

    tracemalloc.start()
    try:
        for i in range(20_000):
            context.log.info(f"line {i} " + "x" * 200)
            if i == 2_000:
                early = tracemalloc.get_traced_memory()[0]
        return tracemalloc.get_traced_memory()[0] - early
    finally:
        tracemalloc.stop()


@job
def chatty():
    logs_a_lot()


def test_what_a_run_queues_for_storage_stays_bounded(tmp_path):
    # 18,000 entries of ~0.5 KB logged after the first measure: kept in memory
    # until stored, they would be 9 MB or more.
    instance = DagsterInstance.local_temp(str(tmp_path))
    try:
        with execute_job(reconstructable(chatty), instance) as result:
            assert result.success
            grown = result.output_for_node("logs_a_lot")
        assert grown < 3_000_000, f"the run's memory grew by {grown} bytes while logging"
        assert len([e for e in instance.all_logs(result.run_id) if e.dagster_event is None]) >= 20_000
    finally:
        instance.dispose()
