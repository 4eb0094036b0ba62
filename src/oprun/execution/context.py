"""The contexts users see, the thin layer over the internal `RunContext`
(`run.py`): `OpExecutionContext`, `InputContext`, `OutputContext`, and their
`build_*` constructors for tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from oprun.errors import (
    DagsterInvalidInvocationError,
    DagsterInvalidPropertyError,
    DagsterInvariantViolationError,
)
from oprun.execution.resources import Resources, build_resources

if TYPE_CHECKING:
    from oprun.definitions.jobs.types import TypeCheck


class OpExecutionContext:
    """What an op body sees as `context`."""

    def __init__(
        self,
        *,
        run_id: str,
        job_name: str,
        op_def: Any,
        op_config: Any,
        resources: Resources,
        log: Any,
        step_key: str,
        handle: str | None = None,
        run: Any = None,
        instance: Any = None,
        partition_key: str | None = None,
        partitions_def: Any = None,
        retry_number: int = 0,
        mapping_key: str | None = None,
        run_tags: Mapping[str, str] | None = None,
        op_tags: Mapping[str, Any] | None = None,
        event_sink: Any = None,
    ) -> None:
        self._run_id = run_id
        self._job_name = job_name
        self._op_def = op_def
        self._op_config = op_config
        self._resources = resources
        self._log = log
        self._step_key = step_key
        self._handle = handle or op_def.name
        self._run = run
        self._instance = instance
        self._partition_key = partition_key
        self._partitions_def = partitions_def
        self._retry_number = retry_number
        self._mapping_key = mapping_key
        self._run_tags = dict(run_tags or {})
        self._op_tags = dict(op_tags or {})
        self._event_sink = event_sink
        self.output_metadata: dict[tuple[str, str | None], dict[str, Any]] = {}
        self.logged_events: list[Any] = []
        # Mapping keys yielded so far per dynamic output (duplicates are errors).
        self.mapping_keys_seen: dict[str, set[str]] = {}
        # (output, mapping key) yielded so far: metadata for them comes too late.
        self.outputs_seen: set[tuple[str, str | None]] = set()

    @property
    def log(self) -> Any:
        return self._log

    @property
    def run_id(self) -> str:
        return self._run_id

    @property
    def run(self) -> Any:
        return self._run

    dagster_run = run

    @property
    def job_name(self) -> str:
        return self._job_name

    @property
    def op_config(self) -> Any:
        return self._op_config

    @property
    def op_def(self) -> Any:
        return self._op_def

    @property
    def op(self) -> Any:
        return self._op_def

    @property
    def op_handle(self) -> str:
        return self._handle

    @property
    def node_handle(self) -> str:
        return self._handle

    @property
    def step_key(self) -> str:
        return self._step_key

    @property
    def resources(self) -> Resources:
        return self._resources

    @property
    def instance(self) -> Any:
        return self._instance

    @property
    def retry_number(self) -> int:
        return self._retry_number

    @property
    def has_partition_key(self) -> bool:
        return self._partition_key is not None

    @property
    def partition_key(self) -> str:
        if self._partition_key is None:
            from oprun.execution.resolve import partitions_shown

            if isinstance(self, DirectOpContext):
                why = "the context was built without one: pass build_op_context(partition_key=...)"
            elif self._partitions_def is None:
                why = f"job '{self._job_name}' is not partitioned"
            else:
                why = (
                    f"job '{self._job_name}' is partitioned ({partitions_shown(self._partitions_def, self._instance)}), "
                    "but this run was given no partition_key: pass partition_key= to run one partition"
                )
            raise DagsterInvariantViolationError(
                f"Cannot access partition_key for a non-partitioned run. Op '{self._op_def.name}': {why}."
            )
        # A multi-partitions job's key is a MultiPartitionKey (keys_by_dimension), as in Dagster.
        from_str = getattr(self._partitions_def, "get_partition_key_from_str", None)
        return from_str(self._partition_key) if from_str is not None else self._partition_key

    @property
    def partition_time_window(self) -> Any:
        key = self.partition_key
        window_fn = getattr(self._partitions_def, "time_window_for_partition_key", None)
        if window_fn is None:
            raise DagsterInvalidPropertyError(
                f"Op '{self._op_def.name}': partition_time_window needs time-window partitions; "
                "this job's partitions are not time windows."
            )
        return window_fn(key)

    @property
    def run_tags(self) -> dict[str, str]:
        return dict(self._run_tags)

    @property
    def op_tags(self) -> dict[str, Any]:
        return dict(self._op_tags)

    def has_tag(self, key: str) -> bool:
        return key in self._run_tags

    def get_tag(self, key: str) -> str | None:
        return self._run_tags.get(key)

    def get_mapping_key(self) -> str | None:
        return self._mapping_key

    @property
    def selected_output_names(self) -> set[str]:
        return set(self._op_def.output_dict)

    # Dagster's verb in its errors for output metadata: "add" in a run, "log" when
    # an op is invoked directly.
    _metadata_verb: ClassVar[str] = "add"

    def add_output_metadata(self, metadata: Mapping[str, Any], output_name: str | None = None, mapping_key: str | None = None) -> None:
        """Metadata for an output not yielded yet. In a run, metadata added twice
        for one output merges (the later value of a key wins), as in Dagster."""
        from oprun.definitions.jobs.metadata import normalize_metadata

        key = self._output_metadata_key(output_name, mapping_key)
        self.output_metadata[key] = {**self.output_metadata.get(key, {}), **normalize_metadata(metadata)}

    def _output_metadata_key(self, output_name: str | None, mapping_key: str | None) -> tuple[str, str | None]:
        """The (output, mapping key) metadata is for, with Dagster's errors."""
        op_name = self._op_def.name
        outputs = self._op_def.output_dict
        verb = self._metadata_verb
        if output_name is None:
            if len(outputs) != 1:
                raise DagsterInvariantViolationError(
                    f"Attempted to {verb} metadata without providing output_name, but multiple outputs exist. "
                    "Please provide an output_name to the invocation of `context.add_output_metadata`. "
                    f"Op '{op_name}' has outputs {sorted(outputs)}."
                )
            output_name = next(iter(outputs))
        elif output_name not in outputs:
            from oprun.errors import did_you_mean

            raise DagsterInvariantViolationError(
                f"{op_name} has no output named {output_name}. Op '{op_name}' has outputs "
                f"{sorted(outputs)}.{did_you_mean(output_name, outputs)}"
            )
        if (output_name, mapping_key) in self.outputs_seen:
            what = f"output '{output_name}'" + (f" with mapping_key '{mapping_key}'" if mapping_key else "")
            raise DagsterInvariantViolationError(
                f"In op '{op_name}', attempted to log output metadata for {what} which has already been yielded. "
                "Metadata must be logged before the output is yielded."
            )
        if outputs[output_name].is_dynamic and not mapping_key:
            start = "Attempted to add" if verb == "add" else "attempted to log"
            raise DagsterInvariantViolationError(
                f"In op '{op_name}', {start} metadata for dynamic output '{output_name}' without providing a "
                "mapping key. When logging metadata for a dynamic output, it is necessary to provide a mapping key."
            )
        return output_name, mapping_key

    def take_output_metadata(self, output_name: str, mapping_key: str | None) -> dict[str, Any] | None:
        """The metadata added for an output as it is yielded; the output is seen
        from now on, so metadata added later is an error."""
        key = (output_name, mapping_key)
        self.outputs_seen.add(key)
        return self.output_metadata.get(key) if self.output_metadata else None

    def get_output_metadata(self, output_name: str, mapping_key: str | None = None) -> Mapping[str, Any] | None:
        """The metadata added for an output (and mapping key), or None. Without a
        mapping key, a dynamic output's metadata by mapping key."""
        if mapping_key is not None or (output_name, None) in self.output_metadata:
            return self.output_metadata.get((output_name, mapping_key))
        by_key = {mk: md for (name, mk), md in self.output_metadata.items() if name == output_name and mk is not None}
        return by_key or None

    @property
    def run_config(self) -> dict[str, Any]:
        """The run's config, as given."""
        return dict(getattr(self._run, "run_config", None) or {})

    def log_event(self, event: Any) -> None:
        """Record an AssetMaterialization, AssetObservation or ExpectationResult."""
        if self._event_sink is not None:
            self._event_sink(event)
        else:
            self.logged_events.append(event)

    def describe_op(self) -> str:
        return f'op "{self._op_def.name}"'


