"""Multi partitions: the product of any number of named dimensions, keys addressed by name.

``MultiPartitions(region=StaticPartitions(["eu", "us"]), day=DailyPartitions(start=...))`` has
one key per combination, a ``MultiKey`` (``key["region"]``, ``key["day"]``), in product order
(the first dimension varies slowest). Dimensions may be of any kind except multi.

String form (stored): ``region=eu|day=2026-01-01``, dimensions in definition order, each value
in its dimension's string form; ``parse_key`` also takes the dimensions in any order.

Selections: a ``MultiKey``; a mapping of dimension -> that dimension's selection, where a
dimension left out means all of its keys (``{"region": "eu", "day": "2026-01-*"}``); text
``region=eu,us|day=2026-01-01...2026-01-31`` (the same, ``|`` between dimensions); several of
these as a list or joined by ``;``. ``render_ranges`` gives such text, grouping products:
``region=eu, us|day=2026-01-01...2026-01-31; region=ap|day=2026-01-01``.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from nbflow.core.partitions import DynamicSource, MultiKey, PartitionsDefinition
from nbflow.core.partitions_ranges import _merge, render_positions, select_positions
from nbflow.errors import PartitionError


def _key(names: Sequence[str], values: Iterable[Any]) -> MultiKey:
    return MultiKey(zip(names, values))


class MultiPartitions(PartitionsDefinition):
    """The product of named dimensions: ``MultiPartitions(region=..., day=...)``."""

    kind = "multi"

    def __init__(self, dimensions: Mapping[str, PartitionsDefinition] | None = None, /,
                 **dims: PartitionsDefinition) -> None:
        given = {**(dimensions or {}), **dims}
        if not given:
            raise PartitionError("MultiPartitions needs at least one dimension, e.g. "
                                 "MultiPartitions(region=StaticPartitions([...]), day=...).")
        for name, d in given.items():
            if not isinstance(name, str) or not name.isidentifier():
                raise PartitionError(f"MultiPartitions dimension name {name!r} is not an "
                                     "identifier; use letters, digits and underscores.")
            if isinstance(d, MultiPartitions) or not isinstance(d, PartitionsDefinition):
                raise PartitionError(
                    f"MultiPartitions dimension {name!r} must be a partitions definition other "
                    f"than MultiPartitions, got {d!r}; list nested dimensions at the top level.")
        self.dimensions: dict[str, PartitionsDefinition] = given
        self.names = tuple(given)
        self.needs_dynamic = any(d.needs_dynamic for d in given.values())

    def dimension(self, name: str) -> PartitionsDefinition:
        d = self.dimensions.get(name)
        if d is None:
            raise PartitionError(f"{self!r} has no dimension {name!r}; its dimensions are "
                                 f"{', '.join(self.names)}.", definition=repr(self), key=name)
        return d

    def keys(self, now: dt.datetime | None = None,
             dynamic: DynamicSource | None = None) -> list[MultiKey]:
        names = self.names
        per = [self.dimensions[n].keys(now, dynamic) for n in names]
        return [_key(names, combo) for combo in itertools.product(*per)]

    def format_key(self, key: Any) -> str:
        if isinstance(key, str):
            return key
        key = self._coerce(key)
        return "|".join(f"{n}={self.dimensions[n].format_key(key[n])}" for n in self.names)

    def parse_key(self, text: str) -> MultiKey:
        if not isinstance(text, str):
            raise self._form(text)
        values: dict[str, Any] = {}
        for part in text.split("|"):
            name, eq, value = part.partition("=")
            if not eq or name not in self.dimensions or name in values:
                raise self._form(text)
            values[name] = self.dimensions[name].parse_key(value)
        if len(values) != len(self.names):
            raise self._form(text)
        return _key(self.names, (values[n] for n in self.names))

    def _form(self, text: Any) -> PartitionError:
        example = "|".join(f"{n}=..." for n in self.names)
        return PartitionError(
            f"Partition key {text!r} is not a key of {self!r}; write each dimension once as "
            f"{example!r} or pass a mapping {{dimension: key}}.", definition=repr(self),
            key=str(text))

    def _coerce(self, value: Any) -> MultiKey:
        if isinstance(value, str):
            return self.parse_key(value)
        if not isinstance(value, Mapping) or set(value) != set(self.names):
            raise self._form(value)
        return _key(self.names, (self.dimensions[n]._coerce(value[n]) for n in self.names))

    def _sizes(self, now: dt.datetime | None, dynamic: DynamicSource | None) -> list[int]:
        return [len(self.dimensions[n].keys(now, dynamic)) for n in self.names]

    def indices(self, values: Iterable[Any], now: dt.datetime | None = None,
                dynamic: DynamicSource | None = None) -> list[int]:
        keys = [self._coerce(v) for v in values]
        flat = [0] * len(keys)
        for name, size in zip(self.names, self._sizes(now, dynamic)):
            try:
                idx = self.dimensions[name].indices([k[name] for k in keys], now, dynamic)
            except PartitionError as e:
                raise PartitionError(f"Dimension {name!r} of {self!r}: {e}",
                                     definition=repr(self), key=e.key) from None
            flat = [f * size + i for f, i in zip(flat, idx)]
        return flat

    def index(self, value: Any, now: dt.datetime | None = None,
              dynamic: DynamicSource | None = None) -> int:
        return self.indices([value], now, dynamic)[0]

    def time_window(self, key: Any) -> tuple[dt.datetime, dt.datetime]:
        """The window of the one time-window dimension of ``key``."""
        timed = [n for n in self.names if hasattr(self.dimensions[n], "time_window")]
        if len(timed) != 1:
            raise PartitionError(f"{self!r} has {len(timed)} time-window dimensions, so a key "
                                 "has no single time window; ask the dimension: "
                                 "definition.dimension(NAME).time_window(key[NAME]).",
                                 definition=repr(self))
        key = self._coerce(key)
        return self.dimensions[timed[0]].time_window(key[timed[0]])  # type: ignore[attr-defined]

    # -- selections --------------------------------------------------------------------
    def _alternatives(self, selection: Any) -> list[Any]:
        if isinstance(selection, str):
            return [s.strip() for s in selection.split(";")]
        if isinstance(selection, Mapping):
            return [selection]
        if isinstance(selection, Iterable):
            out: list[Any] = []
            for item in selection:
                out.extend(self._alternatives(item))
            return out
        raise self._form(selection)

    def _per_dimension(self, alt: Any) -> dict[str, Any]:
        if isinstance(alt, MultiKey):
            return {n: [alt[n]] for n in self._coerce(alt)}
        if isinstance(alt, Mapping):
            parts = dict(alt)
        else:
            parts = {}
            for part in alt.split("|"):
                name, eq, sel = part.partition("=")
                if not eq or name.strip() in parts:
                    raise PartitionError(
                        f"Partition selection {alt!r} of {self!r} is not of the form "
                        f"{'|'.join(n + '=...' for n in self.names)!r} (any dimension may be "
                        "left out for all its keys).", definition=repr(self), key=alt)
                parts[name.strip()] = sel
        for name in parts:
            self.dimension(name)
        return parts

    def select(self, selection: Any, now: dt.datetime | None = None,
               dynamic: DynamicSource | None = None) -> list[MultiKey]:
        sizes = self._sizes(now, dynamic)
        flat: list[int] = []
        for alt in self._alternatives(selection):
            parts = {} if alt == "*" else self._per_dimension(alt)
            axes: list[list[int]] = []
            for name, size in zip(self.names, sizes):
                if name not in parts or parts[name] == "*":
                    axes.append(list(range(size)))
                    continue
                spans = select_positions(self.dimensions[name], parts[name], now, dynamic)
                axes.append([i for lo, hi in spans for i in range(lo, hi)])
            for combo in itertools.product(*axes):
                f = 0
                for i, size in zip(combo, sizes):
                    f = f * size + i
                flat.append(f)
        keys = self.keys(now, dynamic)
        return [keys[i] for lo, hi in _merge([(f, f + 1) for f in flat]) for i in range(lo, hi)]

    def render_ranges(self, keys: Iterable[Any], now: dt.datetime | None = None,
                      dynamic: DynamicSource | None = None) -> str:
        sizes = self._sizes(now, dynamic)
        tuples = set()
        for f in self.indices(keys, now, dynamic):
            combo = []
            for size in reversed(sizes):
                f, i = divmod(f, size)
                combo.append(i)
            tuples.add(tuple(reversed(combo)))
        strings = [self.dimensions[n].key_strings(now, dynamic) for n in self.names]
        return "; ".join(self._render(frozenset(tuples), 0, strings))

    def _render(self, tuples: frozenset[tuple[int, ...]], depth: int,
                strings: list[list[str]]) -> list[str]:
        name, d = self.names[depth], self.dimensions[self.names[depth]]
        if depth == len(self.names) - 1:
            return [f"{name}={render_positions(d, (t[0] for t in tuples), strings[depth])}"]
        rests: dict[int, set[tuple[int, ...]]] = {}
        for t in tuples:
            rests.setdefault(t[0], set()).add(t[1:])
        groups: dict[frozenset[tuple[int, ...]], list[int]] = {}
        for first, rest in rests.items():
            groups.setdefault(frozenset(rest), []).append(first)
        out: list[str] = []
        for group, firsts in sorted(groups.items(), key=lambda g: min(g[1])):
            head = f"{name}={render_positions(d, firsts, strings[depth])}"
            out.extend(f"{head}|{tail}" for tail in self._render(group, depth + 1, strings))
        return out

    def _identity(self) -> tuple[Any, ...]:
        return ("multi", tuple(self.dimensions.items()))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "multi", "dimensions": {n: d.to_dict() for n, d in
                                                self.dimensions.items()}}

    def __repr__(self) -> str:
        return "MultiPartitions(" + ", ".join(f"{n}={d!r}" for n, d in
                                              self.dimensions.items()) + ")"


__all__ = ["MultiKey", "MultiPartitions"]
