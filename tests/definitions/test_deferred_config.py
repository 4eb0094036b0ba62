"""Config fixed in a definition (a job's default config, a value given to
configured()) is checked when a run is prepared, not when the definition is built,
as in Dagster: a module with a bad-default job loads and its other jobs run; a run
of the bad job is refused with a DagsterInvalidConfigError naming the job and each
path, in process, through execute_job, and before anything is recorded."""

import textwrap

import pytest

from oprun import (
    ConfigMapping,
    DagsterInvalidConfigDefinitionError,
    DagsterInvalidConfigError,
    DagsterInvalidDefinitionError,
    ReconstructableJob,
    StaticPartitionsDefinition,
    configured,
    execute_job,
    graph,
    in_process_executor,
    instance_for_test,
    job,
    logger,
    op,
    resource,
    validate_run_config,
)
from oprun.definitions.jobs.config_schema import config_problems, deferred_config_error
from oprun.loading import load_definitions

MODULE = textwrap.dedent(
    """
    from oprun import Config, Definitions, in_process_executor, job, op

    class DoSomethingConfig(Config):
        config_param: str

    @op
    def do_something(config: DoSomethingConfig) -> str:
        return config.config_param

    @job(config={"ops": {"do_something": {"config": {"config_param": 1}}}})
    def broken():
        do_something()

    @job(config={"ops": {"do_something": {"config": {"config_param": "fine"}}}}, executor_def=in_process_executor)
    def good():
        do_something()

    defs = Definitions(jobs=[broken, good])
    """
)

BAD_PATH = "root:ops:do_something:config:config_param"


@pytest.fixture
def jobs_file(tmp_path):
    path = tmp_path / "deferred_jobs.py"
    path.write_text(MODULE)
    return path


@op(config_schema={"n": int})
def emit(context) -> int:
    return context.op_config["n"]


def test_a_module_with_a_bad_default_loads_and_its_good_job_runs(jobs_file):
    defs = load_definitions(python_file=str(jobs_file))
    good = defs.resolve_job_def("good")
    assert config_problems(good) == ()
    assert good.execute_in_process().output_for_node("do_something") == "fine"

    broken = defs.resolve_job_def("broken")
    assert [p.path_str for p in config_problems(broken)] == [BAD_PATH]
    with pytest.raises(DagsterInvalidConfigError) as raised:
        broken.execute_in_process()
    message = str(raised.value)
    assert "job 'broken'" in message and BAD_PATH in message
    assert "default config" in message
    assert [e.path_str for e in raised.value.errors] == [BAD_PATH]


def test_a_run_config_given_does_not_excuse_a_bad_default(jobs_file):
    # Dagster resolves the default whenever it prepares a run of the job, so the
    # bad default fails the run even when run_config replaces that section.
    broken = load_definitions(python_file=str(jobs_file)).resolve_job_def("broken")
    with pytest.raises(DagsterInvalidConfigError, match="job 'broken'"):
        broken.execute_in_process(run_config={"ops": {"do_something": {"config": {"config_param": "x"}}}})
    with pytest.raises(DagsterInvalidConfigError, match=BAD_PATH):
        validate_run_config(broken, {"ops": {"do_something": {"config": {"config_param": "x"}}}})


def test_execute_job_refuses_the_run_before_it_is_recorded(jobs_file, tmp_path):
    recon = ReconstructableJob("defs", python_file=str(jobs_file), working_directory=str(tmp_path), job_name="broken")
    with instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
        with pytest.raises(DagsterInvalidConfigError) as raised:
            execute_job(recon, instance)
        assert "job 'broken'" in str(raised.value) and BAD_PATH in str(raised.value)
        assert instance.get_runs() == []


def test_to_job_records_a_bad_default_and_keeps_its_schema():
    @graph
    def one():
        emit()

    # As in Dagster's docs: a default whose execution section does not fit the executor.
    bad = one.to_job(name="bad_exec", config={"ops": {"emit": {"config": {"n": 1}}}, "execution": {"config": {"retries": 3}}}, executor_def=in_process_executor)
    assert [p.path_str for p in config_problems(bad)] == ["root:execution:config:retries"]
    assert bad.run_config_schema is not None and "ops" in bad.run_config_schema.fields
    error = deferred_config_error(bad)
    assert error is not None and "job 'bad_exec'" in str(error) and "root:execution:config:retries" in str(error)

    fine = one.to_job(name="fine", config={"ops": {"emit": {"config": {"n": 1}}}})
    assert config_problems(fine) == () and deferred_config_error(fine) is None
    assert fine.execute_in_process().output_for_node("emit") == 1


