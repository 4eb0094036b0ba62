"""`oprun run ...`: list, show, logs, reexecute, cancel, delete, prune; and the
hidden `run-worker` used by the run launcher."""

from __future__ import annotations

import re
import sys
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import click

from oprun.cli.errors import CliFailure, user_errors
from oprun.cli.output import echo_json, echo_table

if TYPE_CHECKING:
    from oprun.runs import DagsterRunStatus


def _instance() -> Any:
    from oprun.instance import DagsterInstance

    with user_errors():
        return DagsterInstance.get()


def _run_or_fail(instance: Any, run_id: str) -> Any:
    run = instance.get_run_by_id(run_id)
    if run is None:
        from oprun.errors import did_you_mean

        recent = [r.run_id for r in instance.get_runs(limit=50)]
        raise CliFailure(f"Error: no run {run_id} in {instance.root_directory}.{did_you_mean(run_id, recent)}", 2)
    return run


def _fmt_time(stamp: float | None) -> str:
    if stamp is None:
        return "-"
    from datetime import datetime

    return datetime.fromtimestamp(stamp).strftime("%Y-%m-%d %H:%M:%S")


def _duration(record: Any) -> str:
    if record.start_time is None:
        return "-"
    end = record.end_time
    if end is None:
        import time

        end = time.time()
    return f"{end - record.start_time:.2f}s"


@click.group("run")
def run_group() -> None:
    """Browse and manage recorded runs."""


