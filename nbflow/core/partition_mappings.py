"""Partition mappings: which upstream partitions one downstream partition reads; pure.

A mapping answers ``upstream_keys(key, downstream, upstream, now=, dynamic=)``: the typed keys
of ``upstream`` (a definition) that partition ``key`` of ``downstream`` reads, in upstream key
order. ``key`` and ``downstream`` are None when the downstream asset is not partitioned.

- ``IdentityMapping()``: the same key (the default when both definitions are equal);
- ``TimeWindowMapping(start_offset=0, end_offset=0, allow_missing=True)``: the upstream windows
  overlapping the downstream window, after moving its start and end by that many downstream
  windows (hourly -> daily: a day's 24 hours, 23 or 25 on daylight-saving days;
  ``start_offset=-1, end_offset=-1``: yesterday). Upstream windows outside the upstream's range
  are left out (the first day has no yesterday) unless ``allow_missing=False``. The default
  between two different time-window definitions;
- ``AllPartitions()``: every upstream key (the default for an unpartitioned downstream);
- ``LastPartition()``: the latest upstream key;
- ``StaticMapping({"eu": ["fr", "de"]})``: downstream key -> upstream key or keys (the
  direction of the vocabulary: how a downstream partition picks its upstream partitions;
  Dagster's ``StaticPartitionMapping`` goes the other way);
- ``DimensionMapping("day", mapping=None)``: through one dimension of a ``MultiPartitions``
  (multi -> single, single -> multi, or multi -> multi). Other dimensions that both sides share
  map to themselves, the rest to all their keys: ``DimensionMapping("day",
  TimeWindowMapping(-1, -1))`` on a multi asset reads yesterday of the same region;
- any function ``(downstream_key) -> key | keys`` (``FunctionMapping`` wraps it).

Self-dependency is a mapping from a definition to itself that does not return the key itself,
e.g. ``TimeWindowMapping(-1, -1)``.

What the engine calls: ``resolve_mapping(downstream, upstream, mapping, asset=, upstream_asset=)``
picks the mapping (or raises for definitions that do not match and no mapping), and
``upstream_partitions(...)`` evaluates it, checks every key it returns and names the asset in
each error. Mappings are checked per call, so a bad key surfaces with the downstream key that
produced it.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from nbflow.core.partitions import DynamicSource, MultiKey, PartitionsDefinition
from nbflow.core.partitions_multi import MultiPartitions
from nbflow.core.time_windows import TimeWindowPartitions
from nbflow.errors import PartitionError

Defn = PartitionsDefinition


class PartitionMapping:
    """Base of every mapping; subclasses answer ``upstream_keys``."""

    def upstream_keys(self, key: Any, downstream: Defn | None, upstream: Defn, *,
                      now: dt.datetime | None = None,
                      dynamic: DynamicSource | None = None) -> list[Any]:
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and vars(self) == vars(other)

    def __hash__(self) -> int:
        return hash((type(self).__name__, repr(self)))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class IdentityMapping(PartitionMapping):
    """Each downstream partition reads the upstream partition with the same key."""

    def upstream_keys(self, key: Any, downstream: Defn | None, upstream: Defn, *,
                      now: dt.datetime | None = None,
                      dynamic: DynamicSource | None = None) -> list[Any]:
        if downstream is None:
            return list(upstream.keys(now, dynamic))
        return [upstream.key(key, now, dynamic)]


class AllPartitions(PartitionMapping):
    """Each downstream partition (or the unpartitioned asset) reads every upstream partition."""

    def upstream_keys(self, key: Any, downstream: Defn | None, upstream: Defn, *,
                      now: dt.datetime | None = None,
                      dynamic: DynamicSource | None = None) -> list[Any]:
        return list(upstream.keys(now, dynamic))


class LastPartition(PartitionMapping):
    """Each downstream partition reads the latest upstream partition (none while it has none)."""

    def upstream_keys(self, key: Any, downstream: Defn | None, upstream: Defn, *,
                      now: dt.datetime | None = None,
                      dynamic: DynamicSource | None = None) -> list[Any]:
        keys = upstream.keys(now, dynamic)
        return [keys[-1]] if len(keys) else []


class TimeWindowMapping(PartitionMapping):
    """Upstream windows overlapping the downstream window moved by the offsets."""

    def __init__(self, start_offset: int = 0, end_offset: int = 0, *,
                 allow_missing: bool = True) -> None:
        for name, v in (("start_offset", start_offset), ("end_offset", end_offset)):
            if isinstance(v, bool) or not isinstance(v, int):
                raise PartitionError(f"TimeWindowMapping {name} must be a whole number of "
                                     f"downstream windows (-1 is the one before), got {v!r}.")
        self.start_offset, self.end_offset = start_offset, end_offset
        self.allow_missing = allow_missing

    def upstream_keys(self, key: Any, downstream: Defn | None, upstream: Defn, *,
                      now: dt.datetime | None = None,
                      dynamic: DynamicSource | None = None) -> list[Any]:
        if not isinstance(downstream, TimeWindowPartitions) or \
                not isinstance(upstream, TimeWindowPartitions):
            raise PartitionError(
                f"TimeWindowMapping maps between time-window partitions, not from "
                f"{downstream!r} to {upstream!r}; use DimensionMapping for a time dimension of "
                "MultiPartitions, or another mapping.")
        dt_ = downstream._ticker
        i = downstream._tick_index(downstream._coerce(key))
        if i is None:  # not a window start: let the definition say why
            downstream.index(key, now, dynamic)
            raise AssertionError("unreachable")
        lo_t, hi_t = dt_.tick(i + self.start_offset), dt_.tick(i + 1 + self.end_offset)
        if hi_t <= lo_t:
            return []
        ut = upstream._ticker
        lo, hi = ut.floor(lo_t), ut.floor(hi_t - dt.timedelta(microseconds=1))
        count = upstream._count(now)
        if not self.allow_missing and (lo < 0 or hi >= count):
            missing = lo if lo < 0 else max(hi, count)
            raise PartitionError(
                f"Partition {downstream.format_key(key)!r} reads upstream window "
                f"{upstream.format_key(upstream._key_at(missing))!r} through {self!r}, which is "
                f"outside {upstream!r}; pass allow_missing=True to leave such windows out.",
                definition=repr(upstream), key=upstream.format_key(upstream._key_at(missing)))
        return upstream._keys_between(max(lo, 0), min(hi + 1, count))


class StaticMapping(PartitionMapping):
    """Downstream key -> upstream key or keys, written out: ``StaticMapping({"eu": ["fr"]})``."""

    def __init__(self, mapping: Mapping[Any, Any]) -> None:
        if not isinstance(mapping, Mapping):
            raise PartitionError(f"StaticMapping needs a dict of downstream key -> upstream "
                                 f"key(s), got {type(mapping).__name__}.")
        self.mapping = {k: [v] if isinstance(v, str) or not isinstance(v, Iterable) else list(v)
                        for k, v in mapping.items()}

    def upstream_keys(self, key: Any, downstream: Defn | None, upstream: Defn, *,
                      now: dt.datetime | None = None,
                      dynamic: DynamicSource | None = None) -> list[Any]:
        text = key if downstream is None else downstream.format_key(key)
        found = self.mapping.get(key, self.mapping.get(text))
        if found is None:
            raise PartitionError(
                f"StaticMapping has no entry for downstream partition {text!r}; add "
                f"{text!r}: [upstream keys] to it (an empty list reads nothing).", key=str(text))
        return found


class DimensionMapping(PartitionMapping):
    """Map through one dimension of ``MultiPartitions``, by ``mapping`` (default identity)."""

    def __init__(self, dimension: str, mapping: PartitionMapping | Callable[..., Any] | None
                 = None) -> None:
        self.dimension = dimension
        self.mapping = IdentityMapping() if mapping is None else as_mapping(mapping)

    def upstream_keys(self, key: Any, downstream: Defn | None, upstream: Defn, *,
                      now: dt.datetime | None = None,
                      dynamic: DynamicSource | None = None) -> list[Any]:
        name = self.dimension
        if downstream is None:
            raise PartitionError(f"DimensionMapping({name!r}) needs a partitioned downstream "
                                 "asset; an unpartitioned one reads AllPartitions().")
        if not isinstance(downstream, MultiPartitions) and \
                not isinstance(upstream, MultiPartitions):
            raise PartitionError(f"DimensionMapping({name!r}) needs MultiPartitions on one "
                                 f"side, not {downstream!r} and {upstream!r}; map the "
                                 "definitions directly instead.")
        if isinstance(downstream, MultiPartitions):
            dkey, ddef = downstream._coerce(key), downstream.dimension(name)
            dvalue = dkey[name]
        else:
            dkey, ddef, dvalue = None, downstream, key
        udef = upstream.dimension(name) if isinstance(upstream, MultiPartitions) else upstream
        values = upstream_partitions(dvalue, ddef, udef, self.mapping, now=now, dynamic=dynamic)
        if not isinstance(upstream, MultiPartitions):
            return values
        axes: list[list[Any]] = []
        for n in upstream.names:
            if n == name:
                axes.append(values)
            elif dkey is not None and n in dkey and isinstance(downstream, MultiPartitions) \
                    and downstream.dimension(n) == upstream.dimension(n):
                axes.append([dkey[n]])
            else:
                axes.append(list(upstream.dimension(n).keys(now, dynamic)))
        return [MultiKey(zip(upstream.names, combo)) for combo in itertools.product(*axes)]


class FunctionMapping(PartitionMapping):
    """A plain function ``(downstream_key) -> upstream key | keys`` (typed or text)."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn

    def upstream_keys(self, key: Any, downstream: Defn | None, upstream: Defn, *,
                      now: dt.datetime | None = None,
                      dynamic: DynamicSource | None = None) -> list[Any]:
        got = self.fn(key)
        if got is None:
            return []
        if isinstance(got, (str, dt.date, MultiKey)) or not isinstance(got, Iterable):
            return [got]
        return list(got)

    def __repr__(self) -> str:
        return f"FunctionMapping({getattr(self.fn, '__qualname__', self.fn)!r})"


