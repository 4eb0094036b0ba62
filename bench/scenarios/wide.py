"""Fan-out and fan-in: a 1 -> N -> 1 job executed in process.

Usage: ``wide.py PACKAGE [N=1000]``. One source op feeds N ops; a last op takes
all N outputs as one list input (fan-in: ``total([a_0(x), a_1(x), ...])``).
This stresses dependency resolution and a single input with N upstreams,
which a chain does not.
"""

from _common import check, clock, int_arg, require, run


def wide_job(pkg, n):
    op, job, In = require(pkg, "op", "job", "In")

    @op
    def source():
        return 1

    def make_branch(i):
        @op(name=f"a_{i}")
        def branch(x):
            return x + i

        return branch

    branches = [make_branch(i) for i in range(n)]

    @op(ins={"values": In()})
    def total(values):
        return sum(values)

    @job(name=f"wide_{n}")
    def wide():
        x = source()
        total([branch(x) for branch in branches])

    return wide


def scenario(pkg):
    n = int_arg(1, 1000)
    start = clock()
    job = wide_job(pkg, n)
    define_s = clock() - start

    start = clock()
    result = job.execute_in_process()
    execute_s = clock() - start

    check(result.success, "the run did not succeed")
    expected = n + n * (n - 1) // 2
    got = result.output_for_node("total")
    check(got == expected, f"total returned {got!r}, expected {expected}")
    return {"execute_s": execute_s, "define_s": define_s, "ops": n + 2}


if __name__ == "__main__":
    run(scenario)
