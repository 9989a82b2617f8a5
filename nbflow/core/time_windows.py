"""Time-window partitions: the windows between consecutive cron ticks in an IANA zone; pure.

``TimeWindowPartitions(cron=, start=, end=None, tz="UTC", end_offset=0, fmt=None)`` has one key
per window ``[tick_i, tick_i+1)`` of the cron's fire times (``nbflow.core.cron``, daylight saving
included) from the first tick at or after ``start``. It has every window that is complete at
``now`` (its end at or before ``now``), plus ``end_offset`` more (1 includes the window in
progress; -1 leaves out the last complete one), and none ending after ``end`` (exclusive bound
on window ends). ``DailyPartitions``, ``HourlyPartitions``, ``WeeklyPartitions`` and
``MonthlyPartitions`` are the same with a built-in cron (``minute_offset``, ``hour_offset`` and
``day_offset`` move the tick: ``WeeklyPartitions(day_offset=1)`` starts weeks on Monday).

Keys: a ``datetime.date`` (the window's start date in the zone) when the cron fires at one wall
time at most once a day (daily, weekly, monthly); otherwise an aware ``datetime``, the window's
start as wall time with the UTC offset then in force (a fixed-offset tzinfo, so the two 02:00
hours of a day when clocks go back are different keys). ``time_window(key)`` gives
``(start, end)`` in the same form. String forms use ``fmt``: ``%Y-%m-%d`` for date keys,
``%Y-%m-%d-%H:%M`` for others, with ``%z`` appended in zones with daylight saving when the cron
fires in real time (hourly or finer), because the wall time alone repeats. A ``fmt`` that cannot
tell keys apart is refused.

Speed: keys are never stepped through the cron when arithmetic is exact. An evenly spaced cron
in a fixed-offset zone (UTC, ``Etc/...``) is ``first + i * step``; a single wall time every day,
every week or on a fixed day (<= 28) of every month is date arithmetic in any zone, with the
zone consulted only for a window's instants. Other crons (hourly in ``Europe/Brussels``) step
through fire times once and keep them. ``keys()`` returns a lazy ``Sequence``.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import re
from collections.abc import Iterator, Sequence
from typing import Any, Protocol, overload

from nbflow.core.cron import Cron, _wall_instant, fire_times, parse_cron
from nbflow.core.partitions import DynamicSource, PartitionsDefinition
from nbflow.core.schedules import load_zone
from nbflow.errors import PartitionError, ScheduleError

UTC = dt.UTC
_US = dt.timedelta(microseconds=1)
_DAY = dt.timedelta(days=1)
_FIXED_NAMES = {"UTC", "UCT", "GMT", "Zulu", "Universal", "Greenwich", "GMT0", "GMT+0", "GMT-0"}
_TIME_DIRECTIVES = re.compile(r"%[HIMSpfzZXcTRrsk]")
_ALL_DAYS = frozenset(range(1, 32))
_ALL_MONTHS = frozenset(range(1, 13))
_ALL_WEEKDAYS = frozenset(range(7))


def _is_fixed(name: str) -> bool:
    """Zones whose UTC offset never changes (so arithmetic on instants is exact)."""
    return name in _FIXED_NAMES or name.startswith("Etc/")


_OFFSETS: dict[dt.timedelta, dt.timezone] = {}


def _fixed(offset: dt.timedelta) -> dt.timezone:
    tz = _OFFSETS.get(offset)
    if tz is None:
        tz = _OFFSETS[offset] = UTC if not offset else dt.timezone(offset)
    return tz


def _local(t: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    """``t`` as wall time in ``zone`` with the offset then in force as a fixed tzinfo."""
    loc = t.astimezone(zone)
    off = loc.utcoffset()
    assert off is not None
    return loc.replace(tzinfo=_fixed(off), fold=0)


class _Ticker(Protocol):
    def tick(self, i: int) -> dt.datetime: ...  # the i-th tick (UTC), any integer i
    def floor(self, t: dt.datetime) -> int: ...  # the largest i with tick(i) <= t


class _Fixed:
    """Evenly spaced ticks: ``first + i * step`` (a fixed-offset zone)."""

    def __init__(self, first: dt.datetime, step: dt.timedelta) -> None:
        self.first, self.step = first, step

    def tick(self, i: int) -> dt.datetime:
        return self.first + i * self.step

    def floor(self, t: dt.datetime) -> int:
        return (t - self.first) // self.step


class _Days:
    """One wall time every ``step`` days from ``first`` (daily, weekly), in any zone."""

    def __init__(self, first: dt.date, step: int, at: dt.time, zone: dt.tzinfo,
                 fixed: bool) -> None:
        self.first, self.step, self.at, self.zone, self.fixed = first, step, at, zone, fixed

    def date(self, i: int) -> dt.date:
        return self.first + dt.timedelta(days=i * self.step)

    def date_index(self, d: dt.date) -> int | None:
        q, r = divmod((d - self.first).days, self.step)
        return None if r else q

    def tick(self, i: int) -> dt.datetime:
        return _instant(self.date(i), self.at, self.zone, self.fixed)

    def floor(self, t: dt.datetime) -> int:
        i = (t.astimezone(self.zone).date() - self.first).days // self.step
        while self.tick(i) > t:
            i -= 1
        while self.tick(i + 1) <= t:
            i += 1
        return i


class _Months:
    """One wall time on day ``dom`` (<= 28) of every month, in any zone."""

    def __init__(self, first: dt.date, at: dt.time, zone: dt.tzinfo, fixed: bool) -> None:
        self.base = first.year * 12 + first.month - 1
        self.dom, self.at, self.zone, self.fixed = first.day, at, zone, fixed

    def date(self, i: int) -> dt.date:
        y, m = divmod(self.base + i, 12)
        return dt.date(y, m + 1, self.dom)

    def date_index(self, d: dt.date) -> int | None:
        return d.year * 12 + d.month - 1 - self.base if d.day == self.dom else None

    def tick(self, i: int) -> dt.datetime:
        return _instant(self.date(i), self.at, self.zone, self.fixed)

    def floor(self, t: dt.datetime) -> int:
        d = t.astimezone(self.zone).date()
        i = d.year * 12 + d.month - 1 - self.base
        while self.tick(i) > t:
            i -= 1
        while self.tick(i + 1) <= t:
            i += 1
        return i


_LISTED: dict[tuple[str, str, dt.datetime], _Listed] = {}
"""Stepped ticks, shared by equal definitions (they only grow, so sharing is safe)."""


class _Listed:
    """Any cron: fire times stepped once and kept (forwards and, when asked, backwards)."""

    def __init__(self, cron: Cron, zone: dt.tzinfo, first: dt.datetime) -> None:
        self.cron, self.zone = cron, zone
        self.after: list[dt.datetime] = [first]  # ticks from the first on
        self.before: list[dt.datetime] = []  # ticks before the first, nearest first
        self._gen = fire_times(cron, zone, first)

    def _forward(self, until_len: int | None = None, past: dt.datetime | None = None) -> None:
        after, gen = self.after, self._gen
        while (until_len is not None and len(after) < until_len) or \
                (past is not None and after[-1] <= past):
            nxt = next(gen, None)
            if nxt is None:
                raise PartitionError(f"Cron {self.cron.text!r} has no more ticks (past year 9999).")
            after.append(nxt)

    def _backward(self, count: int | None = None, below: dt.datetime | None = None) -> None:
        span = max(self.after[min(1, len(self.after) - 1)] - self.after[0], _DAY) if \
            len(self.after) > 1 else _DAY * 32
        while (count is not None and len(self.before) < count) or \
                (below is not None and (not self.before or self.before[-1] > below)):
            edge = self.before[-1] if self.before else self.after[0]
            start = edge - span * 4
            if start.year < 2:
                raise PartitionError(f"Cron {self.cron.text!r} has no ticks before year 1.")
            found = []
            for t in fire_times(self.cron, self.zone, start):
                if t >= edge:
                    break
                found.append(t)
            self.before.extend(reversed(found))
            span *= 4

    def tick(self, i: int) -> dt.datetime:
        if i >= 0:
            if i >= len(self.after):
                self._forward(until_len=i + 1)
            return self.after[i]
        if -i > len(self.before):
            self._backward(count=-i)
        return self.before[-i - 1]

    def floor(self, t: dt.datetime) -> int:
        if t >= self.after[0]:
            self._forward(past=t)
            return bisect.bisect_right(self.after, t) - 1
        self._backward(below=t)
        # before is descending; count the ticks in (t, first)
        lo, hi = 0, len(self.before)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.before[mid] > t:
                lo = mid + 1
            else:
                hi = mid
        return -lo - 1


def _instant(d: dt.date, at: dt.time, zone: dt.tzinfo, fixed: bool) -> dt.datetime:
    """The instant (UTC) of wall time ``d at`` by the cron rules (first occurrence, gap end)."""
    wall = dt.datetime.combine(d, at)
    if fixed:
        return wall.replace(tzinfo=zone).astimezone(UTC)
    return _wall_instant(wall, zone)


def _parse_time(value: Any, zone: dt.tzinfo, fixed: bool, what: str, owner: str) -> dt.datetime:
    """``start=``/``end=`` as an instant: a date (its midnight), a datetime or ISO text."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = dt.date.fromisoformat(text) if len(text) == 10 else \
                dt.datetime.fromisoformat(text[:10] + "T" + text[11:] if len(text) > 10 and
                                          text[10] == "-" else text)
        except ValueError:
            raise PartitionError(
                f"{owner}: {what} {value!r} is not a date or time; write it as 2026-01-01, "
                "2026-01-01T06:00 or 2026-01-01-06:00.", key=value) from None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            return _instant(value.date(), value.time(), zone, fixed)
        return value.astimezone(UTC)
    if isinstance(value, dt.date):
        return _instant(value, dt.time(), zone, fixed)
    raise PartitionError(f"{owner}: {what} must be a date, a datetime or text such as "
                         f"'2026-01-01', got {type(value).__name__} {value!r}.", key=repr(value))


