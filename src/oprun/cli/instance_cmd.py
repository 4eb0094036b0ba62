"""`oprun instance ...`: where the instance is and what it stores; migrations."""

from __future__ import annotations

import click

from oprun.cli.errors import user_errors
from oprun.cli.output import echo_json


@click.group("instance")
def instance_group() -> None:
    """The instance of $OPRUN_HOME."""


@instance_group.command("info")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def instance_info(as_json: bool) -> None:
    """Print where the instance keeps runs, events, outputs and logs.

    Example: OPRUN_HOME=~/.oprun oprun instance info
    """
    from oprun.instance import DagsterInstance

    with user_errors(), DagsterInstance.get() as instance:
        info = instance.info()
        info["runs"] = instance.get_runs_count()
    if as_json:
        echo_json(info)
        return
    for key, value in info.items():
        click.echo(f"{key}: {value}")


@instance_group.command("migrate")
def instance_migrate() -> None:
    """Upgrade the instance's database to this oprun's schema.

    Example: oprun instance migrate
    """
    from oprun.instance.instance import home_directory, migrate_home

    with user_errors():
        before, after = migrate_home(home_directory())
    if before == after:
        click.echo(f"The database is at schema revision {after}: nothing to migrate.")
    else:
        click.echo(f"Migrated the database from schema revision {before} to {after}.")
