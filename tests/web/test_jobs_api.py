"""A job through GraphQL (`pipelineOrError`, `executionPlanOrError`): its graph
with nested graphs, ops with their definitions, inputs, outputs and types, its
modes, tags, metadata, partitions, runs, schedules and sensors, and every error
branch; run through the real schema against a real SQLite instance and the code
location tests/fixtures/web_graph_jobs.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from oprun import DagsterInstance
from oprun.daemon.base import Workspace
from oprun.loading import locations_from_args
from oprun.runs import DagsterRun
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


def selector(job_name, location=LOCATION, repository=REPOSITORY, **extra):
    return {"repositoryLocationName": location, "repositoryName": repository, "pipelineName": job_name, **extra}


@pytest.fixture
def instance(tmp_path):
    with DagsterInstance.from_directory(str(tmp_path / "home")) as inst:
        yield inst


def make_context(instance, *files, **kw):
    return WebContext(instance=instance, workspace=Workspace(locations_from_args(python_files=[str(f) for f in files])), **kw)


@pytest.fixture
def context(instance):
    return make_context(instance, FIXTURE)


@pytest.fixture
def broken_file(tmp_path):
    path = tmp_path / "web_graph_broken.py"
    path.write_text("raise RuntimeError('this location cannot load')\n")
    return path


PIPELINE = """
query Job($params: PipelineSelector!) {
  pipelineOrError(params: $params) {
    __typename
    ... on Pipeline {
      id name description isJob isAssetJob graphName pipelineSnapshotId parentSnapshotId solidSelection
      tags { key value }
      metadataEntries { __typename label ... on TextMetadataEntry { text } ... on IntMetadataEntry { intValue } }
      presets { name }
      nodeNames
      hasLaunchExecutionPermission
      repository { name location { name } }
    }
    ... on PipelineNotFoundError { message pipelineName repositoryName repositoryLocationName }
    ... on InvalidSubsetError { message pipeline { name } }
    ... on PythonError { message stack }
  }
}
"""

SOLIDS = """
fragment Def on ISolidDefinition {
  __typename name description metadata { key value }
  inputDefinitions { name description metadataEntries { label ... on TextMetadataEntry { text } }
    type { __typename key name displayName description isNullable isList isBuiltin isNothing innerTypes { key } } }
  outputDefinitions { name description isDynamic type { key displayName } }
  ... on SolidDefinition { configField { name isRequired configType { key } } requiredResources { resourceKey } }
  ... on CompositeSolidDefinition {
    id name solids { name }
    inputMappings { mappedInput { solid { name } definition { name } } definition { name } }
    outputMappings { mappedOutput { solid { name } definition { name } } definition { name } }
    solidHandles { handleID }
  }
}
query Solids($params: PipelineSelector!) {
  pipelineOrError(params: $params) {
    ... on Pipeline {
      solids {
        name isDynamicMapped
        definition { ...Def }
        inputs { definition { name } isDynamicCollect dependsOn { solid { name } definition { name } } }
        outputs { definition { name } dependedBy { solid { name } definition { name } } }
      }
    }
  }
}
"""


def pipeline(context, job_name, **kw):
    return execute(context, PIPELINE, {"params": selector(job_name, **kw)})["pipelineOrError"]


def test_a_job_with_its_description_tags_metadata_and_snapshot(context):
    job = pipeline(context, "nested_job")
    assert job["__typename"] == "Pipeline"
    assert job["name"] == "nested_job" and job["graphName"] == "nested_job"
    assert job["description"] == "Numbers through nested graphs."
    assert job["isJob"] is True and job["isAssetJob"] is False
    assert job["tags"] == [{"key": "team", "value": "numbers"}]
    assert job["metadataEntries"] == [
        {"__typename": "TextMetadataEntry", "label": "owner", "text": "ops"},
        {"__typename": "IntMetadataEntry", "label": "priority", "intValue": 3},
    ]
    assert re.fullmatch(r"[0-9a-f]{40}", job["pipelineSnapshotId"])
    assert job["parentSnapshotId"] is None and job["solidSelection"] is None
    assert job["presets"] == []
    assert job["nodeNames"] == ["make_number", "outer", "as_list", "save"]
    assert job["hasLaunchExecutionPermission"] is True
    assert job["repository"] == {"name": REPOSITORY, "location": {"name": LOCATION}}
    assert job["id"] == pipeline(context, "nested_job")["id"]


def test_the_snapshot_id_is_the_one_runs_of_the_job_store(context, instance):
    from oprun.instance.storage import snapshot_id

    job_def = context.workspace.location(LOCATION).load().get_job_def("nested_job")
    assert pipeline(context, "nested_job")["pipelineSnapshotId"] == snapshot_id(job_def.get_snapshot_json())


def test_ops_with_definitions_inputs_outputs_types_and_dependencies(context):
    solids = execute(context, SOLIDS, {"params": selector("nested_job")})["pipelineOrError"]["solids"]
    by_name = {s["name"]: s for s in solids}
    assert [s["name"] for s in solids] == ["make_number", "outer", "as_list", "save"]

    make = by_name["make_number"]["definition"]
    assert make["__typename"] == "SolidDefinition"
    assert make["description"] == "Makes the first number."
    assert make["metadata"] == [{"key": "kind", "value": "source"}]  # an op's tags, as Dagster shows them
    assert make["outputDefinitions"] == [{"name": "result", "description": "The number.", "isDynamic": False, "type": {"key": "Int", "displayName": "Int"}}]
    assert make["configField"] == {"name": "config", "isRequired": False, "configType": {"key": "Any"}}
    assert make["requiredResources"] == []
    assert by_name["make_number"]["outputs"] == [
        {"definition": {"name": "result"}, "dependedBy": [{"solid": {"name": "outer"}, "definition": {"name": "number"}}]}
    ]

    save = by_name["save"]
    assert save["definition"]["requiredResources"] == [{"resourceKey": "store"}]
    [values] = save["definition"]["inputDefinitions"]
    assert values["type"] == {
        "__typename": "ListDagsterType", "key": "List[Int]", "name": "List[Int]", "displayName": "List[Int]",
        "description": None, "isNullable": False, "isList": True, "isBuiltin": True, "isNothing": False,
        "innerTypes": [{"key": "Int"}],
    }
    assert save["inputs"] == [
        {"definition": {"name": "values"}, "isDynamicCollect": False, "dependsOn": [{"solid": {"name": "as_list"}, "definition": {"name": "result"}}]}
    ]
    assert save["outputs"][0]["dependedBy"] == []


def test_a_graph_backed_op_is_a_composite_with_its_own_nodes_and_mappings(context):
    solids = execute(context, SOLIDS, {"params": selector("nested_job")})["pipelineOrError"]["solids"]
    outer = next(s for s in solids if s["name"] == "outer")["definition"]
    assert outer["__typename"] == "CompositeSolidDefinition"
    assert outer["solids"] == [{"name": "inner"}]
    assert outer["inputMappings"] == [{"mappedInput": {"solid": {"name": "inner"}, "definition": {"name": "number"}}, "definition": {"name": "number"}}]
    assert outer["outputMappings"] == [{"mappedOutput": {"solid": {"name": "inner"}, "definition": {"name": "result"}}, "definition": {"name": "result"}}]
    # a composite's handles are relative to it
    assert [h["handleID"] for h in outer["solidHandles"]] == ["inner", "inner.add", "inner.double"]


HANDLES = """
query Handles($params: PipelineSelector!) {
  pipelineOrError(params: $params) {
    ... on Pipeline {
      all: solidHandles { handleID parent { handleID } }
      top: solidHandles(parentHandleID: "") { handleID }
      inside: solidHandles(parentHandleID: "outer.inner") { handleID }
      add: solidHandle(handleID: "outer.inner.add") {
        handleID parent { handleID parent { handleID } }
        solid { name definition { description ... on SolidDefinition { configField { configType { key ... on CompositeConfigType { fields { name defaultValueAsJson description } } } } } } }
        solid2: solid { inputs { definition { name description metadataEntries { label ... on TextMetadataEntry { text } } } dependsOn { solid { name } } } }
      }
      missing: solidHandle(handleID: "outer.nope") { handleID }
    }
  }
}
"""


def test_solid_handles_walk_nested_graphs_by_dotted_id(context):
    job = execute(context, HANDLES, {"params": selector("nested_job")})["pipelineOrError"]
    assert [h["handleID"] for h in job["all"]] == ["as_list", "make_number", "outer", "outer.inner", "outer.inner.add", "outer.inner.double", "save"]
    assert {h["handleID"]: h["parent"] for h in job["all"]}["outer.inner.add"] == {"handleID": "outer.inner"}
    assert [h["handleID"] for h in job["top"]] == ["as_list", "make_number", "outer", "save"]
    assert [h["handleID"] for h in job["inside"]] == ["outer.inner.add", "outer.inner.double"]
    add = job["add"]
    assert add["handleID"] == "outer.inner.add"
    assert add["parent"] == {"handleID": "outer.inner", "parent": {"handleID": "outer"}}
    assert add["solid"]["name"] == "add"
    assert add["solid"]["definition"]["description"] == "Adds the configured amount."
    fields = add["solid"]["definition"]["configField"]["configType"]["fields"]
    assert fields == [{"name": "amount", "defaultValueAsJson": "1", "description": "How much to add."}]
    [number] = add["solid2"]["inputs"]
    assert number["definition"] == {"name": "number", "description": "What to add to.", "metadataEntries": [{"label": "unit", "text": "apples"}]}
    assert number["dependsOn"] == [{"solid": {"name": "double"}}]
    assert job["missing"] is None


MODES = """
query Modes($params: PipelineSelector!) {
  pipelineOrError(params: $params) {
    ... on Pipeline {
      modes { id name description
        resources { name description configField { isRequired configType { key ... on CompositeConfigType { fields { name isRequired } } } } }
        loggers { name configField { configType { key } } } }
      dagsterTypes { key isBuiltin inputSchemaType { key } outputSchemaType { key } metadataEntries { label } }
      found: dagsterTypeOrError(dagsterTypeName: "Int") { __typename ... on RegularDagsterType { key displayName } }
      nope: dagsterTypeOrError(dagsterTypeName: "Nope") { __typename ... on DagsterTypeNotFoundError { message dagsterTypeName } }
    }
  }
}
"""


def test_one_default_mode_with_resources_and_loggers_and_the_jobs_types(context):
    job = execute(context, MODES, {"params": selector("nested_job")})["pipelineOrError"]
    [mode] = job["modes"]
    assert mode["name"] == "default" and mode["id"]
    store = next(r for r in mode["resources"] if r["name"] == "store")
    assert store["description"] == "Where the numbers are kept."
    assert store["configField"]["isRequired"] is True
    assert store["configField"]["configType"]["fields"] == [{"name": "url", "isRequired": True}]
    assert "io_manager" in [r["name"] for r in mode["resources"]]
    assert [lg["name"] for lg in mode["loggers"]] == ["console"]
    keys = [t["key"] for t in job["dagsterTypes"]]
    assert {"Int", "Any", "Nothing", "List[Int]"} <= set(keys)
    by_key = {t["key"]: t for t in job["dagsterTypes"]}
    assert by_key["Int"]["inputSchemaType"]["key"]  # an unconnected Int input is loaded from config
    assert by_key["Nothing"]["inputSchemaType"] is None and by_key["Int"]["outputSchemaType"] is None
    assert job["found"] == {"__typename": "RegularDagsterType", "key": "Int", "displayName": "Int"}
    assert job["nope"] == {"__typename": "DagsterTypeNotFoundError", "message": "Type Nope not found.", "dagsterTypeName": "Nope"}


RUNS = """
query Runs($params: PipelineSelector!, $cursor: String, $limit: Int) {
  pipelineOrError(params: $params) {
    ... on Pipeline { runs(cursor: $cursor, limit: $limit) { runId } schedules { name } sensors { name } }
  }
}
"""


def test_runs_of_the_job_newest_first_with_a_cursor_and_its_schedules_and_sensors(context, instance):
    made = [instance.create_run(DagsterRun("nested_job")).run_id for _ in range(3)]
    instance.create_run(DagsterRun("dynamic_job"))
    job = execute(context, RUNS, {"params": selector("nested_job")})["pipelineOrError"]
    assert [r["runId"] for r in job["runs"]] == made[::-1]
    assert job["schedules"] == [{"name": "nested_hourly"}]
    assert job["sensors"] == []
    page = execute(context, RUNS, {"params": selector("nested_job"), "cursor": made[2], "limit": 1})["pipelineOrError"]["runs"]
    assert [r["runId"] for r in page] == [made[1]]
    assert execute(context, RUNS, {"params": selector("nested_job"), "limit": -5})["pipelineOrError"]["runs"] == []
    unknown_cursor = execute(context, RUNS, {"params": selector("nested_job"), "cursor": "nope"})["pipelineOrError"]["runs"]
    assert len(unknown_cursor) == 3
    sensors = execute(context, RUNS, {"params": selector("config_kinds_job")})["pipelineOrError"]["sensors"]
    assert sensors == [{"name": "config_sensor"}]


def test_an_op_selection_narrows_the_job(context):
    job = pipeline(context, "nested_job", solidSelection=["make_number", "outer"])
    assert job["__typename"] == "Pipeline"
    assert job["solidSelection"] == ["make_number", "outer"]
    assert job["nodeNames"] == ["make_number", "outer"]
    assert job["parentSnapshotId"] == pipeline(context, "nested_job")["pipelineSnapshotId"]


def test_a_selection_that_selects_nothing_is_invalid_subset(context):
    result = pipeline(context, "nested_job", solidSelection=["no_such_op"])
    assert result["__typename"] == "InvalidSubsetError"
    assert "no_such_op" in result["message"]
    assert result["pipeline"] == {"name": "nested_job"}
    result = pipeline(context, "nested_job", assetSelection=[{"path": ["a"]}])
    assert result["__typename"] == "InvalidSubsetError" and "assetSelection" in result["message"]


def test_an_unknown_job_location_or_repository_is_pipeline_not_found(context):
    assert pipeline(context, "nope") == {
        "__typename": "PipelineNotFoundError",
        "message": f"Could not find Pipeline {LOCATION}.{REPOSITORY}.nope",
        "pipelineName": "nope", "repositoryName": REPOSITORY, "repositoryLocationName": LOCATION,
    }
    assert pipeline(context, "nested_job", location="elsewhere.py")["__typename"] == "PipelineNotFoundError"
    assert pipeline(context, "nested_job", repository="other")["__typename"] == "PipelineNotFoundError"


def test_a_location_that_fails_to_load_is_a_python_error(instance, broken_file):
    context = make_context(instance, FIXTURE, broken_file)
    result = pipeline(context, "anything", location=broken_file.name)
    assert result["__typename"] == "PythonError"
    assert "this location cannot load" in result["message"]
    assert isinstance(result["stack"], list)
    assert pipeline(context, "nested_job")["__typename"] == "Pipeline"  # the others keep working


PARTITIONS = """
query Partitions($params: PipelineSelector!, $cursor: String, $limit: Int, $reverse: Boolean) {
  pipelineOrError(params: $params) {
    ... on Pipeline {
      partitionKeysOrError(cursor: $cursor, limit: $limit, reverse: $reverse) { partitionKeys }
      partition(partitionName: "us") {
        name jobName
        runConfigOrError { __typename ... on PartitionRunConfig { yaml } }
        tagsOrError { __typename ... on PartitionTags { results { key value } } }
      }
      bad: partition(partitionName: "mars") {
        runConfigOrError { __typename ... on PythonError { message } }
      }
    }
  }
}
"""


def partitions(context, job_name, **variables):
    return execute(context, PARTITIONS, {"params": selector(job_name), **variables})["pipelineOrError"]


def test_a_partitioned_jobs_keys_with_cursor_limit_reverse_and_one_partitions_config_and_tags(context):
    job = partitions(context, "partitioned_job")
    assert job["partitionKeysOrError"] == {"partitionKeys": ["eu", "us", "ap"]}
    assert partitions(context, "partitioned_job", cursor="eu", limit=1)["partitionKeysOrError"]["partitionKeys"] == ["us"]
    assert partitions(context, "partitioned_job", reverse=True)["partitionKeysOrError"]["partitionKeys"] == ["ap", "us", "eu"]
    part = job["partition"]
    assert part["name"] == "us" and part["jobName"] == "partitioned_job"
    assert part["runConfigOrError"] == {
        "__typename": "PartitionRunConfig", "yaml": "ops:\n  in_region:\n    config:\n      region: us\n",
    }
    assert part["tagsOrError"]["__typename"] == "PartitionTags"
    assert {"key": "region", "value": "us"} in part["tagsOrError"]["results"]
    assert job["bad"]["runConfigOrError"]["__typename"] == "PythonError"


def test_a_job_without_partitions_has_no_keys_and_no_partition(context):
    job = partitions(context, "nested_job")
    assert job["partitionKeysOrError"] == {"partitionKeys": []}
    assert job["partition"] is None


PLAN = """
query Plan($pipeline: PipelineSelector!, $config: RunConfigData) {
  executionPlanOrError(pipeline: $pipeline, mode: "default", runConfigData: $config) {
    __typename
    ... on ExecutionPlan {
      artifactsPersisted
      steps { key kind solidHandleID inputs { name dependsOn { key } } outputs { name } metadata { key value } }
    }
    ... on RunConfigValidationInvalid { pipelineName errors { __typename path } }
    ... on PipelineNotFoundError { message }
    ... on InvalidSubsetError { message }
    ... on PythonError { message }
  }
}
"""


def plan(context, job_name, config=None, **kw):
    return execute(context, PLAN, {"pipeline": selector(job_name, **kw), "config": config})["executionPlanOrError"]


def test_the_execution_plan_of_nested_graphs_names_steps_by_handle(context):
    result = plan(context, "nested_job", {"resources": {"store": {"config": {"url": "mem://"}}}})
    assert result["__typename"] == "ExecutionPlan", result
    assert result["artifactsPersisted"] is False
    steps = {s["key"]: s for s in result["steps"]}
    assert list(steps) == ["make_number", "outer.inner.double", "outer.inner.add", "as_list", "save"]
    assert steps["outer.inner.add"]["inputs"] == [{"name": "number", "dependsOn": [{"key": "outer.inner.double"}]}]
    assert steps["outer.inner.add"]["solidHandleID"] == "outer.inner.add"
    assert steps["make_number"]["metadata"] == [{"key": "kind", "value": "source"}]
    assert all(s["kind"] == "COMPUTE" for s in steps.values())
    assert steps["save"]["outputs"] == [{"name": "result"}]


def test_the_execution_plan_of_a_dynamic_job_has_unresolved_steps(context):
    result = plan(context, "dynamic_job")
    kinds = {s["key"]: s["kind"] for s in result["steps"]}
    assert kinds == {"fan_out": "COMPUTE", "double[?]": "UNRESOLVED_MAPPED", "total": "UNRESOLVED_COLLECT"}


def test_the_execution_plan_needs_valid_config_and_a_job(context):
    result = plan(context, "nested_job", {})
    assert result["__typename"] == "RunConfigValidationInvalid"
    assert result["pipelineName"] == "nested_job"
    assert plan(context, "nope")["__typename"] == "PipelineNotFoundError"
    assert plan(context, "nested_job", solidSelection=["nope"])["__typename"] == "InvalidSubsetError"
    selected = plan(context, "nested_job", {}, solidSelection=["make_number"])
    assert [s["key"] for s in selected["steps"]] == ["make_number"]
    boom = plan(context, "mapped_job", {"greeting": "boom"})  # its config mapping raises: user code
    assert boom["__typename"] == "PythonError" and "refuses boom" in boom["message"]
    assert [s["key"] for s in plan(context, "mapped_job", {"greeting": "hi"})["steps"]] == ["greet"]


SNAPSHOT = """
query Snapshot($id: String, $selector: PipelineSelector) {
  pipelineSnapshotOrError(snapshotId: $id, activePipelineSelector: $selector) {
    __typename
    ... on PipelineSnapshot { name pipelineSnapshotId solidSelection solidHandles(parentHandleID: "") { handleID } }
    ... on PipelineSnapshotNotFoundError { message snapshotId }
    ... on PipelineNotFoundError { message }
    ... on PythonError { message }
  }
}
"""


def test_a_job_as_a_snapshot_by_selector_or_by_a_runs_snapshot_id(context):
    by_selector = execute(context, SNAPSHOT, {"selector": selector("nested_job")})["pipelineSnapshotOrError"]
    assert by_selector["__typename"] == "PipelineSnapshot" and by_selector["name"] == "nested_job"
    assert [h["handleID"] for h in by_selector["solidHandles"]] == ["as_list", "make_number", "outer", "save"]
    by_id = execute(context, SNAPSHOT, {"id": by_selector["pipelineSnapshotId"]})["pipelineSnapshotOrError"]
    assert by_id == by_selector
    missing = execute(context, SNAPSHOT, {"id": "0" * 40})["pipelineSnapshotOrError"]
    assert missing["__typename"] == "PipelineSnapshotNotFoundError" and missing["snapshotId"] == "0" * 40
    assert execute(context, SNAPSHOT, {"selector": selector("nope")})["pipelineSnapshotOrError"]["__typename"] == "PipelineNotFoundError"


STEP_STATS = """
query StepStats($params: PipelineSelector!, $limit: Int) {
  pipelineOrError(params: $params) {
    ... on Pipeline {
      solidHandle(handleID: "outer.inner.add") {
        stepStats(limit: $limit) { __typename ... on SolidStepStatsConnection { nodes { runId stepKey status startTime endTime } } }
      }
    }
  }
}
"""


def test_an_ops_step_in_the_jobs_latest_runs(context, instance):
    job_def = context.workspace.location(LOCATION).load().get_job_def("nested_job")
    config = {"resources": {"store": {"config": {"url": "mem://"}}}}
    run_ids = [job_def.execute_in_process(run_config=config, instance=instance).run_id for _ in range(2)]
    stats = execute(context, STEP_STATS, {"params": selector("nested_job")})["pipelineOrError"]["solidHandle"]["stepStats"]
    assert stats["__typename"] == "SolidStepStatsConnection"
    assert [(n["runId"], n["stepKey"], n["status"]) for n in stats["nodes"]] == [(r, "outer.inner.add", "SUCCESS") for r in run_ids[::-1]]
    assert all(n["endTime"] >= n["startTime"] > 0 for n in stats["nodes"])
    one = execute(context, STEP_STATS, {"params": selector("nested_job"), "limit": 1})["pipelineOrError"]["solidHandle"]["stepStats"]
    assert [n["runId"] for n in one["nodes"]] == [run_ids[1]]


HOSTILE = """
query Hostile($params: PipelineSelector!, $text: String!, $limit: Int) {
  pipelineOrError(params: $params) {
    __typename
    ... on Pipeline {
      solidHandle(handleID: $text) { handleID }
      solidHandles(parentHandleID: $text) { handleID }
      dagsterTypeOrError(dagsterTypeName: $text) { __typename }
      runs(cursor: $text, limit: $limit) { runId }
      partitionKeysOrError(cursor: $text, limit: $limit) { partitionKeys }
    }
    ... on PipelineNotFoundError { message }
    ... on InvalidSubsetError { message }
  }
}
"""


@pytest.mark.parametrize("text", ["\ud800", "x" * 20_000, "", ".", "outer..inner", "outer.inner.add.more", "*"])
def test_hostile_names_are_answers_not_errors(context, text):
    for job_name in ("nested_job", "partitioned_job", text):
        for extra in ({}, {"solidSelection": [text]}):
            result = execute(context, HOSTILE, {"params": selector(job_name, **extra), "text": text, "limit": -1})
            assert result["pipelineOrError"]["__typename"] in {"Pipeline", "PipelineNotFoundError", "InvalidSubsetError"}
