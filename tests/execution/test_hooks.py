"""Hooks: op-level, graph-level and job-level, success and failure, skipped, and a
hook that raises (HOOK_ERRORED, never failing the run)."""

from oprun import (
    HookContext,
    build_hook_context,
    failure_hook,
    graph,
    job,
    op,
    success_hook,
)


@op
def ok() -> int:
    return 1


@op
def bad():
    raise ValueError("bad")


def test_job_hooks_fire_per_op_and_record_events():
    calls = []

    @success_hook
    def on_ok(context: HookContext):
        calls.append(("ok", context.op.name, context.op_output_values))

    @failure_hook
    def on_fail(context: HookContext):
        calls.append(("fail", context.op.name, type(context.op_exception).__name__))

    @job(hooks={on_ok, on_fail})
    def j():
        ok()
        bad()

    result = j.execute_in_process(raise_on_error=False)
    assert ("ok", "ok", {"result": 1}) in calls
    assert ("fail", "bad", "ValueError") in calls
    kinds = [e.event_type_value for e in result.events_for_node("ok")]
    assert "HOOK_COMPLETED" in kinds and "HOOK_SKIPPED" in kinds


def test_invocation_and_graph_hooks():
    calls = []

    @success_hook(name="named")
    def on_ok(context):
        calls.append(context.op.name)

    @graph
    def inner():
        ok.alias("in_graph")()

    @job
    def j():
        ok.with_hooks({on_ok})()
        ok.alias("without")()
        inner.with_hooks({on_ok})()

    j.execute_in_process()
    assert sorted(calls) == ["in_graph", "ok"]


def test_a_hook_that_raises_is_recorded_and_never_fails_the_run():
    @success_hook
    def broken(_context):
        raise RuntimeError("hook broke")

    @job(hooks={broken})
    def j():
        ok()

    result = j.execute_in_process()
    assert result.success
    errored = [e for e in result.all_events if e.event_type_value == "HOOK_ERRORED"]
    assert len(errored) == 1 and "hook broke" in errored[0].hook_errored_data.error.message


def test_with_hooks_on_a_job_and_direct_hook_invocation():
    calls = []

    @success_hook
    def record(context):
        calls.append(context.op.name)

    @job
    def j():
        ok()

    j.with_hooks({record}).execute_in_process()
    assert calls == ["ok"]
    record(build_hook_context(op=ok))
    assert calls == ["ok", "ok"]
