"""The runs domain of the GraphQL API through the real schema, against a real
SQLite instance and a workspace loaded from tests/fixtures/web_runs_jobs.py:
every field of `Run` (stats and step stats from the event log), the runs lists
with every filter, cursor pages and counts, tag autocompletion, permissions,
terminate policies and delete, with their error branches; and one request to a
real server."""

import json
import os
from pathlib import Path

import pytest

from oprun import DagsterInstance, DagsterRunStatus
from oprun.daemon.base import Workspace
from oprun.events import DagsterEvent, DagsterEventType, EventLogEntry
from oprun.loading import locations_from_args
from oprun.runs import DagsterRun
from oprun.web.context import WebContext
from oprun.web.graphql import run_lists
from oprun.web.graphql.run_stats import StepEventStatus, compute_stats
from oprun.web.schema import build_schema
from tests.waiting import wait_for

FIXTURE = Path(__file__).parents[1] / "fixtures" / "web_runs_jobs.py"
LOCATION = "web_runs_jobs.py"
REPOSITORY = "__repository__"
QUEUED = {"run_coordinator": {"module": "oprun.execution.coordinator", "class": "QueuedRunCoordinator"}}
SCHEMA = build_schema()
FINISHED = ("SUCCESS", "FAILURE", "CANCELED")

RUN_FIELDS = """
  __typename
  ... on Run {
    id runId jobName pipelineName status runConfigYaml runConfig mode tags { key value }
    solidSelection resolvedOpSelection stepKeysToExecute rootRunId parentRunId canTerminate
    creationTime startTime endTime updateTime pipelineSnapshotId parentPipelineSnapshotId
    stats {
      __typename
      ... on RunStatsSnapshot { id runId stepsSucceeded stepsFailed materializations expectations enqueuedTime launchTime startTime endTime }
      ... on PythonError { message }
    }
    stepStats { runId stepKey status startTime endTime attempts { startTime endTime } markers { startTime endTime } }
    eventConnection { cursor hasMore }
    hasReExecutePermission hasTerminatePermission hasDeletePermission
    hasConcurrencyKeySlots rootConcurrencyKeys hasUnconstrainedRootNodes
    repositoryOrigin { id repositoryLocationName repositoryName repositoryLocationMetadata { key value } }
    executionPlan { steps { key inputs { dependsOn { key } } } }
    pipeline { __typename name solidSelection }
  }
  ... on RunNotFoundError { runId message }
  ... on PythonError { message }
"""
RUN = "query Run($runId: ID!) { runOrError(runId: $runId) {" + RUN_FIELDS + "} }"
PIPELINE_RUN = "query Run($runId: ID!) { pipelineRunOrError(runId: $runId) {" + RUN_FIELDS + "} }"

RUNS = """
query Runs($filter: RunsFilter, $cursor: String, $limit: Int) {
  runsOrError(filter: $filter, cursor: $cursor, limit: $limit) {
    __typename
    ... on Runs { results { runId status } count }
    ... on InvalidPipelineRunsFilterError { message }
    ... on PythonError { message }
  }
}
"""
PIPELINE_RUNS = RUNS.replace("runsOrError(", "pipelineRunsOrError(")
RUN_IDS = """
query RunIds($filter: RunsFilter, $cursor: String, $limit: Int) {
  runIdsOrError(filter: $filter, cursor: $cursor, limit: $limit) {
    __typename
    ... on RunIds { results }
    ... on InvalidPipelineRunsFilterError { message }
    ... on PythonError { message }
  }
}
"""
TAG_KEYS = "{ runTagKeysOrError { __typename ... on RunTagKeys { keys } ... on PythonError { message } } }"
TAGS = """
query Tags($tagKeys: [String!], $valuePrefix: String, $limit: Int) {
  runTagsOrError(tagKeys: $tagKeys, valuePrefix: $valuePrefix, limit: $limit) {
    __typename ... on RunTags { tags { key values } } ... on PythonError { message }
  }
}
"""
PERMISSIONS = "{ permissions { permission value disabledReason } canBulkTerminate }"
LAUNCH = """
mutation Launch($executionParams: ExecutionParams!) {
  launchRun(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId status creationTime tags { key value } resolvedOpSelection solidSelection } }
    ... on PipelineNotFoundError { message pipelineName }
    ... on ConflictingExecutionParamsError { message }
    ... on RunConfigValidationInvalid { errors { message path } }
    ... on UnauthorizedError { message }
    ... on PythonError { message }
  }
}
"""
TERMINATE = """
mutation Terminate($runId: String!, $terminatePolicy: TerminateRunPolicy) {
  terminateRun(runId: $runId, terminatePolicy: $terminatePolicy) {
    __typename
    ... on TerminateRunSuccess { run { runId status canTerminate } }
    ... on TerminateRunFailure { run { runId status } message }
    ... on RunNotFoundError { runId message }
    ... on UnauthorizedError { message }
    ... on PythonError { message }
  }
}
"""
TERMINATE_LEGACY = TERMINATE.replace("terminateRun(", "terminatePipelineExecution(")
TERMINATE_RUNS = """
mutation TerminateRuns($runIds: [String!]!, $terminatePolicy: TerminateRunPolicy) {
  terminateRuns(runIds: $runIds, terminatePolicy: $terminatePolicy) {
    __typename
    ... on TerminateRunsResult { terminateRunResults { __typename ... on TerminateRunSuccess { run { runId status } } ... on UnauthorizedError { message } } }
    ... on PythonError { message }
  }
}
"""
DELETE = """
mutation Delete($runId: String!) {
  deleteRun(runId: $runId) {
    __typename
    ... on DeletePipelineRunSuccess { runId }
    ... on RunNotFoundError { runId message }
    ... on UnauthorizedError { message }
    ... on PythonError { message }
  }
}
"""
DELETE_LEGACY = DELETE.replace("deleteRun(", "deletePipelineRun(")


