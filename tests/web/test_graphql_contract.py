"""The stock DagsterGraphQLClient's documents (dagster-graphql 1.13.28), copied
verbatim from the contract doc (the DagsterGraphQLClient wire contract, `graphql-client-contract.md` of the shared reference
§3), with the variables the client sends, run through oprun's schema against a real
SQLite instance and a workspace loaded from tests/fixtures/web_jobs.py: every
response branch the client decodes."""

import shutil
from pathlib import Path

import pytest

from oprun import DagsterInstance, DagsterRunStatus
from oprun.daemon.base import Workspace
from oprun.loading import locations_from_args
from oprun.runs import DagsterRun
from oprun.web.context import WebContext
from oprun.web.schema import build_schema
from tests.waiting import wait_for

FIXTURE = Path(__file__).parents[1] / "fixtures" / "web_jobs.py"
LOCATION = "web_jobs.py"
REPOSITORY = "__repository__"
QUEUED = {"run_coordinator": {"module": "oprun.execution.coordinator", "class": "QueuedRunCoordinator"}}
SCHEMA = build_schema()

# ---------- the client's documents, verbatim ----------

GET_JOB_NAMES = """\
query GraphQLClientGetJobNames {
  repositoriesOrError {
    __typename
    ... on RepositoryConnection {
      nodes {
        name
        location {
          name
        }
        pipelines {
          name
        }
      }
    }
    ... on PythonError {
      message
    }
  }
}
"""

