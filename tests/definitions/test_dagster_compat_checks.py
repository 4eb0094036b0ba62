"""Dagster-compatibility: attributes Dagster code reads, the objects `.alias()`,
`.tag()`, `.with_hooks()` and `.with_retry_policy()` return, and the checks Dagster
makes when a job is built. Each behaviour was checked against Dagster 1.13."""

import re

import pytest

from oprun import (
    AssetObservation,
    DagsterInstance,
    DagsterInvalidDefinitionError,
    DagsterInvalidInvocationError,
    DagsterInvariantViolationError,
    DagsterRunStatus,
    DagsterType,
    Definitions,
    DynamicCollectDependencyDefinition,
    DynamicOut,
    DynamicOutput,
    GraphDefinition,
    GraphOut,
    In,
    Out,
    Output,
    ResourceDefinition,
    RetryPolicy,
    RunRequest,
    StaticPartitionsDefinition,
    graph,
    job,
    op,
    resource,
    static_partitioned_config,
    success_hook,
)
from oprun.definitions.jobs.types import List
from oprun.errors import DagsterInvalidConfigError, DagsterUnknownPartitionError
from oprun.events import DagsterEvent


@op
def emit():
    return 1


@op
def add_one(x):
    return x + 1


@op
def total(xs: list) -> int:
    return sum(xs)


@op(out=DynamicOut())
def fan_out():
    for i in range(3):
        yield DynamicOutput(i, mapping_key=str(i))


@op(out=DynamicOut())
def fan_out_again(x):
    for i in range(2):
        yield DynamicOutput(x * 10 + i, mapping_key=str(i))


@success_hook
def noted(_context):
    pass


@success_hook(required_resource_keys={"pager"})
def page(_context):
    pass


# --- 1. attributes Dagster code reads ---------------------------------------------


def test_output_def_named_returns_the_output_and_names_a_missing_one():
    @op(out={"rows": Out(int), "errors": Out(str)})
    def split():
        return 1, "x"

    assert split.output_def_named("rows").dagster_type.key == "Int"
    with pytest.raises(DagsterInvariantViolationError, match=r"split has no output named row\b.*Did you mean 'rows'"):
        split.output_def_named("row")


def test_graph_all_dagster_types_has_builtins_and_every_type_used_also_in_nested_graphs():
    point = DagsterType(lambda _c, _v: True, name="Point")

    @op(out=Out(List[point]))
    def points():
        return []

    @op
    def count(xs: list) -> int:
        return len(xs)

    @graph
    def inner():
        return count(points())

    @graph
    def outer():
        return add_one(inner())

    names = [t.key for t in outer.all_dagster_types()]
    assert {"Any", "Bool", "Float", "Int", "String", "Nothing"} <= set(names)
    assert "Point" in names and "List[Point]" in names
    assert len(names) == len(set(names))
    assert outer.to_job().all_dagster_types() == outer.all_dagster_types()


def test_run_request_for_partition_carries_the_partition_config_and_tags():
    @static_partitioned_config(["a", "b"], tags_for_partition_key_fn=lambda key: {"letter": key})
    def letters(key):
        return {"ops": {"show": {"config": {"key": key}}}}

    @op(config_schema={"key": str})
    def show(context):
        return context.op_config["key"]

    @job(config=letters)
    def lettered():
        show()

    request = lettered.run_request_for_partition("b", run_key="rk", tags={"team": "data"})
    assert isinstance(request, RunRequest)
    assert request.run_key == "rk" and request.partition_key == "b" and request.job_name == "lettered"
    assert request.run_config == {"ops": {"show": {"config": {"key": "b"}}}}
    assert request.tags["team"] == "data" and request.tags["letter"] == "b"
    assert request.tags["dagster/partition"] == "b"
    # run_config= replaces the partition's config, as in Dagster.
    assert lettered.run_request_for_partition("a", run_config={"ops": {}}).run_config == {"ops": {}}
    with pytest.raises(DagsterUnknownPartitionError, match="Partition key 'c' is not one of the 2 partitions"):
        lettered.run_request_for_partition("c")

    @job
    def plain():
        emit()

    with pytest.raises(DagsterInvariantViolationError, match="run_request_for_partition on a non-partitioned job"):
        plain.run_request_for_partition("a")


def test_partitioned_config_lists_its_partition_keys():
    @static_partitioned_config(["x", "y", "z"])
    def config_for(_key):
        return {}

    assert config_for.get_partition_keys() == ["x", "y", "z"]

    @job(partitions_def=StaticPartitionsDefinition(["p", "q"]))
    def parted():
        emit()

    assert parted.partitioned_config.get_partition_keys() == ["p", "q"]


