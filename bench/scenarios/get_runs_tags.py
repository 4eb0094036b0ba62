"""Run history queries: `get_runs` with a tag filter over N stored runs.

Usage: ``get_runs_tags.py PACKAGE [N=10000]``. The runs are stored first
(untimed); the figure is one `get_runs(filters=RunsFilter(tags=...))` call.
"""

import tempfile
import uuid

from _common import check, clock, int_arg, require, run


def scenario(pkg):
    n = int_arg(1, 10_000)
    DagsterInstance, DagsterRun, RunsFilter = require(pkg, "DagsterInstance", "DagsterRun", "RunsFilter")
    with tempfile.TemporaryDirectory() as home:
        instance = DagsterInstance.local_temp(home)
        for i in range(n):
            instance.add_run(DagsterRun(job_name=f"job_{i % 10}", run_id=str(uuid.uuid4()), tags={"team": f"t{i % 50}"}))
        start = clock()
        runs = instance.get_runs(filters=RunsFilter(tags={"team": "t7"}))
        query_s = clock() - start
        dispose = getattr(instance, "dispose", None)
        if dispose:
            dispose()
    check(len(runs) == n // 50, f"expected {n // 50} runs, got {len(runs)}")
    return {"query_s": query_s}


if __name__ == "__main__":
    run(scenario)
