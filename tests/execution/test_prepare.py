"""The run preparation: every user mistake is caught before a run is recorded or a
step runs, and each process of a run sees the op configs it resolved."""

import pytest

from oprun import (
    DagsterInstance,
    DagsterInvalidConfigError,
    DynamicOut,
    DynamicOutput,
    configured,
    graph,
    job,
    op,
)

RAN: list[str] = []
MAPPED: list[object] = []


@op
def upstream():
    RAN.append("upstream")
    return 1


@op(config_schema={"n": int})
def needs_n(context, value):
    RAN.append("needs_n")
    return value + context.op_config["n"]


def _bad_mapping(config):
    return {"n": "not a number " + config["word"]}


def _good_mapping(config):
    MAPPED.append(config)
    return {"n": len(config["word"])}


bad_n = configured(needs_n, config_schema={"word": str}, name="bad_n")(_bad_mapping)
good_n = configured(needs_n, config_schema={"word": str}, name="good_n")(_good_mapping)


@job
def bad_mapping_job():
    bad_n(upstream())


@graph
def inner(value):
    return bad_n(value)


@job
def nested_bad_mapping_job():
    inner(upstream())


@pytest.fixture(autouse=True)
def _reset():
    RAN.clear()
    MAPPED.clear()


def test_a_configured_mapping_that_returns_bad_config_fails_before_any_step_runs():
    instance = DagsterInstance.ephemeral()
    with pytest.raises(DagsterInvalidConfigError) as caught:
        bad_mapping_job.execute_in_process(
            run_config={"ops": {"bad_n": {"config": {"word": "x"}}}}, instance=instance,
        )
    message = str(caught.value)
    assert "bad_n" in message and "needs_n" in message and "bad_mapping_job" in message
    assert "root:ops:bad_n:config:n" in message
    assert [e.path_str for e in caught.value.errors] == ["root:ops:bad_n:config:n"]
    assert RAN == []
    assert instance.get_runs() == []


def test_the_path_of_a_mapped_config_inside_a_graph_names_the_nested_node():
    with pytest.raises(DagsterInvalidConfigError) as caught:
        nested_bad_mapping_job.execute_in_process(
            run_config={"ops": {"inner": {"ops": {"bad_n": {"config": {"word": "x"}}}}}},
        )
    assert "root:ops:inner:ops:bad_n:config:n" in str(caught.value)
    assert RAN == []


def test_a_configured_mapping_runs_once_per_run_not_per_step():
    @op(out=DynamicOut())
    def fan():
        for i in range(3):
            yield DynamicOutput(i, mapping_key=str(i))

    @job
    def mapped():
        fan().map(good_n)

    result = mapped.execute_in_process(run_config={"ops": {"good_n": {"config": {"word": "four"}}}})
    assert result.success
    assert sorted(result.output_for_node("good_n").values()) == [4, 5, 6]
    assert MAPPED == [{"word": "four"}]


def test_a_launched_run_with_a_bad_mapping_is_refused_before_it_is_recorded(tmp_path):
    from oprun import instance_for_test, reconstructable
    from oprun.execution.execute_job import create_run_for_job

    from tests.fixtures import launch_jobs

    with instance_for_test(temp_dir=str(tmp_path)) as instance:
        recon = reconstructable(launch_jobs.configured_mapping_job)
        with pytest.raises(DagsterInvalidConfigError, match="root:ops:halved:config:n"):
            create_run_for_job(recon, recon.get_definition(), instance, {"ops": {"halved": {"config": {"word": "x"}}}})
        assert instance.get_runs() == []
