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
    from oprun.instance import schema
    from oprun.instance.instance import DagsterInstance, _read_config, _storage_from_config

    import os

    home = os.environ.get("OPRUN_HOME") or os.environ.get("DAGSTER_HOME") or os.path.expanduser("~/.oprun")
    with user_errors():
        config, path = _read_config(home)
        try:
            instance = DagsterInstance.get()
        except Exception:  # noqa: BLE001 - an old schema refuses to open; migrate it directly
            from oprun.instance.sql import SqliteRunStorage

            db = os.path.join(home, "history", "oprun.db")
            import sqlalchemy as sa

            engine = sa.create_engine(f"sqlite:///{db}")
            before, after = schema.migrate(engine)
            engine.dispose()
            click.echo(f"Migrated {db} from schema version {before} to {after}.")
            return
        with instance:
            result = instance.upgrade()
    if result is None:
        click.echo("Nothing to migrate: the instance keeps no database.")
    else:
        click.echo(f"Database at schema version {result[1]} (was {result[0]}).")
