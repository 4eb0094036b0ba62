"""A job's snapshot as stored: the canonical JSON of `get_snapshot()`, built a
node at a time, equal to serializing the whole structure at once."""

import json

from oprun import In, Nothing, graph, job, op


@op(tags={"team": "data", "n": 1}, description="makes one")
def make() -> int:
    return 1


@op(ins={"after": In(Nothing)})
def combine(x: int, y: int = 2) -> int:
    return x + y


@graph
def inner(x: int):
    return combine(x)


@graph
def outer(x: int):
    return inner(inner(x))


@job(tags={"owner": "me"}, metadata={"rows": 3, "doc": "a job"})
def nested():
    value = make()
    combine(outer(value), combine(value), after=make.alias("first")())


def test_the_stored_json_is_the_canonical_form_of_the_snapshot():
    whole = json.dumps(nested.get_snapshot(), sort_keys=True, separators=(",", ":"), default=str)
    assert nested.get_snapshot_json() == whole
    # Nested graphs keep their nodes, in order.
    graph_node = next(n for n in json.loads(whole)["graph"]["nodes"] if n["name"] == "outer")
    assert [n["name"] for n in graph_node["graph"]["nodes"]] == ["inner", "inner_2"]


def test_a_snapshot_json_gives_the_same_id_as_its_dict():
    from oprun.instance.storage import snapshot_id

    assert snapshot_id(nested.get_snapshot_json()) == snapshot_id(nested.get_snapshot())