def as_mapping(obj: PartitionMapping | Callable[[Any], Any]) -> PartitionMapping:
    """A mapping from a mapping or a plain function."""
    if isinstance(obj, PartitionMapping):
        return obj
    if isinstance(obj, type) and issubclass(obj, PartitionMapping):
        return obj()  # AllPartitions written without ()
    if callable(obj):
        return FunctionMapping(obj)
    raise PartitionError(f"A partition mapping must be a mapping such as TimeWindowMapping() or "
                         f"a function downstream key -> upstream keys, got {obj!r}.")


def resolve_mapping(downstream: Defn | None, upstream: Defn | None,
                    mapping: PartitionMapping | Callable[[Any], Any] | None = None, *,
                    asset: str = "?", upstream_asset: str = "?") -> PartitionMapping | None:
    """The mapping ``asset`` uses to read ``upstream_asset``; None when upstream is unpartitioned.

    With no ``mapping``: identity for equal definitions, ``TimeWindowMapping()`` between two
    time-window definitions, ``DimensionMapping`` when one side is a dimension of the other,
    ``AllPartitions()`` for an unpartitioned downstream; otherwise a ``PartitionError``.
    """
    if upstream is None:
        return None
    if mapping is not None:
        return as_mapping(mapping)
    if downstream is None:
        return AllPartitions()
    if downstream == upstream:
        return IdentityMapping()
    if isinstance(downstream, TimeWindowPartitions) and isinstance(upstream, TimeWindowPartitions):
        return TimeWindowMapping()
    for multi, single in ((downstream, upstream), (upstream, downstream)):
        if isinstance(multi, MultiPartitions) and not isinstance(single, MultiPartitions):
            shared = [n for n, d in multi.dimensions.items() if d == single]
            if len(shared) == 1:
                return DimensionMapping(shared[0])
    raise PartitionError(
        f"Asset {asset!r} is partitioned by {downstream!r} but reads {upstream_asset!r}, "
        f"partitioned by {upstream!r}, and says not how its partitions map; pass a mapping "
        f"for {upstream_asset!r} (e.g. AllPartitions(), StaticMapping({{...}}) or a function "
        "downstream key -> upstream keys).", definition=repr(downstream), asset=asset)