def build_op_context(
    resources: Mapping[str, Any] | None = None,
    op_config: Any = None,
    resources_config: Mapping[str, Any] | None = None,
    instance: Any = None,
    config: Any = None,
    partition_key: str | None = None,
    partition_key_range: Any = None,
    mapping_key: str | None = None,
    run_tags: Mapping[str, str] | None = None,
    event_loop: Any = None,
) -> DirectOpContext:
    """A context for invoking an op directly in a test; use it as a context manager
    when its resources need teardown."""
    if op_config is not None and config is not None:
        raise DagsterInvalidInvocationError("Pass op_config= or config=, not both.")
    return DirectOpContext(
        resources=dict(resources or {}),
        resources_config=dict(resources_config or {}),
        op_config=op_config if op_config is not None else config,
        instance=instance,
        partition_key=partition_key,
        mapping_key=mapping_key,
        run_tags=run_tags,
    )


def check_dagster_type(dagster_type: Any, value: Any) -> TypeCheck:
    """Test a Dagster type against a value, as a run checks an op's input or output:
    a built-in type (`Int`, `List[Int]`, `Dict[Any, Any]`...), a `DagsterType`, a
    class made usable with `usable_as_dagster_type`, or a Python type. Returns the
    `TypeCheck`; a check that raises `Failure` gives an unsuccessful one. As in
    Dagster, a typing generic (`list[int]`, `typing.Optional[int]`) is refused:
    write oprun's `List[int]`, `Optional[int]` instead. The check function gets a
    context like `build_op_context()`'s (log, empty resources)."""
    import typing

    from oprun.definitions.jobs.types import TypeCheck, resolve_dagster_type
    from oprun.errors import Failure

    if typing.get_origin(dagster_type) is not None:
        raise DagsterInvariantViolationError(
            f"Must pass in a type from the oprun (dagster) module. You passed {dagster_type} "
            "which is part of python's typing module."
        )
    resolved = resolve_dagster_type(dagster_type)
    with build_op_context() as context:
        try:
            return resolved.type_check(context, value)
        except Failure as failure:
            return TypeCheck(False, failure.description)


