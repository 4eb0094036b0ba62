"""Secret values never leave the server: a job whose resource and op config read
`EnvVar("OPRUN_TEST_SECRET")` (tests/fixtures/web_secret_jobs.py) is listed,
inspected, validated, launched and run by a real `oprun webserver` with the
variable set, and no response of the API carries its value: the workspace, the
job, its run config schema and default YAML, config validation errors, the
launched runs' config and tags, their event logs, compute logs and error
messages, over GraphQL, server-sent events and the download route.

Besides the fields named (Dagster's names), each object is also asked for
everything it has: a selection generated from the server's introspection
(every field without a required argument, a few levels deep), so a field added
later is covered too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.waiting import wait_for
from tests.web.test_server import Server, start

FIXTURE = str(Path(__file__).parents[1] / "fixtures" / "web_secret_jobs.py")
LOCATION = "web_secret_jobs.py"
REPOSITORY = "__repository__"
SECRET = "s3cr3t-Vx9Qe4-never-shown"
VARIABLE = "OPRUN_TEST_SECRET"
# Runs are launched at once (no daemon in this test), each in its own process.
DEFAULT_COORDINATOR = "run_coordinator:\n  module: oprun.execution.coordinator\n  class: DefaultRunCoordinator\n"

INTROSPECTION = """
query {
  __schema {
    types {
      kind name
      possibleTypes { name }
      fields { name args { name defaultValue type { kind } } type { ...T } }
    }
  }
}
fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } }
"""


def _named(type_ref: dict[str, Any]) -> str:
    while type_ref.get("ofType"):
        type_ref = type_ref["ofType"]
    return str(type_ref["name"])


class Selections:
    """Everything an object has, as a GraphQL selection, from introspection:
    every field whose arguments are all optional, to `depth` levels, without
    entering a type already on the way (the graph has cycles)."""

    SKIP = frozenset({"runs", "pipelineRunsOrError", "futureTicks", "ticks", "tick"})  # other objects' lists: asked on their own

    def __init__(self, types: list[dict[str, Any]]) -> None:
        self.types = {t["name"]: t for t in types}

    def of(self, type_name: str, depth: int = 4, path: tuple[str, ...] = ()) -> str:
        kind = self.types[type_name]["kind"]
        if kind in ("SCALAR", "ENUM"):
            return ""
        if depth == 0 or type_name in path:
            return "{ __typename }"
        members = [p["name"] for p in self.types[type_name].get("possibleTypes") or ()]
        if members:
            parts = [f"... on {member} {self.of(member, depth, path)}" for member in members]
            return "{ __typename " + " ".join(parts) + " }"
        parts = ["__typename"]
        for field in self.types[type_name].get("fields") or ():
            if field["name"] in self.SKIP or any(a["type"]["kind"] == "NON_NULL" and a["defaultValue"] is None for a in field["args"]):
                continue
            # An alias per field: union members may declare one name with different types.
            parts.append(f"{type_name}_{field['name']}: {field['name']} {self.of(_named(field['type']), depth - 1, (*path, type_name))}")
        return "{ " + " ".join(parts) + " }"

    def root(self, field: str, root_type: str = "Query") -> str:
        for candidate in self.types[root_type]["fields"]:
            if candidate["name"] == field:
                return _named(candidate["type"])
        raise AssertionError(f"the schema has no {root_type}.{field}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("secrets")
    (base / "home").mkdir()
    (base / "home" / "oprun.yaml").write_text(DEFAULT_COORDINATOR)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(VARIABLE, SECRET)
        running = start(base, "-f", FIXTURE)
    yield running
    if running.process.poll() is None:
        running.process.kill()
        running.process.wait()


@pytest.fixture(scope="module")
def selections(server: Server) -> Selections:
    return Selections(_graphql(server, INTROSPECTION)["__schema"]["types"])


SEEN: list[str] = []  # every response body, for the last test


def _checked(text: str, what: str) -> str:
    assert SECRET not in text, f"the secret leaks in {what}: ...{text[max(0, text.find(SECRET) - 300):text.find(SECRET) + 100]}..."
    SEEN.append(text)
    return text


def _graphql(server: Server, query: str, variables: dict[str, Any] | None = None, *, allow_errors: bool = False) -> Any:
    response = server.post(json.dumps({"query": query, "variables": variables or {}}))
    body = json.loads(_checked(response.text, query.strip().split("\n")[0][:80]))
    if not allow_errors:
        assert response.status_code == 200 and not body.get("errors"), body
    return body.get("data")


def _selector(job: str) -> dict[str, str]:
    return {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "pipelineName": job}


LAUNCH = """
mutation($executionParams: ExecutionParams!) {
  launchPipelineExecution(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PipelineConfigValidationInvalid { errors { __typename message path reason } }
    ... on PythonError { message stack }
    ... on PipelineNotFoundError { message }
  }
}
"""

STATUS = "query($runId: ID!) { pipelineRunOrError(runId: $runId) { __typename ... on Run { status } } }"


def _launch(server: Server, job: str, run_config: Any = None, tags: list[dict[str, str]] | None = None) -> Any:
    params = {"selector": _selector(job), "runConfigData": run_config or {}, "mode": "default", "executionMetadata": {"tags": tags or []}}
    return _graphql(server, LAUNCH, {"executionParams": params})["launchPipelineExecution"]


def _finished(server: Server, run_id: str) -> str:
    def status() -> str | None:
        value = _graphql(server, STATUS, {"runId": run_id})["pipelineRunOrError"].get("status")
        return value if value in ("SUCCESS", "FAILURE", "CANCELED") else None

    return str(wait_for(status, 120))


@pytest.fixture(scope="module")
def runs(server: Server) -> dict[str, tuple[str, str]]:
    """The runs launched: name -> (run id, final status)."""
    launched = {
        "default config": _launch(server, "secret_job", tags=[{"key": "note", "value": "from the test"}]),
        "config naming the variable": _launch(
            server, "secret_job", {"ops": {"load": {"config": {"api_key": {"env": VARIABLE}}}}}, [{"key": "team", "value": "data"}]
        ),
        "failing resource": _launch(server, "bad_secret_job"),
    }
    done = {}
    for name, result in launched.items():
        if result["__typename"] == "LaunchRunSuccess":
            run_id = result["run"]["runId"]
            done[name] = (run_id, _finished(server, run_id))
    assert "default config" in done, launched
    return done


def test_workspace_and_repositories(server: Server, selections: Selections) -> None:
    for field in ("repositoriesOrError", "workspaceOrError"):
        data = _graphql(server, f"{{ {field} {selections.of(selections.root(field), depth=4)} }}")
        assert data[field]
    listed = _graphql(server, "{ repositoriesOrError { ... on RepositoryConnection { nodes { pipelines { name } } } } }")
    names = {p["name"] for node in listed["repositoriesOrError"]["nodes"] for p in node["pipelines"]}
    assert {"secret_job", "bad_secret_job"} <= names


@pytest.mark.parametrize("job", ["secret_job", "bad_secret_job"])
def test_the_job_and_its_config_schema(server: Server, selections: Selections, job: str) -> None:
    data = _graphql(server, f"query($s: PipelineSelector!) {{ pipelineOrError(params: $s) {selections.of(selections.root('pipelineOrError'), depth=4)} }}", {"s": _selector(job)})
    assert data["pipelineOrError"]["__typename"] in ("Pipeline", "Job"), data
    schema = _graphql(
        server,
        "query($s: PipelineSelector!) { runConfigSchemaOrError(selector: $s) { __typename ... on RunConfigSchema { rootDefaultYaml "
        "allConfigTypes { key description ... on CompositeConfigType { fields { name description defaultValueAsJson isRequired } } } } } }",
        {"s": _selector(job)},
    )["runConfigSchemaOrError"]
    assert schema["__typename"] == "RunConfigSchema", schema
    if job == "secret_job":
        assert VARIABLE in schema["rootDefaultYaml"]  # the default names the variable: {env: OPRUN_TEST_SECRET}
    _graphql(server, f"query($s: PipelineSelector!) {{ runConfigSchemaOrError(selector: $s) {selections.of(selections.root('runConfigSchemaOrError'), depth=3)} }}", {"s": _selector(job)})
    _graphql(
        server,
        f"query($s: PipelineSelector!) {{ executionPlanOrError(pipeline: $s, mode: \"default\") {selections.of(selections.root('executionPlanOrError'), depth=4)} }}",
        {"s": _selector(job)}, allow_errors=True,
    )


BAD_CONFIGS = [
    ("secret_job", {"ops": {"load": {"config": {"api_key": {"env": VARIABLE}, "batch": {"env": VARIABLE}}}}}),  # not an int
    ("secret_job", {"ops": {"load": {"config": {"api_key": {"env": "OPRUN_TEST_SECRET_UNSET"}}}}}),
    ("secret_job", {"ops": {"load": {"config": {"api_key": 5, "unknown": {"env": VARIABLE}}}}}),
    ("secret_job", {"resources": {"warehouse": {"config": {"user": {"env": VARIABLE}, "password": []}}}}),
    ("bad_secret_job", {}),
    ("bad_secret_job", {"resources": {"listener": {"config": {"port": {"env": VARIABLE}}}}}),
]


@pytest.mark.parametrize(("job", "run_config"), BAD_CONFIGS)
def test_config_validation_errors(server: Server, job: str, run_config: Any) -> None:
    query = """
    query($s: PipelineSelector!, $c: RunConfigData) {
      isPipelineConfigValid(pipeline: $s, mode: "default", runConfigData: $c) {
        __typename
        ... on PipelineConfigValidationInvalid { pipelineName errors { __typename message path reason
          ... on RuntimeMismatchConfigError { valueRep } ... on FieldNotDefinedConfigError { fieldName } } }
        ... on PythonError { message stack }
      }
    }
    """
    data = _graphql(server, query, {"s": _selector(job), "c": run_config})["isPipelineConfigValid"]
    assert data["__typename"] in ("PipelineConfigValidationValid", "RunConfigValidationInvalid", "PipelineConfigValidationInvalid"), data
    _graphql(
        server,
        "query($s: PipelineSelector!, $c: RunConfigData) { runConfigSchemaOrError(selector: $s) { ... on RunConfigSchema { "
        "isRunConfigValid(runConfigData: $c) { __typename ... on RunConfigValidationInvalid { errors { message path } } } } } }",
        {"s": _selector(job), "c": run_config},
    )
    # launched as it is: refused with the same errors, or a run that fails
    result = _launch(server, job, run_config)
    if result["__typename"] == "LaunchRunSuccess":
        _finished(server, result["run"]["runId"])


def test_the_runs_succeed_or_fail_as_expected(runs: dict[str, tuple[str, str]]) -> None:
    assert runs["default config"][1] == "SUCCESS"
    assert runs["config naming the variable"][1] == "SUCCESS"
    if "failing resource" in runs:
        assert runs["failing resource"][1] == "FAILURE"


def test_each_run_everything_it_has(server: Server, selections: Selections, runs: dict[str, tuple[str, str]]) -> None:
    for run_id, _status in runs.values():
        data = _graphql(server, f"query($id: ID!) {{ pipelineRunOrError(runId: $id) {selections.of(selections.root('pipelineRunOrError'), depth=4)} }}", {"id": run_id})
        assert data["pipelineRunOrError"]["__typename"] == "Run", data
        named = _graphql(
            server,
            "query($id: ID!) { runOrError(runId: $id) { ... on Run { runConfigYaml runConfig tags { key value } "
            "stepStats { stepKey status } eventConnection { events { __typename ... on MessageEvent { message } "
            "... on ExecutionStepFailureEvent { error { message stack } } "
            "... on RunFailureEvent { error { message stack } } } } } } }",
            {"id": run_id},
        )["runOrError"]
        assert VARIABLE in named["runConfigYaml"] or named["runConfigYaml"].strip() in ("{}", "")
    listed = _graphql(server, f"{{ runsOrError(limit: 50) {selections.of(selections.root('runsOrError'), depth=4)} }}")
    assert listed["runsOrError"]["__typename"] == "Runs"
    _graphql(server, "{ runTagsOrError { __typename ... on RunTags { tags { key values } } } }")


def test_event_logs_and_streams(server: Server, selections: Selections, runs: dict[str, tuple[str, str]]) -> None:
    for run_id, _status in runs.values():
        data = _graphql(server, f"query($id: ID!) {{ logsForRun(runId: $id) {selections.of(selections.root('logsForRun'), depth=5)} }}", {"id": run_id})
        assert data["logsForRun"]["__typename"] == "EventConnection", data
        response = httpx.get(f"{server.url}/api/runs/{run_id}/events", timeout=60)  # ends once the run is finished and sent
        assert response.status_code == 200, response.text
        _checked(response.text, f"the server-sent events of run {run_id}")


def test_compute_logs(server: Server, runs: dict[str, tuple[str, str]]) -> None:
    run_id = runs["default config"][0]
    events = _graphql(
        server,
        "query($id: ID!) { logsForRun(runId: $id) { ... on EventConnection { events { __typename ... on LogsCapturedEvent { fileKey stepKeys } } } } }",
        {"id": run_id},
    )["logsForRun"]["events"]
    keys = {e["fileKey"] for e in events if e["__typename"] == "LogsCapturedEvent"} or {"load"}
    seen_output = False
    for key in keys:
        log_key = [run_id, "compute_logs", key]
        logs = _graphql(server, "query($k: [String!]!) { capturedLogs(logKey: $k) { stdout stderr cursor } }", {"k": log_key})["capturedLogs"]
        seen_output = seen_output or "rows with a key of" in (logs["stdout"] or "")
        _graphql(server, "query($k: [String!]!) { capturedLogsMetadata(logKey: $k) { stdoutDownloadUrl stderrDownloadUrl stdoutLocation stderrLocation } }", {"k": log_key})
        for stream in ("stdout", "stderr"):
            response = httpx.get(f"{server.url}/download/{run_id}/{key}/{stream}", timeout=30)
            _checked(response.text, f"the {stream} download of {key}")
        response = httpx.get(f"{server.url}/api/runs/{run_id}/logs/{key}", timeout=60)
        _checked(response.text, f"the compute log stream of {key}")
    assert seen_output, "the op's printed line is not in its captured stdout"


def test_instance_and_daemon_health(server: Server, selections: Selections) -> None:
    _graphql(server, f"{{ instance {selections.of(selections.root('instance'), depth=4)} }}")


def test_no_response_carried_the_secret() -> None:
    """The bodies above, once more as a whole (and a sanity check that they were many)."""
    assert len(SEEN) > 20
    assert not any(SECRET in text for text in SEEN)


def test_the_websocket_subscriptions(server: Server, runs: dict[str, tuple[str, str]]) -> None:
    """`pipelineRunLogs` and `capturedLogs` over the websocket (graphql-transport-ws), to their end."""
    client = pytest.importorskip("websockets.sync.client")
    run_id = runs["default config"][0]
    documents = [
        ("subscription($id: ID!) { pipelineRunLogs(runId: $id) { __typename ... on PipelineRunLogsSubscriptionSuccess { "
         "messages { __typename ... on MessageEvent { message } } cursor } } }", {"id": run_id}),
        ("subscription($k: [String!]!) { capturedLogs(logKey: $k) { stdout stderr cursor } }", {"k": [run_id, "compute_logs", "load"]}),
    ]
    url = server.url.replace("http://", "ws://") + "/graphql"
    with client.connect(url, subprotocols=["graphql-transport-ws"], open_timeout=30) as ws:
        ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(ws.recv(timeout=30))["type"] == "connection_ack"
        for index, (query, variables) in enumerate(documents):
            ws.send(json.dumps({"id": str(index), "type": "subscribe", "payload": {"query": query, "variables": variables}}))
            received = 0
            while True:
                message = ws.recv(timeout=30)
                _checked(str(message), f"the websocket answer to {query[:40]}")
                kind = json.loads(message)["type"]
                assert kind != "error", message
                if kind == "next":
                    received += 1
                # the log of a finished run is sent whole, then the stream ends (compute logs: once read, or stopped)
                if kind == "complete" or (index == 1 and received >= 1):
                    break
            assert received >= 1
            if index == 1:
                ws.send(json.dumps({"id": str(index), "type": "complete"}))
