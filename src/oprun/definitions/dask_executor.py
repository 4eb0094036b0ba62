"""`dask_executor`: the definition of the executor that runs each step as a Dask
task (config schema and requirements). The engine, which imports `distributed`,
lives in `oprun.execution.executors.dask` and loads only when a run uses it
(a missing `distributed` says which extra to install)."""

from __future__ import annotations

from oprun.config.types import Field, Noneable, Selector, Shape, StringSource
from oprun.definitions.executor import BuiltinEngine, ExecutorDefinition, multiple_process_executor_requirements

DASK_CONFIG = {
    "cluster": Field(
        Selector({
            "existing": Field(Shape({"address": Field(StringSource, description="The scheduler, e.g. tcp://10.0.0.5:8786")}), is_required=False),
            "local": Field(Shape({
                "n_workers": Field(Noneable(int), default_value=None, is_required=False),
                "threads_per_worker": Field(int, default_value=1, is_required=False),
                "processes": Field(bool, default_value=True, is_required=False),
            }), is_required=False),
        }),
        default_value={"local": {}},
        is_required=False,
        description="Where steps run: an existing Dask scheduler, or a local cluster started for the run.",
    ),
    "max_concurrent": Field(
        Noneable(int),
        default_value=None,
        is_required=False,
        description="At most this many steps in flight; none means the cluster decides.",
    ),
    "retries": Field(
        Selector({"enabled": Field(Shape({}), is_required=False), "disabled": Field(Shape({}), is_required=False)}),
        default_value={"enabled": {}},
        is_required=False,
    ),
}

dask_executor = ExecutorDefinition(
    "dask",
    DASK_CONFIG,
    multiple_process_executor_requirements(),
    BuiltinEngine("dask"),
    "Runs each step as a task on a Dask cluster (distributed); outputs pass through a persistent IO manager.",
)
