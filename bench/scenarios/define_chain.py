"""Definition cost: building a job of N distinct ops chained in a line.

Usage: ``define_chain.py PACKAGE [N=1000]``. The ops come from a factory with
distinct names, as generated pipelines do, and the ``@job`` body wires them one
after another. Nothing is executed: this is what loading a code location with
big jobs costs before the first run.
"""

from _common import chain_job, clock, int_arg, run


def scenario(pkg):
    n = int_arg(1, 1000)
    start = clock()
    chain_job(pkg, n)
    return {"define_s": clock() - start}


if __name__ == "__main__":
    run(scenario)
