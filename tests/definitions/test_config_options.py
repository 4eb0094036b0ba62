"""Graph-level config mappings and hardcoded graph config, configured() on ops,
resources and graphs, and config errors that come through a mapping."""

import pytest

from oprun import (
    Config,
    ConfigMapping,
    DagsterInvalidConfigError,
    DagsterInvalidDefinitionError,
    Field,
    graph,
    job,
    op,
    resource,
)


@op(config_schema={"n": int})
def emit(context) -> int:
    return context.op_config["n"]


@graph(config=ConfigMapping(config_fn=lambda c: {"ops": {"emit": {"config": {"n": c["base"] * 10}}}}, config_schema={"base": int}))
def mapped():
    return emit()


def test_graph_config_mapping_is_configured_under_the_graph():
    @job
    def j():
        mapped()

    result = j.execute_in_process(run_config={"ops": {"mapped": {"config": {"base": 4}}}})
    assert result.output_for_node("mapped.emit") == 40
    with pytest.raises(DagsterInvalidConfigError, match="root:ops:mapped:config:base"):
        j.execute_in_process(run_config={"ops": {"mapped": {"config": {"base": "x"}}}})


def test_errors_from_a_mapping_say_they_came_through_it():
    @graph(config=ConfigMapping(config_fn=lambda c: {"ops": {"emit": {"config": {"n": "not an int"}}}}, config_schema={}))
    def broken():
        emit()

    @job
    def j():
        broken()

    with pytest.raises(DagsterInvalidConfigError, match="config mapping returned") as raised:
        j.execute_in_process()
    assert raised.value.errors[0].path_str.endswith("emit:config:n")


def test_configured_op_resource_and_graph():
    five = emit.configured({"n": 5}, name="five")

    class Scale(Config):
        x: int

    doubled = emit.configured(lambda c: {"n": c["x"] * 2}, name="doubled", config_schema={"x": int})

    @resource(config_schema={"prefix": str})
    def prefix(init):
        return init.resource_config["prefix"]

    fixed_prefix = prefix.configured({"prefix": "p-"})

    @op(required_resource_keys={"prefix"})
    def label(context, a: int, b: int) -> str:
        return f"{context.resources.prefix}{a + b}"

    @job(resource_defs={"prefix": fixed_prefix})
    def j():
        label(five(), doubled())

    result = j.execute_in_process(run_config={"ops": {"doubled": {"config": {"x": 3}}}})
    assert result.output_for_node("label") == "p-11"

    twice = mapped.configured({"base": 2}, name="twice")

    @job
    def k():
        twice()

    assert k.execute_in_process().output_for_node("twice.emit") == 20
    with pytest.raises(DagsterInvalidDefinitionError, match="config mapping"):
        @graph
        def plain():
            emit()

        plain.configured({}, name="nope")


def test_hardcoded_graph_config_and_field_defaults():
    @op(config_schema={"n": Field(int, default_value=7)})
    def default_n(context) -> int:
        return context.op_config["n"]

    @graph(config={"ops": {"emit": {"config": {"n": 3}}}})
    def preset():
        return emit()

    @job
    def j():
        preset()
        default_n()

    result = j.execute_in_process()
    assert result.output_for_node("preset.emit") == 3
    assert result.output_for_node("default_n") == 7


def test_the_configured_decorator_names_ops_after_the_function_and_configures_resources_and_loggers():
    from oprun import configured, in_process_executor, logger

    @configured(emit, config_schema={"base": int})
    def emit_tenfold(config):
        return {"n": config["base"] * 10}

    assert emit_tenfold.name == "emit_tenfold"
    fixed = configured(emit, name="emit_three")({"n": 3})

    @resource(config_schema={"greeting": str})
    def greeting(init):
        return init.resource_config["greeting"]

    hello = configured(greeting)({"greeting": "hello"})
    seen = []

    @logger(config_schema={"tag": str})
    def recording(init):
        class Recorder:
            level = 10

            def isEnabledFor(self, level):  # noqa: N802 - logging's name
                return True

            def log(self, level, msg, *args, **kwargs):
                seen.append((init.logger_config["tag"], msg))

        return Recorder()

    tagged = configured(recording)({"tag": "t"})

    @op(required_resource_keys={"greeting"})
    def say(context, a: int, b: int) -> str:
        return f"{context.resources.greeting} {a + b}"

    @job(resource_defs={"greeting": hello}, logger_defs={"rec": tagged}, executor_def=configured(in_process_executor)({}))
    def j():
        say(emit_tenfold(), fixed())

    result = j.execute_in_process(run_config={"ops": {"emit_tenfold": {"config": {"base": 4}}}, "loggers": {"rec": {}}})
    assert result.output_for_node("say") == "hello 43"
    assert seen and all(tag == "t" for tag, _ in seen)

    with pytest.raises(DagsterInvalidDefinitionError, match="needs name="):
        configured(emit)({"n": 1})

    # A bad fixed value builds (as in Dagster); a job using it refuses to run.
    bad_tag = configured(recording)({"tag": 5})

    @job(logger_defs={"rec": bad_tag})
    def logged():
        emit_tenfold()

    with pytest.raises(DagsterInvalidConfigError, match=r"job 'logged'.*a logger is invalid at root:loggers:rec:config:tag"):
        logged.execute_in_process(run_config={"ops": {"emit_tenfold": {"config": {"base": 4}}}})


def test_a_bad_fixed_configured_value_is_recorded_and_raised_when_a_job_using_it_runs():
    # Dagster validates a fixed configured() value only when a run resolves its
    # config, so building the copy succeeds; the problem is recorded on it.
    bad_emit = emit.configured({"n": "five"}, name="bad_emit")
    bad_mapped = mapped.configured({"base": "two"}, name="bad_mapped")
    from oprun.definitions.jobs.config_schema import config_problems

    assert [p.path_str for p in config_problems(bad_emit)] == ["root:n"]
    assert [p.path_str for p in config_problems(bad_mapped)] == ["root:base"]

    @job
    def uses_them():
        bad_emit()
        bad_mapped()

    with pytest.raises(DagsterInvalidConfigError) as raised:
        uses_them.execute_in_process()
    message = str(raised.value)
    assert "job 'uses_them'" in message
    assert "configured() for op 'bad_emit' (a copy of 'emit') is invalid at root:ops:bad_emit:config:n" in message
    assert "configured() for graph 'bad_mapped' (a copy of 'mapped') is invalid at root:ops:bad_mapped:config:base" in message
    assert [e.path_str for e in raised.value.errors] == ["root:ops:bad_emit:config:n", "root:ops:bad_mapped:config:base"]
