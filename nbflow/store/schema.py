"""Schema: one SQLAlchemy Core metadata for SQLite and PostgreSQL.

Tables match the latest migration in ``migrations/versions``; a test checks they agree.
"""

from __future__ import annotations

from sqlalchemy import (
                        JSON,
                        BigInteger,
                        Boolean,
                        Column,
                        Float,
                        Index,
                        Integer,
                        LargeBinary,
                        MetaData,
                        String,
                        Table,
                        Text,
                        UniqueConstraint,
)

metadata = MetaData()

# SQLite needs INTEGER PRIMARY KEY for rowid aliasing; PostgreSQL gets a BIGINT identity.
Id = BigInteger().with_variant(Integer(), "sqlite")

runs = Table(
    "runs", metadata,
    Column("run_id", String(40), primary_key=True),
    Column("kind", String(16), nullable=False),          # assets | flow | task | deployment
    Column("name", String(255)),
    Column("state", String(16), nullable=False),
    Column("selection", Text),
    Column("deployment", String(255)),
    Column("scheduled_at", Float),
    Column("parameters", JSON),
    Column("tags", JSON),
    Column("created_at", Float, nullable=False),
    Column("started_at", Float),
    Column("ended_at", Float),
    Column("heartbeat_at", Float),
    Column("error", Text),
    Column("output_path", Text),
    Column("attempt", Integer, nullable=False, default=1),
    Column("parent_run_id", String(40)),
    Column("failure", JSON),  # {"cell_index", "exception", "message"} of a failed notebook run
    UniqueConstraint("deployment", "scheduled_at", name="uq_runs_deployment_tick"),
    Index("ix_runs_created", "created_at"),
    Index("ix_runs_state", "state"),
    Index("ix_runs_deployment", "deployment", "created_at"),
)

events = Table(
    "events", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("run_id", String(40), nullable=False),
    Column("kind", String(24), nullable=False),
    Column("step", String(255)),
    Column("state", String(16)),
    Column("ts", Float, nullable=False),
    Column("data", JSON),
    Index("ix_events_run", "run_id", "id"),
    Index("ix_events_step", "step", "kind"),
)

materializations = Table(
    "materializations", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("asset", String(255), nullable=False),
    Column("partition", String(255)),
    Column("run_id", String(40), nullable=False),
    Column("ts", Float, nullable=False),
    Column("code_version", String(64), nullable=False),
    Column("data_version", String(64), nullable=False),
    Column("input_versions", JSON),
    Column("metadata", JSON),
    Column("uri", Text),
    Column("io", String(32)),
    Column("duration", Float),
    Index("ix_materializations_asset", "asset", "partition", "id"),
)

partitions = Table(
    "partitions", metadata,
    Column("asset", String(255), primary_key=True),
    Column("partition", String(255), primary_key=True),
    Column("created_at", Float, nullable=False),
)

deployments = Table(
    "deployments", metadata,
    Column("name", String(255), primary_key=True),
    Column("notebook", Text, nullable=False),
    Column("spec", JSON, nullable=False),
    Column("paused", Boolean, nullable=False, default=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("cursor", Float),
)

ticks = Table(
    "ticks", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("deployment", String(255), nullable=False),
    Column("scheduled_at", Float, nullable=False),
    Column("state", String(16), nullable=False),
    Column("run_id", String(40)),
    Column("ts", Float, nullable=False),
    UniqueConstraint("deployment", "scheduled_at", name="uq_ticks_deployment_time"),
)

# Tasks (migration 0003): cached results, and concurrency limits with the slots held.
task_cache = Table(
    "task_cache", metadata,
    Column("key", String(64), primary_key=True),
    Column("task", String(255), nullable=False),
    Column("run_id", String(40)),
    Column("step", String(255)),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float),
    Column("payload", LargeBinary, nullable=False),
    Index("ix_task_cache_task", "task"),
)

concurrency_limits = Table(
    "concurrency_limits", metadata,
    Column("name", String(255), primary_key=True),
    Column("slots", Integer, nullable=False),
    Column("updated_at", Float, nullable=False),
)

concurrency_slots = Table(
    "concurrency_slots", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(255), nullable=False),
    Column("holder", String(255), nullable=False),
    Column("run_id", String(40)),
    Column("step", String(255)),
    Column("acquired_at", Float, nullable=False),
    Index("ix_concurrency_slots_name", "name"),
)