class DirectOpContext(OpExecutionContext):
    """The context `build_op_context` returns; bound to an op when invoked.

    As Dagster's: each invocation starts with no metadata and no events;
    `get_events()` and `get_output_metadata()` read those of the last one, and
    `run_config` is readable only while the op runs.
    """

    _metadata_verb: ClassVar[str] = "log"

    def __init__(
        self, *, resources: dict[str, Any], resources_config: dict[str, Any], op_config: Any, instance: Any,
        partition_key: str | None, mapping_key: str | None, run_tags: Mapping[str, str] | None,
    ) -> None:
        from oprun.execution.logs import direct_log

        self._resources_config = resources_config
        self._test_resources = _TestResources(resources, resources_config, instance, "build_op_context")
        super().__init__(
            run_id="EPHEMERAL", job_name="ephemeral_job", op_def=_NO_OP, op_config=op_config,
            resources=Resources({}), log=direct_log(), step_key="ephemeral_step",
            instance=instance, partition_key=partition_key, mapping_key=mapping_key, run_tags=run_tags,
        )
        self._raw_op_config = op_config
        self._bound = False
        self._invocation_config: Any = None

    def _init_resources(self) -> Resources:
        return self._test_resources.get()

    @property
    def resources(self) -> Resources:
        return self._init_resources()

    def bind(self, op_def: Any) -> DirectOpContext:
        self._op_def = op_def
        self._handle = op_def.name
        self._step_key = op_def.name
        self.output_metadata = {}
        self.logged_events = []
        self.mapping_keys_seen = {}
        self.outputs_seen = set()
        self._invocation_config = None
        self._bound = True
        return self

    def bind_config(self, op_config: Any) -> None:
        """The op's config for this invocation (after its schema and any configured() mapping)."""
        self._op_config = self._invocation_config = op_config

    def unbind(self) -> None:
        self._bound = False

    def add_output_metadata(self, metadata: Mapping[str, Any], output_name: str | None = None, mapping_key: str | None = None) -> None:
        """As Dagster's direct invocation: once per output (and mapping key)."""
        key = self._output_metadata_key(output_name, mapping_key)
        if key in self.output_metadata:
            raise DagsterInvariantViolationError(
                f"In op '{self._op_def.name}', attempted to log metadata for output '{key[0]}' more than once. "
                "When an op is invoked directly, add an output's metadata in one call."
            )
        self.output_metadata[key] = dict(metadata)

    def get_events(self) -> list[Any]:
        """The AssetMaterializations, AssetObservations and ExpectationResults the
        op logged with context.log_event (in its last invocation)."""
        return list(self.logged_events)

    @property
    def run_config(self) -> dict[str, Any]:
        if not self._bound:
            raise DagsterInvalidPropertyError(
                "The run_config property is not set on the context when an asset or op is directly invoked. "
                "It is readable inside the op's body, while the op runs."
            )
        run_config: dict[str, Any] = {}
        if self._raw_op_config:
            run_config["ops"] = {self._op_def.name: {"config": self._invocation_config}}
        run_config["resources"] = dict(self._resources_config)
        return run_config

    def __enter__(self) -> DirectOpContext:
        self._test_resources.entered = True
        return self

    def __exit__(self, *exc: Any) -> None:
        self._test_resources.close(*exc)


