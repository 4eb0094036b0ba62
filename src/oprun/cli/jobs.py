"""`oprun job ...`: list, print, execute, launch, scaffold-config, validate-config.

Jobs come from a code location (`-f`, `-m`, `-d`, `-a`, `-w`, or the default from
`pyproject.toml` / `workspace.yaml`). Nothing is recorded unless the run can
start: config, resources, selection and partition are checked first.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable
from typing import Any

import click

from oprun.cli.errors import CliFailure, user_errors
from oprun.cli.output import echo_lines, is_terminal


def location_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("-f", "--python-file", "python_files", multiple=True, type=click.Path(), help="A Python file holding the job (repeatable)."),
        click.option("-m", "--module-name", "module_names", multiple=True, help="A module holding the job (repeatable)."),
        click.option("-d", "--working-directory", help="Directory to import from (default: the file's folder or the current one)."),
        click.option("-a", "--attribute", help="The attribute holding the Definitions, repository or job."),
        click.option("-w", "--workspace", type=click.Path(), help="A workspace.yaml naming several code locations."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _locations(kw: dict[str, Any]) -> list[Any]:
    from oprun.loading import locations_from_args

    with user_errors():
        return locations_from_args(
            python_files=kw.get("python_files") or (), module_names=kw.get("module_names") or (),
            working_directory=kw.get("working_directory"), attribute=kw.get("attribute"), workspace=kw.get("workspace"),
        )


def _all_jobs(kw: dict[str, Any]) -> list[tuple[Any, Any]]:
    """(location, job definition) for every job in the named locations."""
    found = []
    for location in _locations(kw):
        with user_errors():
            definitions = location.load()
            for job in definitions.resolve_all_job_defs():
                found.append((location, job))
    return found


def _where(kw: dict[str, Any]) -> str:
    files = list(kw.get("python_files") or []) + list(kw.get("module_names") or [])
    return ", ".join(files) if files else (kw.get("workspace") or "the current directory")


def pick_job(kw: dict[str, Any], job_name: str | None) -> tuple[Any, Any]:
    jobs = _all_jobs(kw)
    names = [job.name for _, job in jobs]
    if job_name is None:
        if len(jobs) == 1:
            return jobs[0]
        if not jobs:
            raise CliFailure(f"Error: no jobs found in {_where(kw)}.", 2)
        raise CliFailure(
            f"Error: Must provide --job as there is more than one job in {_where(kw)}. Options are: {', '.join(sorted(names))}.", 2
        )
    for location, job in jobs:
        if job.name == job_name:
            return location, job
    from oprun.errors import did_you_mean

    raise CliFailure(
        f'Error: Job "{job_name}" not found in {_where(kw)}.{did_you_mean(job_name, names)} '
        f"Found {', '.join(sorted(names)) or 'no jobs'} instead.", 2,
    )


def reconstructable_for(location: Any, job: Any, op_selection: list[str] | None = None) -> Any:
    from oprun.execution.reconstruct import ReconstructableJob

    pointer = location.pointer
    return ReconstructableJob(
        attribute=pointer.attribute or "*",
        python_file=pointer.python_file,
        module_name=pointer.module_name,
        working_directory=pointer.working_directory or os.getcwd(),
        job_name=job.name,
        op_selection=op_selection or None,
    )


def read_run_config(config_files: tuple[str, ...], config_json: str | None) -> dict[str, Any]:
    from oprun.config.run_config import merge_run_configs

    if config_files and config_json:
        raise CliFailure("Error: Cannot specify both -c / --config and --config-json.", 2)
    if config_json:
        try:
            value = json.loads(config_json, parse_int=_parse_int, parse_float=_parse_float)
        except json.JSONDecodeError as exc:
            raise CliFailure(f"Error: Invalid JSON-string given for `--config-json`: {exc}.", 2) from exc
        if not isinstance(value, dict):
            raise CliFailure("Error: --config-json must be a JSON object.", 2)
        _check_numbers(value, "root")
        return value
    with user_errors():
        return merge_run_configs(*(_load_config_file(path) for path in _config_paths(config_files)))


class _OutOfRange:
    """A JSON number Python cannot hold as written: a float literal past a float's
    range (1e400 would become inf) or an integer too long to read. Kept as its
    text, so the error names it and its path (validation rejects the rest, e.g. a
    huge integer for a Float field, with the path too)."""

    def __init__(self, text: str, why: str) -> None:
        self.text = text
        self.why = why


def _parse_int(text: str) -> Any:
    try:
        return int(text)
    except ValueError:  # past Python's limit for reading integers
        return _OutOfRange(text, f"is too long to read (at most {sys.get_int_max_str_digits()} digits)")


def _parse_float(text: str) -> Any:
    value = float(text)
    return value if math.isfinite(value) else _OutOfRange(text, "is out of range for a float (at most about 1.8e308)")


def _check_numbers(document: dict[str, Any], root: str) -> None:
    """One clear error, with the config path, for a number out of range. Walked
    without recursion: a valid JSON document may nest deeper than Python's stack."""
    pending: list[tuple[Any, str]] = [(document, root)]
    while pending:
        value, path = pending.pop()
        if isinstance(value, dict):
            pending.extend((item, f"{path}:{key}") for key, item in reversed(list(value.items())))
        elif isinstance(value, list):
            pending.extend((item, f"{path}[{index}]") for index, item in reversed(list(enumerate(value))))
        elif isinstance(value, _OutOfRange):
            text = value.text if len(value.text) <= 40 else f"{value.text[:20]}...{value.text[-10:]} ({len(value.text)} characters)"
            raise CliFailure(f"Error: Invalid number in `--config-json` at path {path}: {text} {value.why}.", 2)


