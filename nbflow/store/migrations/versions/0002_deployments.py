"""Deployments and schedule ticks."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_deployments"
down_revision = "0001_core"

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "deployments",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("notebook", sa.Text, nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("paused", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("cursor", sa.Float),  # the last schedule tick the scheduler has dealt with
    )
    op.create_table(
        "ticks",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("deployment", sa.String(255), nullable=False),
        sa.Column("scheduled_at", sa.Float, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("run_id", sa.String(40)),
        sa.Column("ts", sa.Float, nullable=False),
        sa.UniqueConstraint("deployment", "scheduled_at", name="uq_ticks_deployment_time"),
    )


def downgrade() -> None:
    op.drop_table("ticks")
    op.drop_table("deployments")
