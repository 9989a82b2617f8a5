"""Access: API tokens (hashed), the append-only audit log, and the runs index keyset pages use."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_access"
down_revision = "0006_sensors"

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "tokens",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("prefix", sa.String(32), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float),
        sa.Column("last_used_at", sa.Float),
    )
    op.create_index("ix_tokens_prefix", "tokens", ["prefix"])
    op.create_table(
        "audit",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("verb", sa.String(64), nullable=False),
        sa.Column("target", sa.Text),
        sa.Column("parameters", sa.JSON),
        sa.Column("outcome", sa.String(8), nullable=False),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_audit_ts", "audit", ["ts"])
    op.create_index("ix_runs_created_run", "runs", ["created_at", "run_id"])


def downgrade() -> None:
    op.drop_index("ix_runs_created_run", "runs")
    op.drop_index("ix_audit_ts", "audit")
    op.drop_table("audit")
    op.drop_index("ix_tokens_prefix", "tokens")
    op.drop_table("tokens")
