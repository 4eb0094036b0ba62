"""Dynamic mapping: N ``DynamicOutput``s, ``.map(double)``, ``.collect()``.

Usage: ``dynamic_map.py PACKAGE [N=100]``. The plan is only known at run time:
one op yields N items, a mapped step runs per item, and a last op sums the
collected results. Measures the cost of expanding and running many small
dynamic steps.
"""

from _common import check, clock, int_arg, require, run


def dynamic_job(pkg, n):
    op, job, DynamicOut, DynamicOutput = require(
        pkg, "op", "job", "DynamicOut", "DynamicOutput"
    )

    @op(out=DynamicOut())
    def items():
        for i in range(n):
            yield DynamicOutput(i, mapping_key=str(i))

    @op
    def double(x):
        return 2 * x

    @op
    def total(values):
        return sum(values)

    @job(name=f"dynamic_{n}")
    def dynamic():
        total(items().map(double).collect())

    return dynamic


def scenario(pkg):
    n = int_arg(1, 100)
    job = dynamic_job(pkg, n)

    start = clock()
    result = job.execute_in_process()
    execute_s = clock() - start

    check(result.success, "the run did not succeed")
    got = result.output_for_node("total")
    check(got == n * (n - 1), f"total returned {got!r}, expected {n * (n - 1)}")
    return {"execute_s": execute_s, "ops": n + 2}


if __name__ == "__main__":
    run(scenario)