# ---------- helpers ----------


def execute(context, document, variables=None):
    result = SCHEMA.execute_sync(document, variable_values=variables, context_value=context)
    assert result.errors is None, result.errors
    return result.data


def params(job_name, run_config=None, tags=None, op_selection=None):
    return {
        "executionParams": {
            "selector": {
                "repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "pipelineName": job_name,
                "solidSelection": op_selection,
            },
            "runConfigData": run_config or {},
            "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]},
        }
    }


def launch(context, *args, **kwargs):
    return execute(context, LAUNCH, params(*args, **kwargs))["launchRun"]


def out_config(out_dir, names):
    return {"ops": {name: {"config": {"out_dir": str(out_dir)}} for name in names}}


def finished(instance, run_id):
    return wait_for(lambda: instance.get_run_by_id(run_id).status.value in FINISHED and instance.get_run_by_id(run_id))


def reap(instance):
    """Wait for the run workers this instance's launcher started to exit."""
    for run in instance.get_runs():
        instance.run_launcher.wait(run.run_id, timeout=60)


def workspace():
    return Workspace(locations_from_args(python_files=[str(FIXTURE)]))


@pytest.fixture
def instance(tmp_path):
    # The default coordinator with no daemon: a submitted run is launched at once.
    with DagsterInstance.from_directory(str(tmp_path / "home")) as inst:
        yield inst
        reap(inst)


@pytest.fixture
def queued_instance(tmp_path):
    # A queue with no daemon: a submitted run stays QUEUED.
    with DagsterInstance.from_directory(str(tmp_path / "queued"), overrides=QUEUED) as inst:
        yield inst


@pytest.fixture
def context(instance):
    return WebContext(instance=instance, workspace=workspace())


@pytest.fixture
def queued(queued_instance):
    return WebContext(instance=queued_instance, workspace=workspace())


# ---------- the Run type ----------


def test_every_field_of_a_launched_run(context, instance):
    launched = launch(context, "quick", tags={"owner": "ana"})
    assert launched["__typename"] == "LaunchRunSuccess"
    run_id = launched["run"]["runId"]
    assert launched["run"]["creationTime"] > 0  # read from the run's record
    assert {"key": "owner", "value": "ana"} in launched["run"]["tags"]
    assert finished(instance, run_id).status is DagsterRunStatus.SUCCESS

    run = execute(context, RUN, {"runId": run_id})["runOrError"]
    assert run["__typename"] == "Run"
    assert run["id"] == run["runId"] == run_id
    assert run["jobName"] == run["pipelineName"] == "quick"
    assert run["status"] == "SUCCESS"
    assert run["runConfigYaml"] == "{}\n" and run["runConfig"] == {} and run["mode"] == "default"
    tags = {t["key"]: t["value"] for t in run["tags"]}
    assert tags["team"] == "data" and tags["owner"] == "ana"  # the job's tags, then the launch's
    assert run["solidSelection"] is None and run["resolvedOpSelection"] is None and run["stepKeysToExecute"] is None
    assert run["rootRunId"] is None and run["parentRunId"] is None
    assert run["canTerminate"] is False
    assert run["creationTime"] <= run["startTime"] <= run["endTime"] <= run["updateTime"]
    assert run["pipelineSnapshotId"] == instance.get_run_by_id(run_id).job_snapshot_id is not None
    assert run["parentPipelineSnapshotId"] is None
    stats = run["stats"]
    assert stats["__typename"] == "RunStatsSnapshot" and stats["id"] == f"stats-{run_id}" and stats["runId"] == run_id
    assert (stats["stepsSucceeded"], stats["stepsFailed"], stats["materializations"], stats["expectations"]) == (1, 0, 0, 0)
    assert stats["startTime"] == run["startTime"] and stats["endTime"] == run["endTime"]
    [step] = run["stepStats"]
    assert step["runId"] == run_id and step["stepKey"] == "hello" and step["status"] == "SUCCESS"
    assert run["startTime"] <= step["startTime"] <= step["endTime"] <= run["endTime"]
    assert step["attempts"] == [{"startTime": step["startTime"], "endTime": step["endTime"]}]
    assert isinstance(run["eventConnection"]["cursor"], str) and isinstance(run["eventConnection"]["hasMore"], bool)
    assert run["hasReExecutePermission"] and run["hasTerminatePermission"] and run["hasDeletePermission"]
    assert (run["hasConcurrencyKeySlots"], run["rootConcurrencyKeys"], run["hasUnconstrainedRootNodes"]) == (False, None, True)
    assert run["repositoryOrigin"] == {
        "id": f"{REPOSITORY}@{LOCATION}", "repositoryLocationName": LOCATION, "repositoryName": REPOSITORY,
        "repositoryLocationMetadata": [],
    }
    assert run["executionPlan"] == {"steps": [{"key": "hello", "inputs": []}]}
    assert run["pipeline"] == {"__typename": "PipelineSnapshot", "name": "quick", "solidSelection": None}
    assert execute(context, PIPELINE_RUN, {"runId": run_id})["pipelineRunOrError"] == run


