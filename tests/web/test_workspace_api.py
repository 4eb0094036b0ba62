"""The workspace through GraphQL: `workspaceOrError` (a location that fails to
load shows with its error), `locationStatusesOrError`,
`workspaceLocationEntryOrError`, `repositoryOrError`, `repositoriesOrError` with
a selector, the repository's jobs, schedules and sensors, and reloading; run
through the real schema against a real SQLite instance."""

from __future__ import annotations

from pathlib import Path

import pytest

from oprun import DagsterInstance
from oprun.daemon.base import Workspace
from oprun.loading import locations_from_args
from oprun.web.context import WebContext
from oprun.web.schema import build_schema

FIXTURE = Path(__file__).parents[1] / "fixtures" / "web_graph_jobs.py"
LOCATION = "web_graph_jobs.py"
REPOSITORY = "__repository__"
SCHEMA = build_schema()


def execute(context, document, variables=None):
    result = SCHEMA.execute_sync(document, variable_values=variables, context_value=context)
    assert result.errors is None, result.errors
    return result.data


@pytest.fixture
def instance(tmp_path):
    with DagsterInstance.from_directory(str(tmp_path / "home")) as inst:
        yield inst


@pytest.fixture
def broken_file(tmp_path):
    path = tmp_path / "web_graph_broken.py"
    path.write_text("raise RuntimeError('this location cannot load')\n")
    return path


@pytest.fixture
def context(instance, broken_file):
    workspace = Workspace(locations_from_args(python_files=[str(FIXTURE), str(broken_file)]))
    return WebContext(instance=instance, workspace=workspace)


LOCATION_FIELDS = """
fragment Location on RepositoryLocation {
  id name isReloadSupported serverId environmentPath dagsterLibraryVersions { name version }
  repositories {
    id name
    location { name }
    pipelines { name isJob }
    jobs { __typename name }
    schedules { name }
    sensors { name }
    displayMetadata { key value }
    origin { repositoryLocationName repositoryName }
  }
}
"""

WORKSPACE = LOCATION_FIELDS + """
query Workspace {
  workspaceOrError {
    __typename
    ... on Workspace {
      id
      locationEntries {
        __typename id name loadStatus updatedTimestamp
        displayMetadata { key value }
        permissions { permission value disabledReason }
        featureFlags { name enabled }
        locationOrLoadError { __typename ... on RepositoryLocation { ...Location } ... on PythonError { message stack } }
      }
    }
    ... on PythonError { message }
  }
}
"""


def test_the_workspace_shows_every_location_a_broken_one_with_its_error(context, broken_file):
    workspace = execute(context, WORKSPACE)["workspaceOrError"]
    assert workspace["__typename"] == "Workspace"
    good, bad = workspace["locationEntries"]
    assert good["name"] == good["id"] == LOCATION
    assert good["loadStatus"] == "LOADED" and good["updatedTimestamp"] > 0
    assert {"key": "python_file", "value": str(FIXTURE)} in good["displayMetadata"]
    assert good["featureFlags"] == []
    assert {p["permission"] for p in good["permissions"]} >= {"launch_pipeline_execution"}
    location = good["locationOrLoadError"]
    assert location["__typename"] == "RepositoryLocation"
    assert location["name"] == LOCATION and location["isReloadSupported"] is True and location["serverId"]
    assert location["dagsterLibraryVersions"][0]["name"] == "oprun"
    [repository] = location["repositories"]
    assert repository["name"] == REPOSITORY and repository["location"] == {"name": LOCATION}
    assert [j["name"] for j in repository["jobs"]] == [
        "nested_job", "config_kinds_job", "secret_job", "defaults_job", "partitioned_job", "dynamic_job", "mapped_job",
    ]
    assert {j["__typename"] for j in repository["jobs"]} == {"Job"}
    assert [p["name"] for p in repository["pipelines"]] == [j["name"] for j in repository["jobs"]]
    assert repository["schedules"] == [{"name": "nested_hourly"}]
    assert repository["sensors"] == [{"name": "config_sensor"}]
    assert repository["origin"] == {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY}

    assert bad["name"] == broken_file.name and bad["loadStatus"] == "LOADED"
    error = bad["locationOrLoadError"]
    assert error["__typename"] == "PythonError"
    assert "this location cannot load" in error["message"]


def test_repositories_or_error_still_leaves_a_broken_location_out(context):
    query = "{ repositoriesOrError { ... on RepositoryConnection { nodes { location { name } } } } }"
    nodes = execute(context, query)["repositoriesOrError"]["nodes"]
    assert nodes == [{"location": {"name": LOCATION}}]


STATUSES = """
{
  locationStatusesOrError {
    __typename
    ... on WorkspaceLocationStatusEntries { entries { id name loadStatus updateTimestamp permissions { permission value } } }
  }
  one: workspaceLocationEntryOrError(name: "web_graph_jobs.py") { __typename ... on WorkspaceLocationEntry { name updatedTimestamp } }
  none: workspaceLocationEntryOrError(name: "nowhere.py") { __typename }
}
"""


def test_location_statuses_and_one_entry_by_name(context, broken_file):
    data = execute(context, STATUSES)
    entries = data["locationStatusesOrError"]["entries"]
    assert [(e["name"], e["loadStatus"]) for e in entries] == [(LOCATION, "LOADED"), (broken_file.name, "LOADED")]
    assert all(e["updateTimestamp"] > 0 and e["id"] == e["name"] for e in entries)
    assert data["one"]["name"] == LOCATION
    assert data["one"]["updatedTimestamp"] == entries[0]["updateTimestamp"]
    assert data["none"] is None