@run_group.command("list")
@click.option("--job", "job_name", help="Only runs of this job.")
@click.option("--status", "statuses", multiple=True, help="Only runs with this status (repeatable), e.g. FAILURE.")
@click.option("--tag", "tags", multiple=True, help="Only runs with this tag, as key=value (repeatable).")
@click.option("--limit", default=50, show_default=True, help="At most this many runs, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def run_list(job_name: str | None, statuses: tuple[str, ...], tags: tuple[str, ...], limit: int, as_json: bool) -> None:
    """List runs, newest first.

    Example: oprun run list --job nightly --status FAILURE --tag team=data
    """
    from oprun.runs import DagsterRunStatus, RunsFilter

    wanted = []
    for status in statuses:
        try:
            wanted.append(DagsterRunStatus(status.upper()))
        except ValueError:
            from oprun.errors import did_you_mean

            names = [s.value for s in DagsterRunStatus]
            raise CliFailure(f"Error: unknown status '{status}'. Expected one of {names}.{did_you_mean(status.upper(), names)}", 2) from None
    tag_filter = {}
    for tag in tags:
        if "=" not in tag:
            raise CliFailure(f"Error: --tag takes key=value, got '{tag}'.", 2)
        key, value = tag.split("=", 1)
        tag_filter[key] = value
    with _instance() as instance:
        records = instance.get_run_records(RunsFilter(job_name=job_name, statuses=wanted or None, tags=tag_filter or None), limit=limit)
    if as_json:
        echo_json([
            {"run_id": r.dagster_run.run_id, "job_name": r.dagster_run.job_name, "status": r.dagster_run.status.value,
             "created": r.create_timestamp.isoformat(), "start_time": r.start_time, "end_time": r.end_time,
             "tags": dict(r.dagster_run.tags)}
            for r in records
        ])
        return
    rows = [(r.dagster_run.run_id, r.dagster_run.job_name, r.dagster_run.status.value, _fmt_time(r.start_time), _duration(r)) for r in records]
    echo_table(["run_id", "job", "status", "started", "duration"], rows)


def _entry_error(entry: Any) -> Any:
    """The error an entry carries (its event's payload, or the entry's own), or None."""
    from oprun.definitions.logger import event_error

    return event_error(entry.dagster_event) or entry.error_info


def _error_data(error: Any, depth: int = 0) -> dict[str, Any] | None:
    """An error as data: its class, message, stack (a list of frames) and cause."""
    if error is None or depth > 10:
        return None
    data = {
        "cls_name": getattr(error, "cls_name", None), "message": getattr(error, "message", str(error)),
        "stack": list(getattr(error, "stack", None) or []), "cause": _error_data(getattr(error, "cause", None), depth + 1),
    }
    context = _error_data(getattr(error, "context", None), depth + 1)
    if context is not None:
        data["context"] = context
    return data


def _steps(entries: list[Any], run_status: DagsterRunStatus) -> list[dict[str, Any]]:
    from oprun.runs import FINISHED_RUN_STATUSES, DagsterRunStatus

    steps: dict[str, dict[str, Any]] = {}
    closing = {"STEP_SUCCESS": "SUCCESS", "STEP_FAILURE": "FAILURE", "STEP_SKIPPED": "SKIPPED", "STEP_UP_FOR_RETRY": "RETRYING"}
    for entry in entries:
        event = entry.dagster_event
        if event is None or not event.step_key:
            continue
        step = steps.setdefault(event.step_key, {"step_key": event.step_key, "status": "RUNNING", "start": None, "end": None, "error": None})
        if event.event_type_value in ("STEP_START", "STEP_RESTARTED") and step["start"] is None:
            step["start"] = entry.timestamp
        if event.event_type_value in closing:
            step["status"] = closing[event.event_type_value]
            step["end"] = entry.timestamp
            # A failed (or retrying) step's error: its message, stack and causes.
            step["error"] = _error_data(_entry_error(entry))
    for step in steps.values():
        step["duration"] = (step["end"] - step["start"]) if step["start"] and step["end"] else None
        if step["status"] == "RUNNING" and run_status in FINISHED_RUN_STATUSES:
            # No closing event, and none will come: its process was killed (a
            # cancel's SIGKILL, a crash). Not RUNNING, which it no longer is.
            step["status"] = "CANCELED" if run_status == DagsterRunStatus.CANCELED else "ABANDONED"
    return list(steps.values())


def _run_error(entries: list[Any]) -> dict[str, Any] | None:
    """The run-level failure's error (RUN_FAILURE, or the engine event that
    recorded it), or None when the run failed only because steps did."""
    found = None
    for entry in entries:
        event = entry.dagster_event
        if event is None or event.step_key or event.event_type_value not in ("RUN_FAILURE", "ENGINE_EVENT"):
            continue
        error = _entry_error(entry)
        if error is not None:
            found = error
    return _error_data(found)


def _indented(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line if line else line for line in text.splitlines())


def _error_from_data(data: dict[str, Any] | None) -> Any:
    from oprun.events import SerializableErrorInfo

    if data is None:
        return None
    return SerializableErrorInfo(
        data["message"], data["stack"], data["cls_name"], _error_from_data(data.get("cause")), _error_from_data(data.get("context")),
    )


def _error_text(data: dict[str, Any]) -> str:
    from oprun.definitions.logger import format_error

    return format_error(_error_from_data(data))


@run_group.command("show")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def run_show(run_id: str, as_json: bool) -> None:
    """Show a run: status, timing, config, tags and its steps.

    Example: oprun run show 6f1c...
    """
    with _instance() as instance:
        run = _run_or_fail(instance, run_id)
        record = instance.get_run_record_by_id(run_id)
        entries = instance.all_logs(run_id)
    steps = _steps(entries, run.status)
    run_error = _run_error(entries)
    data = {
        "run_id": run.run_id, "job_name": run.job_name, "status": run.status.value,
        "start_time": record.start_time, "end_time": record.end_time, "tags": dict(run.tags),
        "run_config": run.run_config, "parent_run_id": run.parent_run_id, "root_run_id": run.root_run_id,
        "op_selection": run.op_selection, "steps": steps, "error": run_error,
    }
    if as_json:
        echo_json(data)
        return
    import yaml

    click.echo(f"Run {run.run_id}  job {run.job_name}  {run.status.value}")
    click.echo(f"Started {_fmt_time(record.start_time)}  ended {_fmt_time(record.end_time)}  took {_duration(record)}")
    if run.parent_run_id:
        click.echo(f"Re-execution of {run.parent_run_id} (root {run.root_run_id})")
    if run.tags:
        click.echo("Tags: " + ", ".join(f"{k}={v}" for k, v in sorted(run.tags.items())))
    click.echo("Config:")
    click.echo("  " + yaml.safe_dump(dict(run.run_config) or {}, default_flow_style=False).strip().replace("\n", "\n  "))
    echo_table(["step", "status", "duration"], [(s["step_key"], s["status"], f"{s['duration']:.3f}s" if s["duration"] is not None else "-") for s in steps])
    for step in steps:
        if step["error"] is not None:
            click.echo(f"\nStep {step['step_key']} {'failed' if step['status'] == 'FAILURE' else 'failed and is retrying'}:")
            click.echo(_indented(_error_text(step["error"])))
    if run_error is not None:
        click.echo("\nRun failed:")
        click.echo(_indented(_error_text(run_error)))


@run_group.command("logs")
@click.argument("run_id")
@click.option("--step", "step_key", help="Only this step's events, and its stdout/stderr.")
def run_logs(run_id: str, step_key: str | None) -> None:
    """Print a run's events; with --step, also the step's captured stdout and stderr.

    Example: oprun run logs 6f1c... --step load
    """
    from datetime import datetime

    with _instance() as instance:
        run = _run_or_fail(instance, run_id)
        entries = instance.all_logs(run_id)
        logs_dir = instance.compute_logs_directory()
    for entry in entries:
        if step_key and entry.step_key != step_key:
            continue
        kind = entry.dagster_event.event_type_value if entry.dagster_event else "LOG"
        stamp = datetime.fromtimestamp(entry.timestamp).strftime("%H:%M:%S.%f")[:-3]
        click.echo(f"{stamp}  {entry.step_key or '-':<24} {kind:<18} {entry.message}")
        error = _entry_error(entry)
        if error is not None:  # under its line, as the console prints it
            from oprun.definitions.logger import format_error

            click.echo(_indented(format_error(error)))
    if step_key:
        from oprun.execution.compute_logs import read_compute_logs

        out, err = read_compute_logs(logs_dir, run.run_id, step_key)
        click.echo(f"--- stdout of {step_key} ---")
        click.echo(out.rstrip("\n"))
        click.echo(f"--- stderr of {step_key} ---")
        click.echo(err.rstrip("\n"))


@run_group.command("reexecute")
@click.argument("run_id")
@click.option("--from-failure", is_flag=True, help="Only the steps that failed or did not run.")
def run_reexecute(run_id: str, from_failure: bool) -> None:
    """Run a recorded run again (all steps, or from failure), loading its job from
    where it was recorded.

    Example: oprun run reexecute 6f1c... --from-failure
    """
    from oprun.execution.execute_job import create_run_for_job, execute_stored_run
    from oprun.execution.reconstruct import ReconstructableJob
    from oprun.execution.reexecution import ReexecutionOptions

    with _instance() as instance:
        parent = _run_or_fail(instance, run_id)
        if not parent.job_code_origin:
            raise CliFailure(f"Error: run {run_id} has no stored job pointer, so its job cannot be loaded again.", 2)
        with user_errors():
            recon = ReconstructableJob.from_dict(dict(parent.job_code_origin))
            options = ReexecutionOptions.from_failure(run_id, instance) if from_failure else ReexecutionOptions(run_id)
            job = recon.with_op_selection(None).get_definition()
            run = create_run_for_job(recon.with_op_selection(None), job, instance, None, None, options)
            success, _ = execute_stored_run(recon.with_op_selection(run.op_selection), run, instance)
    if not success:
        raise CliFailure(f"Run {run.run_id} resulted in failure.", 1)
    click.echo(f"Run {run.run_id} succeeded.")


@run_group.command("cancel")
@click.argument("run_id")
def run_cancel(run_id: str) -> None:
    """Cancel a run: a queued one is taken out of the queue; one in progress has its
    processes stopped (SIGTERM, then SIGKILL). Either way it ends CANCELED.

    Example: oprun run cancel 6f1c...
    """
    with _instance() as instance:
        _run_or_fail(instance, run_id)
        with user_errors():
            changed = instance.run_coordinator.cancel_run(run_id)
        status = instance.get_run_by_id(run_id).status.value
    click.echo(f"Run {run_id} {'canceled' if changed else 'was already finished'}: {status}.")


@run_group.command("delete")
@click.argument("run_id")
def run_delete(run_id: str) -> None:
    """Delete a run with its events, stored outputs and logs.

    Example: oprun run delete 6f1c...
    """
    with _instance() as instance:
        _run_or_fail(instance, run_id)
        instance.delete_run(run_id)
    click.echo(f"Deleted run {run_id}.")


_AGE = re.compile(r"^\s*(\d+)\s*([dhm])\s*$")


def parse_age(text: str) -> timedelta:
    match = _AGE.match(text)
    if match is None:
        raise CliFailure(f"Error: --older-than takes a number and a unit (d, h or m), e.g. 30d, 12h, 90m; got '{text}'.", 2)
    number, unit = int(match.group(1)), match.group(2)
    return {"d": timedelta(days=number), "h": timedelta(hours=number), "m": timedelta(minutes=number)}[unit]


@run_group.command("prune")
@click.option("--older-than", required=True, help="Age, e.g. 30d, 12h, 90m.")
def run_prune(older_than: str) -> None:
    """Delete finished runs older than an age, with their events, outputs and logs.

    Example: oprun run prune --older-than 30d
    """
    age = parse_age(older_than)
    with _instance() as instance:
        deleted = instance.prune_runs(age)
    click.echo(f"Deleted {len(deleted)} run{'s' if len(deleted) != 1 else ''} older than {older_than}.")


@click.command("run-worker", hidden=True)
@click.argument("run_id")
def run_worker(run_id: str) -> None:
    """Execute a recorded run in this process (the run launcher starts this)."""
    from oprun.execution.run_worker import main

    sys.exit(main([run_id]))