def test_dagster_event_is_asset_observation():
    @op
    def observe():
        yield AssetObservation(asset_key="table")
        yield Output(1)

    @job
    def observing():
        observe()

    events = observing.execute_in_process().all_events
    observed = [e for e in events if e.is_asset_observation]
    assert [e.event_type_value for e in observed] == ["ASSET_OBSERVATION"]
    assert not DagsterEvent("STEP_START", "j").is_asset_observation


def test_instance_create_run_for_job_records_a_run_without_running_it():
    @op(config_schema={"n": int})
    def configured(context):
        return context.op_config["n"]

    @job
    def recorded():
        add_one(configured())

    instance = DagsterInstance.ephemeral()
    run = instance.create_run_for_job(
        recorded, run_config={"ops": {"configured": {"config": {"n": 2}}}}, tags={"who": "me"}, op_selection=["configured"],
    )
    stored = instance.get_run_by_id(run.run_id)
    assert stored is not None and stored.status == DagsterRunStatus.NOT_STARTED
    assert stored.job_name == "recorded" and stored.tags["who"] == "me" and stored.op_selection == ["configured"]
    assert instance.all_logs(run.run_id) == []  # nothing ran

    child = instance.create_run_for_job(
        recorded, run_config={"ops": {"configured": {"config": {"n": 3}}}}, parent_run_id=run.run_id, status="QUEUED",
    )
    stored_child = instance.get_run_by_id(child.run_id)
    assert stored_child.parent_run_id == run.run_id and stored_child.root_run_id == run.run_id
    assert stored_child.status == DagsterRunStatus.QUEUED

    # Bad config is refused before anything is recorded.
    with pytest.raises(DagsterInvalidConfigError, match=re.escape("root:ops:configured:config:n")):
        instance.create_run_for_job(recorded, run_config={"ops": {"configured": {"config": {"n": "x"}}}})
    assert len(instance.get_runs()) == 2


# --- 2. what .alias() / .tag() / .with_hooks() / .with_retry_policy() return ------


def test_an_aliased_or_tagged_op_called_outside_a_body_runs_like_the_op():
    assert add_one.alias("plus")(1) == 2
    assert add_one.tag({"k": "v"}).with_hooks({noted}).with_retry_policy(RetryPolicy())(41) == 42


def test_an_aliased_graph_becomes_a_job_named_by_the_alias_with_its_tags_and_hooks():
    @graph
    def pipeline():
        add_one(emit())

    pending = pipeline.alias("renamed").tag({"team": "a"}).with_hooks({noted}).with_retry_policy(RetryPolicy(max_retries=2))
    built = pending.to_job(tags={"env": "dev"})
    assert built.name == "renamed"
    assert built.tags == {"team": "a", "env": "dev"}
    assert built.hook_defs == frozenset({noted})
    assert built.op_retry_policy is None  # to_job does not take the invocation's retry policy
    assert pipeline.tag({"t": "1"}).to_job().name == "pipeline"

    result = pending.execute_in_process()
    assert result.success and result.dagster_run.job_name == "renamed"
    assert result.dagster_run.tags["team"] == "a"
    assert [e.event_type_value for e in result.all_events].count("HOOK_COMPLETED") == 2


def test_an_aliased_op_has_no_to_job_and_an_aliased_graph_cannot_be_called():
    with pytest.raises(DagsterInvalidInvocationError, match=re.escape("Attemped to call `to_job` on a non-graph.")):
        add_one.alias("x").to_job()
    with pytest.raises(DagsterInvalidInvocationError, match="`execute_in_process` on a non-graph"):
        add_one.tag({"a": "b"}).execute_in_process()

    @graph
    def g():
        emit()

    with pytest.raises(DagsterInvariantViolationError, match="Attempted to call graph 'gg' outside of a composition function"):
        g.alias("gg")()


def test_chained_invocation_inside_a_body_keeps_every_setting():
    policy = RetryPolicy(max_retries=3)

    @job
    def chained():
        emit.alias("first").tag({"a": "1"}).with_hooks({noted}).tag({"b": "2"}).with_retry_policy(policy)()

    node = chained.graph.node_named("first")
    assert node.tags == {"a": "1", "b": "2"} and node.hook_defs == frozenset({noted}) and node.retry_policy is policy


def test_iterating_or_indexing_an_output_handle_is_an_invariant_violation_as_in_dagster():
    with pytest.raises(DagsterInvariantViolationError, match="Attempted to iterate over the dynamic output"):
        @job
        def iterates():
            for _item in fan_out():
                pass

    with pytest.raises(DagsterInvariantViolationError, match="Attempted to index the output"):
        @job
        def indexes():
            add_one(emit()[0])


# --- 3. checks made when a job is built: resources ----------------------------------

needs_type_resource = DagsterType(lambda _c, _v: True, name="Audited", required_resource_keys={"auditor"})


