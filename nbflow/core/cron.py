"""Cron expressions: the five-field grammar, and their fire times in an IANA zone; pure, stdlib only.

Grammar (Vixie cron, with the common extensions): ``minute hour day-of-month month day-of-week``;
each field is ``*``, a number, a range ``a-b`` (``FRI-MON`` wraps), a step ``*/n``, ``a-b/n`` or
``a/n``, or a comma list of these; months and days may be names (``JAN``, ``MON``); day-of-week
7 is Sunday. Day-of-month also takes ``L`` (last day), ``LW`` (last weekday) and ``15W``
(weekday nearest the 15th); day-of-week takes ``MON#2`` (second Monday), ``5L`` or ``L5``
(last Friday); ``?`` means ``*`` in the two day fields. Aliases: ``@hourly``, ``@daily``,
``@midnight``, ``@weekly``, ``@monthly``, ``@yearly``, ``@annually``.

Day fields follow Vixie cron: when the day-of-month or day-of-week field starts with ``*``, a
day must match both (so the ``*``-prefixed one does not restrict); otherwise either.

Refused: ``R`` (random) and ``H`` (hashed) fields, because a schedule must give the same
times every time it is read; ``@reboot``, because the scheduler fires on clock times and
never sees a machine start.

Daylight saving (Debian cron's rules, as cronsim applies them):

- a schedule whose minute or hour field starts with ``*`` (hourly or finer) runs in real
  time: it fires at every instant whose wall time matches, so through both passes of an hour
  repeated when clocks go back, and not at all in an hour skipped when they go forward;
- any other schedule (a fixed time: ``30 2 * * *``) follows the wall clock: a time repeated
  when clocks go back fires once, at its first occurrence; a time skipped when clocks go
  forward fires once, at the end of the gap (02:30 on a day that jumps 02:00 -> 03:00 fires
  at 03:00).
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from nbflow.errors import ScheduleError

UTC = dt.UTC
SEARCH_YEARS = 50
"""A schedule with no fire time in this many years is taken to never fire."""

ALIASES = {
    "@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
_FIELDS = ("minute", "hour", "day-of-month", "month", "day-of-week")
_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_MONTHS = {n: i + 1 for i, n in enumerate(
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"])}
_DAYS = {n: i for i, n in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}
_EXAMPLES = "e.g. '0 6 * * *' is 06:00 daily and '*/15 * * * *' every 15 minutes"
_MINUTE = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class Cron:
    """A parsed cron expression: the allowed values of each field and the day rules."""

    text: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    last_day: bool = False
    last_weekday: bool = False  # LW
    nearest_weekday: frozenset[int] = frozenset()  # 15W
    nth_weekdays: frozenset[tuple[int, int]] = frozenset()  # MON#2 -> (1, 2)
    last_weekdays: frozenset[int] = frozenset()  # 5L -> 5
    day_and: bool = True
    real_time: bool = False
    """Hourly or finer (minute or hour field starts with ``*``): fire in real time across DST."""

    def matches_day(self, d: dt.date) -> bool:
        if d.month not in self.months:
            return False
        dom, dow = self._dom(d), self._dow(d)
        return (dom and dow) if self.day_and else (dom or dow)

    def _dom(self, d: dt.date) -> bool:
        if d.day in self.days:
            return True
        last = calendar.monthrange(d.year, d.month)[1]
        if self.last_day and d.day == last:
            return True
        if self.last_weekday and d.day == _nearest_weekday(d.year, d.month, last):
            return True
        return any(d.day == _nearest_weekday(d.year, d.month, n)
                   for n in self.nearest_weekday if n <= last)

    def _dow(self, d: dt.date) -> bool:
        wd = (d.weekday() + 1) % 7
        if wd in self.weekdays or (wd, (d.day + 6) // 7) in self.nth_weekdays:
            return True
        return wd in self.last_weekdays and d.day + 7 > calendar.monthrange(d.year, d.month)[1]


def _nearest_weekday(year: int, month: int, day: int) -> int:
    """The weekday (Mon-Fri) nearest ``day`` in the same month (Quartz's ``W``)."""
    last = calendar.monthrange(year, month)[1]
    wd = calendar.weekday(year, month, day)  # Monday 0
    if wd == 5:
        return day - 1 if day > 1 else day + 2
    if wd == 6:
        return day + 1 if day < last else day - 2
    return day


def _error(expr: str, why: str) -> ScheduleError:
    return ScheduleError(f"Cron expression {expr!r} is not valid: {why}; {_EXAMPLES}.")


def _value(expr: str, i: int, text: str) -> int:
    names = _MONTHS if i == 3 else _DAYS if i == 4 else {}
    if text in names:
        return names[text]
    lo, hi = _BOUNDS[i]
    if not text.isdigit() or len(text) > 4:
        raise _error(expr, f"{_FIELDS[i]} field has {text!r}, which is not a number"
                     + (" or a name" if names else ""))
    v = int(text)
    if not lo <= v <= hi:
        raise _error(expr, f"{_FIELDS[i]} value {v} is out of range ({lo}-{hi})")
    return v


def _span(expr: str, i: int, text: str) -> list[int]:
    """The ordered values of ``*``, ``a``, ``a-b`` (wrapping when ``a > b``)."""
    lo, hi = _BOUNDS[i]
    if i == 4:
        hi = 6
    if text in ("*", "?"):
        return list(range(lo, hi + 1))
    if "-" in text:
        a_text, b_text = text.split("-", 1)
        a, b = _value(expr, i, a_text), _value(expr, i, b_text)
        if a <= b:  # day-of-week 7 (Sunday) becomes 0 at the end
            return list(range(a, b + 1))
        return list(range(a, hi + 1)) + list(range(lo, b + 1))
    return [_value(expr, i, text)]


def _term(expr: str, i: int, term: str, out: dict[str, set[Any]]) -> None:
    if term[:1] in ("R", "H"):  # no month or day name starts with R or H
        raise ScheduleError(
            f"Cron expression {expr!r} has a {'random' if term[0] == 'R' else 'hashed'} field "
            f"{term!r}, which nbflow does not support: a schedule must give the same times every "
            "time it is read. Pick a fixed value instead, e.g. '17 * * * *' for once an hour.")
    if term == "?" and i not in (2, 4):
        raise _error(expr, f"'?' is only allowed in the day fields, not in {_FIELDS[i]}")
    if i == 2 and term in ("L", "LW"):
        out["flags"].add(term)
        return
    if i == 2 and term.endswith("W") and term[:-1].isdigit():
        out["W"].add(_value(expr, i, term[:-1]))
        return
    if i == 4 and "#" in term:
        day_text, nth_text = term.split("#", 1)
        if not nth_text.isdigit() or not 1 <= int(nth_text) <= 5:
            raise _error(expr, f"day-of-week {term!r} needs a week number from 1 to 5 after '#'")
        out["#"].add((_value(expr, i, day_text) % 7, int(nth_text)))
        return
    if i == 4 and len(term) > 1 and (term.endswith("L") or term.startswith("L")):
        out["L"].add(_value(expr, i, term.strip("L")) % 7)
        return
    base, step = term, 1
    if "/" in term:
        base, step_text = term.split("/", 1)
        if not step_text.isdigit() or int(step_text) == 0:
            raise _error(expr, f"{_FIELDS[i]} step in {term!r} must be a whole number above 0")
        step = int(step_text)
        if base not in ("*", "?") and "-" not in base:  # a/n: from a to the field's end
            base = f"{base}-{_BOUNDS[i][1]}"
    out["values"].update(v % 7 if i == 4 else v for v in _span(expr, i, base)[::step])


@lru_cache(maxsize=512)
def parse_cron(expr: str) -> Cron:
    """A ``Cron`` from a five-field expression or an alias; ``ScheduleError`` names what is wrong."""
    if not isinstance(expr, str):
        raise ScheduleError(f"Cron expression must be text, got {type(expr).__name__} {expr!r}.")
    stripped = expr.strip()
    if stripped.lower() == "@reboot":
        raise ScheduleError(
            "Cron expression '@reboot' is not supported: nbflow's scheduler fires on clock times "
            "and never sees the machine start. Run `nbflow trigger NAME` from the machine's "
            "start-up (a systemd unit or an @reboot line in your own crontab), or use a time "
            "such as '@daily'.")
    text = ALIASES.get(stripped.lower(), stripped)
    if text.startswith("@"):
        raise _error(expr, f"{text.split()[0]!r} is not an alias; use @hourly, @daily, "
                     "@midnight, @weekly, @monthly, @yearly or @annually")
    fields = text.upper().split()
    if len(fields) != 5:
        raise ScheduleError(
            f"Cron expression {expr!r} is not valid: it has {len(fields)} field(s) but needs "
            "five (minute hour day-of-month month day-of-week), e.g. '0 6 * * *' for 06:00 daily.")
    parts = []
    for i, field in enumerate(fields):
        out: dict[str, set[Any]] = {"values": set(), "flags": set(), "W": set(), "#": set(),
                                    "L": set()}
        for term in field.split(","):
            if not term:
                raise _error(expr, f"{_FIELDS[i]} field {field!r} has an empty list item")
            _term(expr, i, term, out)
        parts.append(out)
    star = [f.startswith(("*", "?")) for f in fields]
    return Cron(
        text=text, minutes=tuple(sorted(parts[0]["values"])), hours=tuple(sorted(parts[1]["values"])),
        days=frozenset(parts[2]["values"]), months=frozenset(parts[3]["values"]),
        weekdays=frozenset(parts[4]["values"]), last_day="L" in parts[2]["flags"],
        last_weekday="LW" in parts[2]["flags"], nearest_weekday=frozenset(parts[2]["W"]),
        nth_weekdays=frozenset(parts[4]["#"]), last_weekdays=frozenset(parts[4]["L"]),
        day_and=star[2] or star[4], real_time=star[0] or star[1])


def _next_day(cron: Cron, d: dt.date, until_year: int) -> dt.date | None:
    """The first date from ``d`` on that matches the month and day fields."""
    while d.year <= until_year:
        if d.month not in cron.months:
            d = (d.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
            continue
        if cron.matches_day(d):
            return d
        d += dt.timedelta(days=1)
    return None


def fire_times(cron: Cron, zone: dt.tzinfo, after: dt.datetime) -> Iterator[dt.datetime]:
    """Fire times strictly after ``after`` (aware), increasing, as aware UTC datetimes."""
    gen = _real_times if cron.real_time else _wall_times
    try:
        yield from gen(cron, zone, after.astimezone(UTC))
    except (OverflowError, ValueError):  # past year 9999: no more fire times
        return


def _wall_times(cron: Cron, zone: dt.tzinfo, after: dt.datetime) -> Iterator[dt.datetime]:
    start = after.astimezone(zone).replace(tzinfo=None, second=0, microsecond=0, fold=0)
    d: dt.date | None = start.date()
    last = after
    while d is not None:
        d = _next_day(cron, d, start.year + SEARCH_YEARS)
        if d is None:
            return
        for h in cron.hours:
            for m in cron.minutes:
                wall = dt.datetime.combine(d, dt.time(h, m))
                if wall < start:
                    continue
                u = _wall_instant(wall, zone)
                if u > last:
                    last = u
                    yield u
        d += dt.timedelta(days=1)


def _wall_instant(wall: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    """The instant of a naive wall time: its first occurrence, or the end of the gap it is in."""
    for _ in range(2 * 24 * 60):
        u = wall.replace(tzinfo=zone).astimezone(UTC)
        if u.astimezone(zone).replace(tzinfo=None) == wall:
            return u
        wall += _MINUTE
    raise ValueError("no wall time after a gap of two days")


def _real_times(cron: Cron, zone: dt.tzinfo, after: dt.datetime) -> Iterator[dt.datetime]:
    loc = after.astimezone(zone)
    cur = loc.replace(second=0, microsecond=0).astimezone(UTC) + _MINUTE
    until_year = loc.year + SEARCH_YEARS
    minutes, hours = cron.minutes, set(cron.hours)
    while True:
        loc = cur.astimezone(zone)
        if loc.second or loc.microsecond:  # an offset with seconds: align to the wall minute
            cur += dt.timedelta(seconds=60 - loc.second) - dt.timedelta(microseconds=loc.microsecond)
            continue
        if not cron.matches_day(loc.date()):
            nd = _next_day(cron, loc.date() + dt.timedelta(days=1), until_year)
            if nd is None:
                return
            target = dt.datetime.combine(nd, dt.time(), tzinfo=zone).astimezone(UTC)
            cur = target if target > cur else cur + _MINUTE
            continue
        if loc.hour not in hours:
            cur = _forward(cur, dt.timedelta(minutes=60 - loc.minute), zone)
            continue
        later = [m for m in minutes if m >= loc.minute]
        if not later:
            cur = _forward(cur, dt.timedelta(minutes=60 - loc.minute), zone)
            continue
        if later[0] != loc.minute:
            cur = _forward(cur, dt.timedelta(minutes=later[0] - loc.minute), zone)
            continue
        yield cur
        cur += _MINUTE


def _forward(cur: dt.datetime, step: dt.timedelta, zone: dt.tzinfo) -> dt.datetime:
    """``cur + step``, or one minute on when the zone's offset changes in between."""
    target = cur + step
    if step > _MINUTE and cur.astimezone(zone).utcoffset() != target.astimezone(zone).utcoffset():
        return cur + _MINUTE
    return target


__all__ = ["ALIASES", "Cron", "fire_times", "parse_cron"]
