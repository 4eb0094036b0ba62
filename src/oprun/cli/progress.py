"""Live progress of a run on a terminal: steps done of total, the steps running,
and the time elapsed, redrawn as events arrive (rich is imported only here)."""

from __future__ import annotations

import time
from typing import Any


class RunProgress:
    def __init__(self, job: Any) -> None:
        from rich.console import Console
        from rich.live import Live

        self._total = sum(1 for _ in _op_handles(job.graph))
        self._done: set[str] = set()
        self._failed: set[str] = set()
        self._running: set[str] = set()
        self._started = time.monotonic()
        self._live = Live(self._render(), console=Console(stderr=True), refresh_per_second=8, transient=True)

    def __enter__(self) -> RunProgress:
        self._live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._live.__exit__(*exc)

    def __call__(self, entry: Any) -> None:
        event = entry.dagster_event
        if event is None or not event.step_key:
            return
        key, kind = event.step_key, event.event_type_value
        if kind in ("STEP_START", "STEP_RESTARTED"):
            self._running.add(key)
        elif kind in ("STEP_SUCCESS", "STEP_SKIPPED", "STEP_FAILURE"):
            self._running.discard(key)
            self._done.add(key)
            if kind == "STEP_FAILURE":
                self._failed.add(key)
        else:
            return
        # Mapped steps appear at run time: the total grows with them.
        self._total = max(self._total, len(self._done) + len(self._running))
        self._live.update(self._render())

    def _render(self) -> Any:
        from rich.text import Text

        elapsed = time.monotonic() - self._started
        running = ", ".join(sorted(self._running)[:4]) + (" ..." if len(self._running) > 4 else "")
        failed = f"  [{len(self._failed)} failed]" if self._failed else ""
        return Text(f"{len(self._done)}/{self._total} steps done{failed}  running: {running or '-'}  {elapsed:.1f}s", style="bold")


def _op_handles(graph: Any) -> Any:
    for name in graph.toposorted_node_names:
        node = graph.node_dict[name]
        if node.definition.node_type == "graph":
            yield from _op_handles(node.definition)
        else:
            yield name
