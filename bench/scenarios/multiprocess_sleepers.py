"""The multiprocess executor: 8 independent ops that each sleep 0.5 s, with
`max_concurrent: 4`, run by `execute_job` on a SQLite instance (ideal: 1.0 s).

Usage: ``multiprocess_sleepers.py PACKAGE``.
"""

import tempfile
import time

from _common import check, clock, load_package, package_name, require, run

PKG = load_package(package_name())


def _job(pkg):
    op, job = require(pkg, "op", "job")

    @op
    def nap() -> int:
        time.sleep(0.5)
        return 1

    @op
    def count(values: list) -> int:
        return len(values)

    @job(name="sleepers")
    def sleepers():
        count([nap.alias(f"nap_{i}")() for i in range(8)])

    return sleepers


def sleepers_job():
    """Module level: worker processes load it through `reconstructable`."""
    return _job(PKG)


def scenario(pkg):
    execute_job, reconstructable, DagsterInstance = require(pkg, "execute_job", "reconstructable", "DagsterInstance")
    config = {"execution": {"config": {"multiprocess": {"max_concurrent": 4}}}}
    with tempfile.TemporaryDirectory() as home:
        instance = DagsterInstance.local_temp(home)
        start = clock()
        with execute_job(reconstructable(sleepers_job), instance=instance, run_config=config) as result:
            ok = result.success
        wall_s = clock() - start
        dispose = getattr(instance, "dispose", None)
        if dispose:
            dispose()
    check(ok, "the run did not succeed")
    return {"wall_s": wall_s}


if __name__ == "__main__":
    run(scenario)
