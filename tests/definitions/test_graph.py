"""Composition with @graph/@job and the explicit GraphDefinition API, and every
error raised when a graph is built."""

import pytest

from oprun import (
    DagsterInvalidDefinitionError,
    DagsterInvariantViolationError,
    DependencyDefinition,
    DynamicOut,
    DynamicOutput,
    GraphDefinition,
    GraphOut,
    In,
    MultiDependencyDefinition,
    NodeInvocation,
    Nothing,
    Out,
    graph,
    job,
    op,
)


@op
def one() -> int:
    return 1


@op
def inc(x: int) -> int:
    return x + 1


@op
def add(a: int, b: int) -> int:
    return a + b


@op
def total(xs: list) -> int:
    return sum(xs)


def test_positional_and_keyword_wiring():
    @graph
    def g():
        add(one(), b=inc(one()))

    assert set(g.node_dict) == {"one", "one_2", "inc", "add"}
    assert g.dependencies["add"]["a"] == DependencyDefinition("one", "result")
    assert g.dependencies["add"]["b"] == DependencyDefinition("inc", "result")


def test_repeated_calls_are_auto_named_and_aliases_tags_hooks_retry_stick():
    from oprun import RetryPolicy, success_hook

    @success_hook
    def hook(_):
        pass

    @graph
    def g():
        inc.alias("first").tag({"k": "v"}).with_hooks({hook}).with_retry_policy(RetryPolicy(3))(one())
        inc(inc(one()))

    assert {"first", "inc", "inc_2", "one", "one_2"} == set(g.node_dict)
    node = g.node_dict["first"]
    assert node.tags == {"k": "v"} and hook in node.hook_defs and node.retry_policy.max_retries == 3


def test_multiple_outputs_unpack_and_by_attribute():
    @op(out={"lo": Out(int), "hi": Out(int)})
    def split():
        return 1, 2

    @graph
    def g():
        lo, hi = split()
        add(lo, hi)
        both = split.alias("again")()
        add.alias("add2")(both.lo, both.hi)

    assert g.dependencies["add2"]["a"] == DependencyDefinition("again", "lo")


def test_fan_in_and_nothing_dependencies():
    @op(ins={"after": In(Nothing)})
    def last():
        return 0

    @graph
    def g():
        total([one(), inc(one())])
        last(after=[one.alias("x")()])

    assert isinstance(g.dependencies["total"]["xs"], MultiDependencyDefinition)


def test_fan_in_into_a_scalar_type_is_an_error():
    with pytest.raises(DagsterInvalidDefinitionError, match="fanning in"):
        @graph
        def g():
            inc([one(), one()])


def test_nested_graphs_with_inputs_and_outputs():
    @graph
    def inner(x):
        return inc(x)

    @graph(out={"a": GraphOut(), "b": GraphOut()})
    def middle(x):
        return {"a": inner(x), "b": inc(x)}

    @job
    def j():
        a, b = middle(one())
        add(a, b)

    assert j.graph.node_dict["middle"].definition.input_dict["x"].dagster_type.display_name == "Int"
    assert set(middle.output_dict) == {"a", "b"}


def test_explicit_api_with_node_invocations():
    g = GraphDefinition(
        name="explicit",
        node_defs=[one, inc],
        dependencies={
            NodeInvocation("inc", alias="inc_a"): {"x": DependencyDefinition("one")},
            NodeInvocation("inc", alias="inc_b"): {"x": DependencyDefinition("inc_a")},
        },
    )
    assert g.toposorted_node_names == ["one", "inc_a", "inc_b"]
    assert g.to_job().execute_in_process().output_for_node("inc_b") == 3


