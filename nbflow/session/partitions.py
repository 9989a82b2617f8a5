"""Partitions in the session: run a selection over partitions, the per-partition freshness
verdict and its summary, and dynamic keys (``nf.partitions("customers").add([...])``).

Every verdict is ``core.freshness.verdict`` applied to one (asset, partition): its last
materialisation, its current inputs (the upstream partitions its mapping picks) and its last
failure. A partitioned asset's own status is the worst over its partitions: failed, then stale,
then missing, then fresh, with a reason that counts them; ``status:missing`` and the other
``status:`` selectors pick assets with any such partition.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nbflow.core.freshness import FAILED, FRESH, MISSING, STALE, Failure, Verdict, verdict
from nbflow.core.graph import Graph
from nbflow.core.partition_mappings import upstream_partitions
from nbflow.core.records import MaterializationRecord
from nbflow.core.versions import code_version
from nbflow.engine.assets import AssetRun
from nbflow.engine.executors import Executor
from nbflow.engine.partitioned import plan_partitions, run_plan, split_step, step_id
from nbflow.errors import PartitionError

if TYPE_CHECKING:
    from nbflow.store.base import RunStore

ORDER = (FAILED, STALE, MISSING, FRESH)
"""Worst first: a partitioned asset's status is the first of these any partition has."""


def dynamic_source(store: RunStore) -> Callable[[str], list[str]]:
    """Dynamic keys read from the store, once per name for the caller's lifetime."""
    seen: dict[str, list[str]] = {}

    def keys(name: str) -> list[str]:
        if name not in seen:
            seen[name] = store.partitions.keys(name)
        return seen[name]

    return keys


def run_partitions(graph: Graph, names: list[str], selection: Any, *, store: RunStore,
                   run_id: str, emit: Callable[..., None], executor: Executor, base: str,
                   force: bool = False, cancel: threading.Event | None = None,
                   keep: Iterable[str] = (), remote: bool = False) -> AssetRun:
    """Plan the (asset, partition) steps of ``names`` over ``selection`` and run them."""
    plan = plan_partitions(graph, names, selection, dynamic=dynamic_source(store))
    previous = load_previous(store, plan.steps + sorted(plan.outside))
    return run_plan(graph, plan, run_id=run_id, emit=emit, executor=executor, previous=previous,
                    base=base, force=force, cancel=cancel, keep=keep, remote=remote)


def load_previous(store: RunStore, steps: Iterable[str]) -> dict[str, MaterializationRecord]:
    """step id -> last materialisation, for the given steps (one grouped query per asset)."""
    plain: list[str] = []
    by_asset: dict[str, list[str]] = {}
    for s in steps:
        asset, part = split_step(s)
        if part is None:
            plain.append(asset)
        else:
            by_asset.setdefault(asset, []).append(part)
    out: dict[str, MaterializationRecord] = dict(store.latest_materializations(plain)) if plain else {}
    for asset, parts in by_asset.items():
        for p, m in store.partitions.latest(asset, parts).items():
            out[step_id(asset, p)] = m
    return out


@dataclass
class PartitionSummary:
    """The partitions of one asset by verdict: counts, the newest materialised key, ranges."""

    asset: str
    total: int
    counts: dict[str, int]
    materialized: int
    latest: str | None
    keys: list[str] = field(repr=False, default_factory=list)
    statuses: list[str] = field(repr=False, default_factory=list)
    definition: Any = field(repr=False, default=None)
    dynamic: Any = field(repr=False, default=None)

    @property
    def status(self) -> str:
        return next((s for s in ORDER if self.counts.get(s)), MISSING)

    @property
    def reason(self) -> str | None:
        s = self.status
        if s == FRESH:
            return None
        return f"{self.counts.get(s, 0):,} of {self.total:,} partitions {s}"

    def keys_with(self, status: str) -> list[str]:
        return [k for k, s in zip(self.keys, self.statuses, strict=True) if s == status]

    def ranges(self) -> dict[str, str]:
        """status -> its keys compressed (``"2026-01-01...2026-03-31"``), worst first."""
        out = {}
        for s in ORDER:
            keys = self.keys_with(s)
            if keys:
                out[s] = self.definition.render_ranges(keys, None, self.dynamic)
        return out

    def view(self) -> dict[str, Any]:
        """JSON-ready: for the panel's strip, the CLI and the server."""
        return {"total": self.total, "materialized": self.materialized, "latest": self.latest,
                "status": self.status, **{s: self.counts.get(s, 0) for s in ORDER}}


