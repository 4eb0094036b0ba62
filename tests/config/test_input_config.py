"""Unconnected inputs read from run config (`ops.<op>.inputs.<name>`) as Dagster's
built-in types read them: a bare scalar, `{value: v}`, `{json: {path: p}}` or
`{pickle: {path: p}}`; lists and optionals item by item; `Any` by the selector."""

import json
import pickle
from typing import Optional

import pytest

from oprun import DagsterInvalidConfigError, In, job, op, validate_run_config
from oprun.config.scaffold import scaffold_yaml


@op
def echo_int(x: int) -> int:
    return x


@op
def echo_list(xs: list[int]) -> list:
    return xs


@op
def echo_optional(x: Optional[str]) -> Optional[str]:
    return x


@op(ins={"x": In()})
def echo_any(x):
    return x


@job
def inputs_job():
    echo_int()
    echo_list()
    echo_optional()
    echo_any()


def _run(tmp_path, x, xs, opt, anything):
    config = {
        "ops": {
            "echo_int": {"inputs": {"x": x}},
            "echo_list": {"inputs": {"xs": xs}},
            "echo_optional": {"inputs": {"x": opt}},
            "echo_any": {"inputs": {"x": anything}},
        }
    }
    result = inputs_job.execute_in_process(run_config=config)
    return [result.output_for_node(n) for n in ("echo_int", "echo_list", "echo_optional", "echo_any")]


def test_bare_scalars_and_the_value_selector(tmp_path):
    assert _run(tmp_path, 3, [1, {"value": 2}], None, {"value": {"any": "thing"}}) == [3, [1, 2], None, {"any": "thing"}]
    assert _run(tmp_path, {"value": 4}, [], {"value": "s"}, {"value": 5}) == [4, [], "s", 5]


def test_json_and_pickle_files(tmp_path):
    number = tmp_path / "n.json"
    number.write_text(json.dumps({"value": 7}))
    blob = tmp_path / "obj.pickle"
    blob.write_bytes(pickle.dumps({"rows": [1, 2]}))
    got = _run(tmp_path, {"json": {"path": str(number)}}, [{"json": {"path": str(number)}}], "plain", {"pickle": {"path": str(blob)}})
    assert got == [7, [7], "plain", {"rows": [1, 2]}]


def test_a_bad_selector_is_a_config_error_naming_the_path():
    config = {"ops": {"echo_int": {"inputs": {"x": {"csv": {"path": "x"}}}}, "echo_any": {"inputs": {"x": 1}}}}
    with pytest.raises(DagsterInvalidConfigError) as raised:
        validate_run_config(inputs_job, config)
    text = str(raised.value)
    assert "root:ops:echo_int:inputs:x" in text and "csv" in text
    # Any takes the selector only, as in Dagster: a bare value is an error at its path.
    assert "root:ops:echo_any:inputs:x" in text


def test_an_unreadable_input_file_fails_the_step_with_the_path(tmp_path):
    missing = tmp_path / "missing.json"
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    for path, reason in ((missing, "No such file"), (bad, 'with a "value" key')):
        config = {"ops": {"echo_int": {"inputs": {"x": {"json": {"path": str(path)}}}}}}

        @job
        def one_input():
            echo_int()

        with pytest.raises(DagsterInvalidConfigError, match=f"Could not read the json input file '{path}'.*{reason}"):
            one_input.execute_in_process(run_config=config)


def test_the_scaffold_shows_the_input_schema():
    text = scaffold_yaml(inputs_job.config_schema_snapshot, required_only=True)
    assert "echo_int:" in text and "inputs:" in text and "x:" in text
