"""Runs: the host and pid of the process that runs a run, so a dead local owner is seen at once."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_run_owner"
down_revision = "0004_run_failure"


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("host", sa.String(255)))
        batch.add_column(sa.Column("pid", sa.Integer))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("pid")
        batch.drop_column("host")