def _config_paths(config_files: tuple[str, ...]) -> list[str]:
    """The -c files in order, each glob expanded (sorted)."""
    import glob

    paths = []
    for pattern in config_files:
        matches = sorted(glob.glob(pattern)) if any(c in pattern for c in "*?[") else [pattern]
        if not matches:
            raise CliFailure(f"Error: No run config file matches {pattern}.", 2)
        paths.extend(matches)
    return paths


def _load_config_file(path: str) -> dict[str, Any]:
    """One YAML run config file; a file that cannot be read, is not UTF-8 text
    (a binary file) or is not YAML is named in the error."""
    from oprun.config.run_config import load_yaml_string

    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise CliFailure(f"Error: Cannot read run config file {path}: {exc.strerror or exc}.", 2) from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CliFailure(
            f"Error: Run config file {path} is not a YAML text file: it is not valid UTF-8 "
            f"(byte 0x{data[exc.start]:02x} at position {exc.start}); is it a binary file?", 2,
        ) from exc
    if "\x00" in text:
        raise CliFailure(f"Error: Run config file {path} is not a YAML text file: it contains NUL bytes; is it a binary file?", 2)
    return load_yaml_string(text, path)


def read_tags(tags: str | None) -> dict[str, Any]:
    if not tags:
        return {}
    try:
        value = json.loads(tags)
    except json.JSONDecodeError as exc:
        raise CliFailure(f"Error: Invalid JSON-string given for `--tags`: {exc}.", 2) from exc
    if not isinstance(value, dict):
        raise CliFailure("Error: --tags must be a JSON object of tag names to values.", 2)
    return value


def _selection(op_selection: str | None) -> list[str] | None:
    return [c.strip() for c in op_selection.split(",") if c.strip()] if op_selection else None


@click.group("job")
def job_group() -> None:
    """List, inspect, run and launch jobs."""