def test_stats_count_materializations_expectations_and_step_attempts(context, instance, tmp_path):
    launched = launch(context, "stats_job", run_config=out_config(tmp_path, ["retried"]))
    run_id = launched["run"]["runId"]
    assert finished(instance, run_id).status is DagsterRunStatus.SUCCESS
    run = execute(context, RUN, {"runId": run_id})["runOrError"]
    stats = run["stats"]
    assert (stats["stepsSucceeded"], stats["stepsFailed"], stats["materializations"], stats["expectations"]) == (2, 0, 1, 1)
    steps = {s["stepKey"]: s for s in run["stepStats"]}
    assert list(steps) == ["materializes", "retried"]
    retried = steps["retried"]
    assert retried["status"] == "SUCCESS"
    assert len(retried["attempts"]) == 2  # failed once, then up for retry, then succeeded
    first, second = retried["attempts"]
    assert first["startTime"] <= first["endTime"] <= second["startTime"] <= second["endTime"] == retried["endTime"]

    document = """query($id: ID!) { runOrError(runId: $id) { ... on Run {
      stepStats { stepKey materializations { assetKey { path } stepKey } expectationResults { success label } }
      assetMaterializations { assetKey { path } }
      assetSelection { path }
      hello: capturedLogs(fileKey: "retried") { logKey stdout stderr }
      none: capturedLogs(fileKey: "no_such_step") { logKey stdout stderr }
    } } }"""
    found = execute(context, document, {"id": run_id})["runOrError"]
    by_step = {s["stepKey"]: s for s in found["stepStats"]}
    assert by_step["materializes"]["materializations"] == [{"assetKey": {"path": ["table"]}, "stepKey": "materializes"}]
    assert by_step["materializes"]["expectationResults"] == [{"success": True, "label": "rows"}]
    assert by_step["retried"]["materializations"] == [] and by_step["retried"]["expectationResults"] == []
    assert found["assetMaterializations"] == [{"assetKey": {"path": ["table"]}}] and found["assetSelection"] is None
    assert found["hello"]["logKey"] == [run_id, "compute_logs", "retried"]
    assert "retried: attempt 2" in found["hello"]["stdout"]
    assert found["none"] == {"logKey": [run_id, "compute_logs", "no_such_step"], "stdout": None, "stderr": None}


def _entry(run_id, kind, at, step_key=None):
    event = DagsterEvent(kind.value, "job", step_key)
    return EventLogEntry(run_id, at, 10, "", "job", step_key, None, event)


def test_step_stats_semantics_from_events():
    E = DagsterEventType
    entries = [
        _entry("r", E.RUN_ENQUEUED, 1.0), _entry("r", E.RUN_STARTING, 2.0), _entry("r", E.RUN_START, 3.0),
        _entry("r", E.RESOURCE_INIT_STARTED, 3.5, "a"), _entry("r", E.RESOURCE_INIT_SUCCESS, 3.6, "a"),
        _entry("r", E.STEP_START, 4.0, "a"), _entry("r", E.STEP_UP_FOR_RETRY, 5.0, "a"),
        _entry("r", E.STEP_RESTARTED, 6.0, "a"), _entry("r", E.STEP_FAILURE, 7.0, "a"),
        _entry("r", E.STEP_SKIPPED, 7.5, "b"),
        _entry("r", E.STEP_START, 8.0, "c"),
        _entry("r", E.STEP_WORKER_STARTED, 8.5, "d"),  # an end without its start
        _entry("r", E.RUN_FAILURE, 9.0),
        EventLogEntry("r", 9.5, 20, "a log line", "job"),  # not an event: ignored
    ]
    stats, steps = compute_stats("r", entries)
    assert (stats.enqueued_time, stats.launch_time, stats.start_time, stats.end_time) == (1.0, 2.0, 3.0, 9.0)
    assert (stats.steps_succeeded, stats.steps_failed) == (0, 1)
    by_key = {s.step_key: s for s in steps}
    a = by_key["a"]
    assert (a.status, a.start_time, a.end_time) == (StepEventStatus.FAILURE, 4.0, 7.0)
    assert [(m.start_time, m.end_time) for m in a.attempts] == [(4.0, 5.0), (6.0, 7.0)]
    assert [(m.start_time, m.end_time) for m in a.markers] == [(3.5, 3.6)]
    assert (by_key["b"].status, by_key["b"].start_time, by_key["b"].end_time) == (StepEventStatus.SKIPPED, None, 7.5)
    assert (by_key["c"].status, by_key["c"].end_time) == (StepEventStatus.IN_PROGRESS, None)
    assert by_key["d"].status is None and [(m.start_time, m.end_time) for m in by_key["d"].markers] == [(None, 8.5)]


