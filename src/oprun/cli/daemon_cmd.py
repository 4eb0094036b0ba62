"""`oprun daemon ...`: run the daemon, say whether one is alive, wipe heartbeats.

`oprun daemon run` is the long-running process of docs/automation.md (Dagster's
`dagster-daemon run`); `status` reads its heartbeats from the instance and exits
0 when every loop is alive, 1 otherwise (Dagster's `liveness-check`).
"""

from __future__ import annotations

import json
from typing import Any

import click

from oprun.cli.errors import CliFailure, user_errors
from oprun.cli.jobs import location_options


@click.group("daemon")
def daemon_group() -> None:
    """The daemon: schedules, sensors, the run queue, the run monitor, backfills."""


@daemon_group.command("run")
@location_options
@click.option(
    "--log-level", default="INFO", type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False), help="What the daemon logs to stderr."
)
def daemon_run(log_level: str, **kw: Any) -> None:
    """Run the daemon until SIGTERM or Ctrl-C, on the instance of $OPRUN_HOME and
    the code locations named by -f/-m/-w (or the default ones).

    Example: oprun daemon run -f jobs.py
    """
    import logging

    from oprun.cli.jobs import _locations
    from oprun.daemon.base import Workspace
    from oprun.daemon.controller import DaemonController, default_loops
    from oprun.instance import DagsterInstance

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    workspace = Workspace(_locations(kw))
    with user_errors():
        instance = DagsterInstance.get()
    try:
        if instance.is_ephemeral:
            raise CliFailure("Error: the daemon needs a persistent instance: set OPRUN_HOME.", 2)
        for name, error in workspace.load_errors().items():
            click.echo(f"Warning: code location {name} did not load (its schedules and sensors wait until it does): {error}", err=True)
        controller = DaemonController(instance, workspace, default_loops(instance))
        click.echo(f"oprun daemon {controller.daemon_id} on {instance.root_directory}", err=True)
        controller.run()
    finally:
        instance.dispose()


def _status(instance: Any) -> dict[str, Any]:
    from oprun.daemon.controller import daemon_status

    return daemon_status(instance)


@daemon_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def daemon_status(as_json: bool) -> None:
    """Whether a daemon is alive, and what each loop last did. Exits 1 when a
    loop has not beaten its heart in the last 30 seconds.

    Example: oprun daemon status
    """
    from oprun.instance import DagsterInstance

    with user_errors():
        instance = DagsterInstance.get()
        try:
            status = _status(instance)
        finally:
            instance.dispose()
    if as_json:
        click.echo(json.dumps(status, indent=2))
    else:
        active = status["active_daemon"]
        click.echo(f"Daemon: {'active, ' + active if active else 'none active'}")
        for daemon_type, loop in status["loops"].items():
            if loop["last_heartbeat_seconds_ago"] is None:
                click.echo(f"  {daemon_type}: never ran")
                continue
            state = "alive" if loop["alive"] else "NOT ALIVE"
            click.echo(f"  {daemon_type}: {state}, last heartbeat {loop['last_heartbeat_seconds_ago']} s ago: {loop['last_iteration'] or '-'}")
            for error in loop["errors"]:
                last_line = error.strip().splitlines()[-1] if error.strip() else error
                click.echo(f"    last error: {last_line}")
    if not status["healthy"]:
        raise CliFailure("", 1)


@daemon_group.command("wipe")
def daemon_wipe() -> None:
    """Forget every stored daemon heartbeat (a daemon still running stores new ones)."""
    from oprun.instance import DagsterInstance

    with user_errors():
        instance = DagsterInstance.get()
        try:
            instance.wipe_daemon_heartbeats()
        finally:
            instance.dispose()
    click.echo("Daemon heartbeats wiped.")