REPOSITORY_QUERY = LOCATION_FIELDS + """
query Repo($selector: RepositorySelector!) {
  repositoryOrError(repositorySelector: $selector) {
    __typename
    ... on Repository { name location { ...Location } }
    ... on RepositoryNotFoundError { message repositoryName repositoryLocationName }
    ... on PythonError { message }
  }
  repositoriesOrError(repositorySelector: $selector) {
    __typename
    ... on RepositoryConnection { nodes { name location { name } } }
    ... on RepositoryNotFoundError { message }
    ... on PythonError { message }
  }
}
"""


def repository(context, location=LOCATION, name=REPOSITORY):
    return execute(context, REPOSITORY_QUERY, {"selector": {"repositoryLocationName": location, "repositoryName": name}})


def test_one_repository_by_selector(context, broken_file):
    data = repository(context)
    assert data["repositoryOrError"]["__typename"] == "Repository"
    assert data["repositoryOrError"]["location"]["repositories"][0]["schedules"] == [{"name": "nested_hourly"}]
    assert data["repositoriesOrError"] == {"__typename": "RepositoryConnection", "nodes": [{"name": REPOSITORY, "location": {"name": LOCATION}}]}
    for location, name in ((LOCATION, "other"), ("nowhere.py", REPOSITORY)):
        data = repository(context, location, name)
        assert data["repositoryOrError"]["__typename"] == "RepositoryNotFoundError"
        assert data["repositoryOrError"]["repositoryName"] == name
        assert data["repositoryOrError"]["repositoryLocationName"] == location
        assert data["repositoriesOrError"]["__typename"] == "RepositoryNotFoundError"
    broken = repository(context, broken_file.name)
    assert broken["repositoryOrError"]["__typename"] == "PythonError"
    assert "this location cannot load" in broken["repositoryOrError"]["message"]


RELOAD_WORKSPACE = """
mutation { reloadWorkspace {
  __typename
  ... on Workspace { locationEntries { name locationOrLoadError { __typename ... on RepositoryLocation { serverId } } } }
  ... on UnauthorizedError { message }
  ... on PythonError { message }
} }
"""

RELOAD_LOCATION = """
mutation Reload($name: String!) { reloadRepositoryLocation(repositoryLocationName: $name) {
  __typename
  ... on WorkspaceLocationEntry { name updatedTimestamp locationOrLoadError { __typename ... on RepositoryLocation { serverId } ... on PythonError { message } } }
  ... on RepositoryLocationNotFound { message }
  ... on UnauthorizedError { message }
} }
"""


def test_reloading_makes_a_new_server_id_and_timestamp(context, broken_file):
    before = execute(context, WORKSPACE)["workspaceOrError"]["locationEntries"][0]
    reloaded = execute(context, RELOAD_LOCATION, {"name": LOCATION})["reloadRepositoryLocation"]
    assert reloaded["__typename"] == "WorkspaceLocationEntry"
    assert reloaded["locationOrLoadError"]["serverId"] != before["locationOrLoadError"]["serverId"]
    assert reloaded["updatedTimestamp"] >= before["updatedTimestamp"]

    broken_file.write_text("from oprun import Definitions\n\ndefs = Definitions()\n")
    result = execute(context, RELOAD_WORKSPACE)["reloadWorkspace"]
    assert result["__typename"] == "Workspace"
    assert [e["locationOrLoadError"]["__typename"] for e in result["locationEntries"]] == ["RepositoryLocation", "RepositoryLocation"]
    broken_file.write_text("raise RuntimeError('broken again')\n")
    result = execute(context, RELOAD_LOCATION, {"name": broken_file.name})["reloadRepositoryLocation"]
    assert result["locationOrLoadError"]["__typename"] == "PythonError"
    assert "broken again" in result["locationOrLoadError"]["message"]
    assert execute(context, RELOAD_LOCATION, {"name": "nowhere.py"})["reloadRepositoryLocation"]["__typename"] == "RepositoryLocationNotFound"


def test_a_read_only_server_refuses_to_reload_the_workspace(instance):
    workspace = Workspace(locations_from_args(python_files=[str(FIXTURE)]))
    context = WebContext(instance=instance, workspace=workspace, read_only=True)
    result = execute(context, RELOAD_WORKSPACE)["reloadWorkspace"]
    assert result["__typename"] == "UnauthorizedError"
    assert "read-only" in result["message"]
    entry = execute(context, WORKSPACE)["workspaceOrError"]["locationEntries"][0]
    assert all(p["value"] is False for p in entry["permissions"])


def test_a_repositorys_sensors_of_one_type(context):
    query = """query($t: SensorType) { repositoriesOrError { ... on RepositoryConnection { nodes { sensors(sensorType: $t) { name } } } } }"""
    [node] = execute(context, query, {"t": "STANDARD"})["repositoriesOrError"]["nodes"]
    assert node["sensors"] == [{"name": "config_sensor"}]
    [node] = execute(context, query, {"t": "RUN_STATUS"})["repositoriesOrError"]["nodes"]
    assert node["sensors"] == []