@op(out=Out(needs_type_resource))
def audited():
    return 1


@op(ins={"x": In(input_manager_key="loader")})
def loads(x):
    return x


@op(out=Out(io_manager_key="warehouse"))
def stores():
    return 1


other = ResourceDefinition.hardcoded_resource(1)


def test_a_resource_a_dagster_type_requires_is_checked_when_resources_are_given():
    with pytest.raises(
        DagsterInvalidDefinitionError,
        match=re.escape("resource with key 'auditor' required by type 'Audited' was not provided to job 'typed'."),
    ):
        @job(resource_defs={"other": other})
        def typed():
            audited()

    # Without resource_defs the check waits for Definitions (or the run), as in Dagster.
    @job
    def unbound():
        audited()

    with pytest.raises(DagsterInvalidDefinitionError, match="required by type 'Audited'"):
        Definitions(jobs=[unbound]).get_job_def("unbound")
    with pytest.raises(DagsterInvalidDefinitionError, match="required by type 'Audited'"):
        unbound.execute_in_process()
    bound = Definitions(jobs=[unbound], resources={"auditor": other}).get_job_def("unbound")
    assert bound.execute_in_process().success


def test_missing_input_and_io_managers_are_named_as_dagster_names_them():
    with pytest.raises(DagsterInvalidDefinitionError) as raised:
        @job(resource_defs={"other": other})
        def loading():
            loads()
    message = str(raised.value)
    assert message.startswith("input manager with key 'loader' required by input 'x' of op 'loads' was not provided")
    # Only IO managers could stand in for an input manager.
    assert "points to an IInputManagerDefinition: ['io_manager']" in message

    with pytest.raises(
        DagsterInvalidDefinitionError,
        match=re.escape("io manager with key 'warehouse' required by output 'result' of op 'stores' was not provided"),
    ):
        @job(resource_defs={"other": other})
        def storing():
            stores()

    @job
    def storing_later():
        stores()

    with pytest.raises(DagsterInvalidDefinitionError, match="io manager with key 'warehouse'"):
        Definitions(jobs=[storing_later]).get_job_def("storing_later")


def test_missing_hook_resources_say_what_the_hook_is_attached_to():
    with pytest.raises(DagsterInvalidDefinitionError, match=re.escape("required by hook 'page' attached to job 'paged'")):
        @job(resource_defs={"other": other}, hooks={page})
        def paged():
            emit()

    with pytest.raises(DagsterInvalidDefinitionError, match=re.escape("required by hook 'page' attached to op 'loud'")):
        @job(resource_defs={"other": other})
        def op_paged():
            emit.alias("loud").with_hooks({page})()

    @job(resource_defs={"other": other})
    def quiet():
        emit()

    with pytest.raises(DagsterInvalidDefinitionError, match="required by hook 'page' attached to job 'quiet'"):
        quiet.with_hooks({page})


def test_empty_resource_defs_leave_the_check_to_definitions_as_in_dagster():
    @op(required_resource_keys={"db"})
    def query():
        return 1

    @job(resource_defs={})
    def later():
        query()

    with pytest.raises(DagsterInvalidDefinitionError, match="resource with key 'db' required by op 'query'"):
        Definitions(jobs=[later]).get_job_def("later")


def test_a_resource_that_a_resource_needs_is_an_invariant_violation_as_in_dagster():
    @resource(required_resource_keys={"creds"})
    def client(_context):
        return 1

    @op(required_resource_keys={"client"})
    def call():
        return 1

    with pytest.raises(
        DagsterInvariantViolationError,
        match=re.escape("Resource with key 'creds' required by resource with key 'client', but not provided."),
    ):
        @job(resource_defs={"client": client})
        def calls():
            call()


# --- 3. checks made when a job is built: dynamic outputs ------------------------------


def test_a_dynamic_output_passed_without_map_or_collect_is_refused_with_dagsters_words():
    with pytest.raises(DagsterInvalidDefinitionError) as raised:
        @job
        def direct():
            add_one(fan_out())
    assert str(raised.value).startswith(
        "In @job direct, received the dynamic output result from op 'fan_out' directly. Dynamic output must be "
        "unpacked by invoking map or collect."
    )
    assert 'input "x"' in str(raised.value)


def test_a_fan_in_list_holds_no_dynamic_output_nor_collect():
    with pytest.raises(DagsterInvalidDefinitionError, match="received a list containing an invalid type at index 0"):
        @job
        def collected_in_list():
            total([fan_out().collect(), emit()])

    with pytest.raises(DagsterInvalidDefinitionError, match="received a list containing an invalid type at index 1"):
        @job
        def mapped_in_list():
            total([emit(), fan_out().map(add_one)])

    with pytest.raises(DagsterInvalidDefinitionError, match="items in a fan-in dependency cannot be downstream of dynamic outputs"):
        @job
        def item_in_map():
            fan_out().map(lambda x: total([x, emit()]))


