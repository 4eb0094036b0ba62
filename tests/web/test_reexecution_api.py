"""Re-execution through the GraphQL API (`launchRunReexecution`,
`launchPipelineReexecution`, and `launchRun` with a parent run), against a real
SQLite instance whose runs are launched in their own processes: from failure
re-runs only the failed step and its downstream, reusing the others' outputs;
all steps re-runs everything; selected steps re-run only those; lineage and
Dagster's tags are recorded; and every error branch is data."""

from pathlib import Path

import pytest

from oprun import DagsterInstance, DagsterRunStatus
from oprun.runs import DagsterRun
from oprun.web.context import WebContext
from tests.waiting import wait_for
from tests.web.test_runs_api import FINISHED, LOCATION, QUEUED, REPOSITORY, execute, launch, out_config, reap, workspace

FRAGILE_OPS = ("first", "second", "flaky", "last")


RESULT = """
    __typename
    ... on LaunchRunSuccess { run { runId status rootRunId parentRunId stepKeysToExecute tags { key value } } }
    ... on InvalidStepError { invalidStepKey }
    ... on PipelineNotFoundError { message pipelineName }
    ... on RunConfigValidationInvalid { errors { message path } }
    ... on ConflictingExecutionParamsError { message }
    ... on UnauthorizedError { message }
    ... on PythonError { message }
"""
REEXECUTE = (
    "mutation Reexecute($executionParams: ExecutionParams, $reexecutionParams: ReexecutionParams) {"
    " launchRunReexecution(executionParams: $executionParams, reexecutionParams: $reexecutionParams) {" + RESULT + "} }"
)
REEXECUTE_LEGACY = REEXECUTE.replace("launchRunReexecution(", "launchPipelineReexecution(")
LAUNCH_RUN = "mutation Launch($executionParams: ExecutionParams!) { launchRun(executionParams: $executionParams) {" + RESULT + "} }"
STEP_STATS = "query($id: ID!) { runOrError(runId: $id) { ... on Run { status stepStats { stepKey status } } } }"


@pytest.fixture
def instance(tmp_path):
    # The default coordinator with no daemon: a submitted run is launched at once.
    with DagsterInstance.from_directory(str(tmp_path / "home")) as inst:
        yield inst
        reap(inst)


@pytest.fixture
def queued_instance(tmp_path):
    with DagsterInstance.from_directory(str(tmp_path / "queued"), overrides=QUEUED) as inst:
        yield inst


@pytest.fixture
def context(instance):
    return WebContext(instance=instance, workspace=workspace())


@pytest.fixture
def queued(queued_instance):
    return WebContext(instance=queued_instance, workspace=workspace())


def reexecute(context, parent_run_id=None, strategy=None, execution_params=None, document=REEXECUTE, field="launchRunReexecution"):
    variables = {"executionParams": execution_params}
    if parent_run_id is not None:
        variables["reexecutionParams"] = {"parentRunId": parent_run_id, "strategy": strategy}
    return execute(context, document, variables)[field]


def selected(parent_run_id, step_keys=None, job_name="fragile", run_config=None, tags=None):
    """executionParams as Dagster's UI sends them to re-execute selected steps."""
    params = {
        "selector": {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "pipelineName": job_name},
        "executionMetadata": {
            "parentRunId": parent_run_id, "rootRunId": parent_run_id,
            "tags": [{"key": k, "value": v} for k, v in (tags or {}).items()],
        },
    }
    if step_keys is not None:
        params["stepKeys"] = step_keys
    if run_config is not None:
        params["runConfigData"] = run_config
    return params


def done(instance, run_id):
    return wait_for(lambda: (run := instance.get_run_by_id(run_id)).status.value in FINISHED and run)


def counts(out_dir):
    return {name: int((out_dir / name).read_text()) if (out_dir / name).exists() else 0 for name in FRAGILE_OPS}


def ran(context, run_id):
    stats = execute(context, STEP_STATS, {"id": run_id})["runOrError"]
    return {s["stepKey"]: s["status"] for s in stats["stepStats"]}


