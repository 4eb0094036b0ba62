"""`oprun definitions validate`: load code locations as the other commands do and
report what would stop their jobs from running, without running anything.

Reported: a code location that fails to load (its error, no traceback unless
`oprun --verbose`), and each job whose config fixed in its definition is invalid
(its default config, a value given to configured()), with the job's name and
every path. Exit 1 when anything is wrong, as Dagster's `dagster definitions
validate`; 0 with one "passed" line otherwise; 2 for usage errors.
"""

from __future__ import annotations

import os
import traceback
from typing import Any

import click

from oprun.cli.errors import CliFailure, _describe
from oprun.cli.jobs import _locations, location_options
from oprun.cli.output import echo_json, echo_lines

# Set while definitions are loaded for validation, as Dagster's command does, so
# user code can tell it is being validated rather than run.
VALIDATION_ENV = "DAGSTER_IS_DEFS_VALIDATION_CLI"


@click.group("definitions")
def definitions_group() -> None:
    """Check the definitions of code locations."""


def _check_location(location: Any) -> dict[str, Any]:
    """What is wrong with one location: its load error, or its jobs' config problems."""
    from oprun.cli.errors import _VERBOSE
    from oprun.definitions.jobs.config_schema import config_problems, describe_problems
    from oprun.errors import DagsterError

    found: dict[str, Any] = {"name": location.name, "load_error": None, "jobs": []}
    try:
        jobs = location.load().resolve_all_job_defs()
    except DagsterError as exc:
        if _VERBOSE[0]:
            traceback.print_exception(exc)
        found["load_error"] = _describe(exc)
        return found
    for job in jobs:
        problems = config_problems(job)
        found["jobs"].append({
            "name": job.name,
            "valid": not problems,
            "summary": describe_problems(problems) if problems else None,
            "problems": [
                {"source": p.source, "path": p.path_str, "reason": p.error.reason, "message": p.message}
                for p in problems
            ],
        })
    return found


def _report_lines(checked: list[dict[str, Any]]) -> list[str]:
    lines: list[str] = []
    for location in checked:
        name = location["name"]
        if location["load_error"] is not None:
            lines.append(f"Validation failed for code location {name}: it did not load.")
            lines.extend(f"  {line}" for line in location["load_error"].splitlines())
            continue
        bad = [job for job in location["jobs"] if not job["valid"]]
        if not bad:
            count = len(location["jobs"])
            lines.append(f"Validation successful for code location {name} ({count} job{'s' if count != 1 else ''}).")
            continue
        lines.append(f"Validation failed for code location {name}:")
        for job in bad:
            lines.append(f"  Job '{job['name']}': {job['summary']}")
            lines.extend(f"    - {p['path']} [{p['reason']}] {p['message']}" for p in job["problems"])
    return lines


@definitions_group.command("validate")
@location_options
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
def definitions_validate(as_json: bool, **kw: Any) -> None:
    """Load code locations and report load errors and every job's invalid default
    config (job name and each path); exit 1 when anything is wrong.

    Example: oprun definitions validate -f jobs.py
    """
    previous = os.environ.get(VALIDATION_ENV)
    os.environ[VALIDATION_ENV] = "1"
    try:
        checked = [_check_location(location) for location in _locations(kw)]
    finally:
        if previous is None:
            os.environ.pop(VALIDATION_ENV, None)
        else:
            os.environ[VALIDATION_ENV] = previous
    failed_loads = sum(1 for location in checked if location["load_error"] is not None)
    bad_jobs = sum(1 for location in checked for job in location["jobs"] if not job["valid"])
    jobs = sum(len(location["jobs"]) for location in checked)
    if as_json:
        echo_json({"valid": not (failed_loads or bad_jobs), "locations": checked})
        if failed_loads or bad_jobs:
            raise CliFailure("", 1)
        return
    echo_lines(_report_lines(checked))
    if failed_loads or bad_jobs:
        parts = []
        if failed_loads:
            parts.append(f"{failed_loads} code location{'s' if failed_loads != 1 else ''} failed to load")
        if bad_jobs:
            parts.append(f"{bad_jobs} job{'s' if bad_jobs != 1 else ''} with invalid config")
        raise CliFailure(f"Validation failed: {', '.join(parts)}.", 1)
    click.echo(
        f"All code locations passed validation ({len(checked)} code location{'s' if len(checked) != 1 else ''}, "
        f"{jobs} job{'s' if jobs != 1 else ''})."
    )