def test_a_run_that_has_not_started_and_one_of_an_unknown_job(queued, queued_instance):
    launched = launch(queued, "fragile", run_config=out_config("/nowhere", ["first"]), op_selection=["first"])
    assert launched["run"]["status"] == "QUEUED"
    assert launched["run"]["solidSelection"] == ["first"] and launched["run"]["resolvedOpSelection"] == ["first"]
    run = execute(queued, RUN, {"runId": launched["run"]["runId"]})["runOrError"]
    assert [s["key"] for s in run["executionPlan"]["steps"]] == ["first"]  # the selection's plan
    assert run["pipeline"] == {"__typename": "PipelineSnapshot", "name": "fragile", "solidSelection": ["first"]}
    assert run["canTerminate"] is True and run["startTime"] is None and run["endTime"] is None
    assert run["stepStats"] == []
    assert run["stats"]["enqueuedTime"] is not None and run["stats"]["startTime"] is None
    # A run recorded by other means, of a job no location has: no origin.
    other = queued_instance.create_run(DagsterRun("elsewhere", status=DagsterRunStatus.SUCCESS))
    run = execute(queued, RUN, {"runId": other.run_id})["runOrError"]
    assert run["repositoryOrigin"] is None and run["pipelineSnapshotId"] is None and run["resolvedOpSelection"] is None
    assert run["executionPlan"] is None
    assert run["pipeline"] == {"__typename": "UnknownPipeline", "name": "elsewhere", "solidSelection": None}


def test_run_or_error_not_found_and_python_error(queued, queued_instance, monkeypatch):
    assert execute(queued, RUN, {"runId": "nope"})["runOrError"] == {
        "__typename": "RunNotFoundError", "runId": "nope", "message": "Pipeline run nope could not be found.",
    }
    run = queued_instance.create_run(DagsterRun("quick"))

    def broken(*args, **kwargs):
        raise RuntimeError("the storage is unreadable")

    monkeypatch.setattr(queued_instance, "get_run_record_by_id", broken)
    result = execute(queued, RUN, {"runId": run.run_id})["runOrError"]
    assert result["__typename"] == "PythonError" and "the storage is unreadable" in result["message"]


def test_stats_that_cannot_be_read_are_a_python_error_member(queued, queued_instance, monkeypatch):
    run = queued_instance.create_run(DagsterRun("quick"))

    def broken(*args, **kwargs):
        raise RuntimeError("the event log is unreadable")

    monkeypatch.setattr(queued_instance, "get_records_for_run", broken)
    document = "query($id: ID!) { runOrError(runId: $id) { ... on Run { stats { __typename ... on PythonError { message } } } } }"
    stats = execute(queued, document, {"id": run.run_id})["runOrError"]["stats"]
    assert stats["__typename"] == "PythonError" and "unreadable" in stats["message"]


# ---------- runs lists ----------


@pytest.fixture
def stored(queued_instance):
    """Six runs, oldest first: (job, status, tags)."""
    specs = [
        ("quick", DagsterRunStatus.SUCCESS, {"team": "data", "env": "prod"}),
        ("quick", DagsterRunStatus.FAILURE, {"team": "data", "env": "dev"}),
        ("fragile", DagsterRunStatus.SUCCESS, {"team": "ml"}),
        ("fragile", DagsterRunStatus.QUEUED, {"team": "ml", "env": "prod"}),
        ("quick", DagsterRunStatus.STARTED, {"oprun/run_worker_pid": "1"}),
        ("blocking", DagsterRunStatus.CANCELED, {"note": "100%_done"}),
    ]
    snapshot = {"name": "quick", "v": 1}
    runs = []
    for job_name, status, tags in specs:
        run = DagsterRun(job_name, status=status, tags=tags)
        runs.append(queued_instance.create_run(run, snapshot if job_name == "quick" else None))
    return [r.run_id for r in runs]


def runs(context, filter=None, cursor=None, limit=None, document=RUNS, field="runsOrError"):
    return execute(context, document, {"filter": filter, "cursor": cursor, "limit": limit})[field]


