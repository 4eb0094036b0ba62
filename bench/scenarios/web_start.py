"""Web server start: from starting the server process to its first answer to
the GraphQL client's repositories query listing the job.

`oprun webserver -f FILE` against `dagster-webserver -f FILE`, the same tiny
job module on each side (written with the side's package), a fresh empty home
each time. Dagster's webserver also starts a code server for the file before
it can answer; oprun loads the file in process on the first request.

Usage: ``web_start.py PACKAGE [STARTS=3]``: the figure is the median of STARTS
fresh server processes.
"""

import os
import statistics
import tempfile

from _common import check, int_arg, run
from web_common import lists_job, prepare_home, serving


def scenario(package):
    starts = int_arg(1, 3)
    times = []
    for _ in range(starts):
        with tempfile.TemporaryDirectory(dir=os.getcwd()) as home:
            module = prepare_home(home, package)
            with serving(package, module, home) as server:
                seconds, answer = server.wait_first_answer(ready=lists_job("tiny_job"))
                check(lists_job("tiny_job")(answer), f"tiny_job not listed: {answer}")
                times.append(seconds)
    return {"first_answer_s": statistics.median(times), "first_answer_max_s": max(times)}


if __name__ == "__main__":
    run(scenario, import_first=False)
