"""Freshness: each asset's last recorded standing against its freshness policy."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_freshness"
down_revision = "0008_backfills"

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "freshness_states",
        sa.Column("asset", sa.String(255), primary_key=True),
        sa.Column("overdue", sa.Boolean, nullable=False),
        sa.Column("deadline", sa.Float),
        sa.Column("reason", sa.Text),
        sa.Column("partition", sa.String(255)),
        sa.Column("changed_at", sa.Float, nullable=False),
        sa.Column("event_id", Id),
    )


def downgrade() -> None:
    op.drop_table("freshness_states")