@job_group.command("list")
@location_options
def job_list(**kw: Any) -> None:
    """List the jobs of a code location and their ops in execution order.

    A job whose default config (or a configured() value) is invalid is listed with
    "(invalid default config)" and the paths; its runs are refused.

    Example: oprun job list -f jobs.py
    """
    from oprun.definitions.jobs.config_schema import DEFAULT_CONFIG_SOURCE, config_problems, describe_problems

    lines = []
    for _location, job in _all_jobs(kw):
        problems = config_problems(job)
        if problems:
            # The job loads, but its runs are refused until its fixed config is fixed.
            note = "invalid default config" if any(p.source == DEFAULT_CONFIG_SOURCE for p in problems) else "invalid config"
            lines.append(f"Job: {job.name} ({note})")
            lines.append(f"Invalid config: {describe_problems(problems)}; runs are refused (see oprun definitions validate)")
        else:
            lines.append(f"Job: {job.name}")
        if job.description:
            lines.append(f"Description: {job.description.splitlines()[0]}")
        lines.append("Ops: (Execution Order)")
        lines.extend(f"    {name}" for name in _op_handles(job.graph))
        lines.append("")
    echo_lines(lines)


def _op_handles(graph: Any, prefix: str = "") -> list[str]:
    handles = []
    for name in graph.toposorted_node_names:
        node = graph.node_dict[name]
        if node.definition.node_type == "graph":
            handles.extend(_op_handles(node.definition, f"{prefix}{name}."))
        else:
            handles.append(prefix + name)
    return handles


@job_group.command("print")
@location_options
@click.option("-j", "--job", "job_name", help="The job to print.")
@click.option("--verbose", "details", is_flag=True, help="Also print each op's inputs and outputs.")
def job_print(job_name: str | None, details: bool, **kw: Any) -> None:
    """Print a job's ops (with --verbose, their inputs and outputs).

    Example: oprun job print -f jobs.py -j nightly --verbose
    """
    _, job = pick_job(kw, job_name)
    lines = [f"Job: {job.name}"]
    for handle in _op_handles(job.graph):
        node = job.get_op(handle)
        lines.append(f"  Op: {handle} ({node.definition.name})")
        if details:
            deps = _deps_of(job.graph, handle)
            for input_def in node.definition.input_defs:
                source = deps.get(input_def.name, "")
                lines.append(f"    Input: {input_def.name}: {input_def.dagster_type.display_name}{'  <- ' + source if source else ''}")
            for output_def in node.definition.output_defs:
                lines.append(f"    Output: {output_def.name}: {output_def.dagster_type.display_name}{'' if output_def.is_required else ' (optional)'}")
    echo_lines(lines)


def _deps_of(graph: Any, handle: str) -> dict[str, str]:
    from oprun.definitions.jobs.snapshot import _dep_plain

    *parents, name = handle.split(".")
    for part in parents:
        graph = graph.node_dict[part].definition
    return {
        input_name: ", ".join(f"{d['node']}.{d['output']}" for d in _dep_plain(dep))
        for input_name, dep in graph.dependencies.get(name, {}).items()
    }


