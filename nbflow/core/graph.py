"""Graph: asset specs resolved into upstream/downstream edges, validated and ordered."""

from __future__ import annotations

import difflib
import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from nbflow.core.specs import AssetSpec
from nbflow.errors import CycleError, UnknownAssetError


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to ``name``, if any is close enough to suggest."""
    found = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return found[0] if found else None


def unknown_name_error(name: str, candidates: Iterable[str], *, context: str,
                       fix: str) -> UnknownAssetError:
    """``{context} 'x', which is not a defined asset. Did you mean 'y'? Fix: ...``"""
    hint = closest(name, candidates)
    did = f" Did you mean {hint!r}?" if hint else ""
    return UnknownAssetError(f"{context} {name!r}, which is not a defined asset.{did} "
                             f"{fix[0].upper()}{fix[1:]}.", name=name, suggestion=hint)


@dataclass(frozen=True)
class Graph:
    """A validated asset graph. ``order`` is topological, ties kept in definition order."""

    specs: Mapping[str, AssetSpec]
    inputs: Mapping[str, Mapping[str, str]]
    """asset -> {parameter name: upstream asset} for values that are loaded."""
    upstream: Mapping[str, tuple[str, ...]]
    downstream: Mapping[str, tuple[str, ...]]
    order: tuple[str, ...]
    mappings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """asset -> {partitioned upstream asset: the ``PartitionMapping`` it reads it through};
    a partitioned asset reading itself (``self_inputs``) is listed under its own name."""
    self_inputs: Mapping[str, str] = field(default_factory=dict)
    """asset -> the parameter that receives its own earlier partitions (self-dependency)."""

    def __contains__(self, name: object) -> bool:
        return name in self.specs

    def __len__(self) -> int:
        return len(self.specs)

    def upstream_of(self, names: Iterable[str], depth: int | None = None) -> set[str]:
        """Every asset upstream of ``names`` (not including them), up to ``depth`` hops."""
        return _walk(self.upstream, names, depth)

    def downstream_of(self, names: Iterable[str], depth: int | None = None) -> set[str]:
        """Every asset downstream of ``names`` (not including them), up to ``depth`` hops."""
        return _walk(self.downstream, names, depth)

    def sorted(self, names: Iterable[str]) -> list[str]:
        """``names`` in topological order."""
        wanted = set(names)
        return [n for n in self.order if n in wanted]

    def view(self) -> dict[str, Any]:
        """A plain-dict view for the panel, the CLI and the server."""
        return {
            "nodes": [
                {"name": s.name, "group": s.group, "tags": dict(s.tags), "kind": s.kind,
                 "description": s.description or "", "io": s.io,
                 "checks": [c.name for c in s.checks]}
                for s in (self.specs[n] for n in self.order)
            ],
            "edges": [[u, n] for n in self.order for u in self.upstream[n]],
        }


def _walk(adjacent: Mapping[str, tuple[str, ...]], start: Iterable[str], depth: int | None) -> set[str]:
    seen: set[str] = set()
    frontier = list(start)
    hops = 0
    while frontier and (depth is None or hops < depth):
        nxt = []
        for name in frontier:
            for other in adjacent.get(name, ()):
                if other not in seen:
                    seen.add(other)
                    nxt.append(other)
        frontier = nxt
        hops += 1
    return seen


def build_graph(specs: Sequence[AssetSpec]) -> Graph:
    """Resolve parameters to upstream assets and check for unknown names and cycles."""
    by_name = {s.name: s for s in specs}
    inputs: dict[str, dict[str, str]] = {}
    upstream: dict[str, tuple[str, ...]] = {}
    self_inputs: dict[str, str] = {}
    for s in specs:
        loaded: dict[str, str] = {}
        for p in s.params:
            if p.name == s.name and s.partitions is not None and s.name in s.partition_mapping:
                self_inputs[s.name] = p.name  # earlier partitions of itself, through the mapping
                continue
            # a parameter named after its own asset is a self-loop unless it has a default
            if p.name in by_name and (p.name != s.name or not p.has_default):
                loaded[p.name] = p.name
            elif not p.has_default:
                raise unknown_name_error(
                    p.name, by_name, context=f"Asset {s.name!r} has a parameter",
                    fix="define that asset, or give the parameter a default if it is not an asset")
        for d in s.deps:
            if d not in by_name:
                raise unknown_name_error(d, by_name, context=f"Asset {s.name!r} lists in deps=",
                                         fix="define that asset or remove it from deps")
        inputs[s.name] = loaded
        upstream[s.name] = tuple(dict.fromkeys([*loaded.values(), *s.deps]))
    downstream: dict[str, list[str]] = {n: [] for n in by_name}
    for n, ups in upstream.items():
        for u in ups:
            downstream[u].append(n)
    order = _toposort(list(by_name), upstream, downstream)
    mappings = _mappings(by_name, upstream, self_inputs) if any(
        s.partitions is not None for s in specs) else {}
    return Graph(specs=by_name, inputs=inputs, upstream=upstream,
                 downstream={k: tuple(v) for k, v in downstream.items()}, order=tuple(order),
                 mappings=mappings, self_inputs=self_inputs)


def _mappings(by_name: Mapping[str, AssetSpec], upstream: Mapping[str, tuple[str, ...]],
              self_inputs: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """The partition mapping of every edge from a partitioned asset, checked now, so that a
    mismatch is reported when the graph is built, naming both assets and the fix."""
    from nbflow.core.partition_mappings import resolve_mapping
    from nbflow.errors import DefinitionError

    out: dict[str, dict[str, Any]] = {}
    for name, spec in by_name.items():
        given = spec.partition_mapping
        ups = [*upstream[name], *([name] if name in self_inputs else [])]
        for key in given:
            if key != "*" and key not in ups:
                raise DefinitionError(
                    f"partition_mapping of asset {name!r} names {key!r}, which it does not read; "
                    f"map one of its upstream assets ({', '.join(ups) or 'none'}) instead.")
        chosen: dict[str, Any] = {}
        for u in ups:
            up = by_name[u].partitions
            if up is None:
                continue
            m = resolve_mapping(spec.partitions, up, given.get(u, given.get("*")), asset=name,
                                upstream_asset=u)
            if u == name and type(m).__name__ == "IdentityMapping":
                raise DefinitionError(
                    f"Asset {name!r} reads its own partitions through {m!r}, so each partition "
                    "would wait for itself; map it to earlier partitions, e.g. "
                    f"partition_mapping={{{name!r}: TimeWindowMapping(-1, -1)}}.")
            if m is not None:
                chosen[u] = m
        if chosen:
            out[name] = chosen
    return out


def _toposort(names: list[str], upstream: Mapping[str, tuple[str, ...]],
              downstream: Mapping[str, list[str]]) -> list[str]:
    indegree = {n: len(upstream[n]) for n in names}
    position = {n: i for i, n in enumerate(names)}
    # Always take the earliest-defined ready asset, so a definition order that is already
    # topological is kept as it is.
    ready = [position[n] for n in names if indegree[n] == 0]
    order: list[str] = []
    while ready:
        n = names[heapq.heappop(ready)]
        order.append(n)
        for d in downstream[n]:
            indegree[d] -= 1
            if indegree[d] == 0:
                heapq.heappush(ready, position[d])
    if len(order) != len(names):
        raise CycleError(_find_cycle([n for n in names if indegree[n] > 0], upstream))
    return order


def _find_cycle(candidates: list[str], upstream: Mapping[str, tuple[str, ...]]) -> list[str]:
    """One cycle among ``candidates``, written in dependency order: ``a -> b -> a``."""
    inside = set(candidates)
    # Follow upstream edges from a node on the cycle until a node repeats.
    path: list[str] = []
    where: dict[str, int] = {}
    node = candidates[0]
    while node not in where:
        where[node] = len(path)
        path.append(node)
        node = next(u for u in upstream[node] if u in inside)
    loop = path[where[node]:]
    loop.reverse()  # upstream-first reads as data flows: a -> b means b uses a
    return [*loop, loop[0]]
