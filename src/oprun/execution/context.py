"""The contexts users see, the thin layer over the internal `RunContext`
(`run.py`): `OpExecutionContext`, `InputContext`, `OutputContext`, and their
`build_*` constructors for tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from oprun.errors import (
    DagsterInvalidInvocationError,
    DagsterInvalidPropertyError,
    DagsterInvariantViolationError,
)
from oprun.execution.resources import Resources, build_resources


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
            raise DagsterInvalidPropertyError(
                f"Op '{self._op_def.name}': this run has no partition key (it is not a run of a "
                "partitioned job, or no partition_key was given)."
            )
        return self._partition_key

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

    def add_output_metadata(self, metadata: Mapping[str, Any], output_name: str | None = None, mapping_key: str | None = None) -> None:
        from oprun.definitions.jobs.metadata import normalize_metadata

        outputs = self._op_def.output_dict
        if output_name is None:
            if len(outputs) != 1:
                raise DagsterInvariantViolationError(
                    f"Op '{self._op_def.name}' has outputs {sorted(outputs)}: pass output_name= to "
                    "add_output_metadata."
                )
            output_name = next(iter(outputs))
        elif output_name not in outputs:
            from oprun.errors import did_you_mean

            raise DagsterInvariantViolationError(
                f"Op '{self._op_def.name}' has no output '{output_name}'. Available outputs: "
                f"{sorted(outputs)}.{did_you_mean(output_name, outputs)}"
            )
        key = (output_name, mapping_key)
        if key in self.output_metadata:
            raise DagsterInvariantViolationError(
                f"In op '{self._op_def.name}', attempted to log metadata for output '{output_name}' more than once."
            )
        self.output_metadata[key] = normalize_metadata(metadata)

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


class DirectOpContext(OpExecutionContext):
    """The context `build_op_context` returns; bound to an op when invoked."""

    def __init__(
        self, *, resources: dict[str, Any], resources_config: dict[str, Any], op_config: Any, instance: Any,
        partition_key: str | None, mapping_key: str | None, run_tags: Mapping[str, str] | None,
    ) -> None:
        from oprun.execution.logs import RunLogManager

        self._resource_defs = resources
        self._resources_config = resources_config
        self._built_resources: Any = None
        self._log_manager = RunLogManager("EPHEMERAL", "ephemeral_job", [], lambda _e: None)
        super().__init__(
            run_id="EPHEMERAL", job_name="ephemeral_job", op_def=_NO_OP, op_config=op_config,
            resources=Resources({}), log=self._log_manager.for_step(None), step_key="ephemeral_step",
            instance=instance, partition_key=partition_key, mapping_key=mapping_key, run_tags=run_tags,
        )
        self._raw_op_config = op_config

    def _init_resources(self) -> Resources:
        if self._built_resources is None:
            self._built_resources = build_resources(self._resource_defs, self._instance, self._resources_config)
            self._resources = self._built_resources.__enter__()
        return self._resources

    @property
    def resources(self) -> Resources:
        return self._init_resources()

    def bind(self, op_def: Any) -> DirectOpContext:
        self._op_def = op_def
        self._handle = op_def.name
        self._step_key = op_def.name
        return self

    def __enter__(self) -> DirectOpContext:
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._built_resources is not None:
            self._built_resources.__exit__(*exc)
            self._built_resources = None


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
    return OutputContext(
        step_key=step_key, name=name, job_name=job_name, run_id=run_id, metadata=metadata,
        mapping_key=mapping_key, config=config, dagster_type=dagster_type, op_def=op_def,
        resources=Resources(resources or {}), partition_key=partition_key,
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
    return InputContext(
        name=name, job_name=job_name, step_key=step_key, op_def=op_def, config=config,
        metadata=metadata, upstream_output=upstream_output, dagster_type=dagster_type,
        resources=Resources(resources or {}), partition_key=partition_key,
    )
