"""Running one step: load its inputs, call the op, handle its outputs, run its
hooks; every outcome becomes exactly one closing event.

`execute_step` reads as the algorithm: start, inputs, compute, outputs, success;
one `try` around the user's code maps each exception to STEP_FAILURE or
STEP_UP_FOR_RETRY.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from oprun.definitions.jobs.io import DEFAULT_OUTPUT, NO_VALUE
from oprun.definitions.jobs.results import AssetMaterialization, AssetObservation, DynamicOutput, ExpectationResult, Output
from oprun.errors import (
    DagsterExecutionLoadInputError,
    DagsterInvariantViolationError,
    DagsterStepOutputNotFoundError,
    DagsterTypeCheckDidNotPass,
    Failure,
    RetryRequested,
)
from oprun.events import (
    DagsterEvent,
    DagsterEventType,
    HandledOutputData,
    LoadedInputData,
    LogsCapturedData,
    SerializableErrorInfo,
    StepExpectationResultData,
    StepFailureData,
    StepInputData,
    StepMaterializationData,
    StepOutputData,
    StepRetryData,
    StepSuccessData,
    TypeCheckData,
    UserFailureData,
    current_pid,
)
from oprun.execution.active import StepOutcome, retry_delay
from oprun.execution.context import InputContext, OpExecutionContext, OutputContext
from oprun.execution.plan import (
    ExecutionStep,
    FromGraphInput,
    FromMultipleSources,
    FromStepOutput,
    FromUnconnected,
)

if TYPE_CHECKING:
    from oprun.execution.run import RunContext

# The kinds this module records, named through DagsterEventType (a misspelt one
# fails at import) and bound as plain strings: they are used several times a step.
_ASSET_MATERIALIZATION = DagsterEventType.ASSET_MATERIALIZATION.value
_ASSET_OBSERVATION = DagsterEventType.ASSET_OBSERVATION.value
_HANDLED_OUTPUT = DagsterEventType.HANDLED_OUTPUT.value
_LOADED_INPUT = DagsterEventType.LOADED_INPUT.value
_LOGS_CAPTURED = DagsterEventType.LOGS_CAPTURED.value
_STEP_EXPECTATION_RESULT = DagsterEventType.STEP_EXPECTATION_RESULT.value
_STEP_FAILURE = DagsterEventType.STEP_FAILURE.value
_STEP_INPUT = DagsterEventType.STEP_INPUT.value
_STEP_OUTPUT = DagsterEventType.STEP_OUTPUT.value
_STEP_RESTARTED = DagsterEventType.STEP_RESTARTED.value
_STEP_START = DagsterEventType.STEP_START.value
_STEP_SUCCESS = DagsterEventType.STEP_SUCCESS.value
_STEP_UP_FOR_RETRY = DagsterEventType.STEP_UP_FOR_RETRY.value


class _FrameworkError(DagsterInvariantViolationError):
    """A failure oprun detects in a step (a bad return, a duplicate output),
    recorded as a FRAMEWORK_ERROR rather than a user code error. Users meet it as
    the DagsterInvariantViolationError Dagster raises for the same mistakes."""


def _event(rc: RunContext, kind: str, step: ExecutionStep, data: Any = None, message: str | None = None) -> None:
    # The tuple is built directly (every field given), skipping NamedTuple's
    # Python-level __new__: this runs several times per step.
    rc.log_manager.emit(_new_tuple(DagsterEvent, (kind, rc.job_name, step.key, step.handle, data, message, current_pid())))


_new_tuple = tuple.__new__


# --- the step loop -----------------------------------------------------------------------


def run_step(rc: RunContext, step: ExecutionStep, attempt: int = 0) -> StepOutcome:
    """`execute_step`, with the step's stdout and stderr captured when the run has
    a compute log directory (runs on a persistent instance)."""
    directory = rc.compute_logs_directory
    if directory is None:
        return execute_step(rc, step, attempt)
    from oprun.execution.compute_logs import capture_file_descriptors, capture_in_process

    capture = capture_file_descriptors if rc.capture_fds else capture_in_process
    with capture(directory, rc.run_id, step.key) as (out_path, err_path):
        _event(
            rc, _LOGS_CAPTURED, step, LogsCapturedData(step.key, [step.key], out_path, err_path),
            f'Started capturing logs for step "{step.key}".',
        )
        return execute_step(rc, step, attempt)



def execute_step(rc: RunContext, step: ExecutionStep, attempt: int = 0) -> StepOutcome:
    """Run one step in this process and record its events through `rc.emit`."""
    rc.set_current_step(step.key)
    started = time.perf_counter()
    if attempt == 0:
        _event(rc, _STEP_START, step, None, f'Started execution of step "{step.key}".')
    else:
        _event(rc, _STEP_RESTARTED, step, None, f'Started re-execution (attempt # {attempt + 1}) of step "{step.key}".')
    emitted: dict[str, list[str] | None] = {}
    try:
        context = rc.op_context(step, attempt)
        inputs = _load_inputs(rc, step, context)
        _run_compute(rc, step, context, inputs, emitted)
        _check_required_outputs(rc, step, context, emitted)
    except BaseException as exc:
        if isinstance(exc, (KeyboardInterrupt, SystemExit)) and not rc.catch_interrupts:
            if isinstance(exc, KeyboardInterrupt):  # a cancel (SIGTERM) or Ctrl-C
                # As Dagster: the step ends failed, with the interrupt as its error,
                # before the interrupt stops the run; run show then shows it ended.
                _event(
                    rc, _STEP_FAILURE, step, StepFailureData(SerializableErrorInfo.from_exception(exc), None, "INTERRUPT"),
                    f'Execution of step "{step.key}" was interrupted: the run was canceled.',
                )
                rc.set_current_step(None)
            raise
        outcome = _failure_outcome(rc, step, exc, attempt, emitted)
        rc.set_current_step(None)
        if outcome.status == "failure":
            run_hooks(rc, step, succeeded=False, exc=exc)
        return outcome
    duration_ms = (time.perf_counter() - started) * 1000
    _event(rc, _STEP_SUCCESS, step, StepSuccessData(duration_ms), f'Finished execution of step "{step.key}" in {_fmt_ms(duration_ms)}.')
    rc.set_current_step(None)
    run_hooks(rc, step, succeeded=True, exc=None)
    return StepOutcome("success", emitted)


def _fmt_ms(ms: float) -> str:
    return f"{ms:.2f}ms" if ms < 1000 else f"{ms / 1000:.2f}s"


# --- inputs ---------------------------------------------------------------------------------


def _load_inputs(rc: RunContext, step: ExecutionStep, context: OpExecutionContext) -> dict[str, Any]:
    values: dict[str, Any] = {}
    # The step arrives concrete (ActiveExecution.concrete_step): collects expanded,
    # fan-ins holding only the outputs that were yielded.
    for step_input in step.inputs:
        input_def = step_input.input_def
        if input_def.dagster_type.is_nothing:
            continue  # a Nothing input only orders execution: there is no value to load
        source = step_input.source
        if input_def.input_manager_key and not isinstance(source, (FromStepOutput, FromMultipleSources)):
            value = _load_with_input_manager(rc, step, context, step_input, None)
        elif isinstance(source, FromStepOutput):
            if input_def.input_manager_key:
                value = _load_with_input_manager(rc, step, context, step_input, source)
            else:
                value = _load_from_output(rc, step, context, step_input.name, input_def, source)
        elif isinstance(source, FromMultipleSources):
            value = _fan_in_values(rc, step, context, step_input.name, input_def, source)
        elif isinstance(source, FromGraphInput):
            value = rc.graph_input_value(source.input_name)
        elif isinstance(source, FromUnconnected):
            value = _unconnected_value(rc, step, input_def, source)
        else:
            raise DagsterInvariantViolationError(f"Step {step.key}: input '{step_input.name}' has an unresolved source {source!r}")
        values[step_input.name] = value
    # As in Dagster, every input is loaded first (LOADED_INPUT...), then each is type checked (STEP_INPUT...).
    for step_input in step.inputs:
        if step_input.name in values:
            _type_check_input(rc, step, context, step_input.name, step_input.input_def, values[step_input.name])
    return values


def _fan_in_values(rc: RunContext, step: ExecutionStep, context: OpExecutionContext, name: str, input_def: Any, source: FromMultipleSources) -> list[Any]:
    """The list a fan-in input receives: the upstream outputs that were yielded, and
    the graph inputs placed in the list, in the order the graph wrote them."""
    values = []
    for item in source.sources:
        if isinstance(item, FromStepOutput):
            values.append(_load_from_output(rc, step, context, name, input_def, item))
        elif isinstance(item, FromGraphInput):
            values.append(rc.graph_input_value(item.input_name))
        elif isinstance(item, FromUnconnected):
            values.append(_unconnected_value(rc, step, input_def, item, input_def.dagster_type.inner_type))
        elif isinstance(item, FromMultipleSources):  # a graph input that is itself a fan-in
            values.append(_fan_in_values(rc, step, context, name, input_def, item))
        else:
            raise DagsterInvariantViolationError(f"Step {step.key}: input '{name}' has an unresolved fan-in source {item!r}")
    return values


def _unconnected_value(rc: RunContext, step: ExecutionStep, input_def: Any, source: FromUnconnected, dagster_type: Any = None) -> Any:
    inputs = rc.resolved_config.node_inputs(source.config_handle)
    if source.config_input_name in inputs:
        config_value = inputs[source.config_input_name]
        loader = (dagster_type or input_def.dagster_type).loader
        if loader is None:
            return config_value
        # Built only here: most inputs never reach a loader.
        from oprun.execution.resources import Resources
        from oprun.execution.type_loader_context import DagsterTypeLoaderContext

        keys = loader.required_resource_keys | step.op_def.required_resource_keys
        loader_context = DagsterTypeLoaderContext(
            resources=Resources({k: rc.resource(k) for k in keys if rc.has_resource(k)}, keys),
            log=rc.log_for_step(step.key),
            op_def=step.op_def,
            job_def=rc.job,
            run_id=rc.run_id,
            step_key=step.key,
            run_config=rc.resolved_config.raw,
            op_config=rc.op_config(step),
            instance=rc.instance,
            partition_key=rc.partition_key,
        )
        return loader.load(loader_context, config_value)
    if input_def.default_value is not NO_VALUE:
        return input_def.default_value
    if input_def.dagster_type.is_nothing:
        return None
    raise DagsterInvariantViolationError(
        f'No value provided for required input "{input_def.name}" of op "{step.handle}" (step "{step.key}"). '
        f"Wire it to another op's output, give it a default (In(default_value=...)), or set it in run "
        f"config at ops.{'.ops.'.join(step.handle.split('.'))}.inputs.{input_def.name}."
    )


def upstream_output_context(rc: RunContext, source: FromStepOutput) -> OutputContext:
    upstream_step = rc.plan_step(source.step_key)
    out_def = upstream_step.op_def.output_dict[source.output_name] if upstream_step is not None else None
    mapping_key = source.mapping_key
    return OutputContext(
        step_key=source.step_key,
        name=source.output_name,
        job_name=rc.job_name,
        run_id=rc.output_run_id(source.step_key),
        metadata=out_def.metadata if out_def is not None else None,
        mapping_key=mapping_key,
        dagster_type=out_def.dagster_type if out_def is not None else None,
        op_def=upstream_step.op_def if upstream_step is not None else None,
        partition_key=rc.partition_key,
        config=rc.output_config(source.step_key, source.output_name),
    )


def _load_from_output(rc: RunContext, step: ExecutionStep, context: OpExecutionContext, input_name: str, input_def: Any, source: FromStepOutput) -> Any:
    captured = rc.captured_output(source)
    manager_key = rc.io_manager_key_for(source)
    if captured is not NO_VALUE and rc.loads_from_capture(manager_key):
        value = captured
    else:
        manager = rc.resource(manager_key)
        input_context = _input_context(rc, step, context, input_name, input_def, upstream_output_context(rc, source))
        try:
            value = manager.load_input(input_context)
        except Exception as exc:
            raise DagsterExecutionLoadInputError(
                f'Error occurred while loading input "{input_name}" of step "{step.key}" with IO manager '
                f'"{manager_key}": {type(exc).__name__}: {exc}',
                exc,
            ) from exc
    _event(
        rc, _LOADED_INPUT, step,
        LoadedInputData(input_name, manager_key, source.output_name, source.step_key),
        f'Loaded input "{input_name}" using input manager "{manager_key}", from output "{source.output_name}" of step "{source.step_key}"',
    )
    return value


def _input_context(
    rc: RunContext, step: ExecutionStep, context: OpExecutionContext, input_name: str, input_def: Any, upstream: OutputContext | None,
) -> InputContext:
    return InputContext(
        name=input_name,
        job_name=rc.job_name,
        step_key=step.key,
        op_def=step.op_def,
        config=rc.resolved_config.node_inputs(step.handle).get(input_name),
        metadata=input_def.metadata,
        upstream_output=upstream,
        dagster_type=input_def.dagster_type,
        log=context.log,
        resources=context.resources,
        run_id=rc.run_id,
        partition_key=rc.partition_key,
    )


def _load_with_input_manager(rc: RunContext, step: ExecutionStep, context: OpExecutionContext, step_input: Any, source: FromStepOutput | None) -> Any:
    input_def = step_input.input_def
    key = input_def.input_manager_key
    manager = rc.resource(key)
    upstream = upstream_output_context(rc, source) if source is not None else None
    try:
        value = manager.load_input(_input_context(rc, step, context, step_input.name, input_def, upstream))
    except Exception as exc:
        raise DagsterExecutionLoadInputError(
            f'Error occurred while loading input "{step_input.name}" of step "{step.key}" with input manager '
            f'"{key}": {type(exc).__name__}: {exc}',
            exc,
        ) from exc
    _event(
        rc, _LOADED_INPUT, step,
        LoadedInputData(step_input.name, key, source.output_name if source else None, source.step_key if source else None),
        f'Loaded input "{step_input.name}" using input manager "{key}"',
    )
    return value


def _type_check_input(rc: RunContext, step: ExecutionStep, context: Any, name: str, input_def: Any, value: Any) -> None:
    dagster_type = input_def.dagster_type
    if dagster_type.is_any:
        data = _ANY_PASSED
    else:
        result = dagster_type.type_check(context, value)
        data = TypeCheckData(result.success, name, result.description, result.metadata)
        if not result.success:
            _event(rc, _STEP_INPUT, step, StepInputData(name, data), f'Got input "{name}" of type "{dagster_type.display_name}". (Type check failed).')
            raise DagsterTypeCheckDidNotPass(
                f'Type check failed for step input "{name}" - expected type "{dagster_type.display_name}". '
                f"Description: {result.description}",
                result.metadata,
                dagster_type,
            )
    _event(rc, _STEP_INPUT, step, StepInputData(name, data), f'Got input "{name}" of type "{dagster_type.display_name}". (Type check passed).')


_ANY_PASSED = TypeCheckData(True, "Any")


# --- compute -----------------------------------------------------------------------------------


def _call_args(rc: RunContext, step: ExecutionStep, context: OpExecutionContext, inputs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    op_def = step.op_def
    kwargs = inputs
    if op_def.config_param is not None:
        name, config_cls = op_def.config_param
        kwargs = {**inputs, name: config_cls.from_config_value(context.op_config)}
    if op_def.resource_params:
        kwargs = dict(kwargs)
        for name in op_def.resource_params:
            kwargs[name] = rc.resource(name)
    return ((context,) if op_def.has_context_param else ()), kwargs


def _run_compute(rc: RunContext, step: ExecutionStep, context: OpExecutionContext, inputs: dict[str, Any], emitted: dict[str, list[str] | None]) -> None:
    op_def = step.op_def
    args, kwargs = _call_args(rc, step, context, inputs)
    fn = op_def.compute_fn
    if op_def.is_generator:
        items: Any = fn(*args, **kwargs)
    elif op_def.is_async_generator:
        items = _drain_async_generator(fn(*args, **kwargs))
    else:
        result = _run_coroutine(fn(*args, **kwargs)) if op_def.is_async else fn(*args, **kwargs)
        if len(op_def.output_defs) == 1 and not op_def.output_defs[0].is_dynamic and not isinstance(result, (Output, DynamicOutput)):
            # The common case, kept short: one output, a plain returned value. As in
            # Dagster, events logged with context.log_event come before the output.
            _flush_logged_events(rc, step, context)
            _handle_output(rc, step, context, op_def.output_defs[0], result, None, None, emitted)
            _flush_logged_events(rc, step, context)
            return
        items = _returned_items(step, result)
    for item in items:
        _flush_logged_events(rc, step, context)
        _handle_item(rc, step, context, item, emitted)
    _flush_logged_events(rc, step, context)


def _run_coroutine(coro: Any) -> Any:
    import asyncio

    return asyncio.run(coro)


def _drain_async_generator(agen: Any) -> list[Any]:
    import asyncio

    async def drain() -> list[Any]:
        return [item async for item in agen]

    return asyncio.run(drain())


def _returned_items(step: ExecutionStep, result: Any) -> Iterator[Any]:
    """What a plain `return` means, as the items a generator would have yielded."""
    op_def = step.op_def
    outputs = op_def.output_defs
    # A dynamic output's value is a list of DynamicOutput, even alone (as Dagster).
    if isinstance(result, (Output, DynamicOutput)) and not (len(outputs) == 1 and outputs[0].is_dynamic):
        yield _named(op_def, result, outputs[0], 0) if len(outputs) == 1 else result
        return
    if not outputs:
        if result is not None:
            raise _FrameworkError(
                f'Op "{op_def.name}" has no outputs but returned {_short(result)}. Declare an output '
                "(out=Out()) or return None."
            )
        return
    if len(outputs) == 1:
        out = outputs[0]
        if out.is_dynamic:
            yield from _dynamic_items(op_def, result, out, 0)
            return
        yield Output(result, out.name)
        return
    if result is None and all(not o.is_required or o.dagster_type.is_nothing for o in outputs):
        return
    if not isinstance(result, tuple) or len(result) != len(outputs):
        raise _FrameworkError(
            f'Op "{op_def.name}" has {len(outputs)} outputs {[o.name for o in outputs]}: return a tuple of '
            f"{len(outputs)} values in that order (or yield Output(value, name)), got {_short(result)}."
        )
    for position, (out, value) in enumerate(zip(outputs, result, strict=True)):
        if out.is_dynamic:
            yield from _dynamic_items(op_def, value, out, position)
        elif isinstance(value, (Output, DynamicOutput)):
            yield _named(op_def, value, out, position)
        else:
            yield Output(value, out.name)


def _dynamic_items(op_def: Any, value: Any, out: Any, position: int) -> Iterator[Any]:
    if not isinstance(value, list) or not all(isinstance(r, DynamicOutput) for r in value):
        raise _FrameworkError(
            f"Error with output for op \"{op_def.name}\": dynamic output '{out.name}' expected a list of "
            f"DynamicOutput objects, but instead received instead an object of type {type(value)}. "
            f"Return or yield DynamicOutput objects (a list of them), got {_short(value)}."
        )
    for item in value:
        yield _named(op_def, item, out, position)


def _named(op_def: Any, item: Any, out: Any, position: int) -> Any:
    """A returned Output or DynamicOutput belongs to the output at its position, as in
    Dagster: one left with the default name takes that output's name; any other name
    must be that output's."""
    if item.output_name == out.name:
        return item
    if item.output_name != DEFAULT_OUTPUT:
        raise _FrameworkError(
            f"Error with output for op \"{op_def.name}\": Bad state: Output was explicitly named "
            f"'{item.output_name}', which does not match the output definition specified for position "
            f"{position}: '{out.name}'."
        )
    if isinstance(item, DynamicOutput):
        return DynamicOutput(item.value, item.mapping_key, out.name, item.metadata)
    return Output(item.value, out.name, item.metadata, item.data_version, item.tags)


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _handle_item(rc: RunContext, step: ExecutionStep, context: OpExecutionContext, item: Any, emitted: dict[str, list[str] | None]) -> None:
    op_def = step.op_def
    if isinstance(item, (Output, DynamicOutput)):
        out_def = op_def.output_dict.get(item.output_name)
        if out_def is None:
            raise _FrameworkError(
                f'Core compute for op "{op_def.name}" returned an output "{item.output_name}" that does not '
                f"exist. The available outputs are {[o.name for o in op_def.output_defs]}"
            )
        mapping_key = item.mapping_key
        if out_def.is_dynamic and mapping_key is None:
            raise _FrameworkError(
                f'Compute for op "{op_def.name}" for output "{item.output_name}" defined as dynamic must '
                "yield DynamicOutput, got Output."
            )
        if not out_def.is_dynamic and mapping_key is not None:
            raise _FrameworkError(
                f'Compute for op "{op_def.name}" yielded a DynamicOutput for output "{item.output_name}", '
                "which is not a DynamicOut. Declare it with DynamicOut() or yield Output."
            )
        _handle_output(rc, step, context, out_def, item.value, mapping_key, item.metadata, emitted)
        return
    if isinstance(item, (AssetMaterialization, ExpectationResult)):
        _log_user_event(rc, step, item)
        return
    raise _FrameworkError(
        f'Compute function for op "{op_def.name}" yielded a value of type {type(item)} rather than an '
        "instance of Output, DynamicOutput, AssetMaterialization or ExpectationResult. Yield "
        "Output(value, name) for each output."
    )


