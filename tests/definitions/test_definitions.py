"""Definitions: which jobs a code location offers, how top-level resources,
executor and loggers bind, name clashes, merge, and the legacy @repository."""

import re

import pytest

from oprun import (
    DagsterInvalidDefinitionError,
    DagsterInvariantViolationError,
    Definitions,
    ScheduleDefinition,
    graph,
    in_process_executor,
    job,
    logger,
    multiprocess_executor,
    op,
    repository,
    resource,
    run_failure_sensor,
    schedule,
    sensor,
)
from oprun.definitions.definitions import RepositoryDefinition


@op
def ping() -> str:
    return "pong"


@op(required_resource_keys={"db"})
def query(context) -> str:
    return context.resources.db


@job
def listed():
    ping()


@job
def nightly():
    ping()


@job
def needs_db():
    query()


@graph
def as_graph():
    ping()


@resource
def db(_):
    return "top-level db"


@logger
def quiet(_):
    import logging

    return logging.getLogger("quiet")


# --- which jobs are offered ----------------------------------------------------------


def test_jobs_targeted_by_schedules_and_sensors_are_included():
    @sensor(job=needs_db)
    def watcher(context):
        return None

    defs = Definitions(
        jobs=[listed],
        schedules=[ScheduleDefinition(job=nightly, cron_schedule="0 0 * * *")],
        sensors=[watcher],
        resources={"db": db},
    )
    assert defs.job_names == ["listed", "nightly", "needs_db"]
    assert [j.name for j in defs.resolve_all_job_defs()] == ["listed", "nightly", "needs_db"]
    assert defs.get_job_def("nightly").name == "nightly"
    assert defs.get_schedule_def("nightly_schedule").job_name == "nightly"
    assert defs.get_sensor_def("watcher").job_name == "needs_db"


def test_run_failure_sensor_request_job_is_included():
    @run_failure_sensor(request_job=nightly)
    def on_failure(context):
        return None

    assert Definitions(sensors=[on_failure]).job_names == ["nightly"]


def test_graphs_are_coerced_to_jobs():
    defs = Definitions(jobs=[as_graph])
    coerced = defs.get_job_def("as_graph")
    assert coerced.name == "as_graph" and coerced.execute_in_process().success


def test_same_object_listed_twice_or_also_targeted_is_fine():
    defs = Definitions(jobs=[listed, listed], schedules=[ScheduleDefinition(job=listed, cron_schedule="@daily")])
    assert defs.job_names == ["listed"]


def test_empty_definitions():
    defs = Definitions()
    assert defs.job_names == [] and defs.resolve_all_job_defs() == []
    Definitions.validate_loadable(defs)


def test_resolution_is_cached():
    defs = Definitions(jobs=[needs_db], resources={"db": db})
    assert defs.get_job_def("needs_db") is defs.resolve_job_def("needs_db")


# --- binding -------------------------------------------------------------------------


def test_top_level_resources_bind_to_jobs_that_lack_them():
    defs = Definitions(jobs=[needs_db], resources={"db": db})
    result = defs.get_job_def("needs_db").execute_in_process()
    assert result.output_for_node("query") == "top-level db"


def test_job_resources_win_over_top_level_ones():
    @job(resource_defs={"db": resource(lambda _: "job db")})
    def own_db():
        query()

    defs = Definitions(jobs=[own_db], resources={"db": db})
    assert defs.get_job_def("own_db").execute_in_process().output_for_node("query") == "job db"


def test_missing_resource_names_the_job_op_and_key():
    defs = Definitions(jobs=[needs_db])
    message = "resource with key 'db' required by op 'query' was not provided to job 'needs_db'"
    with pytest.raises(DagsterInvalidDefinitionError, match=re.escape(message)):
        defs.get_job_def("needs_db")
    with pytest.raises(DagsterInvalidDefinitionError, match=re.escape(message)):
        Definitions.validate_loadable(defs)
    with pytest.raises(DagsterInvalidDefinitionError, match=re.escape(message)):
        Definitions(jobs=[needs_db], resources={"other": db}).get_job_def("needs_db")


def test_executor_and_loggers_fill_in_for_jobs_without_their_own():
    @job(executor_def=in_process_executor, logger_defs={"console": quiet})
    def configured():
        ping()

    defs = Definitions(jobs=[listed, configured], executor=multiprocess_executor, loggers={"quiet": quiet})
    assert defs.get_job_def("listed").executor_def is multiprocess_executor
    assert set(defs.get_job_def("listed").loggers) == {"quiet"}
    assert defs.get_job_def("configured").executor_def is in_process_executor
    assert set(defs.get_job_def("configured").loggers) == {"console"}


