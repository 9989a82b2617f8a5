"""Graph: asset specs resolved into upstream/downstream edges, validated and ordered."""

from __future__ import annotations

import difflib
import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
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
    for s in specs:
        loaded: dict[str, str] = {}
        for p in s.params:
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
    return Graph(specs=by_name, inputs=inputs, upstream=upstream,
                 downstream={k: tuple(v) for k, v in downstream.items()}, order=tuple(order))


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
