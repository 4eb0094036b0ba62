"""Config: a ``Config`` class of 50 fields, validated and run in process.

The op's config class has ten fields each of str, int, float, bool and
list[int]; half of them have defaults. The run config gives the 25 required
fields. Timed: ``execute_in_process(run_config=...)``, which validates the run
config and runs the op; then ``validate_run_config(job, run_config)`` alone,
called after the run, which is what a launchpad or a linter calls over and
over. A package without ``validate_run_config`` reports that figure as n/a.
"""

from _common import Unavailable, check, clock, require, run

KINDS = {"s": "v", "i": 7, "f": 1.5, "b": True, "l": [3]}
REQUIRED = {f"{kind}{k}": value for kind, value in KINDS.items() for k in range(5)}


def config_job(pkg):
    op, job, Config = require(pkg, "op", "job", "Config")

    class Settings(Config):
        s0: str
        s1: str
        s2: str
        s3: str
        s4: str
        s5: str = "x"
        s6: str = "x"
        s7: str = "x"
        s8: str = "x"
        s9: str = "x"
        i0: int
        i1: int
        i2: int
        i3: int
        i4: int
        i5: int = 0
        i6: int = 0
        i7: int = 0
        i8: int = 0
        i9: int = 0
        f0: float
        f1: float
        f2: float
        f3: float
        f4: float
        f5: float = 0.5
        f6: float = 0.5
        f7: float = 0.5
        f8: float = 0.5
        f9: float = 0.5
        b0: bool
        b1: bool
        b2: bool
        b3: bool
        b4: bool
        b5: bool = False
        b6: bool = False
        b7: bool = False
        b8: bool = False
        b9: bool = False
        l0: list[int]
        l1: list[int]
        l2: list[int]
        l3: list[int]
        l4: list[int]
        l5: list[int] = [1, 2]
        l6: list[int] = [1, 2]
        l7: list[int] = [1, 2]
        l8: list[int] = [1, 2]
        l9: list[int] = [1, 2]

    @op
    def configured(config: Settings):
        return config.i0 + config.i9 + len(config.l0) + len(config.l9)

    @job(name="config_50_fields")
    def configured_job():
        configured()

    return configured_job


def scenario(pkg):
    start = clock()
    job = config_job(pkg)
    define_s = clock() - start
    run_config = {"ops": {"configured": {"config": dict(REQUIRED)}}}

    start = clock()
    result = job.execute_in_process(run_config=run_config)
    execute_s = clock() - start

    check(result.success, "the run did not succeed")
    got = result.output_for_node("configured")
    check(got == 7 + 0 + 1 + 2, f"op returned {got!r}, expected 10")
    metrics = {"execute_s": execute_s, "define_s": define_s}

    try:
        validate = require(pkg, "validate_run_config")
    except Unavailable as reason:
        return metrics, {"validate_s": str(reason)}
    start = clock()
    validate(job, run_config)
    metrics["validate_s"] = clock() - start
    return metrics, {}


if __name__ == "__main__":
    run(scenario)
