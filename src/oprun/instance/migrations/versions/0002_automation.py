"""What the daemon keeps: schedule and sensor state (instigators), their ticks
(job_ticks), daemon heartbeats, backfills (bulk_actions) and leases.

Written out here rather than taken from `schema.metadata`, so this revision
stays what it was when the tables change later.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_automation"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "instigators",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("location_name", sa.String(255), nullable=False),
        sa.Column("instigator_type", sa.String(16), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("update_timestamp", sa.Float, nullable=False),
    )
    op.create_table(
        "job_ticks",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("instigator_id", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("timestamp", sa.Float, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )
    op.create_index("idx_job_ticks_instigator", "job_ticks", ["instigator_id", "timestamp"])
    op.create_table(
        "daemon_heartbeats",
        sa.Column("daemon_type", sa.String(64), primary_key=True),
        sa.Column("daemon_id", sa.String(64), nullable=False),
        sa.Column("timestamp", sa.Float, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )
    op.create_table(
        "bulk_actions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(64), nullable=False, unique=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("timestamp", sa.Float, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )
    op.create_index("idx_bulk_actions_status", "bulk_actions", ["status", "id"])
    op.create_table(
        "leases",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("expires", sa.Float, nullable=False),
    )


def downgrade() -> None:
    for table in ("leases", "bulk_actions", "daemon_heartbeats", "job_ticks", "instigators"):
        op.drop_table(table)