def ids(result):
    return [r["runId"] for r in result["results"]]


def test_runs_newest_first_with_count(queued, stored):
    result = runs(queued)
    assert result["__typename"] == "Runs"
    assert ids(result) == stored[::-1] and result["count"] == 6
    assert runs(queued, document=PIPELINE_RUNS, field="pipelineRunsOrError") == result


def test_cursor_pages_cover_every_run_once(queued, stored):
    seen, cursor = [], None
    while True:
        page = runs(queued, cursor=cursor, limit=4)
        assert page["count"] == 6  # the count ignores the page
        if not page["results"]:
            break
        seen += ids(page)
        cursor = ids(page)[-1]
    assert seen == stored[::-1]
    assert ids(runs(queued, cursor=stored[2], limit=1)) == [stored[1]]
    assert ids(runs(queued, cursor="no-such-run")) == []  # as Dagster: after an unknown run, nothing
    assert ids(runs(queued, limit=0)) == []


@pytest.mark.parametrize(
    ("filter", "expected"),
    [
        ({"runIds": ["$0", None, "$3", "nope"]}, [3, 0]),
        ({"pipelineName": "quick"}, [4, 1, 0]),
        ({"statuses": ["SUCCESS", "CANCELED"]}, [5, 2, 0]),
        ({"tags": [{"key": "team", "value": "data"}]}, [1, 0]),
        ({"tags": [{"key": "team", "value": "ml"}, {"key": "env", "value": "prod"}]}, [3]),
        ({"tags": [{"key": "env", "value": "dev"}, {"key": "env", "value": "prod"}]}, [3, 0]),  # a key twice: the last
        ({"pipelineName": "quick", "statuses": ["FAILURE"], "tags": [{"key": "env", "value": "dev"}]}, [1]),
        ({"snapshotId": "$snapshot"}, [4, 1, 0]),
        ({"mode": "default"}, [5, 4, 3, 2, 1, 0]),
        ({"pipelineName": "nope"}, []),
    ],
)
def test_filters(queued, queued_instance, stored, filter, expected):
    snapshot_id = queued_instance.get_run_by_id(stored[0]).job_snapshot_id
    text = json.dumps(filter).replace('"$snapshot"', json.dumps(snapshot_id))
    for index, run_id in enumerate(stored):
        text = text.replace(f'"${index}"', json.dumps(run_id))
    result = runs(queued, json.loads(text))
    assert ids(result) == [stored[i] for i in expected]
    assert result["count"] == len(expected)


def test_created_and_updated_time_filters(queued, queued_instance, stored):
    records = {r.dagster_run.run_id: r for r in queued_instance.get_run_records()}
    created = [records[r].create_timestamp.timestamp() for r in stored]
    assert ids(runs(queued, {"createdAfter": created[3]})) == stored[:3:-1]
    assert ids(runs(queued, {"createdBefore": created[2]})) == stored[1::-1]
    assert ids(runs(queued, {"createdAfter": created[0], "createdBefore": created[2]})) == [stored[1]]
    queued_instance.add_run_tags(stored[0], {"touched": "yes"})  # moves its update time on
    touched = queued_instance.get_run_record_by_id(stored[0]).update_timestamp.timestamp()
    assert ids(runs(queued, {"updatedAfter": created[5]})) == [stored[0]]
    assert stored[0] not in ids(runs(queued, {"updatedBefore": touched}))
    assert runs(queued, {"updatedBefore": touched})["count"] == 5


def test_snapshot_filter_pages_through_the_storage(queued, queued_instance, stored, monkeypatch):
    monkeypatch.setattr(run_lists, "_SNAPSHOT_BATCH", 2)
    snapshot_id = queued_instance.get_run_by_id(stored[0]).job_snapshot_id
    assert ids(runs(queued, {"snapshotId": snapshot_id}, limit=2)) == [stored[4], stored[1]]
    assert ids(runs(queued, {"snapshotId": snapshot_id}, cursor=stored[1])) == [stored[0]]
    assert runs(queued, {"snapshotId": snapshot_id}, limit=1)["count"] == 3


@pytest.mark.parametrize(
    ("filter", "limit", "message"),
    [
        (None, -1, "limit must be 0 or more, got -1."),
        ({"createdAfter": 1e300}, None, "RunsFilter.createdAfter: 1e+300 is not a time"),
        ({"updatedBefore": -1e300}, None, "RunsFilter.updatedBefore"),
    ],
)
def test_a_bad_filter_or_limit_is_invalid_filter_error(queued, stored, filter, limit, message):
    for document, field in ((RUNS, "runsOrError"), (RUN_IDS, "runIdsOrError")):
        result = runs(queued, filter, limit=limit, document=document, field=field)
        assert result["__typename"] == "InvalidPipelineRunsFilterError"
        assert result["message"].startswith(message)


