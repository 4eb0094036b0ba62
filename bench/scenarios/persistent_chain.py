"""A persistent run: a 100-op chain run by `execute_job` on a SQLite instance with
the filesystem IO manager and the in-process executor (every event stored,
every output pickled to disk).

Usage: ``persistent_chain.py PACKAGE [N=100]``.
"""

import tempfile

from _common import chain_job, check, clock, int_arg, load_package, package_name, require, run

PKG = load_package(package_name())
N = int_arg(1, 100)
def scenario(pkg):
    execute_job, reconstructable, DagsterInstance = require(pkg, "execute_job", "reconstructable", "DagsterInstance")
    job = persistent_job
    with tempfile.TemporaryDirectory() as home:
        instance = DagsterInstance.local_temp(home)
        start = clock()
        with execute_job(reconstructable(job), instance=instance) as result:
            ok = result.success
        execute_s = clock() - start
        dispose = getattr(instance, "dispose", None)
        if dispose:
            dispose()
    check(ok, "the run did not succeed")
    return {"execute_s": execute_s, "ops": N}


def _persistent(pkg, n):
    in_process_executor = require(pkg, "in_process_executor")
    plain = chain_job(pkg, n)
    return plain.graph.to_job(name=f"persistent_{n}", executor_def=in_process_executor)


def persistent_job():
    """Module level, so that `reconstructable` can point at it (both packages
    accept a module-level function that returns the job)."""
    return _persistent(PKG, N)

if __name__ == "__main__":
    run(scenario)