def test_every_path_of_a_bad_default_is_named():
    @job(config={"ops": {"emit": {"config": {"n": "x"}}, "nope": {}}})
    def two_errors():
        emit()

    with pytest.raises(DagsterInvalidConfigError) as raised:
        two_errors.execute_in_process()
    paths = sorted(e.path_str for e in raised.value.errors)
    assert paths == ["root:ops:emit:config:n", "root:ops:nope"]
    for path in paths:
        assert path in raised.value.preamble


def test_copies_of_a_job_keep_its_problems():
    @op
    def other() -> int:
        return 2

    @job(config={"ops": {"emit": {"config": {"n": "x"}}}})
    def both():
        emit()
        other()

    assert config_problems(both.get_subset(op_selection=["emit"]))
    assert config_problems(both.with_top_level_resources({}))
    # A selection that leaves the bad op out still carries the default (as in Dagster).
    with pytest.raises(DagsterInvalidConfigError, match="job 'both'"):
        both.execute_in_process(op_selection=["other"])


def test_structural_errors_still_raise_when_the_job_is_built():
    @op(required_resource_keys={"db"})
    def needs_db():
        pass

    with pytest.raises(DagsterInvalidDefinitionError, match="db"):
        # Non-empty resource_defs: as in Dagster, an empty dict leaves the check to Definitions.
        @job(resource_defs={"unused": 1}, config={"ops": {"needs_db": {"config": 1}}})
        def missing_resource():
            needs_db()

    with pytest.raises(DagsterInvalidDefinitionError, match="no top-level input"):
        @job(config={"ops": {}}, input_values={"nope": 1})
        def bad_input():
            emit()

    # The schema of a config mapping is part of the definition, not a value.
    with pytest.raises(DagsterInvalidConfigDefinitionError, match="config schema"):
        @job(config=ConfigMapping(config_fn=lambda c: {}, config_schema={"x": object()}))
        def bad_mapping_schema():
            emit()


def test_mapped_and_partitioned_config_are_checked_when_a_run_resolves_them():
    @job(config=ConfigMapping(config_fn=lambda c: {"ops": {"emit": {"config": {"n": "not an int"}}}}, config_schema={}))
    def mapped():
        emit()

    assert config_problems(mapped) == ()
    with pytest.raises(DagsterInvalidConfigError, match="root:ops:emit:config:n"):
        mapped.execute_in_process()

    @job(partitions_def=StaticPartitionsDefinition(["a"]), config={"ops": {"emit": {"config": {"n": "x"}}}})
    def parted():
        emit()

    assert config_problems(parted) == ()
    with pytest.raises(DagsterInvalidConfigError, match="root:ops:emit:config:n"):
        parted.execute_in_process(partition_key="a")


def test_configured_values_are_recorded_and_raised_at_their_paths():
    bad_emit = emit.configured({"n": "five"}, name="bad_emit")
    assert [p.path_str for p in config_problems(bad_emit)] == ["root:n"]

    @graph
    def inner():
        bad_emit()

    @resource(config_schema={"prefix": str})
    def prefix(init):
        return init.resource_config["prefix"]

    @logger(config_schema={"tag": str})
    def tagged(init):
        raise AssertionError("never initialized: the run is refused first")

    @op(required_resource_keys={"prefix"})
    def uses_prefix(context) -> str:
        return context.resources.prefix

    bad_prefix = prefix.configured({"prefix": 3})

    @job(
        resource_defs={"prefix": bad_prefix, "unused": bad_prefix},
        logger_defs={"tagged": configured(tagged)({"tag": 5})},
        executor_def=configured(in_process_executor, name="fixed_in_process")({"retries": "always"}),
    )
    def everything():
        inner()
        uses_prefix()

    paths = [p.path_str for p in config_problems(everything)]
    assert paths == [
        "root:ops:inner:ops:bad_emit:config:n",
        "root:resources:prefix:config:prefix",
        "root:loggers:tagged:config:tag",
        "root:execution:config:retries",
    ]
    with pytest.raises(DagsterInvalidConfigError) as raised:
        everything.execute_in_process()
    message = str(raised.value)
    assert "job 'everything'" in message
    assert "op 'bad_emit' (a copy of 'emit') is invalid at root:ops:inner:ops:bad_emit:config:n" in message
    assert "executor 'fixed_in_process' (a copy of 'in_process')" in message
    # Each error message points at the value's place in the job's run config.
    assert "at path root:ops:inner:ops:bad_emit:config:n" in raised.value.errors[0].message
