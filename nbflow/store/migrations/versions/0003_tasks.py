"""Task tables: cache entries and concurrency-limit slots (filled in by the tasks work)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_tasks"
down_revision = "0002_deployments"

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "task_cache",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("task", sa.String(255), nullable=False),
        sa.Column("run_id", sa.String(40)),
        sa.Column("step", sa.String(255)),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float),
        sa.Column("payload", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_task_cache_task", "task_cache", ["task"])
    op.create_table(
        "concurrency_limits",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("slots", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "concurrency_slots",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("holder", sa.String(255), nullable=False),
        sa.Column("run_id", sa.String(40)),
        sa.Column("step", sa.String(255)),
        sa.Column("acquired_at", sa.Float, nullable=False),
    )
    op.create_index("ix_concurrency_slots_name", "concurrency_slots", ["name"])


def downgrade() -> None:
    op.drop_table("concurrency_slots")
    op.drop_table("concurrency_limits")
    op.drop_table("task_cache")
