"""Runs: the structured failure of a run (failing cell index, exception name and message)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_run_failure"
down_revision = "0003_tasks"


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("failure", sa.JSON))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("failure")