class PartitionStatus:
    """Per-partition verdicts for the assets of one graph, upstream first, read once each."""

    def __init__(self, graph: Graph, store: RunStore, base: str,
                 latest: Mapping[str, MaterializationRecord],
                 failures: Mapping[str, tuple[float, str, str | None]],
                 verdicts: Mapping[str, Verdict]) -> None:
        self.graph, self.store, self.base = graph, store, base
        self.latest, self.failures, self.verdicts = latest, failures, verdicts
        self.dynamic = dynamic_source(store)
        self._rows: dict[str, dict[str, MaterializationRecord]] = {}
        self._by_step: dict[str, dict[str, Verdict]] = {}
        self.summaries: dict[str, PartitionSummary] = {}

    def rows(self, asset: str) -> dict[str, MaterializationRecord]:
        if asset not in self._rows:
            self._rows[asset] = self.store.partitions.latest(asset)
        return self._rows[asset]

    def current_inputs(self, name: str, key: Any) -> dict[str, str | None]:
        """Input step id -> its current data version, for partition ``key`` of ``name`` (None:
        unpartitioned); an unpartitioned reader only counts upstream partitions that exist."""
        graph, spec = self.graph, self.graph.specs[name]
        out: dict[str, str | None] = {}
        ups = [*graph.upstream[name], *([name] if name in graph.self_inputs else [])]
        for u in ups:
            up = graph.specs[u].partitions
            if up is None:
                m = self.latest.get(u)
                out[u] = None if m is None else m.data_version
                continue
            keys = upstream_partitions(key, spec.partitions, up, graph.mappings[name][u],
                                       asset=name, upstream_asset=u, dynamic=self.dynamic)
            rows, fmt = self.rows(u), up.format_key
            for k in keys:
                t = fmt(k)
                r = rows.get(t)
                if r is not None or spec.partitions is not None:
                    out[step_id(u, t)] = None if r is None else r.data_version
        return out

    def summary(self, name: str) -> PartitionSummary:
        """The verdicts of every partition of ``name`` (its upstream assets decided first)."""
        if name in self.summaries:
            return self.summaries[name]
        graph, spec = self.graph, self.graph.specs[name]
        defn = spec.partitions
        assert defn is not None
        keys = defn.key_strings(None, self.dynamic)
        cv = code_version(spec.fn, declared=spec.code_version, source=spec.source)
        fails = self.store.partitions.failures(name)
        simple = not graph.upstream[name] and name not in graph.self_inputs
        statuses = [MISSING] * len(keys)
        pos = {k: i for i, k in enumerate(keys)}
        materialized, latest_i = 0, -1
        counts = {s: 0 for s in ORDER}
        by_step: dict[str, Verdict] = {}
        if simple:  # no inputs: one grouped query of (partition, code version, time)
            for part, last_cv, ts in self.store.partitions.latest_code_versions(name):
                i = pos.get(part)
                if i is None:
                    continue
                materialized += 1
                latest_i = max(latest_i, i)
                f = fails.get(part)
                statuses[i] = FAILED if f is not None and f[0] > ts else (
                    FRESH if last_cv == cv else STALE)
            for part, f in fails.items():
                i = pos.get(part)
                if i is not None and statuses[i] == MISSING:
                    statuses[i] = FAILED
        else:
            for u in graph.upstream[name]:
                if graph.specs[u].partitions is not None:
                    self.summary(u)
            upstream_v = {**self.verdicts, **{s: v for u in graph.upstream[name]
                                               for s, v in self._by_step.get(u, {}).items()}}
            rows = self.rows(name)
            typed = defn.keys(None, self.dynamic)
            for i, k in enumerate(keys):
                last, f = rows.get(k), fails.get(k)
                if last is not None:
                    materialized += 1
                    latest_i = max(latest_i, i)
                sid = step_id(name, k)
                v = verdict(
                    code_version=cv, last_code_version=None if last is None else last.code_version,
                    last_inputs={} if last is None else last.input_versions,
                    last_ts=None if last is None else last.ts.timestamp(),
                    inputs=self.current_inputs(name, typed[i]) if last is not None else {},
                    upstream={**upstream_v, **by_step},
                    failure=None if f is None else Failure(*f))
                by_step[sid] = v
                statuses[i] = v.status
        for s in statuses:
            counts[s] += 1
        self._by_step[name] = by_step
        out = self.summaries[name] = PartitionSummary(
            name, len(keys), counts, materialized, keys[latest_i] if latest_i >= 0 else None,
            keys, statuses, defn, self.dynamic)
        return out

    def asset_verdict(self, name: str) -> Verdict:
        s = self.summary(name)
        st = s.status
        fail = next((self.store.partitions.failures(name).get(k) for k in s.keys_with(FAILED)),
                    None) if st == FAILED else None
        return Verdict(st, s.reason, None if fail is None else fail[2])


class DynamicKeys:
    """``nf.partitions("customers")``: add, remove and list the keys of dynamic partitions."""

    def __init__(self, name: str, store: RunStore) -> None:
        if not isinstance(name, str) or not name.isidentifier():
            raise PartitionError(f"Dynamic partitions name {name!r} is not an identifier; use "
                                 "the name given to DynamicPartitions('customers').", key=repr(name))
        self.name, self._store = name, store

    def add(self, keys: Iterable[str] | str) -> list[str]:
        """Add keys (already present ones are kept once); returns the new ones."""
        return self._store.partitions.add_keys(self.name, keys)

    def remove(self, keys: Iterable[str] | str) -> list[str]:
        """Remove keys; returns those that were there. Their materialisations stay recorded."""
        return self._store.partitions.remove_keys(self.name, keys)

    def keys(self) -> list[str]:
        """The keys, in the order they were added."""
        return self._store.partitions.keys(self.name)

    def __repr__(self) -> str:
        return f"<dynamic partitions {self.name!r}: {len(self.keys())} keys>"


__all__ = ["ORDER", "DynamicKeys", "PartitionStatus", "PartitionSummary", "dynamic_source",
           "load_previous", "run_partitions"]
