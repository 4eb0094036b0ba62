"""The first schema: runs, their tags, job snapshots and the event log.

The tables are written out here rather than taken from `schema.metadata`, so this
revision stays what it was when the tables change later.
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(64), nullable=False, unique=True),
        sa.Column("job_name", sa.String(255), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("run_body", sa.Text, nullable=False),
        sa.Column("snapshot_id", sa.String(64)),
        sa.Column("parent_run_id", sa.String(64)),
        sa.Column("root_run_id", sa.String(64)),
        sa.Column("create_timestamp", sa.DateTime, nullable=False),
        sa.Column("update_timestamp", sa.DateTime, nullable=False),
        sa.Column("start_time", sa.Float),
        sa.Column("end_time", sa.Float),
    )
    op.create_index("idx_runs_job_name", "runs", ["job_name", "id"])
    op.create_index("idx_runs_status", "runs", ["status", "id"])
    op.create_index("idx_runs_created", "runs", ["create_timestamp"])
    op.create_table(
        "run_tags",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_index("idx_run_tags_run", "run_tags", ["run_id"])
    op.create_index("idx_run_tags_key_value", "run_tags", ["key", "value", "run_id"])
    op.create_table(
        "snapshots",
        sa.Column("snapshot_id", sa.String(64), primary_key=True),
        sa.Column("body", sa.Text, nullable=False),
    )
    op.create_table(
        "event_logs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("event", sa.Text, nullable=False),
        sa.Column("dagster_event_type", sa.String(64)),
        sa.Column("step_key", sa.Text),
        sa.Column("timestamp", sa.Float, nullable=False),
    )
    op.create_index("idx_event_logs_run", "event_logs", ["run_id", "id"])
    op.create_index("idx_event_logs_type", "event_logs", ["run_id", "dagster_event_type"])


def downgrade() -> None:
    for table in ("event_logs", "snapshots", "run_tags", "runs"):
        op.drop_table(table)
