"""The `oprun` command line: parse with click, call the public Python API, the
loader and the instance, print for people (rich, on a terminal) or for scripts
(plain lines, `--json`).

Exit status: 0 success, 1 a run failed, 2 a usage or input error. A user's mistake
prints one message and no traceback unless `--verbose` is given. Each command
imports only what it needs, so `oprun job list` stays fast.
"""

from __future__ import annotations

import sys
import traceback

import click

from oprun import __version__
from oprun.cli.errors import CliFailure, verbose_requested


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="oprun", message="%(prog)s %(version)s")
@click.option("--verbose", is_flag=True, help="Print full tracebacks for errors.")
def cli(verbose: bool) -> None:
    """oprun: run op jobs, browse their runs.

    \b
    Examples:
      oprun job list -f jobs.py
      oprun definitions validate -f jobs.py
      oprun job execute -f jobs.py -j nightly -c config.yaml
      oprun run list --status FAILURE
    """


def _register() -> None:
    from oprun.cli.backfill_cmd import backfill_group, job_backfill
    from oprun.cli.daemon_cmd import daemon_group
    from oprun.cli.definitions_cmd import definitions_group
    from oprun.cli.instance_cmd import instance_group
    from oprun.cli.jobs import job_group
    from oprun.cli.runs import run_group, run_worker
    from oprun.cli.schedule_cmd import schedule_group
    from oprun.cli.sensor_cmd import sensor_group
    from oprun.cli.web_cmd import dev, webserver

    cli.add_command(job_group)
    job_group.add_command(job_backfill)
    cli.add_command(backfill_group)
    cli.add_command(definitions_group)
    cli.add_command(run_group)
    cli.add_command(instance_group)
    cli.add_command(run_worker)
    cli.add_command(sensor_group)
    cli.add_command(schedule_group)
    cli.add_command(daemon_group)
    cli.add_command(webserver)
    cli.add_command(dev)


_register()


def run_cli(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    verbose = verbose_requested(args)
    try:
        cli.main(args=args, prog_name="oprun", standalone_mode=False)
    except CliFailure as failure:
        if failure.message:
            click.echo(failure.message, err=True)
        return failure.exit_code
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return 2
    except click.exceptions.Exit as exc:
        return int(exc.exit_code or 0)
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one message, exit 2
        from oprun.errors import DagsterError

        if verbose:
            traceback.print_exc()
        kind = "Error" if isinstance(exc, DagsterError) else f"Error ({type(exc).__name__})"
        click.echo(f"{kind}: {exc}", err=True)
        if not verbose and not isinstance(exc, DagsterError):
            click.echo("Run again with --verbose for the traceback.", err=True)
        return 2
    return 0