def test_fanning_out_inside_a_mapping_is_accepted_while_the_inner_fan_out_is_unused():
    @job
    def nested_unused():
        fan_out().map(fan_out_again)

    assert nested_unused.execute_in_process().success


def test_consuming_a_fan_out_made_inside_a_mapping_is_refused():
    with pytest.raises(DagsterInvalidDefinitionError, match=re.escape(
        "op 'add_one' cannot be downstream of more than one dynamic output. It is downstream of both "
        "\"fan_out:result\" and \"fan_out_again:result\""
    )):
        @job
        def mapped_twice():
            fan_out().map(lambda x: fan_out_again(x).map(add_one))

    with pytest.raises(DagsterInvalidDefinitionError, match="op 'total' cannot be downstream of more than one dynamic output"):
        @job
        def collected_inside():
            fan_out().map(lambda x: total(fan_out_again(x).collect()))

    with pytest.raises(DagsterInvalidDefinitionError, match="Could not handle output from map function"):
        @job
        def returns_collect():
            fan_out().map(lambda x: fan_out_again(x).map(add_one).collect())


def test_a_mapped_graph_may_not_fan_out_inside_before_its_input():
    @graph
    def inner_fan(x):
        return total(fan_out_again(x).map(add_one).collect())

    with pytest.raises(DagsterInvalidDefinitionError, match=re.escape(
        "graph 'inner_fan' cannot be downstream of dynamic output \"fan_out:result\" since input \"x\" maps to a "
        "node that is already downstream of another dynamic output."
    )):
        @job
        def maps_a_fanning_graph():
            total(fan_out().map(inner_fan).collect())

    @graph
    def plain(x):
        return add_one(x)

    @job
    def maps_a_plain_graph():
        total(fan_out().map(plain).collect())

    assert maps_a_plain_graph.execute_in_process().output_for_node("total") == 6


def test_collecting_an_output_that_is_not_dynamic_is_refused():
    with pytest.raises(DagsterInvalidDefinitionError, match="which is not dynamic and not mapped"):
        GraphDefinition(
            "collects_plain",
            node_defs=[emit, total],
            dependencies={"total": {"xs": DynamicCollectDependencyDefinition("emit", "result")}},
        )


def test_a_job_body_returns_no_output_as_in_dagster():
    with pytest.raises(DagsterInvalidDefinitionError, match=re.escape(
        "Returned a single output (emit.result) in @job 'returns' but 0 outputs are defined."
    )):
        @job
        def returns():
            return emit()

    with pytest.raises(DagsterInvalidDefinitionError, match="referenced key out which does not match any defined outputs"):
        @job
        def returns_dict():
            return {"out": emit()}

    @graph(out={"out": GraphOut()})
    def as_graph():
        return {"out": emit()}

    assert as_graph.to_job().execute_in_process().success


# --- 3. checks made when a job is built: nested graph inputs, names --------------------


class Opaque:
    pass


@op
def needs_opaque(x: Opaque):
    return x


def test_an_unconnected_input_of_a_nested_graph_is_refused_when_nothing_can_resolve_it():
    @graph
    def wraps(x):
        return needs_opaque(x)

    with pytest.raises(DagsterInvalidDefinitionError, match=re.escape("Input 'x' of graph 'wraps' has no way of being resolved.")):
        @job
        def unconnected():
            wraps()

    @graph
    def middle(y):
        return wraps(y)

    with pytest.raises(DagsterInvalidDefinitionError, match="Input 'y' of graph 'middle' has no way of being resolved"):
        @job
        def deeper():
            middle()

    # The job's own inputs stay open for input_values; a type with a loader is resolvable.
    assert wraps.to_job(input_values={"x": Opaque()}).execute_in_process().success

    @op
    def takes_int(x: int):
        return x

    @graph
    def loads_int(x):
        return takes_int(x)

    @job
    def from_config():
        loads_int()

    assert from_config.execute_in_process(run_config={"ops": {"loads_int": {"inputs": {"x": 3}}}}).success


@pytest.mark.parametrize("name", ["bad name", "bad-name", "class", "input"])
def test_invalid_job_names_are_refused_wherever_a_job_is_named(name):
    @graph
    def named():
        emit()

    with pytest.raises(DagsterInvalidDefinitionError, match="is not a valid job name"):
        named.to_job(name=name)
    with pytest.raises(DagsterInvalidDefinitionError, match="is not a valid job name"):
        GraphDefinition("g", node_defs=[emit]).to_job(name=name)
    with pytest.raises(DagsterInvalidDefinitionError, match="is not a valid job name"):
        job(name=name)(lambda: None)