@pytest.fixture
def failed(context, instance, tmp_path):
    """A run of `fragile` that failed at `flaky` (first and second succeeded, last did not run)."""
    out = tmp_path / "out"
    out.mkdir()
    run_id = launch(context, "fragile", run_config=out_config(out, FRAGILE_OPS), tags={"team": "data"})["run"]["runId"]
    assert done(instance, run_id).status is DagsterRunStatus.FAILURE
    assert counts(out) == {"first": 1, "second": 1, "flaky": 1, "last": 0}
    return run_id, out


def tags_of(result):
    return {t["key"]: t["value"] for t in result["run"]["tags"]}


def test_from_failure_reruns_only_the_failed_step_and_its_downstream(context, instance, failed):
    parent_id, out = failed
    result = reexecute(context, parent_id, "FROM_FAILURE")
    assert result["__typename"] == "LaunchRunSuccess", result
    child_id = result["run"]["runId"]
    assert result["run"]["parentRunId"] == result["run"]["rootRunId"] == parent_id
    assert result["run"]["stepKeysToExecute"] == ["flaky", "last"]
    tags = tags_of(result)
    assert tags["dagster/parent_run_id"] == tags["dagster/root_run_id"] == parent_id
    assert tags["dagster/is_resume_retry"] == "true"
    assert tags["team"] == "data"  # the parent's own tags carry over
    assert done(instance, child_id).status is DagsterRunStatus.SUCCESS
    assert counts(out) == {"first": 1, "second": 1, "flaky": 2, "last": 1}  # first and second were reused
    assert ran(context, child_id) == {"flaky": "SUCCESS", "last": "SUCCESS"}

    # The child succeeded: from failure again is Dagster's error; all steps is fine,
    # and its root stays the first run.
    again = reexecute(context, child_id, "FROM_FAILURE", document=REEXECUTE_LEGACY, field="launchPipelineReexecution")
    assert again["__typename"] == "PythonError"
    assert f"Cannot re-execute run {child_id} from failure: its status is SUCCESS, not FAILURE" in again["message"]
    everything = reexecute(context, child_id, "ALL_STEPS")
    assert everything["run"]["parentRunId"] == child_id and everything["run"]["rootRunId"] == parent_id
    assert "dagster/is_resume_retry" not in tags_of(everything)
    assert done(instance, everything["run"]["runId"]).status is DagsterRunStatus.SUCCESS
    assert counts(out) == {"first": 2, "second": 2, "flaky": 3, "last": 2}


def test_all_steps_of_a_failed_run_reruns_everything(context, instance, failed):
    parent_id, out = failed
    result = reexecute(context, parent_id, "ALL_STEPS")
    assert result["run"]["stepKeysToExecute"] is None
    assert done(instance, result["run"]["runId"]).status is DagsterRunStatus.SUCCESS
    assert counts(out) == {"first": 2, "second": 2, "flaky": 2, "last": 1}
    assert ran(context, result["run"]["runId"]) == dict.fromkeys(FRAGILE_OPS, "SUCCESS")


def test_selected_steps_rerun_only_those(context, instance, failed):
    parent_id, out = failed
    first = reexecute(context, parent_id, "FROM_FAILURE")
    assert done(instance, first["run"]["runId"]).status is DagsterRunStatus.SUCCESS
    child_id = first["run"]["runId"]
    result = reexecute(context, execution_params=selected(child_id, ["last"], tags={"why": "selected"}))
    assert result["__typename"] == "LaunchRunSuccess", result
    assert result["run"]["stepKeysToExecute"] == ["last"] and result["run"]["parentRunId"] == child_id
    assert result["run"]["rootRunId"] == parent_id and tags_of(result)["why"] == "selected"
    assert done(instance, result["run"]["runId"]).status is DagsterRunStatus.SUCCESS
    assert counts(out) == {"first": 1, "second": 1, "flaky": 2, "last": 2}
    assert ran(context, result["run"]["runId"]) == {"last": "SUCCESS"}

    # launchRun with a parent in its metadata is a re-execution too.
    launched = execute(context, LAUNCH_RUN, {"executionParams": selected(child_id, ["flaky", "last"])})["launchRun"]
    assert launched["run"]["stepKeysToExecute"] == ["flaky", "last"]
    assert done(instance, launched["run"]["runId"]).status is DagsterRunStatus.SUCCESS
    assert counts(out) == {"first": 1, "second": 1, "flaky": 3, "last": 3}