# --- names ---------------------------------------------------------------------------


def test_duplicate_job_names_are_an_error():
    @job(name="listed")
    def impostor():
        ping()

    with pytest.raises(DagsterInvalidDefinitionError, match="Duplicate job definition found for job 'listed'"):
        Definitions(jobs=[listed, impostor])


def test_schedules_and_sensors_share_one_namespace():
    @schedule(cron_schedule="@daily", job=listed, name="watch")
    def as_schedule(context):
        return {}

    @sensor(job=listed, name="watch")
    def as_sensor(context):
        return None

    with pytest.raises(DagsterInvalidDefinitionError, match="Duplicate definition found for watch"):
        Definitions(schedules=[as_schedule], sensors=[as_sensor])
    twice = ScheduleDefinition(name="twice", job=listed, cron_schedule="@daily")
    with pytest.raises(DagsterInvalidDefinitionError, match="Duplicate definition found for twice"):
        Definitions(schedules=[twice, ScheduleDefinition(name="twice", job=listed, cron_schedule="@hourly")])


def test_target_clashing_with_a_different_listed_job_is_an_error():
    @job(name="listed")
    def other_listed():
        ping()

    message = "Schedule 'listed_schedule' targets job 'listed', but a different job with the same name was provided"
    with pytest.raises(DagsterInvalidDefinitionError, match=re.escape(message)):
        Definitions(jobs=[listed], schedules=[ScheduleDefinition(job=other_listed, cron_schedule="@daily")])


def test_target_by_name_must_exist():
    with pytest.raises(DagsterInvalidDefinitionError, match="Schedule 'nightli_schedule' targets job 'nightli', which was not found in these Definitions. Did you mean 'nightly'"):
        Definitions(jobs=[nightly], schedules=[ScheduleDefinition(job_name="nightli", cron_schedule="@daily")])
    defs = Definitions(jobs=[nightly], schedules=[ScheduleDefinition(job_name="nightly", cron_schedule="@daily")])
    assert defs.get_schedule_def("nightly_schedule").job_name == "nightly"


def test_unknown_names_suggest_a_close_one():
    defs = Definitions(jobs=[listed, nightly], schedules=[ScheduleDefinition(job=nightly, cron_schedule="@daily")])
    with pytest.raises(DagsterInvariantViolationError, match="Could not find job 'nightyl' in these Definitions. Did you mean 'nightly'.*Jobs: listed, nightly"):
        defs.get_job_def("nightyl")
    with pytest.raises(DagsterInvariantViolationError, match="Could not find schedule 'nightly_schedul'.*Did you mean 'nightly_schedule'"):
        defs.get_schedule_def("nightly_schedul")
    with pytest.raises(DagsterInvariantViolationError, match="Could not find sensor 'x'.*Sensors: none"):
        defs.get_sensor_def("x")


def test_resources_required_by_schedules_must_be_provided():
    @schedule(cron_schedule="@daily", job=listed, required_resource_keys={"db"})
    def needs_resource(context):
        return {}

    with pytest.raises(DagsterInvalidDefinitionError, match="Resource with key 'db' required by schedule 'needs_resource' was not provided"):
        Definitions(schedules=[needs_resource])
    Definitions(schedules=[needs_resource], resources={"db": db})


# --- bad arguments -------------------------------------------------------------------


def test_assets_are_not_supported():
    with pytest.raises(DagsterInvalidDefinitionError, match=re.escape("Definitions(assets=...) must be empty: software-defined assets are not supported by oprun")):
        Definitions(assets=[object()])
    with pytest.raises(DagsterInvalidDefinitionError, match=re.escape("Definitions(asset_checks=...) must be empty")):
        Definitions(asset_checks=[object()])
    assert Definitions(assets=[], asset_checks=[]).job_names == []


def test_wrong_kinds_of_objects_are_named():
    schedule_def = ScheduleDefinition(job=listed, cron_schedule="@daily")
    with pytest.raises(DagsterInvalidDefinitionError, match="item 0 is ScheduleDefinition.*Pass schedules in schedules"):
        Definitions(jobs=[schedule_def])
    with pytest.raises(DagsterInvalidDefinitionError, match="takes ScheduleDefinitions; item 0 is JobDefinition"):
        Definitions(schedules=[listed])
    with pytest.raises(DagsterInvalidDefinitionError, match=re.escape("Definitions(jobs=...) takes a list, got JobDefinition")):
        Definitions(jobs=listed)
    with pytest.raises(DagsterInvalidDefinitionError, match="executor_def must be an ExecutorDefinition"):
        Definitions(executor="multiprocess")
    with pytest.raises(DagsterInvalidDefinitionError, match="logger 'x' must be a LoggerDefinition"):
        Definitions(loggers={"x": "console"})
    with pytest.raises(DagsterInvalidDefinitionError, match="resource key 'not valid' must be a valid Python identifier"):
        Definitions(resources={"not valid": db})


