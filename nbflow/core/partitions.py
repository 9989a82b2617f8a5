"""Partitions definitions: the base every kind shares, static and dynamic keys; pure, stdlib only.

A partitions definition says which slices (partitions) an asset has. Kinds, each in its module:

- time windows (``nbflow.core.time_windows``): ``DailyPartitions``, ``HourlyPartitions``,
  ``WeeklyPartitions``, ``MonthlyPartitions``, ``TimeWindowPartitions(cron=...)``; keys are
  ``datetime.date`` (one window a day or less often) or aware ``datetime`` (window starts);
- ``StaticPartitions(["eu", "us"])`` and ``DynamicPartitions("customers")``: keys are ``str``;
- ``MultiPartitions(region=..., day=...)`` (``nbflow.core.partitions_multi``): keys are
  ``MultiKey`` mappings of dimension -> key, any number of dimensions.

The protocol every definition answers (``now`` is an aware datetime, default the current time;
``dynamic`` is the provider of dynamic keys, see ``DynamicSource``)::

    d.keys(now=None, dynamic=None)          # every key, in order (a lazy Sequence for time windows)
    d.key_strings(now=None, dynamic=None)   # the same keys in their stored string form
    d.key(value, now=, dynamic=)            # a typed key from a key or its string, checked in range
    d.has_key(value, now=, dynamic=)        # the same check as a bool
    d.index(value, now=, dynamic=)          # position of a key in keys()
    d.parse_key(text) / d.format_key(key)   # string form <-> typed key (form only, no range check)
    d.select(selection, now=, dynamic=)     # keys picked by a selection (below), in order
    d.ranges(keys, ...) / d.render_ranges(keys, ...)   # "2026-01-01...2026-03-31, 2026-04-02"
    d.to_dict(); d == other; hash(d)        # JSON-ready description; equal definitions map 1:1

Selections (``select``): a key (typed or text), a list of them, or text: items separated by
``,``; an item is a key, an inclusive range ``first...last`` (in key order), a pattern with
``*`` (matched on the string form) or ``*`` for all. For multi definitions see
``nbflow.core.partitions_multi``. Key text of static and dynamic keys may not be empty, have
surrounding spaces or control characters, or contain ``,`` ``;`` ``|`` ``*`` or ``...``, so
that every selection and stored multi key reads back one way (``check_key_text``).

Every error is a ``PartitionError`` naming the definition, the key and the fix.
"""

from __future__ import annotations

import datetime as dt
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Union

from nbflow.errors import PartitionError

PartitionKey = Union[dt.date, dt.datetime, str, "MultiKey"]
"""A typed partition key: a date or aware datetime (time windows), a str, or a ``MultiKey``."""

DynamicSource = Mapping[str, Iterable[str]] | Callable[[str], Iterable[str]]
"""Where dynamic keys come from: a mapping name -> keys, or a function ``(name) -> keys``
(the store's, later). Keys come back in the order given, duplicates dropped."""

FORBIDDEN = (",", ";", "|", "*", "...")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_key_text(text: object, *, what: str = "Partition key") -> str:
    """``text`` if it can be a static or dynamic key, else a ``PartitionError`` saying why."""
    if not isinstance(text, str):
        raise PartitionError(f"{what} must be text, got {type(text).__name__} {text!r}.",
                             key=repr(text))
    bad = [c for c in FORBIDDEN if c in text]
    if not text or text != text.strip() or _CONTROL.search(text) or bad:
        why = ("is empty" if not text else f"contains {bad[0]!r}" if bad else
               "has surrounding spaces" if text != text.strip() else "has a control character")
        raise PartitionError(
            f"{what} {text!r} {why}; keys are non-empty text without surrounding spaces, "
            "control characters or any of , ; | * ... (they separate keys in selections).",
            key=text)
    return text


class MultiKey(Mapping[str, Any]):
    """A key of a ``MultiPartitions``: dimension name -> that dimension's typed key.

    Immutable and hashable; equal to any ``MultiKey`` with the same items whatever their order.
    Build one with ``MultiKey(region="eu", day=date(2026, 1, 1))`` or from a mapping; the
    definition (``MultiPartitions.key``) checks it and renders its string form.
    """

    __slots__ = ("_hash", "_items")

    def __init__(self, items: Mapping[str, Any] | Iterable[tuple[str, Any]] = (), /,
                 **dims: Any) -> None:
        pairs = dict(items.items() if isinstance(items, Mapping) else items)
        pairs.update(dims)
        self._items: dict[str, Any] = pairs
        self._hash = hash(frozenset(pairs.items()))

    def __getitem__(self, name: str) -> Any:
        return self._items[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, MultiKey):
            return self._hash == other._hash and self._items == other._items
        if isinstance(other, Mapping):
            return self._items == dict(other)
        return NotImplemented

    def __repr__(self) -> str:
        return "MultiKey(" + ", ".join(f"{k}={v!r}" for k, v in self._items.items()) + ")"


