"""`oprun.errors`: every exception a user can meet is defined there and exported
from `oprun`; and `GraphDefinition` takes Dagster's keywords, refusing unknown ones."""

import inspect

import pytest

import oprun
import oprun.errors
from oprun import (
    DagsterInstance,
    DagsterInvalidConfigError,
    DagsterInvalidDefinitionError,
    DagsterInvariantViolationError,
    DependencyDefinition,
    GraphDefinition,
    InputMapping,
    OutputMapping,
    graph,
    job,
    op,
)


def _error_classes():
    return sorted(
        (name, value)
        for name, value in vars(oprun.errors).items()
        if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == "oprun.errors"
    )


def test_every_error_class_is_exported_from_oprun():
    missing = [name for name, value in _error_classes() if getattr(oprun, name, None) is not value]
    assert missing == []
    assert {name for name, _ in _error_classes()} <= set(oprun.__all__)


@pytest.mark.parametrize(
    "name, bases",
    [
        ("ConfigFileError", (DagsterInvalidConfigError,)),
        ("DagsterInstanceConfigError", (DagsterInvalidConfigError, DagsterInvariantViolationError)),
    ],
)
def test_moved_errors_live_in_oprun_errors(name, bases):
    cls = getattr(oprun.errors, name)
    assert cls.__module__ == "oprun.errors"
    assert getattr(oprun, name) is cls
    for base in bases:
        assert issubclass(cls, base)
    assert issubclass(cls, oprun.errors.DagsterError)
    error = cls("what went wrong")
    assert str(error) == "what went wrong"
    assert error.errors == []


def test_a_bad_yaml_run_config_raises_config_file_error():
    from oprun.config.run_config import load_yaml_string

    with pytest.raises(oprun.errors.ConfigFileError, match=r"run.yaml, line \d+, column \d+ is not valid YAML"):
        load_yaml_string("ops: [unclosed\n", "run.yaml")


def test_a_bad_instance_config_is_an_invalid_config_error(tmp_path):
    (tmp_path / "oprun.yaml").write_text("storag: {}\n")
    with pytest.raises(DagsterInvalidConfigError, match="Did you mean 'storage'") as raised:
        DagsterInstance.from_directory(str(tmp_path))
    assert type(raised.value) is oprun.errors.DagsterInstanceConfigError


@pytest.mark.parametrize("removed", ["DagsterUnknownStepStateError", "DagsterUndefinedLogicalVersionError"])
def test_unused_non_dagster_errors_are_gone(removed):
    assert not hasattr(oprun.errors, removed)


# --- GraphDefinition keywords ------------------------------------------------------


@op
def one() -> int:
    return 1


@op
def two() -> int:
    return 2


@op
def minus(a: int, b: int) -> int:
    return a - b


def _minus_graph(**kwargs):
    return GraphDefinition(
        name="minus_graph",
        node_defs=[minus],
        input_mappings=[InputMapping("a", "minus", "a"), InputMapping("b", "minus", "b")],
        output_mappings=[OutputMapping("result", "minus", "result")],
        **kwargs,
    )


def test_unknown_keyword_is_a_type_error_naming_it():
    with pytest.raises(TypeError, match="node_dfs"):
        GraphDefinition(name="g", node_dfs=[one])  # a misspelt node_defs= used to be dropped


def test_positional_inputs_orders_the_graph_inputs():
    sub = _minus_graph(positional_inputs=["b", "a"])
    assert sub.positional_inputs == ["b", "a"]

    @job
    def uses_sub():
        sub(one(), two())  # b=1, a=2

    result = uses_sub.execute_in_process()
    assert result.output_for_node("minus_graph", "result") == 1


def test_composition_fn_is_kept():
    def compose():
        one()

    explicit = GraphDefinition(name="explicit", node_defs=[one], composition_fn=compose)
    assert explicit.composition_fn is compose
    assert GraphDefinition(name="plain", node_defs=[one]).composition_fn is None

    @graph
    def decorated():
        minus(two(), one())

    assert decorated.composition_fn.__name__ == "decorated"


@pytest.mark.parametrize("argument", ["input_assets", "node_input_source_assets"])
def test_empty_input_assets_are_accepted(argument):
    for empty in (None, {}):
        g = GraphDefinition(
            name="g", node_defs=[one, minus],
            dependencies={"minus": {"a": DependencyDefinition("one"), "b": DependencyDefinition("one")}},
            **{argument: empty},
        )
        assert g.to_job().execute_in_process().output_for_node("minus") == 0


@pytest.mark.parametrize("argument", ["input_assets", "node_input_source_assets"])
def test_input_assets_are_refused_not_dropped(argument):
    with pytest.raises(DagsterInvalidDefinitionError, match=rf"'g': {argument}=.*not supported.*\['minus'\]"):
        GraphDefinition(name="g", node_defs=[minus], **{argument: {"minus": {"a": object()}}})


def test_to_job_refuses_an_asset_layer():
    with pytest.raises(DagsterInvalidDefinitionError, match=r"asset_layer=.*not supported"):
        _minus_graph().to_job(asset_layer=object())
