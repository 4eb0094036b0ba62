"""Footprint: peak resident memory of defining and running an N-op chain.

Usage: ``peak_rss_chain.py PACKAGE [N=1000]``. Reads the process's own
high-water mark (``ru_maxrss``) after the run, so the figure includes the
interpreter, the package's imports, the definitions, the run's events and
results: what one worker process holds.
"""

import resource

from _common import chain_job, check, int_arg, run


def scenario(pkg):
    n = int_arg(1, 1000)
    result = chain_job(pkg, n).execute_in_process()
    check(result.success, "the run did not succeed")
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {"peak_rss_bytes": kib * 1024}


if __name__ == "__main__":
    run(scenario)