class TimeWindowKeys(Sequence[Any]):
    """The keys of a time-window definition, computed on demand from their positions."""

    def __init__(self, defn: TimeWindowPartitions, count: int) -> None:
        self._defn, self._count = defn, count

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, i: int) -> Any: ...
    @overload
    def __getitem__(self, i: slice) -> list[Any]: ...
    def __getitem__(self, i: int | slice) -> Any:
        if isinstance(i, slice):
            lo, hi, step = i.indices(self._count)
            if step == 1:
                return self._defn._keys_between(lo, hi)
            return [self._defn._key_at(j) for j in range(lo, hi, step)]
        if i < 0:
            i += self._count
        if not 0 <= i < self._count:
            raise IndexError("partition key index out of range")
        return self._defn._key_at(i)

    def __iter__(self) -> Iterator[Any]:
        chunk = 4096
        for lo in range(0, self._count, chunk):
            yield from self._defn._keys_between(lo, min(lo + chunk, self._count))

    def __contains__(self, value: object) -> bool:
        return self._defn._position_of(value, self._count) is not None

    def index(self, value: Any, start: int = 0, stop: int | None = None) -> int:
        pos = self._defn._position_of(value, self._count)
        if pos is None or pos < start or (stop is not None and pos >= stop):
            raise ValueError(f"{value!r} is not a key here")
        return pos