def test_a_storage_failure_is_a_python_error(queued, queued_instance, stored, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("database is gone")

    monkeypatch.setattr(queued_instance, "get_run_records", broken)
    for document, field in ((RUNS, "runsOrError"), (RUN_IDS, "runIdsOrError")):
        result = runs(queued, document=document, field=field)
        assert result["__typename"] == "PythonError" and "database is gone" in result["message"]


def test_run_ids(queued, stored):
    result = runs(queued, {"pipelineName": "fragile"}, document=RUN_IDS, field="runIdsOrError")
    assert result == {"__typename": "RunIds", "results": [stored[3], stored[2]]}
    page = runs(queued, cursor=stored[3], limit=2, document=RUN_IDS, field="runIdsOrError")
    assert page["results"] == [stored[2], stored[1]]


# ---------- tag autocompletion ----------


@pytest.fixture(params=["sqlite", "memory"])
def tagged(request, queued, stored):
    if request.param == "sqlite":
        return queued
    memory = DagsterInstance.ephemeral()
    for record in queued.instance.get_run_records(ascending=True):
        memory.create_run(record.dagster_run)
    return WebContext(instance=memory, workspace=queued.workspace)


def test_tag_keys_leave_out_bookkeeping_tags(tagged):
    assert execute(tagged, TAG_KEYS)["runTagKeysOrError"] == {"__typename": "RunTagKeys", "keys": ["env", "note", "team"]}


def test_tag_values_by_key_prefix_and_limit(tagged):
    def tags(**variables):
        result = execute(tagged, TAGS, variables)["runTagsOrError"]
        assert result["__typename"] == "RunTags"
        return {t["key"]: t["values"] for t in result["tags"]}

    assert tags() == {"env": ["dev", "prod"], "note": ["100%_done"], "team": ["data", "ml"]}
    assert tags(tagKeys=["team", "env"]) == {"env": ["dev", "prod"], "team": ["data", "ml"]}
    assert tags(tagKeys=["env"], valuePrefix="p") == {"env": ["prod"]}
    assert tags(tagKeys=["note"], valuePrefix="100%") == {"note": ["100%_done"]}
    assert tags(tagKeys=["note"], valuePrefix="1000") == {}  # '%' and '_' are not wildcards
    assert tags(tagKeys=["env", "team"], limit=3) == {"env": ["dev", "prod"], "team": ["data"]}
    assert tags(tagKeys=["oprun/run_worker_pid"]) == {}
    assert tags(tagKeys=["nope"]) == {}


def test_tag_queries_that_fail_are_python_errors(queued, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("no tags today")

    monkeypatch.setattr(run_lists, "tag_keys", broken)
    assert execute(queued, TAG_KEYS)["runTagKeysOrError"]["__typename"] == "PythonError"
    assert execute(queued, TAGS, {})["runTagsOrError"]["__typename"] == "PythonError"


# ---------- permissions ----------


def test_permissions_all_granted_or_all_refused_read_only(queued):
    granted = execute(queued, PERMISSIONS)
    assert granted["canBulkTerminate"] is True
    names = [p["permission"] for p in granted["permissions"]]
    assert {"launch_pipeline_execution", "launch_pipeline_reexecution", "terminate_pipeline_execution", "delete_pipeline_run"} <= set(names)
    assert all(p["value"] is True and p["disabledReason"] is None for p in granted["permissions"])
    read_only = WebContext(instance=queued.instance, workspace=queued.workspace, read_only=True)
    refused = execute(read_only, PERMISSIONS)
    assert refused["canBulkTerminate"] is False
    assert [p["permission"] for p in refused["permissions"]] == names
    assert all(p["value"] is False and "--read-only" in p["disabledReason"] for p in refused["permissions"])


def test_a_read_only_server_refuses_every_runs_mutation(queued, queued_instance):
    run = queued_instance.create_run(DagsterRun("quick", status=DagsterRunStatus.QUEUED))
    read_only = WebContext(instance=queued_instance, workspace=queued.workspace, read_only=True)
    document = "query($id: ID!) { runOrError(runId: $id) { ... on Run { hasReExecutePermission hasTerminatePermission hasDeletePermission } } }"
    assert execute(read_only, document, {"id": run.run_id})["runOrError"] == {
        "hasReExecutePermission": False, "hasTerminatePermission": False, "hasDeletePermission": False,
    }
    assert launch(read_only, "quick")["__typename"] == "UnauthorizedError"
    for policy in ("SAFE_TERMINATE", "MARK_AS_CANCELED_IMMEDIATELY"):
        result = execute(read_only, TERMINATE, {"runId": run.run_id, "terminatePolicy": policy})["terminateRun"]
        assert result["__typename"] == "UnauthorizedError" and "--read-only" in result["message"]
    results = execute(read_only, TERMINATE_RUNS, {"runIds": [run.run_id]})["terminateRuns"]["terminateRunResults"]
    assert [r["__typename"] for r in results] == ["UnauthorizedError"]
    for document, field in ((DELETE, "deleteRun"), (DELETE_LEGACY, "deletePipelineRun")):
        assert execute(read_only, document, {"runId": run.run_id})[field]["__typename"] == "UnauthorizedError"
    reexecute = "mutation($id: String!) { launchRunReexecution(reexecutionParams: {parentRunId: $id, strategy: ALL_STEPS}) { __typename } }"
    assert execute(read_only, reexecute, {"id": run.run_id})["launchRunReexecution"]["__typename"] == "UnauthorizedError"
    assert queued_instance.get_run_by_id(run.run_id).status is DagsterRunStatus.QUEUED
    assert len(queued_instance.get_runs()) == 1


# ---------- launch ----------


def test_launch_errors(queued, queued_instance):
    assert launch(queued, "nope") == {
        "__typename": "PipelineNotFoundError",
        "message": f"Could not find Pipeline {LOCATION}.{REPOSITORY}.nope",
        "pipelineName": "nope",
    }
    invalid = launch(queued, "fragile", run_config={"ops": {"first": {"config": {"out_dir": 3}}}})
    assert invalid["__typename"] == "RunConfigValidationInvalid" and invalid["errors"]
    assert queued_instance.get_runs() == []


def test_launch_names_the_job_by_job_name_as_well(queued, queued_instance):
    # Dagster's selector takes the job as `jobName` (modern) or `pipelineName` (legacy).
    variables = params("quick")
    selector = variables["executionParams"]["selector"]
    selector["jobName"] = selector.pop("pipelineName")
    launched = execute(queued, LAUNCH, variables)["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess"
    assert queued_instance.get_run_by_id(launched["run"]["runId"]).job_name == "quick"


# ---------- terminate ----------


def terminate(context, run_id, policy=None, document=TERMINATE, field="terminateRun"):
    variables = {"runId": run_id, **({"terminatePolicy": policy} if policy else {})}
    return execute(context, document, variables)[field]


def test_safe_terminate_a_queued_run_and_refuse_others(queued, queued_instance):
    run_id = launch(queued, "quick")["run"]["runId"]
    assert terminate(queued, run_id, "SAFE_TERMINATE") == {
        "__typename": "TerminateRunSuccess", "run": {"runId": run_id, "status": "CANCELED", "canTerminate": False},
    }
    assert terminate(queued, run_id) == {
        "__typename": "TerminateRunFailure", "run": {"runId": run_id, "status": "CANCELED"},
        "message": f"Run {run_id} could not be terminated due to having status CANCELED.",
    }
    not_started = queued_instance.create_run(DagsterRun("quick")).run_id
    result = terminate(queued, not_started, document=TERMINATE_LEGACY, field="terminatePipelineExecution")
    assert result["__typename"] == "TerminateRunFailure" and "status NOT_STARTED" in result["message"]
    assert terminate(queued, "nope") == {"__typename": "RunNotFoundError", "runId": "nope", "message": "Pipeline run nope could not be found."}


def test_safe_terminate_that_the_coordinator_cannot_do_is_a_failure(queued, queued_instance, monkeypatch):
    run_id = queued_instance.create_run(DagsterRun("quick", status=DagsterRunStatus.STARTED)).run_id
    monkeypatch.setattr(queued_instance.run_coordinator, "cancel_run", lambda run_id: False)
    result = terminate(queued, run_id)
    assert result == {"__typename": "TerminateRunFailure", "run": {"runId": run_id, "status": "STARTED"}, "message": f"Unable to terminate run {run_id}"}


@pytest.mark.parametrize("status", [DagsterRunStatus.NOT_STARTED, DagsterRunStatus.QUEUED, DagsterRunStatus.STARTING, DagsterRunStatus.CANCELING])
def test_mark_as_canceled_immediately_cancels_any_unfinished_run(queued, queued_instance, status):
    run_id = queued_instance.create_run(DagsterRun("quick", status=status)).run_id
    result = terminate(queued, run_id, "MARK_AS_CANCELED_IMMEDIATELY")
    assert result == {"__typename": "TerminateRunSuccess", "run": {"runId": run_id, "status": "CANCELED", "canTerminate": False}}
    finished_result = terminate(queued, run_id, "MARK_AS_CANCELED_IMMEDIATELY")
    assert finished_result["__typename"] == "TerminateRunFailure"
    if status in (DagsterRunStatus.NOT_STARTED, DagsterRunStatus.CANCELING):  # no launcher to ask: marked here
        assert any("forcibly marked as canceled" in e.user_message for e in queued_instance.all_logs(run_id))


def test_mark_as_canceled_when_the_launcher_fails_records_why(queued, queued_instance, monkeypatch):
    run_id = queued_instance.create_run(DagsterRun("quick", status=DagsterRunStatus.STARTED)).run_id

    def broken(run_id):
        raise RuntimeError("the launcher is down")

    monkeypatch.setattr(queued_instance.run_coordinator, "cancel_run", broken)
    assert terminate(queued, run_id, "MARK_AS_CANCELED_IMMEDIATELY")["run"]["status"] == "CANCELED"
    messages = wait_for(lambda: [e.user_message for e in queued_instance.all_logs(run_id) if "the launcher is down" in e.user_message])
    assert "marked as canceled anyway" in messages[0]


def test_terminate_runs_with_a_policy(queued, queued_instance):
    a = queued_instance.create_run(DagsterRun("quick", status=DagsterRunStatus.STARTING)).run_id
    b = queued_instance.create_run(DagsterRun("quick", status=DagsterRunStatus.NOT_STARTED)).run_id
    result = execute(queued, TERMINATE_RUNS, {"runIds": [a, b], "terminatePolicy": "MARK_AS_CANCELED_IMMEDIATELY"})["terminateRuns"]
    assert result == {
        "__typename": "TerminateRunsResult",
        "terminateRunResults": [
            {"__typename": "TerminateRunSuccess", "run": {"runId": a, "status": "CANCELED"}},
            {"__typename": "TerminateRunSuccess", "run": {"runId": b, "status": "CANCELED"}},
        ],
    }


def _gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_mark_as_canceled_immediately_answers_at_once_and_the_launcher_stops_the_worker(context, instance, tmp_path):
    started, release = tmp_path / "started", tmp_path / "release"
    config = {"ops": {"waits": {"config": {"started_file": str(started), "release_file": str(release)}}}}
    run_id = launch(context, "blocking", run_config=config)["run"]["runId"]
    wait_for(started.exists)
    wait_for(lambda: instance.get_run_by_id(run_id).status is DagsterRunStatus.STARTED)
    pid = int(started.read_text())
    result = terminate(context, run_id, "MARK_AS_CANCELED_IMMEDIATELY")
    assert result["__typename"] == "TerminateRunSuccess" and result["run"]["status"] == "CANCELED"
    assert not release.exists()
    wait_for(lambda: _gone(pid), 30)  # the launcher stopped the worker after the answer
    assert instance.get_run_by_id(run_id).status is DagsterRunStatus.CANCELED  # and it stays so


# ---------- delete ----------


def test_delete_a_finished_or_queued_run_and_refuse_one_in_progress(queued, queued_instance):
    done = queued_instance.create_run(DagsterRun("quick", status=DagsterRunStatus.SUCCESS)).run_id
    queued_instance.report_engine_event("something happened", queued_instance.get_run_by_id(done))
    assert execute(queued, DELETE, {"runId": done})["deleteRun"] == {"__typename": "DeletePipelineRunSuccess", "runId": done}
    assert queued_instance.get_run_by_id(done) is None and queued_instance.all_logs(done) == []
    assert execute(queued, RUN, {"runId": done})["runOrError"]["__typename"] == "RunNotFoundError"
    assert execute(queued, DELETE, {"runId": done})["deleteRun"] == {
        "__typename": "RunNotFoundError", "runId": done, "message": f"Pipeline run {done} could not be found.",
    }
    waiting = queued_instance.create_run(DagsterRun("quick", status=DagsterRunStatus.QUEUED)).run_id
    assert execute(queued, DELETE_LEGACY, {"runId": waiting})["deletePipelineRun"]["__typename"] == "DeletePipelineRunSuccess"
    running = queued_instance.create_run(DagsterRun("quick", status=DagsterRunStatus.STARTED)).run_id
    refused = execute(queued, DELETE, {"runId": running})["deleteRun"]
    assert refused["__typename"] == "PythonError"
    assert f"Cannot delete run {running}: it is STARTED" in refused["message"] and "Terminate it first" in refused["message"]
    assert queued_instance.get_run_by_id(running) is not None


# ---------- a real server ----------


def test_runs_over_http_on_a_real_server(tmp_path):
    from tests.web.test_server import start

    server = start(tmp_path)
    try:
        launch_body = {
            "query": LAUNCH,
            "variables": {"executionParams": {"selector": {"repositoryLocationName": "web_server_jobs.py", "repositoryName": REPOSITORY, "pipelineName": "hello_job"}}},
        }
        launched = server.post(json.dumps(launch_body)).json()["data"]["launchRun"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        run_id = launched["run"]["runId"]

        def run():
            body = server.post(json.dumps({"query": RUN, "variables": {"runId": run_id}})).json()
            return body["data"]["runOrError"] if body["data"]["runOrError"]["status"] in FINISHED else None

        finished_run = wait_for(run, 60)
        assert finished_run["status"] == "SUCCESS" and [s["status"] for s in finished_run["stepStats"]] == ["SUCCESS"]
        page = server.post(json.dumps({"query": RUNS, "variables": {"limit": 25}})).json()["data"]["runsOrError"]
        assert page == {"__typename": "Runs", "results": [{"runId": run_id, "status": "SUCCESS"}], "count": 1}
    finally:
        server.process.kill()
        server.process.wait()