def _flush_logged_events(rc: RunContext, step: ExecutionStep, context: OpExecutionContext) -> None:
    if context.logged_events:
        events, context.logged_events = context.logged_events, []
        for event in events:
            _log_user_event(rc, step, event)


def _log_user_event(rc: RunContext, step: ExecutionStep, item: Any) -> None:
    if isinstance(item, ExpectationResult):
        status = "passed" if item.success else "failed"
        _event(rc, _STEP_EXPECTATION_RESULT, step, StepExpectationResultData(item), f'Expectation "{item.label}" {status}.')
    elif isinstance(item, AssetObservation):
        _event(rc, _ASSET_OBSERVATION, step, StepMaterializationData(item), f'Observed asset "{item.label}".')
    elif isinstance(item, AssetMaterialization):
        _event(rc, _ASSET_MATERIALIZATION, step, StepMaterializationData(item), f'Materialized value {item.label}.')
    else:
        raise _FrameworkError(f"context.log_event takes an AssetMaterialization, AssetObservation or ExpectationResult, got {item!r}")


# --- outputs -----------------------------------------------------------------------------------


def _handle_output(
    rc: RunContext, step: ExecutionStep, context: OpExecutionContext, out_def: Any, value: Any,
    mapping_key: str | None, metadata: Any, emitted: dict[str, list[str] | None],
) -> None:
    name = out_def.name
    if mapping_key is None:
        if name in emitted:
            raise _FrameworkError(f'Compute for op "{step.op_def.name}" returned an output "{name}" multiple times')
        emitted[name] = None
        shown = ""
    else:
        keys = emitted.get(name)
        if keys is None:
            keys = emitted[name] = []
            seen = context.mapping_keys_seen[name] = set()
        else:
            seen = context.mapping_keys_seen[name]
        if mapping_key in seen:
            raise _FrameworkError(
                f'Compute for op "{step.op_def.name}" yielded a DynamicOutput with mapping_key "{mapping_key}" multiple times.'
            )
        seen.add(mapping_key)
        keys.append(mapping_key)
        shown = f' (mapping key "{mapping_key}")'
    dagster_type = out_def.dagster_type
    added = context.take_output_metadata(name, mapping_key)
    all_metadata = {**(metadata or {}), **added} if added else (metadata or {})
    if dagster_type.is_any:
        check = _ANY_PASSED
    else:
        result = dagster_type.type_check(context, value)
        check = TypeCheckData(result.success, name, result.description, result.metadata)
        if not result.success:
            _event(
                rc, _STEP_OUTPUT, step, StepOutputData(name, mapping_key, check, all_metadata),
                f'Yielded output "{name}"{shown} of type "{dagster_type.display_name}". (Type check failed).',
            )
            raise DagsterTypeCheckDidNotPass(
                f'Type check failed for step output "{name}" - expected type "{dagster_type.display_name}". '
                f"Description: {result.description}",
                result.metadata,
                dagster_type,
            )
    _event(
        rc, _STEP_OUTPUT, step, StepOutputData(name, mapping_key, check, all_metadata),
        f'Yielded output "{name}"{shown} of type "{dagster_type.display_name}". (Type check passed).',
    )
    rc.capture_output(step.key, name, mapping_key, value)
    if dagster_type.is_nothing:
        return  # as in Dagster, a Nothing output has no value to store: no IO manager, no HANDLED_OUTPUT
    manager_key = out_def.io_manager_key
    handled_metadata: dict[str, Any] = {}
    if rc.stores_output(manager_key):
        manager = rc.resource(manager_key)
        output_context = OutputContext(
            step_key=step.key, name=name, job_name=rc.job_name, run_id=rc.run_id,
            metadata=out_def.metadata, mapping_key=mapping_key, dagster_type=dagster_type,
            log=context.log, op_def=step.op_def, resources=context.resources,
            partition_key=rc.partition_key, config=rc.output_config(step.handle, name),
        )
        try:
            outcome = manager.handle_output(output_context, value)
        except Exception as exc:
            from oprun.errors import DagsterExecutionHandleOutputError

            raise DagsterExecutionHandleOutputError(
                f'Error occurred while handling output "{name}" of step "{step.key}" with IO manager '
                f'"{manager_key}": {type(exc).__name__}: {exc}',
                exc,
            ) from exc
        if outcome is not None and hasattr(outcome, "__iter__") and not isinstance(outcome, (str, bytes, dict)):
            for item in outcome:  # handle_output may yield metadata or events
                if isinstance(item, (AssetMaterialization, ExpectationResult)):
                    _log_user_event(rc, step, item)
        for item in output_context.consume_logged_events():  # context.log_event in handle_output
            _log_user_event(rc, step, item)
        handled_metadata = output_context.consume_added_metadata()
    _event(rc, _HANDLED_OUTPUT, step, HandledOutputData(name, manager_key, handled_metadata), f'Handled output "{name}" using IO manager "{manager_key}"')


