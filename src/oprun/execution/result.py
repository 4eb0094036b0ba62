"""`ExecuteInProcessResult` (and the shared accessors of `ExecutionResult`): a run's
events, outcome and captured outputs, queried by node name."""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from typing import Any

from oprun.definitions.jobs.io import DEFAULT_OUTPUT
from oprun.errors import DagsterInvariantViolationError, did_you_mean
from oprun.events import RUN_TERMINAL_EVENTS, DagsterEvent, DagsterEventType, EventLogEntry

_RUN_TERMINAL = frozenset(k.value for k in RUN_TERMINAL_EVENTS)


class ExecutionResult(abc.ABC):
    """Accessors over a run's events; subclasses say where outputs come from."""

    def __init__(self, job_def: Any, run_id: str, entries: Sequence[EventLogEntry] | None) -> None:
        self._job_def = job_def
        self._run_id = run_id
        # None: read from storage on first use (a stored run's result holds no events until asked).
        self._entry_list = list(entries) if entries is not None else None

    @property
    def _entries(self) -> list[EventLogEntry]:
        if self._entry_list is None:
            self._entry_list = self._load_entries()
        return self._entry_list

    def _load_entries(self) -> list[EventLogEntry]:
        """The run's entries, for a result made without them (see `JobExecutionResult`)."""
        return []

    @property
    def job_def(self) -> Any:
        return self._job_def

    @property
    def run_id(self) -> str:
        return self._run_id

    @property
    def success(self) -> bool:
        for entry in reversed(self._entries):
            event = entry.dagster_event
            if event is not None and event.event_type_value in _RUN_TERMINAL:
                return bool(event.event_type_value == DagsterEventType.RUN_SUCCESS.value)
        return False

    @property
    def all_events(self) -> list[DagsterEvent]:
        return [e.dagster_event for e in self._entries if e.dagster_event is not None]

    @property
    def all_node_events(self) -> list[DagsterEvent]:
        return [e for e in self.all_events if e.step_key is not None]

    @property
    def event_log_entries(self) -> list[EventLogEntry]:
        return list(self._entries)

    def filter_events(self, event_filter: Callable[[DagsterEvent], bool]) -> list[DagsterEvent]:
        return [e for e in self.all_events if event_filter(e)]

    def _check_node(self, node_name: str) -> None:
        graph = self._job_def.graph
        for part in node_name.split("."):
            if not graph.has_node_named(part):
                raise DagsterInvariantViolationError(
                    f"Job '{self._job_def.name}' has no node '{node_name}'.{did_you_mean(part, graph.node_dict)}"
                )
            node = graph.node_dict[part]
            if node.definition.node_type == "graph":
                graph = node.definition

    def events_for_node(self, node_name: str) -> list[DagsterEvent]:
        """Events of the node's step(s): for a graph node, of every op inside it."""
        self._check_node(node_name)
        prefix = node_name + "."
        return [
            e for e in self.all_node_events
            if e.node_handle == node_name or (e.node_handle or "").startswith(prefix)
        ]

    def _events_of_type(self, node_name: str, kind: DagsterEventType) -> list[DagsterEvent]:
        return [e for e in self.events_for_node(node_name) if e.event_type_value == kind.value]

    def is_node_success(self, node_name: str) -> bool:
        events = self.events_for_node(node_name)
        return any(e.is_step_success for e in events) and not any(e.is_step_failure for e in events)

    def is_node_failed(self, node_name: str) -> bool:
        return any(e.is_step_failure for e in self.events_for_node(node_name))

    def is_node_skipped(self, node_name: str) -> bool:
        events = self.events_for_node(node_name)
        return bool(events) and all(e.is_step_skipped for e in events if e.event_type_value.startswith("STEP_"))

    def is_node_untouched(self, node_name: str) -> bool:
        return not self.events_for_node(node_name)

    def get_step_success_events(self) -> list[DagsterEvent]:
        return [e for e in self.all_events if e.is_step_success]

    def get_step_failure_events(self) -> list[DagsterEvent]:
        return [e for e in self.all_events if e.is_step_failure]

    def get_step_skipped_events(self) -> list[DagsterEvent]:
        return [e for e in self.all_events if e.is_step_skipped]

    def get_failed_step_keys(self) -> set[str]:
        return {e.step_key for e in self.get_step_failure_events() if e.step_key}

    def get_job_success_event(self) -> DagsterEvent:
        for event in self.all_events:
            if event.is_run_success:
                return event
        raise DagsterInvariantViolationError(f"Run {self._run_id} did not succeed: it has no RUN_SUCCESS event.")

    def get_job_failure_event(self) -> DagsterEvent:
        for event in self.all_events:
            if event.is_run_failure:
                return event
        raise DagsterInvariantViolationError(f"Run {self._run_id} did not fail: it has no RUN_FAILURE event.")

    # Dagster 1.x's names for the two above (DagsterInvariantViolationError is a DagsterError, as Dagster raises).
    get_run_success_event = get_job_success_event
    get_run_failure_event = get_job_failure_event

    def retry_attempts_for_node(self, node_name: str) -> int:
        return len(self._events_of_type(node_name, DagsterEventType.STEP_RESTARTED))

    def asset_materializations_for_node(self, node_name: str) -> list[Any]:
        return [e.asset_materialization for e in self._events_of_type(node_name, DagsterEventType.ASSET_MATERIALIZATION)]

    def expectation_results_for_node(self, node_name: str) -> list[Any]:
        return [e.expectation_result for e in self._events_of_type(node_name, DagsterEventType.STEP_EXPECTATION_RESULT)]

    def failure_data_for_node(self, node_name: str) -> Any:
        failures = self._events_of_type(node_name, DagsterEventType.STEP_FAILURE)
        return failures[-1].step_failure_data if failures else None

    def compute_events_for_handle(self, handle: str) -> list[DagsterEvent]:
        return [e for e in self.all_node_events if e.node_handle == handle]

    # -- outputs --

    def _resolve_output(self, node_name: str, output_name: str) -> tuple[str, str, bool]:
        """(op handle, output name, is mapped) behind a node's output, through graphs."""
        self._check_node(node_name)
        graph = self._job_def.graph
        parts = node_name.split(".")
        handle_parts: list[str] = []
        node = None
        for part in parts:
            node = graph.node_dict[part]
            handle_parts.append(part)
            if node.definition.node_type == "graph":
                graph = node.definition
        assert node is not None
        while node.definition.node_type == "graph":
            mapping = node.definition.output_mapping_for(output_name)
            if mapping is None:
                if not node.definition.output_mappings:
                    raise DagsterInvariantViolationError(
                        f"Attempted to retrieve top-level outputs for '{node.definition.name}', which has no outputs."
                    )
                raise DagsterInvariantViolationError(
                    f"Graph '{node.definition.name}' has no output '{output_name}'. Available: "
                    f"{[m.graph_output_name for m in node.definition.output_mappings]}"
                )
            graph = node.definition
            node = graph.node_dict[mapping.mapped_node_name]
            handle_parts.append(node.name)
            output_name = mapping.mapped_node_output_name
        if output_name not in node.definition.outs:
            raise DagsterInvariantViolationError(
                f"Node '{node_name}' has no output '{output_name}'. Available outputs: "
                f"{sorted(node.definition.outs)}.{did_you_mean(output_name, node.definition.outs)}"
            )
        return ".".join(handle_parts), output_name, node.definition.outs[output_name].is_dynamic

    @abc.abstractmethod
    def _outputs(self, handle: str, output: str, is_dynamic: bool) -> Any:
        """The value (or `{mapping_key: value}`) of an op's output, or _MISSING."""

    def output_for_node(self, node_str: str, output_name: str = DEFAULT_OUTPUT) -> Any:
        """The value of a node's output; dotted paths reach into graphs. A dynamic
        output, or an op mapped over one, gives `{mapping_key: value}`."""
        handle, output, is_dynamic = self._resolve_output(node_str, output_name)
        found = self._outputs(handle, output, is_dynamic)
        if found is _MISSING:
            raise DagsterInvariantViolationError(f"No outputs found for output '{output_name}' from node '{node_str}'.")
        return found

    def output_value(self, output_name: str = DEFAULT_OUTPUT) -> Any:
        """A top-level output of the job's graph."""
        mapping = self._job_def.graph.output_mapping_for(output_name)
        if mapping is None:
            if not self._job_def.graph.output_mappings:
                raise DagsterInvariantViolationError(
                    f"Attempted to retrieve top-level outputs for '{self._job_def.graph.name}', which has no outputs."
                )
            raise DagsterInvariantViolationError(
                f"Job '{self._job_def.name}' has no top-level output '{output_name}'."
            )
        return self.output_for_node(mapping.mapped_node_name, mapping.mapped_node_output_name)