class _TestResources:
    """The resources of a context built for a test (`build_op_context`,
    `build_input_context`, `build_output_context`), built when first used. As in
    Dagster, once one of them needs teardown (a generator or a context manager)
    they can be reached only inside `with build_..._context(...) as context:`, and
    are torn down when the block ends (or when the context is collected)."""

    def __init__(self, given: Mapping[str, Any], config: Mapping[str, Any], instance: Any, builder: str) -> None:
        self._given = dict(given)
        self._config = dict(config)
        self._instance = instance
        self._builder = builder
        self._built: Any = None
        self._resources = Resources({})
        self.entered = False

    def get(self) -> Resources:
        if self._built is None:
            self._built = build_resources(self._given, self._instance, self._config)
            self._resources = self._built.__enter__()
        if self._built.generators and not self.entered:
            raise DagsterInvariantViolationError(
                "At least one provided resource is a generator, but attempting to access resources outside of "
                "context manager scope. You can use the following syntax to open a context manager: "
                f"`with {self._builder}(...) as context:`"
            )
        return self._resources

    def close(self, *exc: Any) -> None:
        self.entered = False
        if self._built is not None:
            built, self._built = self._built, None
            built.__exit__(*exc)


class _TestIOContext:
    """What `build_output_context` and `build_input_context` add to the contexts a
    run builds: resources given as definitions are built (see `_TestResources`),
    and the context can be used in a `with` block."""

    _test_resources: _TestResources

    def __init__(self, test_resources: _TestResources, **kwargs: Any) -> None:
        self._test_resources = test_resources
        super().__init__(**kwargs)

    @property
    def resources(self) -> Any:
        return self._test_resources.get()

    @resources.setter
    def resources(self, value: Any) -> None:  # the base class's __init__ sets it; built from the given ones instead
        pass

    def __enter__(self) -> Any:
        self._test_resources.entered = True
        return self

    def __exit__(self, *exc: Any) -> None:
        self._test_resources.close(*exc)


class _NoOp:
    name = "ephemeral_op"
    output_dict: ClassVar[dict[str, Any]] = {}


_NO_OP = _NoOp()


# --- IO manager contexts -------------------------------------------------------------


class OutputContext:
    """What an IO manager's `handle_output` sees; also `InputContext.upstream_output`."""

    def __init__(
        self,
        step_key: str | None = None,
        name: str | None = None,
        job_name: str | None = None,
        run_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        mapping_key: str | None = None,
        config: Any = None,
        dagster_type: Any = None,
        log: Any = None,
        op_def: Any = None,
        resources: Any = None,
        partition_key: str | None = None,
        definition_metadata: Mapping[str, Any] | None = None,
        output_metadata_sink: Any = None,
    ) -> None:
        self.step_key = step_key
        self.name = name
        self.job_name = job_name
        self.run_id = run_id
        self.metadata = dict(metadata or {})
        self.definition_metadata = dict(definition_metadata or self.metadata)
        self.mapping_key = mapping_key
        self.config = config
        self.dagster_type = dagster_type
        self.log = log
        self.op_def = op_def
        self.resources = resources
        self._partition_key = partition_key
        self._added_metadata: dict[str, Any] = {}
        self._logged_events: list[Any] = []

    @property
    def has_partition_key(self) -> bool:
        return self._partition_key is not None

    @property
    def partition_key(self) -> str:
        if self._partition_key is None:
            raise DagsterInvalidPropertyError("This output has no partition key.")
        return self._partition_key

    def get_identifier(self) -> list[str]:
        """[run_id, step_key, output name(, mapping key)]: where this output lives."""
        ident = [str(self.run_id), str(self.step_key), str(self.name)]
        if self.mapping_key:
            ident.append(self.mapping_key)
        return ident

    def get_run_scoped_output_identifier(self) -> list[str]:
        return self.get_identifier()

    def add_output_metadata(self, metadata: Mapping[str, Any]) -> None:
        from oprun.definitions.jobs.metadata import normalize_metadata

        self._added_metadata.update(normalize_metadata(metadata))

    def get_logged_metadata(self) -> dict[str, Any]:
        """The metadata `add_output_metadata` added so far (not yet recorded)."""
        return dict(self._added_metadata)

    def log_event(self, event: Any) -> None:
        """Log an AssetMaterialization, AssetObservation or ExpectationResult from
        `handle_output`; in a run it is recorded in the step, before HANDLED_OUTPUT."""
        self._logged_events.append(event)

    def get_logged_events(self) -> list[Any]:
        """The events `log_event` logged so far (not yet recorded)."""
        return list(self._logged_events)

    def consume_logged_events(self) -> list[Any]:
        events, self._logged_events = self._logged_events, []
        return events

    def consume_added_metadata(self) -> dict[str, Any]:
        added, self._added_metadata = self._added_metadata, {}
        return added


