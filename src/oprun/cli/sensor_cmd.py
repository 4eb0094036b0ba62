"""`oprun sensor ...`: list, start, stop, preview, cursor, logs.

Sensors come from the code locations named with `-f/-m/-w` (as `oprun job`);
their state (running or stopped, cursor, ticks) from the instance of
`$OPRUN_HOME`. Starting a sensor only records it as running: the daemon's sensor
loop (`oprun daemon run`) evaluates it. `preview` evaluates once here and stores
and launches nothing.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import click

from oprun.cli.errors import CliFailure, user_errors
from oprun.cli.jobs import _locations, _where, location_options
from oprun.cli.output import echo_json, echo_lines, echo_table


def _instance() -> Any:
    from oprun.instance import DagsterInstance

    with user_errors():
        return DagsterInstance.get()


def _all_sensors(kw: dict[str, Any]) -> list[tuple[Any, Any, Any]]:
    """(location, definitions, sensor) for every sensor of the named locations."""
    found: list[tuple[Any, Any, Any]] = []
    for location in _locations(kw):
        if kw.get("location") and location.name != kw["location"]:
            continue
        with user_errors():
            definitions = location.load()
        found.extend((location, definitions, sensor) for sensor in definitions.sensor_defs)
    return found


def _pick(kw: dict[str, Any], name: str) -> tuple[Any, Any, Any]:
    sensors = _all_sensors(kw)
    matches = [item for item in sensors if item[2].name == name]
    if len(matches) == 1:
        return matches[0]
    if matches:
        where = ", ".join(location.name for location, _, _ in matches)
        raise CliFailure(f"Error: sensor '{name}' is in several code locations ({where}); pick one with --location.", 2)
    from oprun.errors import did_you_mean

    names = sorted({sensor.name for _, _, sensor in sensors})
    raise CliFailure(
        f"Error: no sensor named '{name}' in {_where(kw)}.{did_you_mean(name, names)} "
        f"Sensors: {', '.join(names) or 'none'}.", 2,
    )


def _name_options(fn: Any) -> Any:
    fn = click.option("-l", "--location", help="The code location of the sensor (when several have one of that name).")(fn)
    return location_options(fn)


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "-"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _short(text: str | None, width: int = 40) -> str:
    if text is None:
        return "-"
    return text if len(text) <= width else text[: width - 3] + "..."


def _stored_status(instance: Any, location: Any, sensor: Any) -> str | None:
    from oprun.instigation import instigator_id

    state = instance.get_instigator_state(instigator_id(location.name, sensor.name))
    return state.status.value if state is not None else None


@click.group("sensor")
def sensor_group() -> None:
    """List, start, stop and preview sensors; show or set their cursors."""


@sensor_group.command("list")
@_name_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def sensor_list(as_json: bool, **kw: Any) -> None:
    """List the sensors of a code location: type, jobs, status (and whether it is
    the code's default_status), minimum interval, cursor and last tick.

    Example: oprun sensor list -f sensors.py
    """
    from oprun.daemon.sensors import sensor_status
    from oprun.instigation import InstigatorType, instigator_id

    sensors = _all_sensors(kw)
    with _instance() as instance, user_errors():
        states = {s.id: s for s in instance.all_instigator_state(InstigatorType.SENSOR)}
        rows = []
        for location, _definitions, sensor in sensors:
            sid = instigator_id(location.name, sensor.name)
            state = states.get(sid)
            status, from_default = sensor_status(sensor, state)
            ticks = instance.get_ticks(sid, limit=1)
            last = ticks[0] if ticks else None
            rows.append({
                "name": sensor.name, "location": location.name, "type": sensor.sensor_type, "jobs": sensor.job_names,
                "status": status.value, "status_from_default": from_default,
                "minimum_interval_seconds": sensor.minimum_interval_seconds,
                "cursor": state.cursor if state is not None else None,
                "last_tick": {"status": last.status.value, "timestamp": last.timestamp} if last is not None else None,
            })
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo(f"No sensors in {_where(kw)}.")
        return
    echo_table(
        ["Name", "Type", "Jobs", "Status", "Interval", "Cursor", "Last tick"],
        [
            [
                r["name"], r["type"], ", ".join(r["jobs"]) or "-",
                r["status"] + (" (default)" if r["status_from_default"] else ""),
                f"{r['minimum_interval_seconds']}s", _short(r["cursor"]),
                f"{r['last_tick']['status']} {_when(r['last_tick']['timestamp'])}" if r["last_tick"] else "-",
            ]
            for r in rows
        ],
    )


@sensor_group.command("start")
@click.argument("name")
@_name_options
def sensor_start(name: str, **kw: Any) -> None:
    """Record a sensor as running: the daemon evaluates it from its next loop.

    Example: oprun sensor start new_files -f sensors.py
    """
    from oprun.daemon.sensors import start_sensor

    location, _definitions, sensor = _pick(kw, name)
    with _instance() as instance, user_errors():
        already = _stored_status(instance, location, sensor) == "RUNNING"
        start_sensor(instance, location.name, sensor)
    if already:
        click.echo(f"Sensor {name} (code location {location.name}) was already running.")
        return
    click.echo(f"Started sensor {name} (code location {location.name}).")


@sensor_group.command("stop")
@click.argument("name")
@_name_options
def sensor_stop(name: str, **kw: Any) -> None:
    """Record a sensor as stopped (its cursor is kept for when it starts again).

    Example: oprun sensor stop new_files -f sensors.py
    """
    from oprun.daemon.sensors import stop_sensor

    location, _definitions, sensor = _pick(kw, name)
    with _instance() as instance, user_errors():
        already = _stored_status(instance, location, sensor) == "STOPPED"
        stop_sensor(instance, location.name, sensor)
    if already:
        click.echo(f"Sensor {name} (code location {location.name}) was already stopped.")
        return
    click.echo(f"Stopped sensor {name} (code location {location.name}).")


@sensor_group.command("preview")
@click.argument("name")
@_name_options
@click.option("--cursor", "cursor", help="Evaluate from this cursor instead of the stored one.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def sensor_preview(name: str, cursor: str | None, as_json: bool, **kw: Any) -> None:
    """Evaluate a sensor once now and show what it would request; stores and
    launches nothing. Exits 1 when the sensor fails.

    Example: oprun sensor preview new_files -f sensors.py --cursor 41
    """
    from oprun.daemon.sensors import STORED_CURSOR, preview_sensor

    location, definitions, sensor = _pick(kw, name)
    with _instance() as instance, user_errors():
        preview = preview_sensor(instance, location.name, definitions, sensor, STORED_CURSOR if cursor is None else cursor)
    if as_json:
        echo_json(preview.to_dict())
    else:
        lines = [f"Sensor {name}, from cursor {preview.cursor_before!r}:"]
        if preview.error is not None:
            lines.append(f"Error: {preview.error['message']}")
            lines.append(str(preview.error.get("traceback") or "").rstrip())
        elif preview.run_requests:
            for request in preview.run_requests:
                known = preview.existing_runs.get(request.run_key or "")
                note = f" (already launched: run {known}; not launched again)" if known else ""
                lines.append(f"RunRequest job={request.job_name} run_key={request.run_key}{note}")
                if request.run_config:
                    lines.append(f"  run_config: {json.dumps(dict(request.run_config), sort_keys=True)}")
                extra = {k: v for k, v in request.tags.items() if k != "dagster/sensor_name"}
                if extra:
                    lines.append(f"  tags: {json.dumps(extra, sort_keys=True)}")
        else:
            lines.append(f"Skipped: {preview.skip_reason or 'no run requests'}")
        lines.append(f"New cursor: {preview.cursor!r}")
        echo_lines(lines)
    if preview.error is not None:
        raise CliFailure("", 1)


@sensor_group.command("cursor")
@click.argument("name")
@_name_options
@click.option("--set", "value", help="Set the cursor the next evaluation gets.")
@click.option("--delete", is_flag=True, help="Delete the cursor: the next evaluation starts without one.")
def sensor_cursor(name: str, value: str | None, delete: bool, **kw: Any) -> None:
    """Show a sensor's cursor, or set (--set VALUE) or delete (--delete) it.

    Example: oprun sensor cursor new_files -f sensors.py --set 2024-01-01
    """
    from oprun.daemon.sensors import set_sensor_cursor
    from oprun.instigation import instigator_id

    if value is not None and delete:
        raise CliFailure("Error: pass --set VALUE or --delete, not both.", 2)
    location, _definitions, sensor = _pick(kw, name)
    with _instance() as instance, user_errors():
        if value is None and not delete:
            state = instance.get_instigator_state(instigator_id(location.name, sensor.name))
            current = state.cursor if state is not None else None
            click.echo(current if current is not None else f"Sensor {name} has no cursor.")
            return
        set_sensor_cursor(instance, location.name, sensor, None if delete else value)
    click.echo(f"Deleted the cursor of sensor {name}." if delete else f"Set the cursor of sensor {name} to {value!r}.")


@sensor_group.command("logs")
@click.argument("name")
@_name_options
@click.option("-n", "--limit", default=10, show_default=True, type=click.IntRange(min=1), help="How many ticks, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def sensor_logs(name: str, limit: int, as_json: bool, **kw: Any) -> None:
    """Show a sensor's latest ticks: time, status, runs, skip reason or error.

    Example: oprun sensor logs new_files -f sensors.py -n 5
    """
    from oprun.instigation import instigator_id

    location, _definitions, sensor = _pick(kw, name)
    with _instance() as instance, user_errors():
        ticks = instance.get_ticks(instigator_id(location.name, sensor.name), limit=limit)
    if as_json:
        echo_json([t.to_dict() for t in ticks])
        return
    if not ticks:
        click.echo(f"Sensor {name} has no ticks yet.")
        return
    lines = []
    for tick in ticks:
        detail = ""
        if tick.error is not None:
            detail = str(tick.error.get("message") or "")
        elif tick.run_ids:
            detail = f"runs {', '.join(tick.run_ids)}"
        elif tick.skip_reason:
            detail = tick.skip_reason
        lines.append(f"{_when(tick.timestamp)}  {tick.status.value:<8} {detail}".rstrip())
        if tick.error is not None and tick.error.get("traceback"):
            lines.extend(f"    {line}" for line in str(tick.error["traceback"]).rstrip().splitlines())
    echo_lines(lines)
