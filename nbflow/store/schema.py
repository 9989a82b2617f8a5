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
    Column("host", String(255)),  # the host and pid of the process running the run (0005)
    Column("pid", Integer),
    UniqueConstraint("deployment", "scheduled_at", name="uq_runs_deployment_tick"),
    Index("ix_runs_created", "created_at"),
    Index("ix_runs_created_run", "created_at", "run_id"),  # keyset pages of runs (0007)
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
    Index("ix_events_kind", "kind", "id"),  # the stream read by kind (0006)
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

# Sensors (migration 0006): each sensor's cursor and state, its recorded ticks, and the run
# requests it claimed (a unique (sensor, run_key) makes a keyed request exactly-once).
sensors = Table(
    "sensors", metadata,
    Column("name", String(255), primary_key=True),
    Column("kind", String(16), nullable=False),  # sensor | asset | run_status
    Column("cursor", Text),
    Column("paused", Boolean, nullable=False, default=False),
    Column("last_tick_at", Float),
    Column("last_error", Text),
    Column("lease_owner", String(255)),  # the daemon ticking it now, until lease_until
    Column("lease_until", Float),
    Column("updated_at", Float, nullable=False),
)

sensor_ticks = Table(
    "sensor_ticks", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("sensor", String(255), nullable=False),
    Column("ts", Float, nullable=False),
    Column("status", String(16), nullable=False),  # REQUESTED | SKIPPED | FAILED
    Column("reason", Text),
    Column("run_ids", JSON),
    Column("cursor", Text),
    Column("duration", Float),
    Index("ix_sensor_ticks_sensor", "sensor", "id"),
)

sensor_requests = Table(
    "sensor_requests", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("sensor", String(255), nullable=False),
    Column("run_key", String(255), nullable=False),
    Column("run_id", String(40), nullable=False),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("sensor", "run_key", name="uq_sensor_requests_key"),
    Index("ix_sensor_requests_run", "run_id"),
)

# Access (migration 0007): API tokens (only a hash of each), and the append-only audit log.
tokens = Table(
    "tokens", metadata,
    Column("name", String(255), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("prefix", String(32), nullable=False),  # the token's public part, to find its row
    Column("hash", String(64), nullable=False),  # sha256 of the whole token
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float),
    Column("last_used_at", Float),
    Index("ix_tokens_prefix", "prefix"),
)

audit = Table(
    "audit", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("ts", Float, nullable=False),
    Column("actor", String(255), nullable=False),  # token:NAME, cli:USER, notebook:USER, ...
    Column("verb", String(64), nullable=False),
    Column("target", Text),
    Column("parameters", JSON),
    Column("outcome", String(8), nullable=False),  # ok | error
    Column("error", Text),
    Index("ix_audit_ts", "ts"),
)

# Backfills (migration 0008): a durable plan written before anything runs, one row per
# backfill and one per (asset, partition) step with the batch (run) it belongs to.
backfills = Table(
    "backfills", metadata,
    Column("id", String(40), primary_key=True),
    Column("selection", Text, nullable=False),
    Column("partitions", Text, nullable=False),  # the partition selection as the user gave it
    Column("policy", String(16), nullable=False),  # per_partition | single_run | batched
    Column("per_run", Integer, nullable=False),  # partitions per run (0: all in one run)
    Column("concurrency", Integer, nullable=False),
    Column("force", Boolean, nullable=False),
    Column("state", String(16), nullable=False),  # REQUESTED RUNNING CANCELING CANCELLED SUCCEEDED FAILED
    Column("owner", String(255)),  # host:pid of the process running it, while it runs
    Column("heartbeat_at", Float),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("ended_at", Float),
    Column("error", Text),
    Index("ix_backfills_state", "state"),
)

backfill_steps = Table(
    "backfill_steps", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("backfill_id", String(40), nullable=False),
    Column("asset", String(255), nullable=False),
    Column("partition", String(255), nullable=False),
    Column("batch", Integer, nullable=False),
    Column("state", String(16), nullable=False),  # PENDING RUNNING SUCCEEDED FAILED SKIPPED CANCELLED
    Column("run_id", String(40)),
    Column("updated_at", Float, nullable=False),
    UniqueConstraint("backfill_id", "asset", "partition", name="uq_backfill_steps_key"),
    Index("ix_backfill_steps_batch", "backfill_id", "batch"),
)

# Freshness (migration 0009): each asset's last recorded standing against its freshness policy,
# the row a daemon compares-and-sets before it records a FRESHNESS event (once per change).
freshness_states = Table(
    "freshness_states", metadata,
    Column("asset", String(255), primary_key=True),
    Column("overdue", Boolean, nullable=False),
    Column("deadline", Float),
    Column("reason", Text),
    Column("partition", String(255)),
    Column("changed_at", Float, nullable=False),
    Column("event_id", Id),  # the FRESHNESS event of the last change (None: first look, on time)
)
