"""Key selections and ranges: pick keys by text, lists, ranges and ``*`` patterns; compress keys.

Selections (one grammar for Python, the CLI and the panel): a typed key, a list of keys, or
text with items separated by ``,``; an item is a key in its string form, an inclusive range
``first...last`` in key order, a pattern where ``*`` matches any text (on the string form), or
``*`` alone for every key. A selection that names a key the definition does not have, a
reversed range or a pattern that matches nothing is a ``PartitionError``. Multi definitions
(``nbflow.core.partitions_multi``) add dimensions on top of this per-dimension grammar.

``render_positions`` is the inverse: runs of three or more consecutive keys become
``first...last``, shorter runs are listed, so the text selects the same keys again.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from nbflow.errors import PartitionError

if TYPE_CHECKING:
    from nbflow.core.partitions import DynamicSource, PartitionsDefinition


def _items(defn: PartitionsDefinition, selection: Any) -> list[Any]:
    if isinstance(selection, str):
        parts = [p.strip() for p in selection.split(",")]
        if not all(parts):
            raise PartitionError(
                f"Partition selection {selection!r} of {defn!r} has an empty item; separate "
                "keys, ranges (a...b) and patterns (2026-01-*) with single commas.",
                definition=repr(defn), key=selection)
        return parts
    if isinstance(selection, (dt.date, dt.datetime)):
        return [selection]
    if isinstance(selection, Iterable) and not isinstance(selection, (bytes, dict)):
        out: list[Any] = []
        for item in selection:
            out.extend(_items(defn, item))
        return out
    raise PartitionError(
        f"Partition selection {selection!r} of {defn!r} is not a key, a list of keys or text "
        "such as '2026-01-01...2026-01-31'.", definition=repr(defn), key=repr(selection))


def select_positions(defn: PartitionsDefinition, selection: Any, now: dt.datetime | None,
                     dynamic: DynamicSource | None) -> list[tuple[int, int]]:
    """The selection as merged, sorted half-open position intervals ``[lo, hi)``."""
    spans: list[tuple[int, int]] = []
    strings: list[str] | None = None
    for item in _items(defn, selection):
        if not isinstance(item, str):
            i = defn.index(item, now, dynamic)
            spans.append((i, i + 1))
        elif item == "*":
            spans.append((0, len(defn.keys(now, dynamic))))
        elif "..." in item:
            first, _, last = (s.strip() for s in item.partition("..."))
            lo, hi = defn.index(first, now, dynamic), defn.index(last, now, dynamic)
            if lo > hi:
                raise PartitionError(
                    f"Partition range {item!r} of {defn!r} runs backwards; write it as "
                    f"'{last}...{first}'.", definition=repr(defn), key=item)
            spans.append((lo, hi + 1))
        elif "*" in item:
            if strings is None:
                strings = defn.key_strings(now, dynamic)
            pattern = re.compile(".*".join(map(re.escape, item.split("*"))))
            hits = [i for i, s in enumerate(strings) if pattern.fullmatch(s)]
            if not hits:
                raise PartitionError(
                    f"Partition pattern {item!r} matches no key of {defn!r}; check it against "
                    f"the keys ({_sample(strings)}).", definition=repr(defn), key=item)
            spans.extend((i, i + 1) for i in hits)
        else:
            i = defn.index(item, now, dynamic)
            spans.append((i, i + 1))
    return _merge(spans)


def _sample(strings: list[str]) -> str:
    if not strings:
        return "there are none yet"
    if len(strings) <= 4:
        return ", ".join(strings)
    return f"{strings[0]}, {strings[1]}, ... {strings[-1]}"


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(spans):
        if out and lo <= out[-1][1]:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out


def select_keys(defn: PartitionsDefinition, selection: Any, now: dt.datetime | None,
                dynamic: DynamicSource | None) -> list[Any]:
    keys = defn.keys(now, dynamic)
    out: list[Any] = []
    for lo, hi in select_positions(defn, selection, now, dynamic):
        out.extend(keys[lo:hi])
    return out


def runs(positions: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted distinct positions as inclusive runs ``(first, last)``."""
    out: list[tuple[int, int]] = []
    for i in sorted(set(positions)):
        if out and i == out[-1][1] + 1:
            out[-1] = (out[-1][0], i)
        else:
            out.append((i, i))
    return out


def key_ranges(defn: PartitionsDefinition, keys: Iterable[Any], now: dt.datetime | None,
               dynamic: DynamicSource | None) -> list[tuple[Any, Any]]:
    all_keys = defn.keys(now, dynamic)
    return [(all_keys[a], all_keys[b]) for a, b in runs(defn.indices(keys, now, dynamic))]


def render_positions(defn: PartitionsDefinition, positions: Iterable[int],
                     strings: list[str] | Any) -> str:
    """Positions as a selection text; ``strings[i]`` is the string form of key ``i``."""
    parts: list[str] = []
    for a, b in runs(positions):
        if a == b:
            parts.append(strings[a])
        elif b == a + 1:
            parts.extend((strings[a], strings[b]))
        else:
            parts.append(f"{strings[a]}...{strings[b]}")
    return ", ".join(parts)


class _Strings:
    """Lazy string forms by position (rendering a few ranges must not format every key)."""

    def __init__(self, defn: PartitionsDefinition, keys: Any) -> None:
        self.defn, self.keys = defn, keys

    def __getitem__(self, i: int) -> str:
        return self.defn.format_key(self.keys[i])


def render_ranges(defn: PartitionsDefinition, keys: Iterable[Any], now: dt.datetime | None,
                  dynamic: DynamicSource | None) -> str:
    return render_positions(defn, defn.indices(keys, now, dynamic),
                            _Strings(defn, defn.keys(now, dynamic)))


__all__ = ["key_ranges", "render_positions", "render_ranges", "runs", "select_keys",
           "select_positions"]