class InputContext:
    """What an IO manager's or input manager's `load_input` sees."""

    def __init__(
        self,
        name: str | None = None,
        job_name: str | None = None,
        step_key: str | None = None,
        op_def: Any = None,
        config: Any = None,
        metadata: Mapping[str, Any] | None = None,
        upstream_output: OutputContext | None = None,
        dagster_type: Any = None,
        log: Any = None,
        resources: Any = None,
        run_id: str | None = None,
        partition_key: str | None = None,
        definition_metadata: Mapping[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.job_name = job_name
        self.step_key = step_key
        self.op_def = op_def
        self.config = config
        self.metadata = dict(metadata or {})
        self.definition_metadata = dict(definition_metadata or self.metadata)
        self.upstream_output = upstream_output
        self.dagster_type = dagster_type
        self.log = log
        self.resources = resources
        self.run_id = run_id
        self._partition_key = partition_key

    @property
    def has_partition_key(self) -> bool:
        return self._partition_key is not None

    @property
    def partition_key(self) -> str:
        if self._partition_key is None:
            raise DagsterInvalidPropertyError("This input has no partition key.")
        return self._partition_key

    def get_identifier(self) -> list[str]:
        if self.upstream_output is None:
            raise DagsterInvariantViolationError(
                f"Input '{self.name}' is not connected to an upstream output, so it has no identifier."
            )
        return self.upstream_output.get_identifier()


def build_output_context(
    step_key: str | None = None,
    name: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    run_id: str | None = None,
    mapping_key: str | None = None,
    config: Any = None,
    dagster_type: Any = None,
    resources: Mapping[str, Any] | None = None,
    op_def: Any = None,
    partition_key: str | None = None,
    job_name: str | None = None,
) -> OutputContext:
    """An OutputContext for testing an IO manager's handle_output."""
    from oprun.execution.logs import direct_log

    return _TestOutputContext(
        _TestResources(resources or {}, {}, None, "build_output_context"),
        step_key=step_key, name=name, job_name=job_name, run_id=run_id, metadata=metadata,
        mapping_key=mapping_key, config=config, dagster_type=dagster_type, op_def=op_def, log=direct_log(),
        partition_key=partition_key,
    )


def build_input_context(
    name: str | None = None,
    config: Any = None,
    metadata: Mapping[str, Any] | None = None,
    upstream_output: OutputContext | None = None,
    dagster_type: Any = None,
    resources: Mapping[str, Any] | None = None,
    op_def: Any = None,
    step_key: str | None = None,
    partition_key: str | None = None,
    job_name: str | None = None,
) -> InputContext:
    """An InputContext for testing an IO manager's load_input."""
    from oprun.execution.logs import direct_log

    return _TestInputContext(
        _TestResources(resources or {}, {}, None, "build_input_context"),
        name=name, job_name=job_name, step_key=step_key, op_def=op_def, config=config, log=direct_log(),
        metadata=metadata, upstream_output=upstream_output, dagster_type=dagster_type, partition_key=partition_key,
    )


class _TestOutputContext(_TestIOContext, OutputContext):
    """The OutputContext `build_output_context` returns."""


class _TestInputContext(_TestIOContext, InputContext):
    """The InputContext `build_input_context` returns."""