def _check_required_outputs(rc: RunContext, step: ExecutionStep, context: OpExecutionContext, emitted: dict[str, list[str] | None]) -> None:
    for out_def in step.op_def.output_defs:
        if out_def.name in emitted or out_def.is_dynamic:
            continue
        if out_def.dagster_type.is_nothing and out_def.is_required:
            # A Nothing output is emitted implicitly: it only orders execution.
            _handle_output(rc, step, context, out_def, None, None, {}, emitted)
            continue
        if out_def.is_required:
            raise DagsterStepOutputNotFoundError(
                f'Core compute for op "{step.op_def.name}" did not return an output for non-optional output "{out_def.name}"',
                step.key,
                out_def.name,
            )


# --- failures and retries ----------------------------------------------------------------------


def _failure_outcome(rc: RunContext, step: ExecutionStep, exc: BaseException, attempt: int, emitted: dict[str, list[str] | None]) -> StepOutcome:
    user_error = exc
    cause = getattr(exc, "user_exception", None)
    if cause is not None:
        user_error = cause
    retry_wait = _retry_wait(rc, step, user_error, attempt)
    error_info = SerializableErrorInfo.from_exception(exc)
    if retry_wait is not None:
        _event(
            rc, _STEP_UP_FOR_RETRY, step, StepRetryData(error_info, retry_wait),
            f'Execution of step "{step.key}" failed and has requested a retry'
            + (f" in {retry_wait:g} seconds." if retry_wait else "."),
        )
        return StepOutcome("retry", emitted, user_error, retry_wait)
    user_failure = None
    if isinstance(user_error, Failure):
        user_failure = UserFailureData(user_error.description, _plain_metadata(user_error.metadata))
    source = "FRAMEWORK_ERROR" if isinstance(exc, (_FrameworkError, DagsterTypeCheckDidNotPass, DagsterStepOutputNotFoundError)) else "USER_CODE_ERROR"
    message = f'Execution of step "{step.key}" failed.'
    if isinstance(user_error, Failure) and user_error.description:
        message = f'Execution of step "{step.key}" failed: {user_error.description}'
    _event(rc, _STEP_FAILURE, step, StepFailureData(error_info, user_failure, source), message)
    return StepOutcome("failure", emitted, user_error)


def _plain_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    from oprun.definitions.jobs.metadata import normalize_metadata

    return normalize_metadata(metadata)


def _retry_wait(rc: RunContext, step: ExecutionStep, exc: BaseException, attempt: int) -> float | None:
    """Seconds to wait before retrying, or None when the step must fail now."""
    if not rc.retries_enabled or isinstance(exc, (KeyboardInterrupt, SystemExit)):
        return None
    if isinstance(exc, RetryRequested):
        return (exc.seconds_to_wait or 0.0) if attempt < exc.max_retries else None
    if isinstance(exc, Failure) and not exc.allow_retries:
        return None
    return retry_delay(step, attempt, retries_enabled=True)


# --- hooks -----------------------------------------------------------------------------------------


def run_hooks(rc: RunContext, step: ExecutionStep, succeeded: bool, exc: BaseException | None) -> None:
    if not step.hook_defs:
        return
    from oprun.execution.hooks import run_step_hooks

    run_step_hooks(rc, step, succeeded, exc)
