"""The instance as GraphQL (Dagster's `instance` root field): its description,
run launcher, run queue limits and the daemon's health, read from the daemon's
heartbeats (`oprun.daemon.controller.daemon_status`, what `oprun daemon status`
prints). A loop is healthy as `DagsterInstance.daemon_is_alive` says: a
heartbeat under 30 seconds old (real time) from the daemon holding the lease."""

from __future__ import annotations

import sys
from typing import Any

import strawberry
from strawberry.types import Info

from oprun.web.context import WebContext
from oprun.web.graphql import common as c


@strawberry.type(name="DaemonStatus")
class DaemonStatus:
    daemon_type: str
    id: strawberry.ID
    required: bool
    healthy: bool | None
    last_heartbeat_time: float | None
    last_heartbeat_errors: list[c.PythonError]


@strawberry.type(name="DaemonHealth")
class DaemonHealth:
    id: str
    _status: strawberry.Private[dict[str, Any]]

    @strawberry.field
    def daemon_status(self, daemon_type: str | None = None) -> DaemonStatus:
        return daemon_status_type(self._status, daemon_type or "")

    @strawberry.field
    def all_daemon_statuses(self) -> list[DaemonStatus]:
        return [daemon_status_type(self._status, daemon_type) for daemon_type in self._status["loops"]]


def daemon_status_type(status: dict[str, Any], daemon_type: str) -> DaemonStatus:
    """Every loop of `oprun daemon run` is required; another type (never run by
    oprun's daemon) is not, and has no health, as in Dagster."""
    from oprun.daemon.controller import DAEMON_TYPES

    loop = status["loops"].get(daemon_type)
    required = daemon_type in DAEMON_TYPES
    if loop is None:
        return DaemonStatus(
            daemon_type=daemon_type, id=strawberry.ID(daemon_type), required=required,
            healthy=False if required else None, last_heartbeat_time=None, last_heartbeat_errors=[],
        )
    return DaemonStatus(
        daemon_type=daemon_type, id=strawberry.ID(daemon_type), required=required,
        healthy=bool(loop["alive"]) if required else None, last_heartbeat_time=loop["last_heartbeat_timestamp"],
        last_heartbeat_errors=[_heartbeat_error(text) for text in loop["errors"]],
    )


def _heartbeat_error(text: str) -> c.PythonError:
    lines = [line for line in str(text).splitlines(keepends=True) if line.strip()]
    message = lines[-1].strip() if lines else str(text)
    return c.PythonError(message=message, stack=lines[:-1])


@strawberry.type(name="RunLauncher")
class RunLauncher:
    name: str


@strawberry.type(name="RunQueueConfig")
class RunQueueConfig:
    max_concurrent_runs: int
    tag_concurrency_limits_yaml: str | None
    is_op_concurrency_aware: bool | None


@strawberry.type(name="Instance")
class Instance:
    id: str
    has_info: bool
    executable_path: str
    auto_materialize_paused: bool
    supports_concurrency_limits: bool
    use_auto_materialize_sensors: bool

    @strawberry.field
    def info(self, info: Info) -> str | None:
        import yaml

        return str(yaml.safe_dump(info.context.instance.info(), default_flow_style=False, sort_keys=False))

    @strawberry.field
    def run_launcher(self, info: Info) -> RunLauncher | None:
        return RunLauncher(name=type(info.context.instance.run_launcher).__name__)

    @strawberry.field
    def run_queuing_supported(self, info: Info) -> bool:
        from oprun.execution.coordinator import QueuedRunCoordinator

        return isinstance(info.context.instance.run_coordinator, QueuedRunCoordinator)

    @strawberry.field
    def run_queue_config(self, info: Info) -> RunQueueConfig | None:
        """The queue's limits (`run_queue:`, `concurrency: runs:`, or the
        coordinator's config); null when runs are not queued."""
        from oprun.daemon.run_queue import DEFAULT_MAX_CONCURRENT_RUNS
        from oprun.execution.coordinator import QueuedRunCoordinator

        instance = info.context.instance
        if not isinstance(instance.run_coordinator, QueuedRunCoordinator):
            return None
        settings = instance.run_queue_settings()
        raw_max = settings.get("max_concurrent_runs")
        limits = settings.get("tag_concurrency_limits")
        return RunQueueConfig(
            max_concurrent_runs=DEFAULT_MAX_CONCURRENT_RUNS if raw_max is None else int(raw_max),
            tag_concurrency_limits_yaml=_yaml(limits) if limits else None,
            is_op_concurrency_aware=False,
        )

    @strawberry.field
    def daemon_health(self, info: Info) -> DaemonHealth:
        from oprun.daemon.controller import daemon_status

        return DaemonHealth(id="daemonHealth", _status=daemon_status(info.context.instance))


def _yaml(value: Any) -> str:
    import yaml

    return str(yaml.safe_dump(value, default_flow_style=False, sort_keys=False))


def instance_type(context: WebContext) -> Instance:
    return Instance(
        id="Instance", has_info=True, executable_path=sys.executable, auto_materialize_paused=False,
        supports_concurrency_limits=False, use_auto_materialize_sensors=False,
    )


def _instance(info: Info) -> Instance:
    return instance_type(info.context)


@strawberry.type
class InstanceQueries:
    instance: Instance = strawberry.field(resolver=_instance)
