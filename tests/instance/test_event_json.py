"""The stored form of an event: `entry_json` writes exactly what
`json.dumps(to_plain(entry))` would, for every kind of event a run emits."""

import json

from oprun import (
    AssetMaterialization,
    DynamicOut,
    DynamicOutput,
    ExpectationResult,
    Failure,
    MetadataValue,
    Out,
    Output,
    RetryPolicy,
    job,
    op,
)
from oprun.events import entry_json, to_plain


@op(out=DynamicOut())
def fan():
    for key in ("a", "b"):
        yield DynamicOutput(1, mapping_key=key)


@op
def noisy(context, x):
    context.log.info('quotes " and \\ and ünïcode ✓\nnew line')
    context.log_event(AssetMaterialization("table", metadata={"rows": 3, "url": MetadataValue.url("http://x")}))
    yield ExpectationResult(True, "checked", metadata={"ratio": 0.5})
    yield Output(x, metadata={"size": MetadataValue.int(3), "nested": {"k": [1, 2.5, None, True]}})


@op(retry_policy=RetryPolicy(max_retries=1))
def fails(context, xs):
    raise Failure("bad", metadata={"why": "because"})


@op(out={"left": Out(is_required=False), "right": Out()})
def branches():
    yield Output(1, "right")


@job
def every_kind():
    fails(fan().map(noisy).collect())
    branches()


def test_every_event_is_stored_as_its_plain_json():
    result = every_kind.execute_in_process(raise_on_error=False)
    entries = result.event_log_entries
    kinds = {e.dagster_event.event_type_value for e in entries if e.dagster_event}
    assert {"STEP_FAILURE", "STEP_UP_FOR_RETRY", "ASSET_MATERIALIZATION", "STEP_EXPECTATION_RESULT", "RUN_FAILURE"} <= kinds
    assert any(e.dagster_event is None for e in entries)  # context.log lines are entries without an event
    for entry in entries:
        assert entry_json(entry) == json.dumps(to_plain(entry), separators=(",", ":"))
