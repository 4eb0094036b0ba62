"""Event writes on the embedded SQLite instance.

Usage: ``event_writes.py PACKAGE [N=2000]``. Writes N engine events for one run,
one call each (`report_engine_event`, the API both packages share), and, on
oprun, 20,000 events in batches of 20 (`handle_new_events`, how oprun's engine
writes: one transaction per step boundary).
"""

import tempfile
import uuid

from _common import clock, int_arg, require, run


def scenario(pkg):
    n = int_arg(1, 2000)
    DagsterInstance, DagsterRun = require(pkg, "DagsterInstance", "DagsterRun")
    with tempfile.TemporaryDirectory() as home:
        instance = DagsterInstance.local_temp(home)
        run_record = instance.add_run(DagsterRun(job_name="bench_events", run_id=str(uuid.uuid4())))
        start = clock()
        for i in range(n):
            instance.report_engine_event(f"event {i}", run_record)
        single = n / (clock() - start)
        metrics = {"events_per_s_single": single}
        unavailable = {}
        if hasattr(instance, "handle_new_events") and pkg.__name__ == "oprun":
            from oprun.events import DagsterEvent, EventLogEntry

            batches = [
                [EventLogEntry(run_record.run_id, 0.0, 10, "m", "bench_events", f"s{b}", None,
                               DagsterEvent("STEP_OUTPUT", "bench_events", f"s{b}", f"s{b}", None, "m", 0)) for _ in range(20)]
                for b in range(1000)
            ]
            start = clock()
            for batch in batches:
                instance.handle_new_events(batch)
            metrics["events_per_s_batched"] = 20_000 / (clock() - start)
        else:
            unavailable["events_per_s_batched"] = "no batch write API"
        dispose = getattr(instance, "dispose", None)
        if dispose:
            dispose()
    return metrics, unavailable


if __name__ == "__main__":
    run(scenario)