@pytest.mark.parametrize(
    "dependencies, message",
    [
        ({"inc": {"x": DependencyDefinition("inc")}}, "circular reference"),
        ({"inc": {"x": DependencyDefinition("onee")}}, "Did you mean 'one'"),
        ({"inc": {"y": DependencyDefinition("one")}}, 'does not have input "y"'),
        ({"inc": {"x": DependencyDefinition("one", "other")}}, 'does not have output "other"'),
        ({"nope": {}}, "not found in node list"),
    ],
)
def test_bad_dependencies_name_node_input_and_graph(dependencies, message):
    with pytest.raises(DagsterInvalidDefinitionError, match=message):
        GraphDefinition(name="bad", node_defs=[one, inc], dependencies=dependencies)


def test_cycles_name_their_nodes():
    with pytest.raises(DagsterInvalidDefinitionError, match=r"Circular dependencies.*\['a', 'b'\]"):
        GraphDefinition(
            name="loop",
            node_defs=[inc],
            dependencies={
                NodeInvocation("inc", "a"): {"x": DependencyDefinition("b")},
                NodeInvocation("inc", "b"): {"x": DependencyDefinition("a")},
            },
        )


def test_plain_functions_and_conflicting_definitions_are_rejected():
    def not_an_op():
        pass

    with pytest.raises(DagsterInvalidDefinitionError, match="forgotten to annotate"):
        GraphDefinition(name="g", node_defs=[not_an_op])

    @op(name="one")
    def other_one():
        return 2

    with pytest.raises(DagsterInvalidDefinitionError, match="conflicting node definitions"):
        GraphDefinition(name="g", node_defs=[one, other_one])


def test_composition_mistakes():
    with pytest.raises(DagsterInvalidDefinitionError, match="received invalid type <class 'int'>"):
        @graph
        def literal():
            inc(5)

    with pytest.raises(DagsterInvalidDefinitionError, match="Did you forget parentheses"):
        @graph
        def uncalled():
            inc(one)

    with pytest.raises(DagsterInvalidDefinitionError, match="too many inputs"):
        @graph
        def too_many():
            inc(one(), one())

    with pytest.raises(DagsterInvalidDefinitionError, match="twice without aliasing"):
        @graph
        def clash():
            inc.alias("same")(one())
            inc.alias("same")(one())

    with pytest.raises(DagsterInvalidDefinitionError, match="Did you mean 'x'"):
        @graph
        def bad_kw():
            inc(xx=one())


def test_calling_graphs_and_jobs_directly_is_an_error():
    @job
    def j():
        one()

    with pytest.raises(DagsterInvariantViolationError, match="Attempted to call job 'j' directly"):
        j()


def test_dynamic_output_must_be_mapped_or_collected():
    @op(out=DynamicOut())
    def fan():
        yield DynamicOutput(1, "a")

    with pytest.raises(DagsterInvalidDefinitionError, match="dynamic output"):
        @graph
        def direct():
            inc(fan())

    @op(out=DynamicOut())
    def refan(x):
        yield DynamicOutput(x, "b")

    # As in Dagster, fanning out inside a mapping is refused once the inner fan-out is used.
    with pytest.raises(DagsterInvalidDefinitionError, match="cannot be downstream of more than one dynamic output"):
        @graph
        def nested():
            fan().map(refan).map(inc)


def test_unresolvable_input_fails_when_the_job_is_built():
    from oprun import DagsterType

    opaque = DagsterType(lambda _c, _v: True, name="Opaque")

    @op
    def needs(x: opaque):
        return x

    with pytest.raises(DagsterInvalidDefinitionError, match="Input 'x' of op 'needs' has no way of being resolved"):
        @job
        def j():
            needs()


def test_an_alias_never_called_warns_like_dagster():
    with pytest.warns(UserWarning, match="While in @job forgot, received an uninvoked op 'second'"):

        @job
        def forgot():
            inc(one())
            one.alias("second")  # the `()` is missing

    assert [n.name for n in forgot.graph.nodes] == ["one", "inc"]


def test_chained_and_called_aliases_do_not_warn():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")

        @job
        def chained():
            inc.alias("a").tag({"k": "v"}).with_retry_policy(None)(one())

    assert [n.name for n in chained.graph.nodes] == ["one", "a"]