def test_selected_step_errors(queued, queued_instance, tmp_path):
    parent = queued_instance.create_run(DagsterRun("fragile", status=DagsterRunStatus.SUCCESS))
    unknown = reexecute(queued, execution_params=selected(parent.run_id, ["flaky", "nope"]))
    assert unknown == {"__typename": "InvalidStepError", "invalidStepKey": "nope"}
    # Steps whose inputs come from steps that never succeeded in the parent.
    not_done = reexecute(queued, execution_params=selected(parent.run_id, ["last"], run_config=out_config(tmp_path, FRAGILE_OPS)))
    assert not_done["__typename"] == "PythonError" and "did not succeed" in not_done["message"]
    bad_config = reexecute(queued, execution_params=selected(parent.run_id, None, run_config={"ops": {"first": {"config": {"out_dir": 1}}}}))
    assert bad_config["__typename"] == "RunConfigValidationInvalid" and bad_config["errors"]
    wrong_job = reexecute(queued, execution_params=selected(parent.run_id, None, job_name="quick"))
    assert wrong_job["__typename"] == "PythonError" and "it is a run of job 'fragile'" in wrong_job["message"]
    no_parent = selected(None, ["last"])
    no_parent["executionMetadata"] = {}
    missing = reexecute(queued, execution_params=no_parent)
    assert missing["__typename"] == "PythonError" and "needs executionMetadata.parentRunId" in missing["message"]
    steps_alone = execute(queued, LAUNCH_RUN, {"executionParams": no_parent})["launchRun"]
    assert steps_alone["__typename"] == "ConflictingExecutionParamsError" and "without executionMetadata.parentRunId" in steps_alone["message"]
    assert [r.run_id for r in queued_instance.get_runs()] == [parent.run_id]  # nothing recorded


def test_reexecution_errors(queued, queued_instance):
    neither = reexecute(queued)
    assert neither == {"__typename": "ConflictingExecutionParamsError", "message": "Give exactly one of executionParams and reexecutionParams to re-execute a run."}
    parent = queued_instance.create_run(DagsterRun("quick", status=DagsterRunStatus.FAILURE))
    both = execute(queued, REEXECUTE, {
        "executionParams": {"selector": {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "pipelineName": "quick"}},
        "reexecutionParams": {"parentRunId": parent.run_id, "strategy": "ALL_STEPS"},
    })["launchRunReexecution"]
    assert both["__typename"] == "ConflictingExecutionParamsError"
    unknown = reexecute(queued, "nope", "ALL_STEPS")
    assert unknown == {"__typename": "PythonError", "message": "oprun.errors.DagsterRunNotFoundError: Cannot re-execute run nope: there is no such run."}
    elsewhere = queued_instance.create_run(DagsterRun("gone_job", status=DagsterRunStatus.FAILURE))
    not_found = reexecute(queued, elsewhere.run_id, "FROM_FAILURE")
    assert not_found["__typename"] == "PipelineNotFoundError" and not_found["pipelineName"] == "gone_job"
    assert "no code location of this server holds the job" in not_found["message"]
    not_failed = queued_instance.create_run(DagsterRun("quick", status=DagsterRunStatus.CANCELED))
    result = reexecute(queued, not_failed.run_id, "FROM_FAILURE")
    assert result["__typename"] == "PythonError" and "its status is CANCELED, not FAILURE" in result["message"]


def test_a_parent_whose_location_no_longer_has_its_job(queued, queued_instance):
    # A run recorded with this location's pointer, of a job the location does not define.
    origin = {"python_file": str(Path(__file__).parents[1] / "fixtures" / "web_runs_jobs.py"), "module_name": None, "attribute": "*"}
    parent = queued_instance.create_run(DagsterRun("renamed_job", status=DagsterRunStatus.FAILURE, job_code_origin=origin))
    result = reexecute(queued, parent.run_id, "ALL_STEPS")
    assert result["__typename"] == "PipelineNotFoundError"
    assert result["message"] == f"Could not find Pipeline {LOCATION}.{REPOSITORY}.renamed_job: location {LOCATION} no longer has it"
