"""Sensors: their cursors and state, recorded ticks, claimed run keys; the event stream by kind."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_sensors"
down_revision = "0005_run_owner"

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_index("ix_events_kind", "events", ["kind", "id"])
    op.create_table(
        "sensors",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("cursor", sa.Text),
        sa.Column("paused", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("last_tick_at", sa.Float),
        sa.Column("last_error", sa.Text),
        sa.Column("lease_owner", sa.String(255)),
        sa.Column("lease_until", sa.Float),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "sensor_ticks",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("sensor", sa.String(255), nullable=False),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("run_ids", sa.JSON),
        sa.Column("cursor", sa.Text),
        sa.Column("duration", sa.Float),
    )
    op.create_index("ix_sensor_ticks_sensor", "sensor_ticks", ["sensor", "id"])
    op.create_table(
        "sensor_requests",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("sensor", sa.String(255), nullable=False),
        sa.Column("run_key", sa.String(255), nullable=False),
        sa.Column("run_id", sa.String(40), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.UniqueConstraint("sensor", "run_key", name="uq_sensor_requests_key"),
    )
    op.create_index("ix_sensor_requests_run", "sensor_requests", ["run_id"])


def downgrade() -> None:
    op.drop_table("sensor_requests")
    op.drop_table("sensor_ticks")
    op.drop_table("sensors")
    op.drop_index("ix_events_kind", "events")
