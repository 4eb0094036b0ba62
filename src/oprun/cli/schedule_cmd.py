"""`oprun schedule ...`: list, start, stop, preview, logs.

Schedules come from the code locations named with `-f/-m/-w` (as for `oprun job`);
their state and ticks from the instance of `$OPRUN_HOME`. Starting and stopping
store the state the daemon's schedule loop reads on its next iteration; preview
evaluates ticks without launching or storing anything.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from oprun.cli.errors import CliFailure, user_errors
from oprun.cli.jobs import _locations, _where, location_options
from oprun.cli.output import echo_json, echo_lines, echo_table


@click.group("schedule")
def schedule_group() -> None:
    """List, start, stop and preview schedules; show their ticks."""


def _instance() -> Any:
    from oprun.instance import DagsterInstance

    with user_errors():
        return DagsterInstance.get()


def _all_schedules(kw: dict[str, Any]) -> list[tuple[Any, Any, Any]]:
    """(location, definitions, schedule) for every schedule of the named locations."""
    found = []
    for location in _locations(kw):
        with user_errors():
            definitions = location.load()
        for schedule in definitions.schedule_defs:
            found.append((location, definitions, schedule))
    return found


def _pick(kw: dict[str, Any], name: str, location_name: str | None) -> tuple[Any, Any, Any]:
    from oprun.errors import did_you_mean

    everything = _all_schedules(kw)
    matches = [item for item in everything if item[2].name == name and location_name in (None, item[0].name)]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        where = ", ".join(item[0].name for item in matches)
        raise CliFailure(f"Error: Schedule '{name}' is in several code locations ({where}): pass --location.", 2)
    names = sorted({item[2].name for item in everything})
    raise CliFailure(
        f"Error: Schedule '{name}' not found in {_where(kw)}.{did_you_mean(name, names)} "
        f"Schedules: {', '.join(names) or 'none'}.", 2,
    )


def _iso(timestamp: float, schedule: Any) -> str:
    from oprun.daemon.schedules import schedule_timezone

    return datetime.fromtimestamp(timestamp, schedule_timezone(schedule)).isoformat()


def _cron_text(schedule: Any) -> str:
    cron = schedule.cron_schedule
    return cron if isinstance(cron, str) else ", ".join(cron)


_location_option = click.option("-l", "--location", "location_name", help="The code location of the schedule (when two have one of that name).")


@schedule_group.command("list")
@location_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def schedule_list(as_json: bool, **kw: Any) -> None:
    """The schedules of the code locations, with their status and next tick."""
    from oprun import clock
    from oprun.daemon.schedules import next_tick_time, schedule_status
    from oprun.instigation import InstigatorStatus, InstigatorType, instigator_id

    schedules = _all_schedules(kw)
    instance = _instance()
    with user_errors():
        states = {state.id: state for state in instance.all_instigator_state(InstigatorType.SCHEDULE)}
    now = clock.timestamp()
    rows = []
    for location, _, schedule in schedules:
        status, from_code = schedule_status(schedule, states.get(instigator_id(location.name, schedule.name)))
        upcoming = next_tick_time(schedule, now) if status is InstigatorStatus.RUNNING else None
        rows.append({
            "name": schedule.name, "location": location.name, "cron_schedule": schedule.cron_schedule,
            "execution_timezone": schedule.execution_timezone or "UTC", "job_name": schedule.job_name,
            "status": status.value, "from_code_default": from_code,
            "next_tick": upcoming.isoformat() if upcoming is not None else None,
        })
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo(f"No schedules in {_where(kw)}.")
        return
    echo_table(
        ["NAME", "CRON", "TIMEZONE", "JOB", "STATUS", "NEXT TICK"],
        [
            [
                row["name"], _cron_text(schedule), row["execution_timezone"], row["job_name"],
                row["status"] + (" (default)" if row["from_code_default"] else ""), row["next_tick"] or "-",
            ]
            for row, (_, _, schedule) in zip(rows, schedules, strict=True)
        ],
    )


def _start_or_stop(kw: dict[str, Any], names: tuple[str, ...], all_: bool, location_name: str | None, start: bool) -> None:
    from oprun.daemon.schedules import schedule_status, start_schedule, stop_schedule
    from oprun.instigation import InstigatorStatus, instigator_id

    verb = "start" if start else "stop"
    if not names and not all_:
        raise CliFailure(f"Error: name the schedule(s) to {verb}, or pass --all.", 2)
    if names and all_:
        raise CliFailure("Error: pass either schedule names or --all, not both.", 2)
    chosen = (
        [item for item in _all_schedules(kw) if location_name in (None, item[0].name)]
        if all_ else [_pick(kw, name, location_name) for name in names]
    )
    instance = _instance()
    for location, _, schedule in chosen:
        with user_errors():
            before, _ = schedule_status(schedule, instance.get_instigator_state(instigator_id(location.name, schedule.name)))
            if start:
                start_schedule(instance, location.name, schedule)
            else:
                stop_schedule(instance, location.name, schedule)
        wanted = InstigatorStatus.RUNNING if start else InstigatorStatus.STOPPED
        note = " (it was already)" if before is wanted else ""
        click.echo(f"{'Started' if start else 'Stopped'} schedule {schedule.name}{note}.")
    if not chosen:
        click.echo(f"No schedules in {_where(kw)}.")


@schedule_group.command("start")
@location_options
@click.argument("names", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Start every schedule of the code locations.")
@_location_option
def schedule_start(names: tuple[str, ...], all_: bool, location_name: str | None, **kw: Any) -> None:
    """Start schedules: the daemon launches their ticks from now on (no catch-up of
    ticks before now)."""
    _start_or_stop(kw, names, all_, location_name, start=True)


@schedule_group.command("stop")
@location_options
@click.argument("names", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Stop every schedule of the code locations.")
@_location_option
def schedule_stop(names: tuple[str, ...], all_: bool, location_name: str | None, **kw: Any) -> None:
    """Stop schedules: the daemon evaluates them no more (until started)."""
    _start_or_stop(kw, names, all_, location_name, start=False)


def _yaml(value: Any) -> str:
    import yaml

    return yaml.safe_dump(value, sort_keys=False, default_flow_style=False).rstrip("\n")


def _error_lines(message: str) -> list[str]:
    first, *rest = message.splitlines() or [""]
    return [f"  error: {first}", *_indent("\n".join(rest), 4)]


def _indent(text: str, spaces: int) -> list[str]:
    return [" " * spaces + line for line in text.splitlines()]


@schedule_group.command("preview")
@location_options
@click.argument("name")
@click.option("-n", "--count", default=1, show_default=True, type=click.IntRange(1, 1000), help="How many ticks.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_location_option
def schedule_preview(name: str, count: int, as_json: bool, location_name: str | None, **kw: Any) -> None:
    """Evaluate the next ticks of a schedule from now, launching and storing
    nothing: the run requests (with their run config), the skip reason or the
    error of each. Exit status 1 when a tick has an error."""
    from oprun.daemon.schedules import preview_schedule

    _, definitions, schedule = _pick(kw, name, location_name)
    instance = _instance()
    with user_errors():
        evaluations = preview_schedule(instance, definitions, schedule, count)
    if as_json:
        echo_json([
            {
                "scheduled_time": e.scheduled_time.isoformat(),
                "run_requests": [
                    {"run_key": r.run_key, "run_config": dict(r.run_config), "tags": dict(r.tags), "partition_key": r.partition_key}
                    for r in e.run_requests
                ],
                "skip_reason": e.skip_reason, "error": e.error,
            }
            for e in evaluations
        ])
    else:
        lines: list[str] = []
        for e in evaluations:
            lines.append(f"{e.scheduled_time.isoformat()}")
            if e.error is not None:
                lines.extend(_error_lines(str(e.error["message"])))
                if e.error.get("traceback"):
                    lines.extend(_indent(e.error["traceback"].rstrip("\n"), 4))
            elif e.skip_reason is not None:
                lines.append(f"  skipped: {e.skip_reason}")
            else:
                for index, request in enumerate(e.run_requests, start=1):
                    lines.append(f"  run request {index}" + (f" (run_key {request.run_key})" if request.run_key else "") + ":")
                    if request.tags:
                        lines.append("    tags: " + ", ".join(f"{k}={v}" for k, v in request.tags.items()))
                    lines.append("    run_config:" + (" {}" if not request.run_config else ""))
                    if request.run_config:
                        lines.extend(_indent(_yaml(dict(request.run_config)), 6))
        echo_lines(lines)
    if any(e.error is not None for e in evaluations):
        raise CliFailure("", 1)


@schedule_group.command("logs")
@location_options
@click.argument("name")
@click.option("-n", "--limit", default=10, show_default=True, type=click.IntRange(1), help="How many ticks, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_location_option
def schedule_logs(name: str, limit: int, as_json: bool, location_name: str | None, **kw: Any) -> None:
    """The stored ticks of a schedule, newest first: time, status, runs, skip
    reason, error with traceback."""
    from oprun.instigation import instigator_id

    location, _, schedule = _pick(kw, name, location_name)
    instance = _instance()
    with user_errors():
        ticks = instance.get_ticks(instigator_id(location.name, schedule.name), limit=limit)
    if as_json:
        echo_json([{**tick.to_dict(), "time": _iso(tick.timestamp, schedule)} for tick in ticks])
        return
    if not ticks:
        click.echo(f"No ticks of schedule {schedule.name} yet.")
        return
    lines: list[str] = []
    for tick in ticks:
        lines.append(f"{_iso(tick.timestamp, schedule)}  {tick.status.value}  (tick {tick.tick_id})")
        for run_id in tick.run_ids:
            lines.append(f"  run {run_id}")
        if tick.skip_reason:
            lines.append(f"  skipped: {tick.skip_reason}")
        if tick.error:
            lines.extend(_error_lines(str(tick.error.get("message", ""))))
            if tick.error.get("traceback"):
                lines.extend(_indent(str(tick.error["traceback"]).rstrip("\n"), 4))
    echo_lines(lines)

