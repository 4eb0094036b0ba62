"""A one-op job file for timing the command line (`dagster job list/execute -f`)."""

from dagster import Definitions, job, op


@op
def one() -> int:
    return 1


@job
def single():
    one()


defs = Definitions(jobs=[single])
