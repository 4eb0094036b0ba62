"""One alembic revision per file, named after its revision id.

A new revision: add a file whose `down_revision` is the newest one, change the
tables in `oprun.instance.schema` to match, and append its id to
`schema.REVISIONS`. The tests check that the revisions, the tables and
`REVISIONS` agree.
"""
