"""`oprun job backfill` (ask for a partition backfill of a job) and `oprun
backfill list / show / cancel`.

A backfill is stored REQUESTED; the daemon's backfill loop (`oprun daemon run`)
makes its runs, one per partition (oprun.daemon.backfills). Canceling with no
daemon alive cancels the runs here, so the command never waits on nobody.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import click

from oprun.cli.errors import CliFailure, user_errors
from oprun.cli.jobs import location_options, pick_job, read_run_config, read_tags
from oprun.cli.output import echo_json, echo_lines, echo_table

_STATUSES = ["REQUESTED", "COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELING", "CANCELED"]


@contextmanager
def _instance() -> Iterator[Any]:
    from oprun.instance import DagsterInstance

    with user_errors():
        instance = DagsterInstance.get()
    try:
        yield instance
    finally:
        instance.dispose()


def _fmt_time(stamp: float | None) -> str:
    return "-" if stamp is None else datetime.fromtimestamp(stamp).strftime("%Y-%m-%d %H:%M:%S")


def _shown(keys: list[str], limit: int = 12) -> str:
    return ", ".join(keys) if len(keys) <= limit else ", ".join([*keys[:5], "...", *keys[-5:]])


@click.command("backfill")
@location_options
@click.option("-j", "--job", "job_name", help="The partitioned job to backfill.")
@click.option("--partitions", help="Comma-separated partition keys to backfill, e.g. 2024-01-01,2024-01-02.")
@click.option("--from", "from_key", help="The first partition of a range (default: the first partition).")
@click.option("--to", "to_key", help="The last partition of a range (default: the last partition).")
# A flag that also takes a value, as Dagster's (`--all` or `--all TRUE`).
@click.option("--all", "all_partitions", is_flag=False, flag_value="TRUE", default=None, help="Backfill every partition.")
@click.option("--tags", help='Tags for every run of the backfill, as a JSON object, e.g. \'{"team": "data"}\'.')
@click.option("-c", "--config", "config_files", multiple=True, type=click.Path(), help="Run config YAML merged over each partition's config (repeatable).")
@click.option("--config-json", help="Run config as a JSON string, merged over each partition's config.")
@click.option("--noprompt", is_flag=True, help="Do not ask for confirmation.")
def job_backfill(
    job_name: str | None,
    partitions: str | None,
    from_key: str | None,
    to_key: str | None,
    all_partitions: str | None,
    tags: str | None,
    config_files: tuple[str, ...],
    config_json: str | None,
    noprompt: bool,
    **kw: Any,
) -> None:
    """Ask for a backfill of a partitioned job: one run per partition, made by the
    daemon (`oprun daemon run`) a few at a time. Prints the backfill's id.

    Choose the partitions with --partitions, with a range --from/--to (by the
    partitions' order), or --all (the default when none is chosen).

    Example: oprun job backfill -f jobs.py -j daily_load --from 2024-01-01 --to 2024-01-31 --noprompt
    """
    from oprun.daemon.backfills import BACKFILL_DAEMON_TYPE, check_partition_run_config, create_backfill, job_partition_keys, select_partitions

    location, job = pick_job(kw, job_name)
    overrides = read_run_config(config_files, config_json)
    run_tags = {str(k): str(v) for k, v in read_tags(tags).items()}
    with _instance() as instance:
        with user_errors():
            keys = job_partition_keys(job, instance)
            chosen = select_partitions(
                job.name, keys, partitions=partitions.split(",") if partitions is not None else None,
                from_key=from_key, to_key=to_key, all_partitions=bool(all_partitions),
            )
        # Each partition's config is checked now: a bad one is refused before anything is stored.
        for key in chosen:
            with user_errors(f"partition '{key}' of job '{job.name}'"):
                check_partition_run_config(job, key, overrides or None)
        click.echo(f"Job: {job.name}", err=True)
        click.echo(f"Partitions ({len(chosen)}): {_shown(chosen)}", err=True)
        if not noprompt:
            click.confirm(f"Do you want to proceed with the backfill ({len(chosen)} partitions)?", abort=True, err=True)
        with user_errors():
            backfill = create_backfill(instance, location, job, chosen, tags=run_tags, run_config=overrides or None)
            alive = instance.daemon_is_alive(BACKFILL_DAEMON_TYPE)
    click.echo(backfill.backfill_id)
    note = "the daemon makes its runs" if alive else "no daemon is running: start `oprun daemon run` (with the same -f/-m/-w) to make its runs"
    click.echo(f"Backfill {backfill.backfill_id} requested for {len(chosen)} partitions of {job.name}; {note}.", err=True)


@click.group("backfill")
def backfill_group() -> None:
    """List, inspect and cancel partition backfills."""


def _summary(instance: Any, backfill: Any) -> dict[str, Any]:
    from oprun.daemon.backfills import partition_statuses, status_counts

    rows = partition_statuses(instance, backfill)
    return {
        **backfill.to_dict(),
        "partitions": [{"partition": key, "run_id": run_id, "run_status": status} for key, run_id, status in rows],
        "counts": status_counts(rows),
    }


@backfill_group.command("list")
@click.option("--status", type=click.Choice(_STATUSES, case_sensitive=False), help="Only backfills with this status.")
@click.option("--limit", default=50, show_default=True, help="At most this many backfills, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def backfill_list(status: str | None, limit: int, as_json: bool) -> None:
    """List backfills, newest first.

    Example: oprun backfill list --status REQUESTED
    """
    from oprun.instigation import BulkActionStatus

    with _instance() as instance, user_errors():
        backfills = instance.get_backfills(BulkActionStatus(status.upper()) if status else None, limit=limit)
        if as_json:
            echo_json([_summary(instance, b) for b in backfills])
            return
    rows = [
        (b.backfill_id, b.status.value, b.job_name, len(b.partition_names), len(b.run_ids), _fmt_time(b.backfill_timestamp))
        for b in backfills
    ]
    echo_table(["backfill_id", "status", "job", "partitions", "runs", "created"], rows)


@backfill_group.command("show")
@click.argument("backfill_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def backfill_show(backfill_id: str, as_json: bool) -> None:
    """A backfill: its job, status, and each partition's run and run status.

    Example: oprun backfill show qwertyui
    """
    from oprun.daemon.backfills import find_backfill

    with _instance() as instance, user_errors():
        backfill = find_backfill(instance, backfill_id)
        summary = _summary(instance, backfill)
    if as_json:
        echo_json(summary)
        return
    counts = ", ".join(f"{status} {count}" for status, count in sorted(summary["counts"].items()))
    lines = [
        f"Backfill: {backfill.backfill_id}",
        f"Job: {backfill.job_name} (code location {backfill.location_name})",
        f"Status: {backfill.status.value}",
        f"Created: {_fmt_time(backfill.backfill_timestamp)}",
    ]
    if backfill.end_timestamp is not None:
        lines.append(f"Ended: {_fmt_time(backfill.end_timestamp)}")
    if backfill.tags:
        lines.append("Tags: " + ", ".join(f"{k}={v}" for k, v in backfill.tags.items()))
    if backfill.error:
        lines.append(f"Error: {backfill.error}")
    lines.append(f"Partitions: {len(backfill.partition_names)} ({counts})")
    echo_lines(lines)
    echo_table(["partition", "run_id", "run_status"], [(p["partition"], p["run_id"] or "-", p["run_status"]) for p in summary["partitions"]])


@backfill_group.command("cancel")
@click.argument("backfill_id")
def backfill_cancel(backfill_id: str) -> None:
    """Cancel a backfill: no more runs are made, its queued runs are canceled and
    those in progress terminated (by the daemon, or here when no daemon runs).

    Example: oprun backfill cancel qwertyui
    """
    from oprun.daemon.backfills import BACKFILL_DAEMON_TYPE, cancel_backfill
    from oprun.instigation import BulkActionStatus

    with _instance() as instance, user_errors():
        backfill = cancel_backfill(instance, backfill_id)
        if backfill.status is BulkActionStatus.CANCELING and instance.daemon_is_alive(BACKFILL_DAEMON_TYPE):
            click.echo(f"Backfill {backfill_id} is CANCELING: the daemon cancels its runs.")
            return
    if backfill.status is BulkActionStatus.CANCELED:
        click.echo(f"Backfill {backfill_id} canceled.")
        return
    raise CliFailure(
        f"Backfill {backfill_id} is {backfill.status.value}: some of its runs are still being terminated; "
        f"see `oprun backfill show {backfill_id}`.", 1,
    )
