"""A runs page over many stored runs with a tag filter: the UI's runs list,
`runsOrError(filter: {tags: [{key, value}]}, limit: 25)`, over HTTP.

N finished runs (10 jobs, tag `team` with 50 values, so 1 in 50 matches) are
stored through each package's instance (web_seed.py; not timed, kept for the
later samples of the same bench run), then the server is started on that home
and asked for the first page of one team's runs: 2 queries to warm up, then the
median of 10.

Usage: ``web_runs_page.py PACKAGE [N=100000]``.
"""

import os
import statistics
import time

from _common import Unavailable, check, int_arg, run
from web_common import lists_job, prepare_home, quiet_stdout, serving
from web_seed import seed_runs, seeded

PAGE = """
query RunsPage($team: String!) {
  runsOrError(filter: {tags: [{key: "team", value: $team}]}, limit: 25) {
    __typename
    ... on Runs { results { runId status } }
    ... on PythonError { message }
  }
}
"""


def scenario(package):
    n = int_arg(1, 100_000)
    home = os.path.join(os.getcwd(), f"web_runs_{n}")
    module = prepare_home(home, package)
    if not seeded(home):
        restore = quiet_stdout()
        try:
            seed_runs(package, home, n)
        finally:
            restore()
    times = []
    with serving(package, module, home) as server:
        server.wait_first_answer(ready=lists_job("tiny_job"))
        for index in range(12):
            start = time.perf_counter()
            answer = server.graphql(PAGE, {"team": f"t{index % 50}"})
            elapsed = time.perf_counter() - start
            page = (answer.get("data") or {}).get("runsOrError") or {}
            if "Cannot query field 'runsOrError'" in str(answer.get("errors")):
                raise Unavailable("the server has no runsOrError yet")
            check(page.get("__typename") == "Runs", f"runsOrError answered {answer}")
            check(len(page["results"]) == 25, f"expected 25 runs, got {len(page['results'])}")
            check(all(r["status"] == "SUCCESS" for r in page["results"]), "a run is not SUCCESS")
            if index >= 2:
                times.append(elapsed)
    return {"page_s": statistics.median(times), "runs": n}


if __name__ == "__main__":
    run(scenario, import_first=False)
