"""Every job's default executor: multiprocess when launched, in process under
`execute_in_process` (which never reaches this module)."""

from __future__ import annotations

from typing import Any


def create_multi_or_in_process_executor(init_context: Any) -> Any:
    config = init_context.executor_config or {"multiprocess": {}}
    if "in_process" in config:
        from oprun.execution.executors.in_process import create_in_process_executor

        return create_in_process_executor(init_context.replace_config(config["in_process"]))
    from oprun.execution.executors.multiprocess import create_multiprocess_executor

    return create_multiprocess_executor(init_context.replace_config(config.get("multiprocess") or {}))
