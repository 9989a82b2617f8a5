"""Records: read-only views of runs, steps, materialisations and asset status."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from nbflow.core.states import State


def to_datetime(ts: float | None) -> datetime | None:
    """Epoch seconds (as stored) to an aware UTC datetime."""
    return None if ts is None else datetime.fromtimestamp(ts, tz=UTC)


@dataclass(frozen=True)
class StepRecord:
    name: str
    state: State
    attempts: int = 0
    started_at: datetime | None = None
    ended_at: datetime | None = None
    error: str | None = None
    kind: str = "asset"
    upstream: tuple[str, ...] = ()

    @property
    def duration(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    kind: str
    state: State
    name: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    steps: tuple[StepRecord, ...] = ()
    selection: str | None = None
    deployment: str | None = None
    scheduled_at: datetime | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None
    output_path: str | None = None
    attempt: int = 1
    parent_run_id: str | None = None
    tags: Mapping[str, Any] = field(default_factory=dict)
    failure: Mapping[str, Any] = field(default_factory=dict)
    """For a failed notebook run: ``cell_index``, ``exception`` (its name) and ``message``."""

    @property
    def failed_cell(self) -> int | None:
        """Index of the notebook cell that raised, if a deployment run failed in a cell."""
        return self.failure.get("cell_index")

    @property
    def duration(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()

    def step(self, name: str) -> StepRecord:
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(f"Run {self.run_id} has no step {name!r}.")


@dataclass(frozen=True)
class MaterializationRecord:
    asset: str
    run_id: str
    ts: datetime
    code_version: str
    data_version: str
    input_versions: Mapping[str, str] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)
    uri: str = ""
    io: str = "pickle"
    duration: float | None = None
    partition: str | None = None


@dataclass(frozen=True)
class AssetStatus:
    """Where an asset stands: ``fresh``, ``stale`` (with ``reason``), ``missing`` or ``failed``."""

    name: str
    status: str
    reason: str | None = None
    last: MaterializationRecord | None = None
    error: str | None = None
    deployment_run_id: str | None = None
    """The deployment run that produced the last materialisation, if one did."""
    partitions: Any = None
    """For a partitioned asset: its ``PartitionSummary`` (counts per verdict, latest key,
    ``ranges()``); None when unpartitioned."""
    freshness: Any = None
    """For an asset with a freshness policy: its ``FreshnessState`` (``overdue`` or ``on time``,
    the deadline, the reason), beside ``status`` and independent of it; None without a policy."""