class PartitionsDefinition(ABC):
    """The slices an asset has; see the module docstring for the protocol."""

    kind: str = ""
    needs_dynamic: bool = False
    """True when ``keys()`` needs a ``dynamic`` provider (a dynamic definition or dimension)."""

    # -- what each kind provides -------------------------------------------------------
    @abstractmethod
    def keys(self, now: dt.datetime | None = None,
             dynamic: DynamicSource | None = None) -> Sequence[Any]:
        """Every key, in order."""

    @abstractmethod
    def parse_key(self, text: str) -> Any:
        """The typed key of a string form; checks the form, not the range."""

    @abstractmethod
    def format_key(self, key: Any) -> str:
        """The string form of a key (typed or text), as stored."""

    @abstractmethod
    def _identity(self) -> tuple[Any, ...]:
        """What makes two definitions equal."""

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description (kind and parameters)."""

    def _coerce(self, value: Any) -> Any:
        """A typed key from a key or its string form, without the range check."""
        return self.parse_key(value) if isinstance(value, str) else value

    def index(self, value: Any, now: dt.datetime | None = None,
              dynamic: DynamicSource | None = None) -> int:
        """The position of ``value`` in ``keys()``; ``PartitionError`` when it is not a key."""
        key = self._coerce(value)
        pos = self._positions(now, dynamic).get(key)
        if pos is None:
            raise self._unknown(value, now, dynamic)
        return pos

    def _positions(self, now: dt.datetime | None,
                   dynamic: DynamicSource | None) -> Mapping[Any, int]:
        return {k: i for i, k in enumerate(self.keys(now, dynamic))}

    def indices(self, values: Iterable[Any], now: dt.datetime | None = None,
                dynamic: DynamicSource | None = None) -> list[int]:
        """``index`` of each value, reading the keys once (for many values at a time)."""
        pos, coerce, out = self._positions(now, dynamic), self._coerce, []
        for v in values:
            i = pos.get(coerce(v))
            if i is None:
                raise self._unknown(v, now, dynamic)
            out.append(i)
        return out

    # -- shared ------------------------------------------------------------------------
    def key_strings(self, now: dt.datetime | None = None,
                    dynamic: DynamicSource | None = None) -> list[str]:
        """Every key's string form, in order."""
        fmt = self.format_key
        return [fmt(k) for k in self.keys(now, dynamic)]

    def key(self, value: Any, now: dt.datetime | None = None,
            dynamic: DynamicSource | None = None) -> Any:
        """The typed key for ``value`` (a key or its string form), checked to be in range."""
        key = self._coerce(value)
        self.index(key, now, dynamic)
        return key

    def has_key(self, value: Any, now: dt.datetime | None = None,
                dynamic: DynamicSource | None = None) -> bool:
        try:
            self.index(value, now, dynamic)
        except PartitionError:
            return False
        return True

    def last_key(self, now: dt.datetime | None = None,
                 dynamic: DynamicSource | None = None) -> Any | None:
        keys = self.keys(now, dynamic)
        return keys[-1] if len(keys) else None

    def select(self, selection: Any, now: dt.datetime | None = None,
               dynamic: DynamicSource | None = None) -> list[Any]:
        """The keys a selection picks (see the module docstring), in key order, no repeats."""
        from nbflow.core.partitions_ranges import select_keys

        return select_keys(self, selection, now, dynamic)

    def ranges(self, keys: Iterable[Any], now: dt.datetime | None = None,
               dynamic: DynamicSource | None = None) -> list[tuple[Any, Any]]:
        """``keys`` as runs of consecutive keys ``(first, last)``, in key order."""
        from nbflow.core.partitions_ranges import key_ranges

        return key_ranges(self, keys, now, dynamic)

    def render_ranges(self, keys: Iterable[Any], now: dt.datetime | None = None,
                      dynamic: DynamicSource | None = None) -> str:
        """``keys`` compressed for display: ``"2026-01-01...2026-03-31, 2026-04-02"``.

        The text is itself a selection that picks exactly ``keys`` again.
        """
        from nbflow.core.partitions_ranges import render_ranges

        return render_ranges(self, keys, now, dynamic)

    def _unknown(self, value: Any, now: dt.datetime | None,
                 dynamic: DynamicSource | None) -> PartitionError:
        text = value if isinstance(value, str) else self._safe_format(value)
        strings = self.key_strings(now, dynamic)
        if not strings:
            hint = "it has no keys yet"
        elif len(strings) <= 6:
            hint = "its keys are " + ", ".join(strings)
        else:
            hint = f"its keys run from {strings[0]} to {strings[-1]} ({len(strings):,} keys)"
        return PartitionError(f"Partition key {text!r} is not a key of {self!r}; {hint}, so "
                              "pick one of those.", definition=repr(self), key=text)

    def _safe_format(self, value: Any) -> str:
        try:
            return self.format_key(value)
        except PartitionError:
            return str(value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PartitionsDefinition):
            return NotImplemented
        return type(self)._identity is type(other)._identity and \
            self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash(self._identity())


