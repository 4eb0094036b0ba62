"""Per-op overhead: ``execute_in_process()`` of a chain of N ops.

Usage: ``execute_chain.py PACKAGE [N=1000]``. Each op adds one to its input, so
the ops do almost nothing and the time is the orchestrator's own: planning,
input and output handling, events. The job is defined first, untimed for the
main figure, so execution is measured apart from definition.
"""

from _common import chain_job, check, clock, int_arg, run


def scenario(pkg):
    n = int_arg(1, 1000)
    start = clock()
    job = chain_job(pkg, n)
    define_s = clock() - start

    start = clock()
    result = job.execute_in_process()
    execute_s = clock() - start

    check(result.success, "the run did not succeed")
    last = result.output_for_node(f"add_{n - 1}")
    check(last == n, f"last op returned {last!r}, expected {n}")
    return {"execute_s": execute_s, "define_s": define_s, "ops": n}


if __name__ == "__main__":
    run(scenario)
