"""alembic's environment: migrate on the connection that `schema.migrate` opened,
inside its transaction, with oprun's version table."""

from alembic import context

from oprun.instance.schema import VERSION_TABLE, metadata

context.configure(
    connection=context.config.attributes["connection"],
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    render_as_batch=True,  # SQLite alters tables by copying them
)
with context.begin_transaction():
    context.run_migrations()
