"""Resources: function-style and pythonic, config, dependencies between resources,
lifecycle (once per run, only what is needed, dependency order, teardown in
reverse even on failure), missing keys, testing helpers, and secrets."""

import pytest

from oprun import (
    ConfigurableResource,
    DagsterInvalidConfigError,
    DagsterInvalidDefinitionError,
    DagsterResourceFunctionError,
    EnvVar,
    Field,
    ResourceDefinition,
    build_init_resource_context,
    build_resources,
    job,
    make_values_resource,
    op,
    resource,
)


def test_lifecycle_order_and_teardown_even_on_failure():
    events = []

    @resource
    def base(_init):
        events.append("base up")
        yield "base"
        events.append("base down")

    @resource(required_resource_keys={"base"})
    def top(init):
        events.append(f"top up on {init.resources.base}")
        yield "top"
        events.append("top down")

    @resource
    def unused(_init):
        events.append("unused up")

    @op(required_resource_keys={"top"})
    def fails(context):
        raise RuntimeError(context.resources.top)

    @job(resource_defs={"base": base, "top": top, "unused": unused})
    def j():
        fails()

    result = j.execute_in_process(raise_on_error=False)
    assert not result.success
    assert events == ["base up", "top up on base", "top down", "base down"]
    kinds = [e.event_type_value for e in result.all_events]
    assert kinds[-1] == "RUN_FAILURE"


def test_resources_are_built_once_per_run():
    built = []

    @resource
    def counter(_init):
        built.append(1)
        return len(built)

    @op(required_resource_keys={"counter"})
    def a(context):
        return context.resources.counter

    @job(resource_defs={"counter": counter})
    def j():
        a()
        a.alias("b")()

    assert j.execute_in_process().output_for_node("b") == 1
    assert built == [1]


def test_resource_config_from_run_config_and_errors():
    @resource(config_schema={"url": str, "retries": Field(int, default_value=2)})
    def client(init):
        return init.resource_config

    @op(required_resource_keys={"client"})
    def use(context):
        return context.resources.client

    @job(resource_defs={"client": client})
    def j():
        use()

    result = j.execute_in_process(run_config={"resources": {"client": {"config": {"url": "u"}}}})
    assert result.output_for_node("use") == {"url": "u", "retries": 2}
    with pytest.raises(DagsterInvalidConfigError, match=r"Missing required config entry \"resources\".*'client': \{'config': \{'url'"):
        j.execute_in_process()
    with pytest.raises(DagsterInvalidConfigError) as raised:
        j.execute_in_process(run_config={"resources": {"client": {"config": {"url": 1}}}})
    assert raised.value.errors[0].path_str == "root:resources:client:config:url"


def test_init_failure_is_a_resource_function_error():
    @resource
    def broken(_init):
        raise ConnectionError("no route")

    @op(required_resource_keys={"broken"})
    def use(context):
        return 1

    @job(resource_defs={"broken": broken})
    def j():
        use()

    with pytest.raises(DagsterResourceFunctionError, match="no route"):
        j.execute_in_process()
    result = j.execute_in_process(raise_on_error=False)
    assert not result.success
    assert result.get_job_failure_event().job_failure_data.failure_reason == "JOB_INITIALIZATION_FAILURE"
    types = [e.event_type_value for e in result.all_events]
    assert types[:3] == ["RUN_START", "RESOURCE_INIT_STARTED", "RESOURCE_INIT_FAILURE"]
    failure = result.all_events[2]
    assert "[broken, io_manager]" in failure.message and "no route" in failure.event_specific_data.error.message
    assert "STEP_START" not in types and types[-1] == "RUN_FAILURE"


def test_resource_initialization_is_reported_with_each_resources_time():
    @resource
    def first(_init):
        return 1

    @resource(required_resource_keys={"first"})
    def second(init):
        return init.resources.first + 1

    @op(required_resource_keys={"second"})
    def use(context) -> int:
        return context.resources.second

    @job(resource_defs={"first": first, "second": second})
    def j():
        use()

    result = j.execute_in_process()
    events = [e for e in result.all_events if e.event_type_value.startswith("RESOURCE_INIT")]
    assert [e.event_type_value for e in events] == ["RESOURCE_INIT_STARTED", "RESOURCE_INIT_SUCCESS"]
    assert events[0].message == "Starting initialization of resources [io_manager, first, second]."
    timings = events[1].event_specific_data.metadata
    assert {"first", "second"} <= set(timings) and all(t.endswith("ms") for t in timings.values())
    types = [e.event_type_value for e in result.all_events]
    assert types.index("RESOURCE_INIT_SUCCESS") < types.index("STEP_START")


def test_missing_resource_names_the_key_the_op_and_a_close_match():
    @op(required_resource_keys={"database"})
    def use(context):
        return 1

    with pytest.raises(DagsterInvalidDefinitionError, match=r"'database' required by op 'use'.*Did you mean 'databse'"):
        @job(resource_defs={"databse": ResourceDefinition.none_resource()})
        def j():
            use()

    @job
    def deferred():
        use()

    with pytest.raises(DagsterInvalidDefinitionError, match="database"):
        deferred.execute_in_process()
    assert deferred.execute_in_process(resources={"database": "a value"}).success


class Store(ConfigurableResource):
    prefix: str
    size: int = 1

    def name(self, key: str) -> str:
        return f"{self.prefix}/{key}"


def test_pythonic_resources_with_run_config_override_and_env_vars(monkeypatch):
    @op
    def named(store: Store) -> str:
        return store.name("k")

    @job(resource_defs={"store": Store(prefix="s3://a")})
    def j():
        named()

    assert j.execute_in_process().output_for_node("named") == "s3://a/k"
    overridden = j.execute_in_process(run_config={"resources": {"store": {"config": {"prefix": "gs://b"}}}})
    assert overridden.output_for_node("named") == "gs://b/k"

    monkeypatch.setenv("OPRUN_TEST_PREFIX", "from-env")

    @job(resource_defs={"store": Store(prefix=EnvVar("OPRUN_TEST_PREFIX"))})
    def k():
        named()

    result = k.execute_in_process()
    assert result.output_for_node("named") == "from-env/k"
    assert "from-env" not in repr(result.dagster_run.run_config)


def test_configure_at_launch_and_lifecycle_hooks():
    calls = []

    class Conn(ConfigurableResource):
        host: str

        def setup_for_execution(self, context) -> None:
            calls.append(("setup", self.host))

        def teardown_after_execution(self, context) -> None:
            calls.append(("teardown", self.host))

    @op
    def use(conn: Conn) -> str:
        return conn.host

    @job(resource_defs={"conn": Conn.configure_at_launch()})
    def j():
        use()

    result = j.execute_in_process(run_config={"resources": {"conn": {"config": {"host": "h"}}}})
    assert result.output_for_node("use") == "h"
    assert calls == [("setup", "h"), ("teardown", "h")]


def test_testing_helpers():
    @resource(config_schema={"n": int})
    def doubled(init):
        return init.resource_config["n"] * 2

    assert doubled(build_init_resource_context(config={"n": 2})) == 4
    with build_resources({"doubled": doubled, "plain": 5}, resource_config={"doubled": {"config": {"n": 3}}}) as resources:
        assert resources.doubled == 6 and resources.plain == 5
    values = make_values_resource(a=int, b=str)
    with build_resources({"values": values}, resource_config={"values": {"a": 1, "b": "x"}}) as resources:
        assert resources.values == {"a": 1, "b": "x"}
    assert ResourceDefinition.hardcoded_resource(3)(build_init_resource_context()) == 3
