"""The GraphQL client's submit: `DagsterGraphQLClient.submit_job_execution`'s
mutation (`launchPipelineExecution`, the client's own document and variables)
to the run stored as QUEUED, timed at the client: one HTTP round trip.

Both servers run with the queued run coordinator and no daemon, so a submitted
run stays QUEUED; the status is checked after each launch (not timed). The
first launches (untimed) load the code location.

Usage: ``web_submit.py PACKAGE [N=30]``: the median of N launches.
"""

import os
import statistics
import tempfile
import time

from _common import check, int_arg, run
from web_common import lists_job, location_of, prepare_home, serving

SUBMIT = """
mutation GraphQLClientSubmitRun($executionParams: ExecutionParams!) {
  launchPipelineExecution(executionParams: $executionParams) {
    __typename

    ... on InvalidStepError {
      invalidStepKey
    }
    ... on InvalidOutputError {
      stepKey
      invalidOutputName
    }
    ... on LaunchPipelineRunSuccess {
      run {
        runId
      }
    }
    ... on ConflictingExecutionParamsError {
      message
    }
    ... on PresetNotFoundError {
      message
    }
    ... on PipelineRunConflict {
      message
    }
    ... on PipelineConfigValidationInvalid {
      errors {
        __typename
        message
        path
        reason
      }
    }
    ... on PipelineNotFoundError {
      message
    }
    ... on PythonError {
      message
    }
    ... on UnauthorizedError {
      message
    }
  }
}
"""

STATUS = """
query GraphQLClientGetRunStatus($runId: ID!) {
  pipelineRunOrError(runId: $runId) {
    __typename
    ... on PipelineRun { status }
    ... on PipelineRunNotFoundError { message }
    ... on PythonError { message }
  }
}
"""

WARMUP = 3


def _variables(location, repository):
    return {"executionParams": {
        "selector": {"repositoryLocationName": location, "repositoryName": repository, "pipelineName": "tiny_job",
                     "solidSelection": None, "assetSelection": None},
        "runConfigData": {},
        "mode": "default",
        "executionMetadata": {"tags": [{"key": "bench", "value": "web_submit"}]},
    }}


def scenario(package):
    n = int_arg(1, 30)
    latencies = []
    with tempfile.TemporaryDirectory(dir=os.getcwd()) as home:
        module = prepare_home(home, package)
        with serving(package, module, home) as server:
            _, answer = server.wait_first_answer(ready=lists_job("tiny_job"))
            variables = _variables(*location_of(answer, "tiny_job"))
            for index in range(WARMUP + n):
                start = time.perf_counter()
                result = server.graphql(SUBMIT, variables)
                elapsed = time.perf_counter() - start
                launched = (result.get("data") or {}).get("launchPipelineExecution") or {}
                check(launched.get("__typename") in ("LaunchRunSuccess", "LaunchPipelineRunSuccess"), f"launch failed: {result}")
                status = server.graphql(STATUS, {"runId": launched["run"]["runId"]})
                check(status["data"]["pipelineRunOrError"].get("status") == "QUEUED", f"not QUEUED: {status}")
                if index >= WARMUP:
                    latencies.append(elapsed)
    return {"submit_s": statistics.median(latencies), "submit_p90_s": sorted(latencies)[int(len(latencies) * 0.9)]}


if __name__ == "__main__":
    run(scenario, import_first=False)