class TimeWindowPartitions(PartitionsDefinition):
    """One partition per window between consecutive ticks of ``cron`` in zone ``tz``."""

    kind = "time_window"
    _label = "TimeWindowPartitions"

    def __init__(self, cron: str, start: Any, end: Any = None, tz: str = "UTC",
                 end_offset: int = 0, fmt: str | None = None) -> None:
        owner = f"{self._label}(cron={cron!r}, start={start!r})"
        try:
            self.cron = parse_cron(cron)
            self.zone = load_zone(tz)
        except ScheduleError as e:
            raise PartitionError(f"{owner}: {e}", definition=owner) from None
        if isinstance(end_offset, bool) or not isinstance(end_offset, int):
            raise PartitionError(f"{owner}: end_offset must be a whole number of windows "
                                 f"(1 includes the window in progress), got {end_offset!r}.")
        self.tz, self.end_offset, self._fixed_zone = tz, end_offset, _is_fixed(tz)
        self._start_arg = start
        begin = _parse_time(start, self.zone, self._fixed_zone, "start", owner)
        self.end = None if end is None else _parse_time(end, self.zone, self._fixed_zone, "end",
                                                        owner)
        first = next(fire_times(self.cron, self.zone, begin - _US), None)
        if first is None:
            raise PartitionError(f"{owner}: the cron never fires after the start; check its "
                                 "day and month fields.", definition=owner)
        self.start = first
        c = self.cron
        once_a_day = len(c.minutes) * len(c.hours) == 1 and (not c.real_time or self._fixed_zone)
        ambiguous = c.real_time and not self._fixed_zone
        if fmt is None:
            fmt = "%Y-%m-%d" if once_a_day else "%Y-%m-%d-%H:%M" + ("%z" if ambiguous else "")
        self.fmt = fmt
        self.date_keys = not _TIME_DIRECTIVES.search(fmt)
        self._iso = fmt == "%Y-%m-%d"
        self._ticker = self._make_ticker(first)
        self._check_fmt(owner, once_a_day, ambiguous)

    def _make_ticker(self, first: dt.datetime) -> _Ticker:
        c = self.cron
        flags = c.last_day or c.last_weekday or c.nearest_weekday or c.nth_weekdays or \
            c.last_weekdays
        every_day = not flags and c.days == _ALL_DAYS and c.months == _ALL_MONTHS and \
            c.weekdays == _ALL_WEEKDAYS
        grid = sorted(h * 60 + m for h in c.hours for m in c.minutes)
        step = grid[1] - grid[0] if len(grid) > 1 else 1440
        even = all(b - a == step for a, b in itertools.pairwise(grid)) and step * len(grid) == 1440
        if self._fixed_zone and every_day and even:
            return _Fixed(first, dt.timedelta(minutes=step))
        if len(grid) == 1 and not c.real_time and not flags and c.months == _ALL_MONTHS:
            at = dt.time(c.hours[0], c.minutes[0])
            local = first.astimezone(self.zone).date()
            if every_day:
                return _Days(local, 1, at, self.zone, self._fixed_zone)
            if c.days == _ALL_DAYS and len(c.weekdays) == 1 and c.day_and:
                return _Days(local, 7, at, self.zone, self._fixed_zone)
            if len(c.days) == 1 and max(c.days) <= 28 and c.weekdays == _ALL_WEEKDAYS:
                return _Months(local, at, self.zone, self._fixed_zone)
        shared = (c.text, self.tz, first)
        listed = _LISTED.get(shared)
        if listed is None:
            listed = _LISTED[shared] = _Listed(c, self.zone, first)
        return listed

    def _check_fmt(self, owner: str, once_a_day: bool, ambiguous: bool) -> None:
        fix = "leave fmt out for the default"
        if not isinstance(self.fmt, str) or any(s in self.fmt for s in (",", ";", "|", "*",
                                                                          "...")):
            raise PartitionError(f"{owner}: fmt {self.fmt!r} must be text without , ; | * or "
                                 f"...; {fix}.", definition=owner)
        if self.date_keys and not once_a_day:
            raise PartitionError(
                f"{owner}: fmt {self.fmt!r} shows only the date but the cron fires more than "
                f"once a day, so keys would repeat; add the time (%H:%M) or {fix}.",
                definition=owner)
        if ambiguous and not self.date_keys and "%z" not in self.fmt:
            raise PartitionError(
                f"{owner}: fmt {self.fmt!r} has no %z, but in {self.tz} an hour repeats when "
                f"clocks go back, so two keys would read the same; add %z or {fix}.",
                definition=owner)
        for i in (0, 1, 37):  # the form must read back to the same key
            key = self._key_at(i)
            text = self.format_key(key)
            try:
                ok = self.parse_key(text) == key
            except PartitionError:
                ok = False
            if not ok:
                raise PartitionError(
                    f"{owner}: fmt {self.fmt!r} renders key {key!r} as {text!r}, which does not "
                    f"read back as that key; include every part that changes or {fix}.",
                    definition=owner)

    # -- positions ---------------------------------------------------------------------
    def _count(self, now: dt.datetime | None) -> int:
        if now is None:
            now = dt.datetime.now(UTC)
        elif now.tzinfo is None:
            raise PartitionError(f"now={now.isoformat()} has no time zone; pass an aware "
                                 "datetime.", definition=repr(self))
        n = self._floor(now) + self.end_offset
        if self.end is not None:
            n = min(n, self._floor(self.end))
        return max(0, n)

    def _floor(self, t: dt.datetime) -> int:
        # before the first tick only the sign matters, unless end_offset reaches past it
        if t < self.start and self.end_offset <= 1:
            return -1
        return self._ticker.floor(t)

    def _key_at(self, i: int) -> Any:
        t = self._ticker
        if self.date_keys and isinstance(t, (_Days, _Months)):
            return t.date(i)
        loc = _local(t.tick(i), self.zone)
        return loc.date() if self.date_keys else loc

    def _keys_between(self, lo: int, hi: int) -> list[Any]:
        if hi <= lo:
            return []
        t = self._ticker
        if isinstance(t, _Days) and self.date_keys:
            d0, step = t.date(lo), dt.timedelta(days=t.step)
            return [d0 + k * step for k in range(hi - lo)]
        if isinstance(t, _Fixed):
            first = self._key_at(lo)
            step = _DAY if self.date_keys else t.step
            return [first + k * step for k in range(hi - lo)]
        return [self._key_at(i) for i in range(lo, hi)]

    def _tick_index(self, key: Any) -> int | None:
        """The tick index of a typed key, or None when it is not a window start."""
        t = self._ticker
        if self.date_keys:
            if type(key) is not dt.date:
                return None
            if isinstance(t, (_Days, _Months)):
                return t.date_index(key)
            i = t.floor(_instant(key + _DAY, dt.time(), self.zone, self._fixed_zone) - _US)
            return i if self._key_at(i) == key else None
        if not isinstance(key, dt.datetime) or key.tzinfo is None:
            return None
        i = t.floor(key)
        return i if t.tick(i) == key else None

    def _position_of(self, value: Any, count: int) -> int | None:
        try:
            key = self._coerce(value)
        except PartitionError:
            return None
        i = self._tick_index(key)
        return i if i is not None and 0 <= i < count else None

    # -- the protocol ------------------------------------------------------------------
    def keys(self, now: dt.datetime | None = None,
             dynamic: DynamicSource | None = None) -> TimeWindowKeys:
        return TimeWindowKeys(self, self._count(now))

    def key_strings(self, now: dt.datetime | None = None,
                    dynamic: DynamicSource | None = None) -> list[str]:
        # Keys never change once they exist, only more come (an open end): the strings made
        # so far are kept and extended, so a status of 100,000 partitions formats them once.
        n = self._count(now)
        made = self.__dict__.setdefault("_strings", [])
        if len(made) < n:
            made.extend(self._strings_between(len(made), n))
        return made[:n]

    def _strings_between(self, lo: int, hi: int) -> list[str]:
        if self._iso:
            return [k.isoformat() for k in self._keys_between(lo, hi)]
        fast = self._split_fmt()
        if fast is not None:
            return self._fast_strings(lo, hi, *fast)
        fmt = self.fmt
        return [k.strftime(fmt) for k in self._keys_between(lo, hi)]

    def _split_fmt(self) -> tuple[str, str] | None:
        """``fmt`` as (date part, time part) when keys can be formatted a day at a time."""
        t = self._ticker
        if self.date_keys or not isinstance(t, _Fixed) or _DAY % t.step:
            return None
        m = _TIME_DIRECTIVES.search(self.fmt)
        assert m is not None
        head, tail = self.fmt[:m.start()], self.fmt[m.start():]
        if re.search(r"%[^HIMSpfzZ%]", tail.replace("%%", "")):
            return None
        return head, tail

    def _fast_strings(self, lo: int, hi: int, head: str, tail: str) -> list[str]:
        # A fixed zone and a step that divides the day: every day has the same times of day.
        t = self._ticker
        assert isinstance(t, _Fixed)
        first = self._key_at(lo)
        midnight = first.replace(hour=0, minute=0, second=0, microsecond=0)
        per_day = _DAY // t.step
        slot, rest = divmod(first - midnight, t.step)
        times = [(midnight + rest + j * t.step).strftime(tail) for j in range(per_day)]
        day, out, left = first.date(), [], hi - lo
        while left > 0:
            take = min(per_day - slot, left)
            prefix = day.strftime(head) if head != "%Y-%m-%d-" else day.isoformat() + "-"
            out.extend([prefix + x for x in times[slot:slot + take]])
            left -= take
            slot, day = 0, day + _DAY
        return out

    def _coerce(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.parse_key(value)
        if isinstance(value, dt.datetime) and value.tzinfo is not None and not self.date_keys:
            return _local(value, self.zone)
        return value

    def parse_key(self, text: str) -> Any:
        bad = PartitionError(
            f"Partition key {text!r} is not in the form {self.fmt!r} of {self!r}; write it like "
            f"{self.format_key(self._key_at(0))!r}.", definition=repr(self), key=str(text))
        if not isinstance(text, str):
            raise bad
        try:
            if self._iso:
                key: Any = dt.date.fromisoformat(text)
            else:
                parsed = dt.datetime.strptime(text, self.fmt)
                if self.date_keys:
                    key = parsed.date()
                elif parsed.tzinfo is None:
                    key = _local(_instant(parsed.date(), parsed.time(), self.zone,
                                          self._fixed_zone), self.zone)
                else:
                    key = _local(parsed, self.zone)
        except (ValueError, OverflowError):
            raise bad from None
        if self.format_key(key) != text:
            raise bad
        return key

    def format_key(self, key: Any) -> str:
        if isinstance(key, str):
            return key
        if self.date_keys:
            if type(key) is not dt.date:
                raise self._wrong_type(key)
            return key.isoformat() if self._iso else key.strftime(self.fmt)
        if not isinstance(key, dt.datetime) or key.tzinfo is None:
            raise self._wrong_type(key)
        return _local(key, self.zone).strftime(self.fmt)

    def _wrong_type(self, key: Any) -> PartitionError:
        want = "a datetime.date" if self.date_keys else "an aware datetime"
        return PartitionError(f"Partition key {key!r} of {self!r} must be {want} or its text "
                              f"form like {self.format_key(self._key_at(0))!r}.",
                              definition=repr(self), key=repr(key))

    def index(self, value: Any, now: dt.datetime | None = None,
              dynamic: DynamicSource | None = None) -> int:
        key = self._coerce(value)
        if self.date_keys and type(key) is not dt.date or \
                not self.date_keys and not isinstance(key, dt.datetime):
            raise self._wrong_type(key)
        i = self._tick_index(key)
        shown = value if isinstance(value, str) else self.format_key(key)
        if i is None:
            raise self._not_window(shown)
        count = self._count(now)
        if not 0 <= i < count:
            if i < 0:
                why = f"it is before the first key {self.format_key(self._key_at(0))!r}"
            elif count == 0:
                why = "the definition has no complete window yet"
            else:
                why = (f"it is after the last key {self.format_key(self._key_at(count - 1))!r}"
                       + (" (its window is not complete yet)" if self.end is None or
                          self._ticker.tick(i + 1) <= self.end else ""))
            raise PartitionError(f"Partition key {shown!r} is outside {self!r}: {why}; pick a "
                                 "key in range.", definition=repr(self), key=shown)
        return i

    def indices(self, values: Any, now: dt.datetime | None = None,
                dynamic: DynamicSource | None = None) -> list[int]:
        count, out = self._count(now), []
        for v in values:
            i = self._position_of(v, count)
            out.append(self.index(v, now) if i is None else i)  # index raises the reason
        return out

    def time_window(self, key: Any) -> tuple[dt.datetime, dt.datetime]:
        """``(start, end)`` of a key's window, aware, with the offsets in force then."""
        typed = self._coerce(key)
        if self.date_keys and type(typed) is not dt.date or \
                not self.date_keys and not isinstance(typed, dt.datetime):
            raise self._wrong_type(typed)
        i = self._tick_index(typed)
        if i is None:
            raise self._not_window(key if isinstance(key, str) else self.format_key(typed))
        t = self._ticker
        return _local(t.tick(i), self.zone), _local(t.tick(i + 1), self.zone)

    def _not_window(self, shown: str) -> PartitionError:
        return PartitionError(
            f"Partition key {shown!r} is not the start of a window of {self!r}; windows start "
            f"at {self.format_key(self._key_at(0))!r} and at every tick of {self.cron.text!r} "
            "after it.", definition=repr(self), key=shown)

    def key_for_time(self, t: dt.datetime) -> Any:
        """The key whose window holds instant ``t`` (range not checked)."""
        return self._key_at(self._ticker.floor(t))

    def _identity(self) -> tuple[Any, ...]:
        return ("time_window", self.cron.text, self.tz, self.start, self.end, self.end_offset,
                self.fmt)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "time_window", "cron": self.cron.text, "tz": self.tz,
                "start": self.start.isoformat(),
                "end": None if self.end is None else self.end.isoformat(),
                "end_offset": self.end_offset, "fmt": self.fmt}

    def __repr__(self) -> str:
        start = self.format_key(self._key_at(0))
        args = [f"start={start!r}"] + self._extra_repr()
        if self.end is not None:
            args.append(f"end={_local(self.end, self.zone).isoformat()!r}")
        if self.tz != "UTC":
            args.append(f"tz={self.tz!r}")
        if self.end_offset:
            args.append(f"end_offset={self.end_offset}")
        return f"{self._label}({', '.join(args)})"

    def _extra_repr(self) -> list[str]:
        return [f"cron={self.cron.text!r}"]