class ExecuteInProcessResult(ExecutionResult):
    """The result of `execute_in_process`: outputs are captured in memory."""

    def __init__(
        self, job_def: Any, run_id: str, entries: Sequence[EventLogEntry], output_capture: dict[tuple[str, str, str | None], Any], dagster_run: Any,
    ) -> None:
        super().__init__(job_def, run_id, entries)
        self._output_capture = output_capture
        self._dagster_run = dagster_run

    @property
    def dagster_run(self) -> Any:
        return self._dagster_run

    def _outputs(self, handle: str, output: str, is_dynamic: bool) -> Any:
        return _collect(self._output_capture, handle, output, is_dynamic)


_MISSING = object()


def _collect(capture: dict[tuple[str, str, str | None], Any], handle: str, output: str, is_dynamic: bool) -> Any:
    value = capture.get((handle, output, None), _MISSING)
    if value is not _MISSING and not is_dynamic:
        return value
    prefix = handle + "["
    mapped: dict[str, Any] = {}
    for (step_key, name, mapping_key), item in capture.items():
        if name != output:
            continue
        if step_key == handle and mapping_key is not None:
            mapped[mapping_key] = item
        elif step_key.startswith(prefix) and step_key.endswith("]"):
            mapped[step_key[len(prefix):-1]] = item
    if mapped or is_dynamic:
        return mapped if mapped or value is _MISSING else value
    return value


def events_of_type(entries: Sequence[EventLogEntry], kind: DagsterEventType) -> list[DagsterEvent]:
    return [e.dagster_event for e in entries if e.dagster_event is not None and e.dagster_event.event_type_value == kind.value]
