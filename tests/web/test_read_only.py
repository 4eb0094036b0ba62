"""A server started with --read-only answers every query and refuses every
mutation with Dagster's UnauthorizedError, recording nothing; the client's own
documents, against a real SQLite instance."""

from __future__ import annotations

import dataclasses

from oprun import DagsterRun, DagsterRunStatus
from tests.web.test_graphql_contract import (  # noqa: F401 - fixtures
    GET_JOB_NAMES,
    GET_RUN_STATUS,
    RELOAD_LOCATION,
    SHUTDOWN_LOCATION,
    TERMINATE_RUN,
    TERMINATE_RUNS,
    context,
    execute,
    instance,
    launch,
)


def test_queries_are_answered_and_mutations_refused(context, instance) -> None:  # noqa: F811
    read_only = dataclasses.replace(context, read_only=True)
    assert execute(read_only, GET_JOB_NAMES)["repositoriesOrError"]["__typename"] == "RepositoryConnection"
    queued = instance.create_run(DagsterRun(job_name="hello_job", status=DagsterRunStatus.QUEUED))
    status = execute(read_only, GET_RUN_STATUS, {"runId": queued.run_id})["pipelineRunOrError"]
    assert status == {"__typename": "Run", "status": "QUEUED"}

    launched = launch(read_only, "hello_job")
    assert launched["__typename"] == "UnauthorizedError"
    assert "--read-only" in launched["message"]
    assert [r.run_id for r in instance.get_runs()] == [queued.run_id]  # nothing recorded

    terminated = execute(read_only, TERMINATE_RUN, {"runId": queued.run_id})["terminateRun"]
    assert terminated["__typename"] == "UnauthorizedError"
    results = execute(read_only, TERMINATE_RUNS, {"runIds": [queued.run_id]})["terminateRuns"]["terminateRunResults"]
    assert [r["__typename"] for r in results] == ["UnauthorizedError"]
    assert instance.get_run_by_id(queued.run_id).status is DagsterRunStatus.QUEUED

    reloaded = execute(read_only, RELOAD_LOCATION, {"repositoryLocationName": "web_jobs.py"})["reloadRepositoryLocation"]
    assert reloaded["__typename"] == "UnauthorizedError"
    shut = execute(read_only, SHUTDOWN_LOCATION, {"repositoryLocationName": "web_jobs.py"})["shutdownRepositoryLocation"]
    assert shut["__typename"] == "UnauthorizedError"

    # The same server without --read-only launches.
    assert launch(context, "hello_job")["__typename"] == "LaunchRunSuccess"