def _run_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("-j", "--job", "job_name", help="The job to run."),
        click.option("-c", "--config", "config_files", multiple=True, type=click.Path(), help="Run config YAML (repeatable, globs allowed, merged in order)."),
        click.option("--config-json", help="Run config as a JSON string."),
        click.option("--tags", help='Run tags as a JSON object, e.g. \'{"team": "data"}\'.'),
        click.option("-o", "--op-selection", help='Ops to run, e.g. "load,*transform+".'),
        click.option("--partition", help="The partition to run (partitioned jobs)."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _create_run(
    kw: dict[str, Any],
    job_name: str | None,
    config_files: tuple[str, ...],
    config_json: str | None,
    tags: str | None,
    op_selection: str | None,
    partition: str | None,
) -> tuple[Any, Any, Any]:
    from oprun.execution.execute_job import create_run_for_job
    from oprun.instance import DagsterInstance

    location, job = pick_job(kw, job_name)
    run_config = read_run_config(config_files, config_json)
    run_tags = read_tags(tags)
    if partition is not None:
        run_tags["dagster/partition"] = partition
    selection = _selection(op_selection)
    recon = reconstructable_for(location, job, selection)
    with user_errors():
        job_def = job.get_subset(op_selection=selection) if selection else job
        instance = DagsterInstance.get()
        run = create_run_for_job(recon, job_def, instance, run_config, run_tags)
    return recon, run, instance


@job_group.command("execute")
@location_options
@_run_options
def job_execute(
    job_name: str | None,
    config_files: tuple[str, ...],
    config_json: str | None,
    tags: str | None,
    op_selection: str | None,
    partition: str | None,
    **kw: Any,
) -> None:
    """Run a job now, in this process, with the job's executor, on the instance of
    $OPRUN_HOME.

    Example: oprun job execute -f jobs.py -j nightly -c config.yaml --tags '{"team": "data"}'
    """
    from oprun.execution.execute_job import execute_stored_run

    recon, run, instance = _create_run(kw, job_name, config_files, config_json, tags, op_selection, partition)
    try:
        with user_errors():
            if is_terminal():
                from oprun.cli.progress import RunProgress

                with RunProgress(recon.get_definition()) as progress:
                    success, _error = execute_stored_run(recon, run, instance, listener=progress)
            else:
                success, _error = execute_stored_run(recon, run, instance)
    finally:
        instance.dispose()
    if not success:
        raise CliFailure(f"Run {run.run_id} resulted in failure.", 1)
    click.echo(f"Run {run.run_id} succeeded.")


@job_group.command("launch")
@location_options
@_run_options
def job_launch(
    job_name: str | None,
    config_files: tuple[str, ...],
    config_json: str | None,
    tags: str | None,
    op_selection: str | None,
    partition: str | None,
    **kw: Any,
) -> None:
    """Submit a run and return at once; prints the run id. With a daemon running,
    the run is queued and starts when the run queue's limits allow; without one
    it starts now in its own process (docs/automation.md, "The run queue").

    Example: oprun job launch -f jobs.py -j nightly -c config.yaml
    """
    _recon, run, instance = _create_run(kw, job_name, config_files, config_json, tags, op_selection, partition)
    try:
        with user_errors():
            instance.submit_run(run.run_id)
    finally:
        instance.dispose()
    click.echo(run.run_id)


@job_group.command("scaffold-config")
@location_options
@click.option("-j", "--job", "job_name", help="The job.")
@click.option("--print-only-required", is_flag=True, help="Only the fields that must be given.")
def job_scaffold_config(job_name: str | None, print_only_required: bool, **kw: Any) -> None:
    """Print a commented YAML skeleton of a job's run config.

    Example: oprun job scaffold-config -f jobs.py -j nightly --print-only-required
    """
    from oprun.config.scaffold import scaffold_yaml

    _, job = pick_job(kw, job_name)
    with user_errors():
        click.echo(scaffold_yaml(job.config_schema_snapshot, required_only=print_only_required), nl=False)


@job_group.command("validate-config")
@location_options
@click.option("-j", "--job", "job_name", help="The job.")
@click.option("-c", "--config", "config_files", multiple=True, type=click.Path(), help="Run config YAML (repeatable).")
@click.option("--config-json", help="Run config as a JSON string.")
def job_validate_config(job_name: str | None, config_files: tuple[str, ...], config_json: str | None, **kw: Any) -> None:
    """Check run config against a job without running it; every error with its path.

    Example: oprun job validate-config -f jobs.py -j nightly -c config.yaml
    """
    from oprun.errors import DagsterInvalidConfigError
    from oprun.execution.resolve import resolve_run_config

    _, job = pick_job(kw, job_name)
    run_config = read_run_config(config_files, config_json)
    try:
        resolve_run_config(job, run_config)
    except DagsterInvalidConfigError as exc:
        from oprun.cli.errors import _describe

        raise CliFailure(_describe(exc), 1) from exc
    click.echo(f"Run config is valid for job {job.name}.")
