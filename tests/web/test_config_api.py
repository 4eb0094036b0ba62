"""A job's run config through GraphQL (`runConfigSchemaOrError`,
`isPipelineConfigValid`): the schema as Dagster's config types, the default
config as YAML, oprun's scaffolds, and validation returning every error with
Dagster's full shapes; hostile documents as clean errors; secrets never shown;
and the launchpad's flow (schema, validate, launch) against a real server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from oprun import DagsterInstance
from oprun.daemon.base import Workspace
from oprun.loading import locations_from_args
from oprun.web.context import WebContext
from oprun.web.schema import build_schema

FIXTURE = Path(__file__).parents[1] / "fixtures" / "web_graph_jobs.py"
LOCATION = "web_graph_jobs.py"
REPOSITORY = "__repository__"
SCHEMA = build_schema()
SECRET = "s3cr3t-value-never-shown"


def execute(context, document, variables=None):
    result = SCHEMA.execute_sync(document, variable_values=variables, context_value=context)
    assert result.errors is None, result.errors
    return result.data


def selector(job_name, **extra):
    return {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "pipelineName": job_name, **extra}


@pytest.fixture
def context(tmp_path):
    with DagsterInstance.from_directory(str(tmp_path / "home")) as instance:
        yield WebContext(instance=instance, workspace=Workspace(locations_from_args(python_files=[str(FIXTURE)])))


TYPE_FIELDS = """
fragment T on ConfigType {
  __typename key description isSelector typeParamKeys
  recursiveConfigTypes { key }
  ... on CompositeConfigType { fields { name description configTypeKey isRequired defaultValueAsJson configType { key } } }
  ... on EnumConfigType { givenName values { value description } }
  ... on ArrayConfigType { ofType { key } }
  ... on NullableConfigType { ofType { key } }
  ... on MapConfigType { keyLabelName keyType { key } valueType { key } }
  ... on ScalarUnionConfigType { scalarTypeKey nonScalarTypeKey scalarType { key } nonScalarType { key } }
  ... on RegularConfigType { givenName }
}
"""

SCHEMA_QUERY = TYPE_FIELDS + """
query Schema($selector: PipelineSelector!, $mode: String) {
  runConfigSchemaOrError(selector: $selector, mode: $mode) {
    __typename
    ... on RunConfigSchema { rootConfigType { ...T } allConfigTypes { ...T } rootDefaultYaml }
    ... on PipelineNotFoundError { message }
    ... on InvalidSubsetError { message }
    ... on ModeNotFoundError { message mode }
    ... on PythonError { message }
  }
}
"""

VALIDATE = """
fragment Errors on PipelineConfigValidationResult {
  __typename
  ... on PipelineConfigValidationValid { pipelineName }
  ... on RunConfigValidationInvalid {
    pipelineName
    errors {
      __typename message path reason
      stack { entries { __typename
        ... on EvaluationStackPathEntry { fieldName }
        ... on EvaluationStackListItemEntry { listIndex }
        ... on EvaluationStackMapKeyEntry { mapKey }
        ... on EvaluationStackMapValueEntry { mapKey } } }
      ... on MissingFieldConfigError { field { name isRequired configTypeKey configType { key } } }
      ... on MissingFieldsConfigError { fields { name configTypeKey } }
      ... on FieldNotDefinedConfigError { fieldName }
      ... on FieldsNotDefinedConfigError { fieldNames }
      ... on RuntimeMismatchConfigError { valueRep }
      ... on SelectorTypeConfigError { incomingFields }
    }
  }
  ... on PipelineNotFoundError { message }
  ... on InvalidSubsetError { message }
  ... on PythonError { message }
}
query Validate($pipeline: PipelineSelector!, $config: RunConfigData) {
  isPipelineConfigValid(pipeline: $pipeline, mode: "default", runConfigData: $config) { ...Errors }
}
"""

ON_SCHEMA = """
query OnSchema($selector: PipelineSelector!, $config: RunConfigData) {
  runConfigSchemaOrError(selector: $selector) {
    ... on RunConfigSchema {
      rootDefaultYaml
      missing: scaffoldMissingConfigYaml(runConfigData: $config)
      defaults: scaffoldDefaultConfigYaml(runConfigData: $config)
      isRunConfigValid(runConfigData: $config) { __typename ... on RunConfigValidationInvalid { errors { __typename message path } } }
    }
  }
}
"""


def config_schema(context, job_name, mode=None, **kw):
    return execute(context, SCHEMA_QUERY, {"selector": selector(job_name, **kw), "mode": mode})["runConfigSchemaOrError"]


def validate(context, job_name, config, **kw):
    return execute(context, VALIDATE, {"pipeline": selector(job_name, **kw), "config": config})["isPipelineConfigValid"]


def on_schema(context, job_name, config=None):
    return execute(context, ON_SCHEMA, {"selector": selector(job_name), "config": config})["runConfigSchemaOrError"]


def op_config_fields(result, op_name):
    types = {t["key"]: t for t in result["allConfigTypes"]}
    root = result["rootConfigType"]
    ops = types[{f["name"]: f for f in root["fields"]}["ops"]["configTypeKey"]]
    node = types[{f["name"]: f for f in ops["fields"]}[op_name]["configTypeKey"]]
    config = types[{f["name"]: f for f in node["fields"]}["config"]["configTypeKey"]]
    return types, {f["name"]: f for f in config["fields"]}


# ---------- the schema ----------


def test_every_kind_of_config_type_with_dagsters_keys_and_fields(context):
    result = config_schema(context, "config_kinds_job")
    assert result["__typename"] == "RunConfigSchema"
    types, fields = op_config_fields(result, "configured")
    assert len(types) == len(result["allConfigTypes"])  # each type once, by key
    assert result["rootConfigType"]["key"] in types

    assert fields["name"] == {
        "name": "name", "description": None, "configTypeKey": "String", "isRequired": True,
        "defaultValueAsJson": None, "configType": {"key": "String"},
    }
    assert fields["count"]["defaultValueAsJson"] == "3" and fields["count"]["isRequired"] is False
    assert fields["flag"]["defaultValueAsJson"] == "false"
    assert types["String"]["__typename"] == "RegularConfigType" and types["String"]["givenName"] == "String"

    tags = types[fields["tags"]["configTypeKey"]]
    assert tags["__typename"] == "ArrayConfigType" and tags["key"] == "Array.String"
    assert tags["ofType"] == {"key": "String"} and tags["typeParamKeys"] == ["String"]
    matrix = types[fields["matrix"]["configTypeKey"]]
    assert matrix["key"] == "Array.Array.Int"
    assert {t["key"] for t in matrix["recursiveConfigTypes"]} == {"Array.Int", "Int"}

    limit = types[fields["limit"]["configTypeKey"]]
    assert limit["__typename"] == "NullableConfigType" and limit["ofType"] == {"key": "Int"}
    assert fields["limit"]["isRequired"] is False

    weights = types[fields["weights"]["configTypeKey"]]
    assert weights["__typename"] == "MapConfigType"
    assert weights["keyType"] == {"key": "String"} and weights["valueType"] == {"key": "Float"}
    assert weights["keyLabelName"] == "item" and weights["typeParamKeys"] == ["String", "Float"]

    colour = types[fields["colour"]["configTypeKey"]]
    assert colour["__typename"] == "EnumConfigType" and colour["givenName"] == "Colour"
    assert colour["values"] == [{"value": "RED", "description": "Warm."}, {"value": "BLUE", "description": None}]
    assert fields["colour"]["defaultValueAsJson"] == '"RED"'

    source = types[fields["source"]["configTypeKey"]]
    assert source["__typename"] == "CompositeConfigType" and source["isSelector"] is True
    assert source["key"].startswith("Selector.")
    assert [f["name"] for f in source["fields"]] == ["path", "url"]

    extras = types[fields["extras"]["configTypeKey"]]
    assert extras["key"].startswith("Permissive.") and extras["isSelector"] is False

    either = types[fields["either"]["configTypeKey"]]
    assert either["__typename"] == "ScalarUnionConfigType"
    assert either["scalarTypeKey"] == "Int" and either["scalarType"] == {"key": "Int"}
    assert types[either["nonScalarTypeKey"]]["__typename"] == "CompositeConfigType"

    secret = types[fields["secret"]["configTypeKey"]]  # Dagster's StringSource: a string, or {env: NAME}
    assert secret["key"] == "StringSourceType" and secret["__typename"] == "ScalarUnionConfigType"
    env = types[secret["nonScalarTypeKey"]]
    assert env["isSelector"] is True and [f["name"] for f in env["fields"]] == ["env"]


def test_equal_types_share_a_key_and_keys_are_stable(context):
    first = config_schema(context, "config_kinds_job")
    second = config_schema(context, "config_kinds_job")
    assert [t["key"] for t in first["allConfigTypes"]] == [t["key"] for t in second["allConfigTypes"]]
    assert first["rootConfigType"]["key"] == second["rootConfigType"]["key"]


def test_root_default_yaml_holds_defaults_and_the_jobs_own_config(context):
    defaults = yaml.safe_load(config_schema(context, "config_kinds_job")["rootDefaultYaml"])
    assert defaults["ops"]["configured"]["config"] == {"count": 3, "flag": False, "colour": "RED", "extras": {"level": 1}}
    own = yaml.safe_load(config_schema(context, "defaults_job")["rootDefaultYaml"])
    assert own["ops"]["greet"]["config"] == {"greeting": "hi", "times": 1}
    # the schema is the job's own; its config= is what a document left empty takes
    types, fields = op_config_fields(config_schema(context, "defaults_job"), "greet")
    assert fields["greeting"]["isRequired"] is True
    assert validate(context, "defaults_job", {})["__typename"] == "PipelineConfigValidationValid"
    assert yaml.safe_load(on_schema(context, "defaults_job", {})["missing"]) == {"ops": {"greet": {"config": {"greeting": "hi"}}}}


def test_schema_errors_not_found_subset_and_mode(context):
    assert config_schema(context, "nope")["__typename"] == "PipelineNotFoundError"
    assert config_schema(context, "nested_job", solidSelection=["nope"])["__typename"] == "InvalidSubsetError"
    assert config_schema(context, "nested_job", mode="default")["__typename"] == "RunConfigSchema"
    assert config_schema(context, "nested_job", mode="fast") == {
        "__typename": "ModeNotFoundError", "message": "Mode fast not found: oprun jobs have one mode, 'default'.", "mode": "fast",
    }


def test_a_selection_narrows_the_schema_to_the_selected_ops(context):
    result = config_schema(context, "nested_job", solidSelection=["make_number"])
    types = {t["key"]: t for t in result["allConfigTypes"]}
    root = {f["name"]: f for f in result["rootConfigType"]["fields"]}
    ops = types[root["ops"]["configTypeKey"]]
    required = {f["name"] for f in ops["fields"] if f["isRequired"]}
    assert required == set()  # ops outside the selection are accepted, never required


# ---------- validation ----------


def test_valid_config_names_the_job(context):
    assert validate(context, "config_kinds_job", {"ops": {"configured": {"config": {
        "name": "n", "tags": ["a"], "limit": None, "weights": {"a": 1.5}, "source": {"url": "u"},
    }}}}) == {"__typename": "PipelineConfigValidationValid", "pipelineName": "config_kinds_job"}
    yaml_text = "ops:\n  greet:\n    config:\n      greeting: yo\n      times: 2\n"
    assert validate(context, "defaults_job", yaml_text)["__typename"] == "PipelineConfigValidationValid"
    assert validate(context, "defaults_job", None)["__typename"] == "PipelineConfigValidationValid"


def test_every_error_is_returned_each_with_dagsters_full_shape(context):
    config = {"ops": {"configured": {"config": {
        "count": "three", "tags": ["a", 2], "weights": {"w": "heavy"}, "source": {"path": "p", "url": "u"},
        "nope": 1, "nada": 2, "colour": "GREEN",
    }}}}
    result = validate(context, "config_kinds_job", config)
    assert result["__typename"] == "RunConfigValidationInvalid"
    assert result["pipelineName"] == "config_kinds_job"
    errors = result["errors"]
    by_type: dict[str, list[dict]] = {}
    for error in errors:
        by_type.setdefault(error["__typename"], []).append(error)
        assert error["message"]
        # the stack and the path say the same thing
        assert [str(next(iter(v for k, v in e.items() if k != "__typename"))) for e in error["stack"]["entries"]] == error["path"]

    at = ["ops", "configured", "config"]
    mismatches = {tuple(e["path"]): e for e in by_type["RuntimeMismatchConfigError"]}
    assert set(mismatches) == {(*at, "count"), (*at, "tags", "1"), (*at, "weights", "w"), (*at, "colour")}
    count = mismatches[(*at, "count")]
    assert count["reason"] == "RUNTIME_TYPE_MISMATCH" and count["valueRep"] == "'three'"
    assert mismatches[(*at, "tags", "1")]["stack"]["entries"][-1] == {"__typename": "EvaluationStackListItemEntry", "listIndex": 1}
    assert mismatches[(*at, "weights", "w")]["stack"]["entries"][-1] == {"__typename": "EvaluationStackMapValueEntry", "mapKey": "w"}
    assert "GREEN" in mismatches[(*at, "colour")]["message"]

    [selector_error] = by_type["SelectorTypeConfigError"]
    assert selector_error["path"] == [*at, "source"] and selector_error["reason"] == "SELECTOR_FIELD_ERROR"
    assert selector_error["incomingFields"] == ["path", "url"]

    [unknown] = by_type["FieldsNotDefinedConfigError"]
    assert unknown["path"] == at and unknown["reason"] == "FIELDS_NOT_DEFINED"
    assert unknown["fieldNames"] == ["nope", "nada"]
    assert '"nope"' in unknown["message"] and '"nada"' in unknown["message"]

    [missing] = by_type["MissingFieldConfigError"]  # `name` (tags, weights and source are given)
    assert missing["path"] == at and missing["reason"] == "MISSING_REQUIRED_FIELD"
    assert missing["field"] == {"name": "name", "isRequired": True, "configTypeKey": "String", "configType": {"key": "String"}}
    assert len(errors) == 7


def test_missing_fields_and_one_unknown_field(context):
    result = validate(context, "config_kinds_job", {"ops": {"configured": {"config": {"nope": 1}}}, "extra_section": {}})
    errors = {e["__typename"]: e for e in result["errors"]}
    missing = errors["MissingFieldsConfigError"]
    assert missing["path"] == ["ops", "configured", "config"] and missing["reason"] == "MISSING_REQUIRED_FIELDS"
    assert [f["name"] for f in missing["fields"]] == ["name", "tags", "weights", "source"]
    assert missing["fields"][1]["configTypeKey"] == "Array.String"
    unknown = [e for e in result["errors"] if e["__typename"] == "FieldNotDefinedConfigError"]
    assert sorted((tuple(e["path"]), e["fieldName"]) for e in unknown) == [((), "extra_section"), (("ops", "configured", "config"), "nope")]
    assert all(e["reason"] == "FIELD_NOT_DEFINED" for e in unknown)


def test_a_missing_section_at_the_root(context):
    result = validate(context, "nested_job", {})
    [error] = result["errors"]
    assert error["__typename"] == "MissingFieldConfigError"
    assert error["path"] == [] and error["stack"] == {"entries": []}
    assert error["field"]["name"] == "resources" and error["field"]["isRequired"] is True
    result = validate(context, "nested_job", {"resources": {"store": {"config": {}}}})
    [error] = result["errors"]
    assert error["path"] == ["resources", "store", "config"] and error["field"]["name"] == "url"
    assert error["stack"]["entries"] == [{"__typename": "EvaluationStackPathEntry", "fieldName": n} for n in ("resources", "store", "config")]


@pytest.mark.parametrize("document", ["ops: [unclosed", "- a list", ["a", "list"], 5, "just text"])
def test_a_document_that_is_not_a_mapping_is_one_error_at_the_root(context, document):
    result = validate(context, "nested_job", document)
    assert result["__typename"] == "RunConfigValidationInvalid"
    [error] = result["errors"]
    assert error["__typename"] == "RuntimeMismatchConfigError"
    assert error["path"] == [] and error["stack"] == {"entries": []} and error["reason"] == "RUNTIME_TYPE_MISMATCH"


def test_hostile_documents_are_clean_errors(context):
    deep: dict = {}
    node = deep
    for _ in range(1_000):
        node["a"] = {}
        node = node["a"]
    huge = 10**400
    for document in (
        {"ops": {"configured": {"config": deep}}},
        {"ops": {"configured": {"config": {"count": huge, "extras": {"level": 1, "deep": deep}}}}},
        {"ops": deep},
        {"loggers": {"console": {"config": {"name": huge}}}, **{f"k{i}": i for i in range(500)}},
    ):
        result = validate(context, "config_kinds_job", document)
        assert result["__typename"] == "RunConfigValidationInvalid", result
        for error in result["errors"]:
            assert len(error["message"]) < 5_000
    # an int of 400 digits is an Int; as a Float it is too large, and says so
    result = validate(context, "config_kinds_job", {"ops": {"configured": {"config": {"count": huge, "ratio": huge}}}})
    [ratio] = [e for e in result["errors"] if e["path"][-1:] != ["config"]]
    assert ratio["path"][-1] == "ratio" and "too large" in ratio["message"]
    assert len(ratio["valueRep"]) < 100
    # 10**400 as a literal in the query text, not a variable
    text = VALIDATE.replace("$config: RunConfigData", "").replace("runConfigData: $config", 'runConfigData: {ops: {configured: {config: {count: ' + str(huge) + "}}}}")
    literal = execute(context, text, {"pipeline": selector("config_kinds_job")})["isPipelineConfigValid"]
    assert literal["__typename"] == "RunConfigValidationInvalid"


def test_validation_errors_not_found_and_subset(context):
    assert validate(context, "nope", {})["__typename"] == "PipelineNotFoundError"
    assert validate(context, "nested_job", {}, solidSelection=["nope"])["__typename"] == "InvalidSubsetError"
    # the op that needs the store is not selected: its config is not needed
    assert validate(context, "nested_job", {}, solidSelection=["make_number"])["__typename"] == "PipelineConfigValidationValid"
    assert validate(context, "partitioned_job", {})["__typename"] == "RunConfigValidationInvalid"
    partition_config = {"ops": {"in_region": {"config": {"region": "us"}}}}
    assert validate(context, "partitioned_job", partition_config)["__typename"] == "PipelineConfigValidationValid"


def test_a_config_mapping_job_is_written_against_the_mappings_schema(context):
    result = config_schema(context, "mapped_job")
    fields = {f["name"]: f for f in result["rootConfigType"]["fields"]}
    assert set(fields) == {"greeting", "times"}
    assert fields["greeting"]["isRequired"] is True and fields["times"]["defaultValueAsJson"] == "2"
    assert yaml.safe_load(result["rootDefaultYaml"]) == {"times": 2}
    assert validate(context, "mapped_job", {"greeting": "hello"})["__typename"] == "PipelineConfigValidationValid"
    invalid = validate(context, "mapped_job", {"times": "x"})
    assert {(e["__typename"], tuple(e["path"])) for e in invalid["errors"]} == {
        ("MissingFieldConfigError", ()), ("RuntimeMismatchConfigError", ("times",)),
    }
    assert next(e for e in invalid["errors"] if e["__typename"] == "MissingFieldConfigError")["field"]["name"] == "greeting"
    # the mapping itself raising is user code failing: a PythonError
    boom = validate(context, "mapped_job", {"greeting": "boom"})
    assert boom["__typename"] == "PythonError" and "refuses boom" in boom["message"]


def test_a_location_that_fails_to_load_is_a_python_error(tmp_path):
    broken = tmp_path / "web_graph_broken.py"
    broken.write_text("raise RuntimeError('this location cannot load')\n")
    with DagsterInstance.from_directory(str(tmp_path / "home")) as instance:
        context = WebContext(instance=instance, workspace=Workspace(locations_from_args(python_files=[str(broken)])))
        sel = {"repositoryLocationName": broken.name, "repositoryName": REPOSITORY, "pipelineName": "any"}
        schema = execute(context, SCHEMA_QUERY, {"selector": sel, "mode": None})["runConfigSchemaOrError"]
        assert schema["__typename"] == "PythonError" and "cannot load" in schema["message"]
        checked = execute(context, VALIDATE, {"pipeline": sel, "config": {}})["isPipelineConfigValid"]
        assert checked["__typename"] == "PythonError"


# ---------- scaffolds ----------


def test_scaffold_missing_config_fills_every_required_entry(context):
    given = {"ops": {"configured": {"config": {"name": "mine", "extra": 1}}}}
    result = on_schema(context, "config_kinds_job", given)
    missing = yaml.safe_load(result["missing"])
    assert missing["ops"]["configured"]["config"] == {"name": "mine", "extra": 1, "tags": [], "weights": {}, "source": {"path": ""}}
    assert set(missing) == {"ops"}
    defaults = yaml.safe_load(result["defaults"])
    config = defaults["ops"]["configured"]["config"]
    assert config["count"] == 3 and config["colour"] == "RED" and config["extras"] == {"level": 1}
    assert config["name"] == "mine" and config["source"] == {"path": ""}
    assert defaults["loggers"]["console"]["config"]["log_level"] == "DEBUG"
    # what the scaffold writes is what the launchpad validates next: only placeholder errors remain
    filled = yaml.safe_load(result["missing"])
    filled["ops"]["configured"]["config"].pop("extra")
    assert validate(context, "config_kinds_job", filled)["__typename"] == "PipelineConfigValidationValid"


def test_scaffolds_of_an_empty_or_unreadable_document(context):
    result = on_schema(context, "nested_job", None)
    assert yaml.safe_load(result["missing"]) == {"resources": {"store": {"config": {"url": ""}}}}
    assert result["isRunConfigValid"]["__typename"] == "RunConfigValidationInvalid"
    assert on_schema(context, "dynamic_job", None)["isRunConfigValid"] == {"__typename": "PipelineConfigValidationValid"}
    result = on_schema(context, "nested_job", "ops: [unclosed")
    assert result["missing"] is None and result["defaults"] is None
    assert on_schema(context, "dynamic_job", {})["missing"] == "{}\n"
    deep: dict = {}
    node = deep
    for _ in range(2_000):
        node["a"] = {}
        node = node["a"]
    result = on_schema(context, "config_kinds_job", {"ops": deep})
    assert result["missing"] is None and result["defaults"] is None  # deeper than config may nest
    assert result["isRunConfigValid"]["__typename"] == "RunConfigValidationInvalid"


# ---------- secrets ----------


def test_a_secret_from_the_environment_is_never_shown(context, monkeypatch):
    monkeypatch.setenv("WEB_GRAPH_SECRET", SECRET)
    shown = json.dumps(config_schema(context, "secret_job"))
    shown += json.dumps(on_schema(context, "secret_job", {"ops": {"uses_secret": {"config": {"retries": "x"}}}}))
    shown += json.dumps(validate(context, "secret_job", {"ops": {"uses_secret": {"config": {"retries": "x"}}}, "resources": {"secret": {"config": {"region": 5}}}}))
    shown += json.dumps(validate(context, "secret_job", {"ops": {"uses_secret": {"config": {"retries": 1}}}, "resources": {"secret": {"config": {"token": {"env": "WEB_GRAPH_SECRET"}, "nope": 1}}}}))
    modes = """query($p: PipelineSelector!) { pipelineOrError(params: $p) { ... on Pipeline { modes { resources { name
      configField { defaultValueAsJson configType { ... on CompositeConfigType { fields { name defaultValueAsJson } } } } } } } } }"""
    resources = execute(context, modes, {"p": selector("secret_job")})["pipelineOrError"]["modes"][0]["resources"]
    shown += json.dumps(resources)
    assert SECRET not in shown
    [secret] = [r for r in resources if r["name"] == "secret"]
    token = {f["name"]: f for f in secret["configField"]["configType"]["fields"]}["token"]
    assert token["defaultValueAsJson"] == '{"env": "WEB_GRAPH_SECRET"}'
    # the reference is shown instead, wherever the default appears
    defaults = yaml.safe_load(config_schema(context, "secret_job")["rootDefaultYaml"])
    assert defaults["resources"]["secret"]["config"]["token"] == {"env": "WEB_GRAPH_SECRET"}
    types, _ = op_config_fields(config_schema(context, "secret_job"), "uses_secret")
    token = [f for t in types.values() for f in t.get("fields") or [] if f["name"] == "token"]
    assert [f["defaultValueAsJson"] for f in token] == ['{"env": "WEB_GRAPH_SECRET"}']
    scaffolded = yaml.safe_load(on_schema(context, "secret_job", {})["defaults"])
    assert scaffolded["resources"]["secret"]["config"]["token"] == {"env": "WEB_GRAPH_SECRET"}
    valid = {"ops": {"uses_secret": {"config": {"retries": 1}}}}
    assert validate(context, "secret_job", valid)["__typename"] == "PipelineConfigValidationValid"


def test_an_unset_secret_is_a_config_error_naming_the_variable(context, monkeypatch):
    monkeypatch.delenv("WEB_GRAPH_SECRET", raising=False)
    result = validate(context, "secret_job", {"ops": {"uses_secret": {"config": {"retries": 1}}}})
    [error] = result["errors"]
    assert error["__typename"] == "RuntimeMismatchConfigError"
    assert "WEB_GRAPH_SECRET" in error["message"]
    assert error["path"] == ["resources", "secret", "config", "token"]


# ---------- the launchpad, against a real server ----------


def test_the_launchpads_flow_schema_validate_launch_over_http(tmp_path):
    from tests.web.test_server import start

    server = start(tmp_path, "-f", str(FIXTURE))
    try:
        def post(query, variables):
            response = server.post(json.dumps({"query": query, "variables": variables}))
            assert response.status_code == 200, response.text
            body = response.json()
            assert "errors" not in body, body
            return body["data"]

        sel = selector("config_kinds_job")
        schema = post(ON_SCHEMA, {"selector": sel, "config": {}})["runConfigSchemaOrError"]
        draft = yaml.safe_load(schema["missing"])
        assert validate_over(post, sel, {})["__typename"] == "RunConfigValidationInvalid"
        draft["ops"]["configured"]["config"]["name"] = "from the launchpad"
        assert validate_over(post, sel, draft)["__typename"] == "PipelineConfigValidationValid"
        launched = post(LAUNCH, {"executionParams": {"selector": sel, "runConfigData": draft, "mode": "default"}})["launchRun"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        assert launched["run"]["runId"]
    finally:
        server.process.kill()
        server.process.wait()


def validate_over(post, sel, config):
    return post(VALIDATE, {"pipeline": sel, "config": config})["isPipelineConfigValid"]


LAUNCH = """
mutation Launch($executionParams: ExecutionParams!) {
  launchRun(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on PythonError { message }
  }
}
"""
