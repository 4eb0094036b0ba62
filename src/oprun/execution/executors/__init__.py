"""Executors: where and when a run's steps run (in this process, in a pool of warm
worker processes, on a Dask cluster). Each implements the protocol in `base.py`.

Importing this package registers the engines of the built-in executor
definitions (`oprun.definitions.executor.BuiltinEngine`).
"""

from __future__ import annotations

from typing import Any

from oprun.definitions.executor import BuiltinEngine
from oprun.errors import DagsterImportError
from oprun.execution.executors.base import Executor

# Each engine module loads when a run uses it: a run in process never imports
# multiprocessing, and only a Dask run imports distributed.


def create_in_process_executor(init_context: Any) -> Executor:
    from oprun.execution.executors.in_process import create_in_process_executor as create

    return create(init_context)


def create_multiprocess_executor(init_context: Any) -> Executor:
    from oprun.execution.executors.multiprocess import create_multiprocess_executor as create

    return create(init_context)


def create_multi_or_in_process_executor(init_context: Any) -> Executor:
    """Every job's default: multiprocess when launched, in process when its config
    says `in_process` (execute_in_process never reaches here: it always runs in process)."""
    config = init_context.executor_config or {"multiprocess": {}}
    if "in_process" in config:
        return create_in_process_executor(init_context.replace_config(config["in_process"]))
    return create_multiprocess_executor(init_context.replace_config(config.get("multiprocess") or {}))


def create_dask_executor(init_context: Any) -> Executor:
    try:
        from oprun.execution.executors.dask import create_dask_executor as create
    except ImportError as exc:
        raise DagsterImportError("The Dask executor needs the `distributed` package: pip install 'oprun[dask]'") from exc
    return create(init_context)


BuiltinEngine.register("in_process", create_in_process_executor)
BuiltinEngine.register("multiprocess", create_multiprocess_executor)
BuiltinEngine.register("multi_or_in_process", create_multi_or_in_process_executor)
BuiltinEngine.register("dask", create_dask_executor)

__all__ = ["Executor"]