# --- merge and validate_loadable -------------------------------------------------------


def test_merge_combines_everything():
    a = Definitions(jobs=[listed], resources={"db": db}, executor=in_process_executor)
    b = Definitions(jobs=[needs_db], schedules=[ScheduleDefinition(job=nightly, cron_schedule="@daily")], resources={"db": db})
    merged = Definitions.merge(a, b)
    assert merged.job_names == ["listed", "needs_db", "nightly"]
    assert merged.get_job_def("needs_db").executor_def is in_process_executor
    assert merged.get_job_def("needs_db").execute_in_process().output_for_node("query") == "top-level db"


def test_merge_conflicts_are_errors():
    other_db = resource(lambda _: "other")
    with pytest.raises(DagsterInvariantViolationError, match="Definitions objects 0 and 1 have different resources for key 'db'"):
        Definitions.merge(Definitions(resources={"db": db}), Definitions(resources={"db": other_db}))
    with pytest.raises(DagsterInvariantViolationError, match="Definitions objects 0 and 2 both have an executor"):
        Definitions.merge(Definitions(executor=in_process_executor), Definitions(), Definitions(executor=multiprocess_executor))
    with pytest.raises(DagsterInvariantViolationError, match="have different loggers for key 'log'"):
        Definitions.merge(Definitions(loggers={"log": quiet}), Definitions(loggers={"log": logger(lambda _: None)}))
    with pytest.raises(DagsterInvalidDefinitionError, match="Duplicate job definition found for job 'listed'"):
        Definitions.merge(Definitions(jobs=[listed]), Definitions(jobs=[job(name="listed")(lambda: ping() and None)]))
    with pytest.raises(DagsterInvariantViolationError, match="argument 1 is dict"):
        Definitions.merge(Definitions(), {})


def test_validate_loadable_takes_definitions():
    with pytest.raises(DagsterInvariantViolationError, match="validate_loadable takes a Definitions"):
        Definitions.validate_loadable([listed])


def test_get_repository_def():
    defs = Definitions(jobs=[listed], schedules=[ScheduleDefinition(job=nightly, cron_schedule="@daily")])
    repo = defs.get_repository_def()
    assert repo is defs.get_repository_def()
    assert repo.name == "__repository__"
    assert repo.job_names == ["listed", "nightly"] and repo.has_job("listed")
    assert repo.get_job("nightly") is defs.get_job_def("nightly")
    assert [s.name for s in repo.schedule_defs] == ["nightly_schedule"] and repo.has_schedule_def("nightly_schedule")


# --- @repository ---------------------------------------------------------------------


def test_repository_from_a_list():
    @repository
    def my_repo():
        return [listed, as_graph, ScheduleDefinition(job=nightly, cron_schedule="@daily")]

    assert isinstance(my_repo, RepositoryDefinition)
    assert my_repo.name == "my_repo"
    assert my_repo.job_names == ["listed", "as_graph", "nightly"]
    assert [j.name for j in my_repo.get_all_jobs()] == ["listed", "as_graph", "nightly"]


def test_repository_from_a_dict_with_lazy_jobs_and_options():
    @repository(name="named", top_level_resources={"db": db}, default_executor_def=in_process_executor)
    def ignored_name():
        return {"jobs": {"needs_db": lambda: needs_db}, "schedules": {}}

    assert ignored_name.name == "named"
    assert ignored_name.get_job("needs_db").executor_def is in_process_executor
    assert ignored_name.get_job_def("needs_db").execute_in_process().output_for_node("query") == "top-level db"


def test_repository_errors():
    with pytest.raises(DagsterInvalidDefinitionError, match="every item must be a JobDefinition.*got int 3 at index 1"):
        @repository
        def bad_item():
            return [listed, 3]

    with pytest.raises(DagsterInvalidDefinitionError, match="unknown key 'job' in the returned dict. Did you mean 'jobs'"):
        @repository
        def bad_key():
            return {"job": {}}

    with pytest.raises(DagsterInvalidDefinitionError, match="'jobs' entry 'wrong' holds a definition named 'listed'"):
        @repository
        def bad_name():
            return {"jobs": {"wrong": listed}}

    with pytest.raises(DagsterInvalidDefinitionError, match="must return a list"):
        @repository
        def bad_value():
            return listed
