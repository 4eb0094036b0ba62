"""Filling a home's storage for the web scenarios, through each package's own
instance API, before its server starts (not timed).

Dagster's SQLite storages open a new engine and commit for every write (about
150 runs/s here), so on Dagster each seed runs inside one transaction: the
storage's `connect` is made to hand Dagster's own insert code one open
connection, and the rows are exactly those `add_run` and `store_event` write.
oprun's instance is used as it is (`add_run`; `handle_new_events`, its batch
write).

A seeded home is kept in the scenario's working directory (one per side for a
whole bench run), so that later samples reuse it: `seeded(home)` says whether
it is complete.
"""

import contextlib
import os
import time
import uuid

MARK = ".seeded"


def seeded(home):
    return os.path.exists(os.path.join(home, MARK))


def _mark(home, **facts):
    import json

    with open(os.path.join(home, MARK), "w") as f:
        json.dump(facts, f)


def read_mark(home):
    import json

    with open(os.path.join(home, MARK)) as f:
        return json.load(f)


@contextlib.contextmanager
def _one_transaction(storage, conn_string):
    """Dagster only: every `storage.connect()` inside yields the same connection,
    in one transaction committed at the end."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    engine = create_engine(conn_string, poolclass=NullPool)
    with engine.connect() as conn, conn.begin():

        @contextlib.contextmanager
        def shared(*_args, **_kw):
            yield conn

        storage.connect = shared
        try:
            yield conn
        finally:
            del storage.connect
    engine.dispose()


def seed_runs(package, home, n, teams=50):
    """`n` finished runs of 10 jobs, tagged `team=t{i % teams}`."""
    pkg = __import__(package)
    instance = pkg.DagsterInstance.from_directory(home) if package == "oprun" else _dagster_instance(home)
    try:
        success = pkg.DagsterRunStatus.SUCCESS

        def make(i):
            return pkg.DagsterRun(job_name=f"job_{i % 10}", run_id=str(uuid.uuid4()), tags={"team": f"t{i % teams}"}, status=success)

        if package == "oprun":
            for i in range(n):
                instance.add_run(make(i))
        else:
            storage = instance.run_storage
            with _one_transaction(storage, storage._conn_string):  # noqa: SLF001
                for i in range(n):
                    storage.add_run(make(i))
    finally:
        instance.dispose()
    _mark(home, runs=n)


def _dagster_instance(home):
    from dagster import DagsterInstance

    os.environ["DAGSTER_HOME"] = home
    return DagsterInstance.get()


def seed_run_events(package, home, ops):
    """One finished run of `ops` ops with their events: RUN_START, then per op
    STEP_START, STEP_OUTPUT and STEP_SUCCESS, then RUN_SUCCESS. Returns the
    run id and the number of events."""
    pkg = __import__(package)
    run_id = str(uuid.uuid4())
    job_name = f"chain_{ops}"
    instance = pkg.DagsterInstance.from_directory(home) if package == "oprun" else _dagster_instance(home)
    try:
        instance.add_run(pkg.DagsterRun(job_name=job_name, run_id=run_id, status=pkg.DagsterRunStatus.SUCCESS))
        make = _oprun_entry if package == "oprun" else _dagster_entry
        stamp = time.time()
        entries = [make(run_id, job_name, stamp, "RUN_START", None)]
        for i in range(ops):
            step = f"op_{i}"
            entries += [make(run_id, job_name, stamp, kind, step) for kind in ("STEP_START", "STEP_OUTPUT", "STEP_SUCCESS")]
        entries.append(make(run_id, job_name, stamp, "RUN_SUCCESS", None))
        if package == "oprun":
            for start in range(0, len(entries), 500):
                instance.handle_new_events(entries[start:start + 500])
        else:
            storage = instance.event_log_storage
            with storage.run_connection(run_id) as conn:
                for entry in entries:
                    conn.execute(storage.prepare_insert_event(entry))
    finally:
        instance.dispose()
    _mark(home, run_id=run_id, events=len(entries))
    return run_id, len(entries)


def _oprun_entry(run_id, job_name, stamp, kind, step):
    from oprun.events import DagsterEvent, EventLogEntry, StepOutputData, StepSuccessData

    data = {"STEP_OUTPUT": StepOutputData("result"), "STEP_SUCCESS": StepSuccessData(1.0)}.get(kind)
    message = f"{kind} {step or job_name}"
    event = DagsterEvent(kind, job_name, step, step, data, message, os.getpid())
    return EventLogEntry(run_id, stamp, 10, message, job_name, step, None, event)


def _dagster_entry(run_id, job_name, stamp, kind, step):
    import logging

    from dagster import DagsterEvent, EventLogEntry
    from dagster._core.definitions.dependency import NodeHandle
    from dagster._core.events import StepOutputData, StepSuccessData
    from dagster._core.execution.plan.outputs import StepOutputHandle

    kind = {"RUN_START": "PIPELINE_START", "RUN_SUCCESS": "PIPELINE_SUCCESS"}.get(kind, kind)  # Dagster's stored names
    data = {
        "STEP_OUTPUT": StepOutputData(step_output_handle=StepOutputHandle(step, "result")) if step else None,
        "STEP_SUCCESS": StepSuccessData(duration_ms=1.0),
    }.get(kind)
    message = f"{kind} {step or job_name}"
    event = DagsterEvent(
        event_type_value=kind, job_name=job_name, step_key=step,
        node_handle=NodeHandle(step, None) if step else None, step_kind_value="COMPUTE" if step else None,
        logging_tags={}, event_specific_data=data, message=message, pid=os.getpid(),
    )
    return EventLogEntry(
        error_info=None, level=logging.DEBUG, user_message=message, run_id=run_id, timestamp=stamp,
        step_key=step, job_name=job_name, dagster_event=event,
    )