SUBMIT_RUN = """\
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

GET_RUN_STATUS = """\
query GraphQLClientGetRunStatus($runId: ID!) {
  pipelineRunOrError(runId: $runId) {
    __typename
    ... on PipelineRun {
        status
    }
    ... on PipelineRunNotFoundError {
      message
    }
    ... on PythonError {
      message
    }
  }
}
"""

RELOAD_LOCATION = """\
mutation GraphQLClientReloadCodeLocation($repositoryLocationName: String!) {
   reloadRepositoryLocation(repositoryLocationName: $repositoryLocationName) {
      __typename
      ... on WorkspaceLocationEntry {
        name
        locationOrLoadError {
          __typename
          ... on RepositoryLocation {
            isReloadSupported
            repositories {
                name
            }
          }
          ... on PythonError {
            message
          }
        }
      }
      ... on ReloadNotSupported {
        message
      }
      ... on RepositoryLocationNotFound {
        message
      }
   }
}
"""

SHUTDOWN_LOCATION = """\
mutation GraphQLClientShutdownCodeLocation($repositoryLocationName: String!) {
   shutdownRepositoryLocation(repositoryLocationName: $repositoryLocationName) {
      __typename
      ... on PythonError {
        message
      }
      ... on RepositoryLocationNotFound {
        message
      }
   }
}
"""

TERMINATE_RUN = """\
mutation GraphQLClientTerminateRun($runId: String!) {
  terminateRun(runId: $runId){
    __typename
    ... on TerminateRunSuccess{
      run {
        runId
      }
    }
    ... on TerminateRunFailure {
      message
    }
    ... on RunNotFoundError {
      runId
    }
    ... on PythonError {
      message
      stack
    }
  }
}
"""

TERMINATE_RUNS = """\
mutation GraphQLClientTerminateRuns($runIds: [String!]!) {
  terminateRuns(runIds: $runIds) {
    __typename
    ... on TerminateRunsResult {
      terminateRunResults {
        __typename
        ... on TerminateRunSuccess {
          run  {
            runId
          }
        }
        ... on TerminateRunFailure {
          message
        }
        ... on RunNotFoundError {
          runId
          message
        }
        ... on UnauthorizedError {
          message
        }
        ... on PythonError {
          message
          stack
        }
      }
    }
  }
}
"""


# ---------- helpers ----------


def execute(context, document, variables=None):
    result = SCHEMA.execute_sync(document, variable_values=variables, context_value=context)
    assert result.errors is None, result.errors
    return result.data


def launch_variables(job_name, run_config=None, tags=None, op_selection=None, location=LOCATION, repository=REPOSITORY):
    """Exactly the shape DagsterGraphQLClient.submit_job_execution sends (§3.1)."""
    return {
        "executionParams": {
            "selector": {
                "repositoryLocationName": location,
                "repositoryName": repository,
                "pipelineName": job_name,
                "solidSelection": op_selection,
                "assetSelection": None,
            },
            "runConfigData": run_config if run_config is not None else {},
            "mode": "default",
            "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in tags.items()]} if tags else {},
        }
    }


def launch(context, *args, **kwargs):
    return execute(context, SUBMIT_RUN, launch_variables(*args, **kwargs))["launchPipelineExecution"]


@pytest.fixture
def instance(tmp_path):
    with DagsterInstance.from_directory(str(tmp_path / "home"), overrides=QUEUED) as inst:
        yield inst


@pytest.fixture
def context(instance):
    return WebContext(instance=instance, workspace=Workspace(locations_from_args(python_files=[str(FIXTURE)])))


@pytest.fixture
def broken_file(tmp_path):
    path = tmp_path / "web_broken_location.py"
    path.write_text("raise RuntimeError('this location cannot load')\n")
    return path


# ---------- repositoriesOrError ----------


def test_job_names_lists_one_repository_per_location_with_its_jobs(context):
    result = execute(context, GET_JOB_NAMES)["repositoriesOrError"]
    assert result == {
        "__typename": "RepositoryConnection",
        "nodes": [
            {
                "name": REPOSITORY,
                "location": {"name": LOCATION},
                "pipelines": [{"name": n} for n in ("hello_job", "two_ops_job", "config_job", "blocking_job")],
            }
        ],
    }


def test_a_location_that_fails_to_load_is_left_out(instance, broken_file):
    workspace = Workspace(locations_from_args(python_files=[str(FIXTURE), str(broken_file)]))
    context = WebContext(instance=instance, workspace=workspace)
    nodes = execute(context, GET_JOB_NAMES)["repositoriesOrError"]["nodes"]
    assert [node["location"]["name"] for node in nodes] == [LOCATION]


# ---------- launchPipelineExecution ----------


def test_launch_with_the_clients_default_variables_queues_a_run(context, instance):
    result = launch(context, "hello_job")
    assert result["__typename"] == "LaunchRunSuccess"
    run = instance.get_run_by_id(result["run"]["runId"])
    assert run.job_name == "hello_job"
    assert run.status == DagsterRunStatus.QUEUED
    status = execute(context, GET_RUN_STATUS, {"runId": run.run_id})["pipelineRunOrError"]
    assert status == {"__typename": "Run", "status": "QUEUED"}


def test_launch_passes_tags_op_selection_and_a_yaml_run_config(context, instance):
    result = launch(context, "two_ops_job", tags={"team": "data", "n": "5"}, op_selection=["first"])
    assert result["__typename"] == "LaunchRunSuccess"
    run = instance.get_run_by_id(result["run"]["runId"])
    assert run.tags["team"] == "data" and run.tags["n"] == "5"
    assert list(run.op_selection) == ["first"]

    yaml_config = "ops:\n  counts:\n    config:\n      count: 3\n"
    result = launch(context, "config_job", run_config=yaml_config)
    assert result["__typename"] == "LaunchRunSuccess"
    assert instance.get_run_by_id(result["run"]["runId"]).run_config == {"ops": {"counts": {"config": {"count": 3}}}}


def test_launch_with_a_config_object(context, instance):
    result = launch(context, "config_job", run_config={"ops": {"counts": {"config": {"count": 3}}}})
    assert result["__typename"] == "LaunchRunSuccess"


def test_invalid_run_config_is_a_list_of_dagsters_config_errors(context, instance):
    result = launch(context, "config_job", run_config={})
    assert result["__typename"] == "RunConfigValidationInvalid"
    assert result["errors"], result
    for error in result["errors"]:
        assert error["__typename"].endswith("ConfigError")
        assert error["message"] and isinstance(error["path"], list)
        assert error["reason"] in {"MISSING_REQUIRED_FIELD", "MISSING_REQUIRED_FIELDS"}

    result = launch(context, "config_job", run_config={"ops": {"counts": {"config": {"count": "three"}}}})
    assert result["__typename"] == "RunConfigValidationInvalid"
    [error] = result["errors"]
    assert error["__typename"] == "RuntimeMismatchConfigError"
    assert error["reason"] == "RUNTIME_TYPE_MISMATCH"
    assert error["path"] == ["ops", "counts", "config", "count"]

    result = launch(context, "hello_job", run_config={"ops": {"nope": {}}})
    assert result["__typename"] == "RunConfigValidationInvalid"
    assert result["errors"][0]["reason"] in {"FIELD_NOT_DEFINED", "FIELDS_NOT_DEFINED"}
    assert instance.get_runs() == []


@pytest.mark.parametrize("run_config", ["ops: [unclosed", "- a list", ["a", "list"]])
def test_run_config_that_is_not_a_mapping_is_invalid_config(context, instance, run_config):
    result = launch(context, "hello_job", run_config=run_config)
    assert result["__typename"] == "RunConfigValidationInvalid"
    [error] = result["errors"]
    assert error["__typename"] == "RuntimeMismatchConfigError"
    assert error["path"] == [] and error["reason"] == "RUNTIME_TYPE_MISMATCH"
    assert "YAML" in error["message"] or "mapping" in error["message"]
    assert instance.get_runs() == []


def test_an_unknown_job_location_or_repository_is_pipeline_not_found(context):
    result = launch(context, "no_such_job")
    assert result == {
        "__typename": "PipelineNotFoundError",
        "message": f"Could not find Pipeline {LOCATION}.{REPOSITORY}.no_such_job",
    }
    assert launch(context, "hello_job", location="elsewhere.py")["__typename"] == "PipelineNotFoundError"
    assert launch(context, "hello_job", repository="other_repo")["__typename"] == "PipelineNotFoundError"


def test_a_bad_op_selection_or_a_broken_location_is_a_python_error(instance, broken_file):
    workspace = Workspace(locations_from_args(python_files=[str(FIXTURE), str(broken_file)]))
    context = WebContext(instance=instance, workspace=workspace)
    result = launch(context, "two_ops_job", op_selection=["no_such_op"])
    assert result["__typename"] == "PythonError"
    assert "no_such_op" in result["message"]
    result = launch(context, "anything", location=broken_file.name)
    assert result["__typename"] == "PythonError"
    assert "this location cannot load" in result["message"]


# ---------- pipelineRunOrError ----------


@pytest.mark.parametrize("status", list(DagsterRunStatus))
def test_run_status_round_trips_every_run_status(context, instance, status):
    run = instance.create_run(DagsterRun("hello_job", status=status))
    result = execute(context, GET_RUN_STATUS, {"runId": run.run_id})["pipelineRunOrError"]
    assert result == {"__typename": "Run", "status": status.value}


def test_run_status_of_an_unknown_run_is_run_not_found(context):
    result = execute(context, GET_RUN_STATUS, {"runId": "nope"})["pipelineRunOrError"]
    assert result == {"__typename": "RunNotFoundError", "message": "Pipeline run nope could not be found."}


# ---------- terminateRun / terminateRuns ----------


def test_terminate_a_queued_run_then_again_once_finished(context, instance):
    run_id = launch(context, "hello_job")["run"]["runId"]
    result = execute(context, TERMINATE_RUN, {"runId": run_id})["terminateRun"]
    assert result == {"__typename": "TerminateRunSuccess", "run": {"runId": run_id}}
    assert instance.get_run_by_id(run_id).status == DagsterRunStatus.CANCELED

    result = execute(context, TERMINATE_RUN, {"runId": run_id})["terminateRun"]
    assert result == {
        "__typename": "TerminateRunFailure",
        "message": f"Run {run_id} could not be terminated due to having status CANCELED.",
    }


def test_terminate_an_unknown_run_is_run_not_found(context):
    result = execute(context, TERMINATE_RUN, {"runId": "nope"})["terminateRun"]
    assert result == {"__typename": "RunNotFoundError", "runId": "nope"}


def test_terminate_a_started_run_stops_its_process(tmp_path):
    # No daemon and the default coordinator: submitting launches the run at once.
    with DagsterInstance.from_directory(str(tmp_path / "home")) as instance:
        context = WebContext(instance=instance, workspace=Workspace(locations_from_args(python_files=[str(FIXTURE)])))
        started, release = tmp_path / "started", tmp_path / "release"
        config = {"ops": {"waits_for_file": {"config": {"started_file": str(started), "release_file": str(release)}}}}
        result = launch(context, "blocking_job", run_config=config)
        assert result["__typename"] == "LaunchRunSuccess"
        run_id = result["run"]["runId"]
        wait_for(started.exists)
        wait_for(lambda: instance.get_run_by_id(run_id).status == DagsterRunStatus.STARTED)
        result = execute(context, TERMINATE_RUN, {"runId": run_id})["terminateRun"]
        assert result == {"__typename": "TerminateRunSuccess", "run": {"runId": run_id}}
        assert instance.get_run_by_id(run_id).status == DagsterRunStatus.CANCELED
        assert execute(context, GET_RUN_STATUS, {"runId": run_id})["pipelineRunOrError"]["status"] == "CANCELED"


def test_terminate_runs_reports_each_run(context, instance):
    queued = launch(context, "hello_job")["run"]["runId"]
    finished = instance.create_run(DagsterRun("hello_job", status=DagsterRunStatus.SUCCESS)).run_id
    result = execute(context, TERMINATE_RUNS, {"runIds": [queued, "nope", finished]})["terminateRuns"]
    assert result == {
        "__typename": "TerminateRunsResult",
        "terminateRunResults": [
            {"__typename": "TerminateRunSuccess", "run": {"runId": queued}},
            {"__typename": "RunNotFoundError", "runId": "nope", "message": "Pipeline run nope could not be found."},
            {
                "__typename": "TerminateRunFailure",
                "message": f"Run {finished} could not be terminated due to having status SUCCESS.",
            },
        ],
    }


# ---------- reloadRepositoryLocation / shutdownRepositoryLocation ----------


def test_reload_success_then_failure_then_not_found(instance, tmp_path):
    code = tmp_path / "web_reloaded_jobs.py"
    shutil.copy(FIXTURE, code)
    context = WebContext(instance=instance, workspace=Workspace(locations_from_args(python_files=[str(code)])))
    variables = {"repositoryLocationName": code.name}

    result = execute(context, RELOAD_LOCATION, variables)["reloadRepositoryLocation"]
    assert result == {
        "__typename": "WorkspaceLocationEntry",
        "name": code.name,
        "locationOrLoadError": {"__typename": "RepositoryLocation", "isReloadSupported": True, "repositories": [{"name": REPOSITORY}]},
    }

    code.write_text("raise RuntimeError('broken by an edit')\n")
    result = execute(context, RELOAD_LOCATION, variables)["reloadRepositoryLocation"]
    assert result["__typename"] == "WorkspaceLocationEntry"
    assert result["locationOrLoadError"]["__typename"] == "PythonError"
    assert "broken by an edit" in result["locationOrLoadError"]["message"]
    assert execute(context, GET_JOB_NAMES)["repositoriesOrError"]["nodes"] == []

    result = execute(context, RELOAD_LOCATION, {"repositoryLocationName": "nope"})["reloadRepositoryLocation"]
    assert result == {"__typename": "RepositoryLocationNotFound", "message": "Location nope does not exist."}


def test_shutdown_is_a_success_for_a_known_location(context):
    result = execute(context, SHUTDOWN_LOCATION, {"repositoryLocationName": LOCATION})["shutdownRepositoryLocation"]
    assert result == {"__typename": "ShutdownRepositoryLocationSuccess"}
    result = execute(context, SHUTDOWN_LOCATION, {"repositoryLocationName": "nope"})["shutdownRepositoryLocation"]
    assert result == {"__typename": "RepositoryLocationNotFound", "message": "Location nope does not exist."}