class _Named(TimeWindowPartitions):
    def _extra_repr(self) -> list[str]:
        return []


class DailyPartitions(_Named):
    """One partition per day: ``DailyPartitions(start="2026-01-01", tz="Europe/Brussels")``."""

    _label = "DailyPartitions"

    def __init__(self, start: Any, end: Any = None, tz: str = "UTC", end_offset: int = 0,
                 fmt: str | None = None, *, minute_offset: int = 0, hour_offset: int = 0) -> None:
        super().__init__(f"{minute_offset} {hour_offset} * * *", start, end, tz, end_offset, fmt)


class HourlyPartitions(_Named):
    """One partition per hour (real hours: 23 on the day clocks go forward, 25 when back)."""

    _label = "HourlyPartitions"

    def __init__(self, start: Any, end: Any = None, tz: str = "UTC", end_offset: int = 0,
                 fmt: str | None = None, *, minute_offset: int = 0) -> None:
        super().__init__(f"{minute_offset} * * * *", start, end, tz, end_offset, fmt)


class WeeklyPartitions(_Named):
    """One partition per week, starting on ``day_offset`` (0 Sunday, as in cron; 1 Monday)."""

    _label = "WeeklyPartitions"

    def __init__(self, start: Any, end: Any = None, tz: str = "UTC", end_offset: int = 0,
                 fmt: str | None = None, *, minute_offset: int = 0, hour_offset: int = 0,
                 day_offset: int = 0) -> None:
        super().__init__(f"{minute_offset} {hour_offset} * * {day_offset}", start, end, tz,
                         end_offset, fmt)


class MonthlyPartitions(_Named):
    """One partition per month, starting on day ``day_offset`` (default 1) of the month."""

    _label = "MonthlyPartitions"

    def __init__(self, start: Any, end: Any = None, tz: str = "UTC", end_offset: int = 0,
                 fmt: str | None = None, *, minute_offset: int = 0, hour_offset: int = 0,
                 day_offset: int = 1) -> None:
        super().__init__(f"{minute_offset} {hour_offset} {day_offset} * *", start, end, tz,
                         end_offset, fmt)


__all__ = [
    "DailyPartitions", "HourlyPartitions", "MonthlyPartitions", "TimeWindowKeys",
    "TimeWindowPartitions", "WeeklyPartitions",
]
