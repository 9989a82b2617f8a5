"""Backfills: the durable plan (one row per backfill, one per (asset, partition) step)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_backfills"
down_revision = "0007_access"

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "backfills",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("selection", sa.Text, nullable=False),
        sa.Column("partitions", sa.Text, nullable=False),
        sa.Column("policy", sa.String(16), nullable=False),
        sa.Column("per_run", sa.Integer, nullable=False),
        sa.Column("concurrency", sa.Integer, nullable=False),
        sa.Column("force", sa.Boolean, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(255)),
        sa.Column("heartbeat_at", sa.Float),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("ended_at", sa.Float),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_backfills_state", "backfills", ["state"])
    op.create_table(
        "backfill_steps",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("backfill_id", sa.String(40), nullable=False),
        sa.Column("asset", sa.String(255), nullable=False),
        sa.Column("partition", sa.String(255), nullable=False),
        sa.Column("batch", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("run_id", sa.String(40)),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.UniqueConstraint("backfill_id", "asset", "partition", name="uq_backfill_steps_key"),
    )
    op.create_index("ix_backfill_steps_batch", "backfill_steps", ["backfill_id", "batch"])


def downgrade() -> None:
    op.drop_index("ix_backfill_steps_batch", "backfill_steps")
    op.drop_table("backfill_steps")
    op.drop_index("ix_backfills_state", "backfills")
    op.drop_table("backfills")