def upstream_partitions(key: Any, downstream: Defn | None, upstream: Defn,
                        mapping: PartitionMapping | Callable[[Any], Any] | None = None, *,
                        asset: str = "?", upstream_asset: str = "?",
                        now: dt.datetime | None = None,
                        dynamic: DynamicSource | None = None) -> list[Any]:
    """The typed upstream keys partition ``key`` of ``asset`` reads, checked, in order.

    ``mapping`` None picks the default (``resolve_mapping``). Every key the mapping returns must
    be a key of ``upstream`` now; otherwise a ``PartitionError`` naming both assets, the keys and
    the fix.
    """
    chosen = resolve_mapping(downstream, upstream, mapping, asset=asset,
                             upstream_asset=upstream_asset)
    assert chosen is not None
    shown = "(unpartitioned)" if downstream is None else _text(downstream, key)
    if downstream is not None:
        try:
            key = downstream.key(key, now, dynamic)
        except PartitionError as e:
            raise PartitionError(f"Asset {asset!r}: {e}", definition=e.definition, key=e.key,
                                 asset=asset) from None
    try:
        got = chosen.upstream_keys(key, downstream, upstream, now=now, dynamic=dynamic)
    except PartitionError as e:
        raise PartitionError(f"Asset {asset!r} reading {upstream_asset!r} for partition "
                             f"{shown}: {e}", definition=e.definition, key=e.key,
                             asset=asset) from None
    if isinstance(chosen, (IdentityMapping, AllPartitions, LastPartition, TimeWindowMapping,
                           DimensionMapping)):
        return got  # built from the upstream's own keys
    try:
        idx = sorted(set(upstream.indices(got, now, dynamic)))
    except PartitionError as e:
        raise PartitionError(
            f"The mapping {chosen!r} of asset {asset!r} returned {e.key!r} for partition "
            f"{shown}, which is not a partition of {upstream_asset!r} ({upstream!r}); make it "
            "return keys of that definition.", definition=repr(upstream), key=e.key,
            asset=asset) from None
    keys = upstream.keys(now, dynamic)
    return [keys[i] for i in idx]


def _text(defn: Defn, key: Any) -> str:
    try:
        return repr(defn.format_key(key))
    except PartitionError:
        return repr(key)


__all__ = [
    "AllPartitions", "DimensionMapping", "FunctionMapping", "IdentityMapping", "LastPartition",
    "PartitionMapping", "StaticMapping", "TimeWindowMapping", "as_mapping", "resolve_mapping",
    "upstream_partitions",
]
