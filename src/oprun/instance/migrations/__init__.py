"""alembic migrations of the storage schema; see `oprun.instance.schema`."""