class StaticPartitions(PartitionsDefinition):
    """A fixed list of text keys, in the order given: ``StaticPartitions(["eu", "us"])``."""

    kind = "static"

    def __init__(self, keys: Iterable[str]) -> None:
        if isinstance(keys, str):
            raise PartitionError(
                f"StaticPartitions needs a list of keys, got the text {keys!r}; write "
                f"StaticPartitions([{keys!r}]) or split it: StaticPartitions({keys!r}.split(',')).")
        values = tuple(keys)
        for k in values:
            check_key_text(k, what="Static partition key")
        if len(set(values)) != len(values):
            seen: set[str] = set()
            dup = next(k for k in values if k in seen or seen.add(k))  # type: ignore[func-returns-value]
            raise PartitionError(f"StaticPartitions lists {dup!r} twice; list each key once.",
                                 key=dup)
        self._keys = values
        self._index = {k: i for i, k in enumerate(values)}

    def keys(self, now: dt.datetime | None = None,
             dynamic: DynamicSource | None = None) -> tuple[str, ...]:
        return self._keys

    def key_strings(self, now: dt.datetime | None = None,
                    dynamic: DynamicSource | None = None) -> list[str]:
        return list(self._keys)

    def _positions(self, now: dt.datetime | None,
                   dynamic: DynamicSource | None) -> Mapping[Any, int]:
        return self._index

    def parse_key(self, text: str) -> str:
        return _text_key(self, text)

    def format_key(self, key: Any) -> str:
        return _text_key(self, key)

    def _identity(self) -> tuple[Any, ...]:
        return ("static", self._keys)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "static", "keys": list(self._keys)}

    def __repr__(self) -> str:
        more = f", ... {len(self._keys):,} keys" if len(self._keys) > 5 else ""
        return "StaticPartitions([" + ", ".join(map(repr, self._keys[:5])) + more + "])"


class DynamicPartitions(PartitionsDefinition):
    """Text keys that live elsewhere (the store), looked up by ``name`` at evaluation time.

    ``keys(dynamic=source)`` reads them from ``source`` (a ``DynamicSource``); without a source
    it raises, since the definition alone cannot know them. Whoever adds keys checks each with
    ``check_key_text`` first, so reading them stays cheap.
    """

    kind = "dynamic"
    needs_dynamic = True

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name.isidentifier():
            raise PartitionError(
                f"DynamicPartitions name {name!r} is not an identifier; use letters, digits and "
                "underscores, e.g. DynamicPartitions('customers').", key=repr(name))
        self.name = name

    def keys(self, now: dt.datetime | None = None,
             dynamic: DynamicSource | None = None) -> list[str]:
        if dynamic is None:
            raise PartitionError(
                f"{self!r} keeps its keys in the store, and none were given; pass "
                f"dynamic={{'{self.name}': [...]}} or a function name -> keys.",
                definition=repr(self))
        if isinstance(dynamic, Mapping):
            got = dynamic.get(self.name, ())
        else:
            got = dynamic(self.name)
        return list(dict.fromkeys(got))

    def parse_key(self, text: str) -> str:
        return _text_key(self, text)

    def format_key(self, key: Any) -> str:
        return _text_key(self, key)

    def _identity(self) -> tuple[Any, ...]:
        return ("dynamic", self.name)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "dynamic", "name": self.name}

    def __repr__(self) -> str:
        return f"DynamicPartitions({self.name!r})"


def _text_key(defn: PartitionsDefinition, value: Any) -> str:
    if not isinstance(value, str):
        raise PartitionError(f"Partition key {value!r} of {defn!r} must be text, got "
                             f"{type(value).__name__}.", definition=repr(defn), key=repr(value))
    return value


def parse_partitions(text: str) -> PartitionsDefinition:
    """A definition from its short text form, as ``%%asset --partitions`` and the CLI take it.

    ``daily:2026-01-01``, ``hourly:2026-01-01-00:00``, ``weekly:START``, ``monthly:START``
    (each optionally ``@ZONE``: ``daily:2026-01-01@Europe/Brussels``), ``static:a,b,c``,
    ``dynamic:NAME``.
    """
    from nbflow.core import time_windows as tw

    kinds: dict[str, Callable[..., PartitionsDefinition]] = {
        "daily": tw.DailyPartitions, "hourly": tw.HourlyPartitions,
        "weekly": tw.WeeklyPartitions, "monthly": tw.MonthlyPartitions}
    kind, sep, rest = text.partition(":") if isinstance(text, str) else ("", "", "")
    kind = kind.strip().lower()
    if sep and kind == "static":
        return StaticPartitions([k.strip() for k in rest.split(",")])
    if sep and kind == "dynamic":
        return DynamicPartitions(rest.strip())
    if sep and kind in kinds and rest.strip():
        start, _, zone = rest.strip().partition("@")
        return kinds[kind](start=start, tz=zone or "UTC")
    raise PartitionError(
        f"Partitions {text!r} are not understood; write daily:2026-01-01 (also hourly:, "
        "weekly:, monthly:, with @Europe/Paris for a zone), static:a,b,c or dynamic:NAME.",
        key=str(text))


__all__ = [
    "FORBIDDEN", "DynamicPartitions", "DynamicSource", "MultiKey", "PartitionKey",
    "PartitionsDefinition", "StaticPartitions", "check_key_text", "parse_partitions",
]
