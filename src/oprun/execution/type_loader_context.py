"""`DagsterTypeLoaderContext`: what a `@dagster_type_loader` function receives
when an unconnected input is read from run config (`ops.<op>.inputs.<name>`).

A thin facade over the step being run, built by the step only when a loader is
called; it knows nothing of how the step runs.
"""

from __future__ import annotations

from typing import Any

from oprun.errors import DagsterInvalidPropertyError


class DagsterTypeLoaderContext:
    """The loader's view of the run: its resources (those the loader and the op
    require), the step's log, the op, the job and the run."""

    def __init__(
        self,
        *,
        resources: Any,
        log: Any,
        op_def: Any,
        job_def: Any,
        run_id: str,
        step_key: str,
        run_config: Any = None,
        op_config: Any = None,
        instance: Any = None,
        partition_key: str | None = None,
    ) -> None:
        self._resources = resources
        self._log = log
        self._op_def = op_def
        self._job_def = job_def
        self._run_id = run_id
        self._step_key = step_key
        self._run_config = run_config
        self._op_config = op_config
        self._instance = instance
        self._partition_key = partition_key

    @property
    def resources(self) -> Any:
        return self._resources

    @property
    def log(self) -> Any:
        return self._log

    @property
    def op_def(self) -> Any:
        return self._op_def

    @property
    def job_def(self) -> Any:
        return self._job_def

    @property
    def job_name(self) -> str:
        name: str = self._job_def.name
        return name

    @property
    def run_id(self) -> str:
        return self._run_id

    @property
    def step_key(self) -> str:
        return self._step_key

    @property
    def run_config(self) -> Any:
        return self._run_config

    @property
    def op_config(self) -> Any:
        return self._op_config

    @property
    def instance(self) -> Any:
        return self._instance

    @property
    def has_partition_key(self) -> bool:
        return self._partition_key is not None

    @property
    def partition_key(self) -> str:
        if self._partition_key is None:
            raise DagsterInvalidPropertyError(
                f"The type loader for step '{self._step_key}' has no partition key: this run is not a run of a partition."
            )
        return self._partition_key
