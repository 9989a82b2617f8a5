"""Freshness policies in the session: each policy's overdue / on-time standing, from the store.

The rule is ``core/freshness_policy.py``; this module feeds it the store's facts (last
materialisations, last failures, partitions) and walks the graph upstream first, so an overdue
upstream asset is the reason given for an overdue downstream one. ``Session.status`` and the
daemon's freshness tick source both read it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from nbflow.core.freshness_policy import FreshnessState, evaluate, evaluate_partitioned
from nbflow.core.graph import Graph

if TYPE_CHECKING:
    from nbflow.core.records import MaterializationRecord
    from nbflow.store.base import RunStore


def has_policies(graph: Graph) -> bool:
    """Whether any asset of ``graph`` has a freshness policy."""
    return any(s.freshness is not None for s in graph.specs.values())


def freshness_states(graph: Graph, store: RunStore, now: dt.datetime | None = None, *,
                     names: Iterable[str] | None = None,
                     latest: Mapping[str, MaterializationRecord] | None = None,
                     failures: Mapping[str, tuple[float, str, str | None]] | None = None,
                     ) -> dict[str, FreshnessState]:
    """asset -> its ``FreshnessState`` at ``now`` (default: the current time), for every asset
    with a policy (of ``names`` when given, plus their upstream assets with policies)."""
    if not has_policies(graph):
        return {}
    now = dt.datetime.now(dt.UTC) if now is None else now
    wanted = None if names is None else _with_upstream(graph, names)
    latest = store.latest_materializations() if latest is None else latest
    failures = store.last_failures() if failures is None else failures
    out: dict[str, FreshnessState] = {}
    for name in graph.order:
        spec = graph.specs[name]
        policy = spec.freshness
        if policy is None or (wanted is not None and name not in wanted):
            continue
        late = [u for u in graph.upstream[name] if u in out and out[u].overdue]
        if spec.partitions is None:
            last = latest.get(name)
            out[name] = evaluate(policy, now, last_ts=None if last is None else last.ts.timestamp(),
                                 failure=failures.get(name), upstream_overdue=late)
        else:
            out[name] = _partitioned(name, spec.partitions, policy, now, store, late)
    return out


def _partitioned(name: str, defn: Any, policy: Any, now: dt.datetime, store: RunStore,
                 late: list[str]) -> FreshnessState:
    from nbflow.session.partitions import dynamic_source

    dynamic = dynamic_source(store)
    fails: dict[str, tuple[float, str, str | None]] | None = None

    def due_key(at: dt.datetime) -> str | None:
        key = defn.last_key(at, dynamic)
        return None if key is None else str(defn.format_key(key))

    def window_end(key: str) -> dt.datetime | None:
        window = getattr(defn, "time_window", None)
        return None if window is None else window(key)[1]

    def failure(key: str) -> tuple[float, str, str | None] | None:
        nonlocal fails
        if fails is None:
            fails = store.partitions.failures(name)
        return fails.get(key)

    return evaluate_partitioned(
        policy, now, due_key=due_key, window_end=window_end,
        materialised=lambda key: key in store.partitions.latest(name, [key]),
        failure=failure, upstream_overdue=late)


def _with_upstream(graph: Graph, names: Iterable[str]) -> set[str]:
    out: set[str] = set()
    todo = list(names)
    while todo:
        n = todo.pop()
        if n in out or n not in graph.specs:
            continue
        out.add(n)
        todo.extend(graph.upstream[n])
    return out


__all__ = ["freshness_states", "has_policies"]
