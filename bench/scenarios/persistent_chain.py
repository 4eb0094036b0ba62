"""A persistent run: a 100-op chain run by `execute_job` on a SQLite instance with
the filesystem IO manager and the in-process executor (every event stored,
every output pickled to disk). Reports the time of `execute_job`, the
process's peak resident memory after it (the interpreter, the definitions and
whatever the run kept), and the disk's floor: the same number of outputs written
and read back by a plain loop in the same filesystem (a directory, a file
renamed into place and a read per output), which no orchestrator can beat with
one file per output. On a virtual disk that floor alone can vary several times
from one hour to the next, so read `execute_s` beside it.

Usage: ``persistent_chain.py PACKAGE [N=100]``.
"""

import os
import pickle
import resource
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
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {"execute_s": execute_s, "peak_rss_bytes": kib * 1024, "fs_floor_s": _fs_floor(N), "ops": N}


def _fs_floor(n):
    with tempfile.TemporaryDirectory() as base:
        start = clock()
        for i in range(n):
            directory = os.path.join(base, f"add_{i}")
            os.mkdir(directory)
            tmp = os.path.join(directory, ".tmp-result")
            with open(tmp, "wb") as f:
                pickle.dump(i, f)
            os.replace(tmp, os.path.join(directory, "result"))
            if i:
                with open(os.path.join(base, f"add_{i - 1}", "result"), "rb") as f:
                    pickle.load(f)
        return clock() - start


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
