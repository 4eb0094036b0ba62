"""On PostgreSQL, a run's events commit in the order of their ids even when two
processes store them at once: while one writer's transaction is open, another
writer of the same run waits, so a reader following the run's events by id (a
live stream) never sees a later id before an earlier one is committed."""

import logging
import threading
import time

import sqlalchemy as sa

from oprun import DagsterRun
from oprun.events import DagsterEvent, EventLogEntry, entry_json
from oprun.instance.instance import DagsterInstance
from oprun.instance.sql import PostgresRunStorage
from tests.instance.conftest import postgres_schema
from tests.waiting import wait_for


def _entry(run_id: str, message: str) -> EventLogEntry:
    event = DagsterEvent("ENGINE_EVENT", "job", None, None, None, message, 1)
    return EventLogEntry(run_id, time.time(), logging.DEBUG, message, "job", None, None, event)


def test_a_second_writer_of_a_run_waits_for_the_first_to_commit(tmp_path):
    with postgres_schema() as (url, schema):
        storage = PostgresRunStorage(url, connect_args={"options": f"-csearch_path={schema}"})
        instance = DagsterInstance(storage, str(tmp_path / "home"))
        try:
            run = instance.create_run(DagsterRun(job_name="job"))
            other = instance.create_run(DagsterRun(job_name="job"))
            first = storage.engine.connect()
            transaction = first.begin()
            try:
                _two_writers(instance, storage, first, transaction, run.run_id, other.run_id)
            finally:
                first.close()  # rolls back what is left open, so the schema can be dropped
        finally:
            instance.dispose()


def _two_writers(instance, storage, first, transaction, run_id, other_run_id):
    """The first writer holds its transaction open; the second must wait for it."""
    # The first writer: its event has the lower id, not yet committed.
    storage._order_run_event_writes(first, [run_id])  # noqa: SLF001 - the step under test
    row = (run_id, entry_json(_entry(run_id, "first")), "ENGINE_EVENT", None, time.time())
    first.exec_driver_sql(storage._insert_events_sql, [row])  # noqa: SLF001
    second = threading.Thread(target=instance.handle_new_events, args=([_entry(run_id, "second")],))
    second.start()

    def second_is_waiting() -> bool:
        with storage.engine.connect() as conn:
            waiting = conn.execute(sa.text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")).scalar()
        return bool(waiting)

    assert wait_for(second_is_waiting, 30)
    # Another run's events are not held up.
    instance.handle_new_events([_entry(other_run_id, "elsewhere")])
    assert [r.event_log_entry.message for r in instance.get_records_for_run(other_run_id).records] == ["elsewhere"]
    # Nothing of the run is visible yet: not the second event before the first.
    assert instance.get_records_for_run(run_id).records == []
    transaction.commit()
    second.join(30)
    assert not second.is_alive()
    records = instance.get_records_for_run(run_id).records
    assert [r.event_log_entry.message for r in records] == ["first", "second"]
    assert records[0].storage_id < records[1].storage_id
