"""Behaviours that Dagster's documentation examples for ops, jobs and graphs rely
on, each checked with a small example of our own: an empty list passed in a
graph body is an empty fan-in, a returned `Output` belongs to the output at its
position, a Nothing output never reaches an IO manager, a string asset key is
split as Dagster splits it, and the order of a step's input and logged events."""

import pytest

from oprun import (
    AssetMaterialization,
    AssetObservation,
    DagsterType,
    DagsterTypeCheckDidNotPass,
    DynamicOut,
    DynamicOutput,
    ExpectationResult,
    GraphDefinition,
    In,
    IOManager,
    MultiDependencyDefinition,
    Nothing,
    Out,
    Output,
    graph,
    io_manager,
    job,
    op,
)
from oprun.events import DagsterEventType

# --- an empty list in a graph body ----------------------------------------------------------


@op
def count_items(items):
    return len(items)


@op
def half(n: int) -> int:
    return n // 2


def test_an_empty_list_in_a_graph_body_is_an_empty_fan_in():
    @graph
    def counts_nothing():
        count_items([])

    result = counts_nothing.execute_in_process()
    assert result.success
    assert result.output_for_node("count_items") == 0

    @job
    def counts_nothing_job():
        count_items(items=[])

    assert counts_nothing_job.execute_in_process().output_for_node("count_items") == 0


def test_an_empty_fan_in_is_type_checked_when_the_step_runs():
    # Dagster checks fan-in support per upstream output, so an empty fan-in into an
    # Int input is accepted when the job is built, and fails its type check at run time.
    @job
    def halves_a_list():
        half([])

    with pytest.raises(DagsterTypeCheckDidNotPass, match='step input "n"'):
        halves_a_list.execute_in_process()

    accepts_lists = DagsterType(lambda _, value: isinstance(value, list), name="AcceptsLists")

    @op(ins={"xs": In(accepts_lists)})
    def takes_custom(xs):
        return xs

    built = GraphDefinition(
        name="empty_custom_fan_in", node_defs=[takes_custom], dependencies={"takes_custom": {"xs": MultiDependencyDefinition([])}}
    )
    assert built.execute_in_process().output_for_node("takes_custom") == []


# --- a returned Output belongs to the output at its position ------------------------------


@op(out={"total": Out(), "label": Out()})
def totals_with_outputs():
    return Output(12), Output("dozen", metadata={"len": 5})


@op(out={"only": Out()})
def one_named_output():
    return Output(3)


@op(out={"first": Out(), "pieces": DynamicOut()})
def first_and_pieces():
    return Output(1), [DynamicOutput(2, mapping_key="a"), DynamicOutput(3, mapping_key="b")]


@op(out={"left": Out(), "right": Out()})
def swapped_names():
    return Output(1, "right"), Output(2, "left")


def test_returned_outputs_take_the_name_of_their_position():
    @job
    def positional_outputs():
        totals_with_outputs()
        one_named_output()
        first_and_pieces()

    result = positional_outputs.execute_in_process()
    assert result.output_for_node("totals_with_outputs", "total") == 12
    assert result.output_for_node("totals_with_outputs", "label") == "dozen"
    assert result.output_for_node("one_named_output", "only") == 3
    assert result.output_for_node("first_and_pieces", "first") == 1
    assert result.output_for_node("first_and_pieces", "pieces") == {"a": 2, "b": 3}
    label_output = [
        e for e in result.events_for_node("totals_with_outputs")
        if e.event_type == DagsterEventType.STEP_OUTPUT and e.event_specific_data.output_name == "label"
    ]
    assert list(label_output[0].event_specific_data.metadata) == ["len"]


def test_a_returned_output_named_for_another_position_fails():
    @job
    def wrong_positions():
        swapped_names()

    result = wrong_positions.execute_in_process(raise_on_error=False)
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE]
    assert "explicitly named 'right'" in failure.event_specific_data.error.message
    with pytest.raises(Exception, match="explicitly named 'right'"):
        swapped_names()


# --- a Nothing output never reaches an IO manager ---------------------------------------------


def test_a_nothing_output_is_not_handled_by_the_io_manager():
    handled = []

    class Recorder(IOManager):
        def handle_output(self, context, obj):
            handled.append(context.step_key)

        def load_input(self, context):
            raise AssertionError("nothing to load")

    @io_manager
    def recorder():
        return Recorder()

    @op
    def creates_table() -> None:
        pass

    @op(out=Out(Nothing))
    def fills_table():
        pass

    @op(ins={"after": In(Nothing)})
    def reports():
        return "done"

    @job(resource_defs={"io_manager": recorder})
    def table_job():
        reports(after=[creates_table(), fills_table()])

    result = table_job.execute_in_process()
    assert result.success
    assert handled == ["reports"]
    for step in ("creates_table", "fills_table"):
        kinds = [e.event_type for e in result.events_for_node(step)]
        assert DagsterEventType.STEP_OUTPUT in kinds
        assert DagsterEventType.HANDLED_OUTPUT not in kinds


# --- asset keys given as strings ---------------------------------------------------------------


def test_a_string_asset_key_is_split_on_non_word_characters():
    materialization = AssetMaterialization(asset_key="warehouse.daily-sales")
    assert materialization.asset_key.path == ["warehouse", "daily", "sales"]
    assert materialization.label == "warehouse daily sales"
    assert AssetObservation("lake/raw").asset_key.path == ["lake", "raw"]
    assert AssetMaterialization(["a.b", "c"]).asset_key.path == ["a.b", "c"]

    @op
    def writes_report(context):
        context.log_event(AssetMaterialization("reports.weekly"))

    @job
    def report_job():
        writes_report()

    (event,) = report_job.execute_in_process().asset_materializations_for_node("writes_report")
    assert event.asset_key.path == ["reports", "weekly"]


# --- the order of a step's events ----------------------------------------------------------------


@op
def two():
    return 2


@op
def three():
    return 3


@op
def multiply(context, a: int, b: int) -> int:
    context.log_event(ExpectationResult(success=True, label="multiplied"))
    return a * b


def test_inputs_are_loaded_before_they_are_checked_and_logged_events_come_before_the_output():
    @job
    def product():
        multiply(two(), three())

    result = product.execute_in_process()
    assert [e.event_type for e in result.events_for_node("multiply")] == [
        DagsterEventType.STEP_START,
        DagsterEventType.LOADED_INPUT,
        DagsterEventType.LOADED_INPUT,
        DagsterEventType.STEP_INPUT,
        DagsterEventType.STEP_INPUT,
        DagsterEventType.STEP_EXPECTATION_RESULT,
        DagsterEventType.STEP_OUTPUT,
        DagsterEventType.HANDLED_OUTPUT,
        DagsterEventType.STEP_SUCCESS,
    ]
