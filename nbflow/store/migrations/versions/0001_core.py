"""Core tables: runs, the append-only event log, materialisations and partitions."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_core"
down_revision = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(40), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(255)),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("selection", sa.Text),
        sa.Column("deployment", sa.String(255)),
        sa.Column("scheduled_at", sa.Float),
        sa.Column("parameters", sa.JSON),
        sa.Column("tags", sa.JSON),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("started_at", sa.Float),
        sa.Column("ended_at", sa.Float),
        sa.Column("heartbeat_at", sa.Float),
        sa.Column("error", sa.Text),
        sa.Column("output_path", sa.Text),
        sa.Column("attempt", sa.Integer, nullable=False, server_default="1"),
        sa.Column("parent_run_id", sa.String(40)),
        sa.UniqueConstraint("deployment", "scheduled_at", name="uq_runs_deployment_tick"),
    )
    op.create_index("ix_runs_created", "runs", ["created_at"])
    op.create_index("ix_runs_state", "runs", ["state"])
    op.create_index("ix_runs_deployment", "runs", ["deployment", "created_at"])
    op.create_table(
        "events",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("step", sa.String(255)),
        sa.Column("state", sa.String(16)),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("data", sa.JSON),
    )
    op.create_index("ix_events_run", "events", ["run_id", "id"])
    op.create_index("ix_events_step", "events", ["step", "kind"])
    op.create_table(
        "materializations",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("asset", sa.String(255), nullable=False),
        sa.Column("partition", sa.String(255)),
        sa.Column("run_id", sa.String(40), nullable=False),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("code_version", sa.String(64), nullable=False),
        sa.Column("data_version", sa.String(64), nullable=False),
        sa.Column("input_versions", sa.JSON),
        sa.Column("metadata", sa.JSON),
        sa.Column("uri", sa.Text),
        sa.Column("io", sa.String(32)),
        sa.Column("duration", sa.Float),
    )
    op.create_index("ix_materializations_asset", "materializations", ["asset", "partition", "id"])
    op.create_table(
        "partitions",
        sa.Column("asset", sa.String(255), primary_key=True),
        sa.Column("partition", sa.String(255), primary_key=True),
        sa.Column("created_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    for table in ("partitions", "materializations", "events", "runs"):
        op.drop_table(table)
