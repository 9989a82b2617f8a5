"""Schedule arithmetic: cron in an IANA zone or a fixed interval, next fire times, due ticks.

Pure functions over timezone-aware datetimes; the clock is always passed in.

Daylight-saving rules for cron (the expression is matched against the zone's wall clock):
a wall time skipped by a spring-forward change fires once, shifted forward by the gap
(02:30 on that day fires at 03:30); a wall time that occurs twice at a fall-back change fires
once, at its first occurrence. Intervals are counted in real elapsed time from the Unix epoch,
so ``every 15m`` fires at :00, :15, :30, :45 UTC whatever the zone.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass

from nbflow.errors import ScheduleError

UTC = dt.UTC
CATCHUP = ("none", "latest", "all")
MISFIRE_GRACE = 60.0
"""With catch-up ``none``, a tick is still run when the scheduler sees it this many seconds late."""
MAX_CATCHUP = 1000

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_INTERVAL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$", re.IGNORECASE)
_ALIASES = {
    "@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}


def parse_interval(text: str | float) -> float:
    """``"15m"`` -> 900.0 seconds; units s, m, h, d."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text)
    else:
        m = _INTERVAL.match(str(text))
        if not m:
            raise ScheduleError(
                f"Interval {text!r} is not valid; write a number and a unit "
                "(s, m, h or d), e.g. 30s, 15m, 2h or 1d."
            )
        seconds = float(m.group(1)) * _UNITS[m.group(2).lower()]
    if not seconds > 0:
        raise ScheduleError(f"Interval {text!r} must be longer than zero, e.g. 15m.")
    return seconds


def load_zone(name: str) -> dt.tzinfo:
    """The IANA zone ``name`` (``Europe/Paris``); a clear error for unknown names."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        if not name or name != name.strip() or ".." in name or name.startswith("/"):
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ScheduleError(
            f"Time zone {name!r} is unknown; use an IANA name such as 'Europe/Paris', "
            "'America/New_York' or 'UTC'."
        ) from None


def _check_cron(expr: str) -> str:
    from croniter import croniter

    text = _ALIASES.get(expr.strip().lower(), expr.strip())
    fields = text.split()
    if len(fields) != 5:
        raise ScheduleError(
            f"Cron expression {expr!r} is not valid: it has {len(fields)} field(s) but needs "
            "five (minute hour day-of-month month day-of-week), e.g. '0 6 * * *' for 06:00 daily."
        )
    try:
        croniter(text)
    except (ValueError, TypeError, KeyError) as exc:  # croniter's errors name the bad field
        raise ScheduleError(
            f"Cron expression {expr!r} is not valid ({exc}); e.g. '0 6 * * *' is 06:00 daily "
            "and '*/15 * * * *' every 15 minutes."
        ) from None
    return text


@dataclass(frozen=True)
class Schedule:
    """When a deployment runs: ``cron`` in ``tz``, or ``every`` seconds, or only on demand."""

    cron: str | None = None
    every: float | None = None
    tz: str = "UTC"

    @property
    def manual(self) -> bool:
        return self.cron is None and self.every is None

    def next_after(self, t: dt.datetime) -> dt.datetime | None:
        """The first fire time strictly after ``t`` (aware, UTC), or None for manual."""
        t = _aware(t)
        if self.every is not None:
            epoch = t.timestamp()
            k = int(epoch // self.every) + 1
            nxt = dt.datetime.fromtimestamp(k * self.every, UTC)
            return nxt if nxt > t else dt.datetime.fromtimestamp((k + 1) * self.every, UTC)
        if self.cron is None:
            return None
        return next(_cron_times(self.cron, load_zone(self.tz), t))

    def ticks(self, after: dt.datetime, until: dt.datetime) -> Iterator[dt.datetime]:
        """Fire times in ``(after, until]``, in order."""
        after, until = _aware(after), _aware(until)
        if self.cron is not None:
            for t in _cron_times(self.cron, load_zone(self.tz), after):
                if t > until:
                    return
                yield t
            return
        nxt = self.next_after(after)
        while nxt is not None and nxt <= until:
            yield nxt
            nxt = self.next_after(nxt)

    def describe(self) -> str:
        """The schedule in words, e.g. ``daily at 06:00 (Europe/Paris)``."""
        if self.every is not None:
            return f"every {_words_seconds(self.every)}"
        if self.cron is None:
            return "manual only"
        return f"{_cron_words(self.cron)} ({self.tz})"

    def to_dict(self) -> dict[str, object]:
        return {"cron": self.cron, "every": self.every, "tz": self.tz}


def make_schedule(
    *, cron: str | None = None, every: str | float | None = None, tz: str | None = None,
    manual: bool = False,
) -> Schedule:
    """A validated schedule; exactly one of ``cron``, ``every`` or ``manual``."""
    chosen = [k for k, v in (("cron", cron), ("every", every), ("manual", manual or None))
              if v is not None]
    if len(chosen) > 1:
        raise ScheduleError(
            f"Give only one of cron, every or manual (got {' and '.join(chosen)})."
        )
    zone = tz or "UTC"
    load_zone(zone)
    if cron is not None:
        text = _check_cron(cron)
        sched = Schedule(cron=text, tz=zone)
        try:
            sched.next_after(dt.datetime.now(UTC))
        except (ValueError, TypeError):  # croniter's "no matching date" for e.g. 30 February
            raise ScheduleError(
                f"Cron expression {cron!r} never fires (no date matches it); check the "
                "day-of-month and month fields."
            ) from None
        return sched
    if every is not None:
        if tz not in (None, "UTC"):
            raise ScheduleError(
                "A time zone only applies to cron schedules; intervals count real time. "
                "Drop --tz or use --cron."
            )
        return Schedule(every=parse_interval(every))
    return Schedule(tz=zone)


def _aware(t: dt.datetime) -> dt.datetime:
    if t.tzinfo is None:
        raise ScheduleError(f"Time {t.isoformat()} has no time zone; pass an aware datetime.")
    return t.astimezone(UTC)


def _cron_times(expr: str, zone: dt.tzinfo, after: dt.datetime) -> Iterator[dt.datetime]:
    """Fire times strictly after ``after``, increasing, as aware UTC datetimes."""
    from croniter import croniter

    # Walk the zone's wall clock (naive) and map each match back to UTC. fold=0 picks the first
    # of two ambiguous instants and shifts a skipped wall time forward by the gap; starting a
    # few hours early catches a shifted time that lands just after ``after``.
    wall = after.astimezone(zone).replace(tzinfo=None)
    it = croniter(expr, wall - dt.timedelta(hours=3))
    last = after
    while True:
        w = it.get_next(dt.datetime)
        u = w.replace(tzinfo=zone, fold=0).astimezone(UTC)
        if u > last:
            last = u
            yield u


def _words_seconds(seconds: float) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        if seconds >= size and seconds % size == 0:
            n = int(seconds // size)
            return unit if n == 1 else f"{n} {unit}s"
    return f"{seconds:g} seconds"


_DAYS = ["Sundays", "Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays"]


def _cron_words(expr: str) -> str:
    minute, hour, dom, month, dow = expr.split()
    simple_time = minute.isdigit() and hour.isdigit()
    at = f"at {int(hour):02d}:{int(minute):02d}" if simple_time else ""
    if expr == "* * * * *":
        return "every minute"
    if minute.startswith("*/") and (hour, dom, month, dow) == ("*", "*", "*", "*"):
        return f"every {minute[2:]} minutes"
    if minute.isdigit() and (hour, dom, month, dow) == ("*", "*", "*", "*"):
        return f"hourly at :{int(minute):02d}"
    if simple_time and (dom, month) == ("*", "*"):
        if dow == "*":
            return f"daily {at}"
        if dow in ("1-5", "MON-FRI", "mon-fri"):
            return f"weekdays {at}"
        if dow.isdigit() and 0 <= int(dow) <= 7:
            return f"{_DAYS[int(dow) % 7]} {at}"
    if simple_time and dom.isdigit() and (month, dow) == ("*", "*"):
        return f"monthly on day {int(dom)} {at}"
    return f"cron '{expr}'"


def due_ticks(
    schedule: Schedule,
    cursor: dt.datetime,
    now: dt.datetime,
    catchup: str,
    *,
    grace: float = MISFIRE_GRACE,
) -> tuple[list[dt.datetime], dt.datetime]:
    """(ticks to run, new cursor) for ticks in ``(cursor, now]`` under a catch-up policy.

    ``all`` runs every missed tick (at most ``MAX_CATCHUP``, the most recent ones), ``latest``
    runs only the most recent, ``none`` runs the most recent only if it is at most ``grace``
    seconds old. The cursor moves to the last tick seen, so skipped ticks stay skipped.
    """
    if catchup not in CATCHUP:
        raise ScheduleError(f"Catch-up policy {catchup!r} is unknown; use none, latest or all.")
    if schedule.manual:
        return [], cursor
    now = _aware(now)
    cursor = _aware(cursor)
    if schedule.every is not None:
        # Jump close to ``now`` first: a long outage must not walk millions of interval ticks.
        keep = MAX_CATCHUP if catchup == "all" else 1
        floor = now.timestamp() - schedule.every * (keep + 1)
        if cursor.timestamp() < floor:
            cursor_for_walk = dt.datetime.fromtimestamp(floor, UTC)
        else:
            cursor_for_walk = cursor
        ticks = list(schedule.ticks(cursor_for_walk, now))
    else:
        ticks = []
        for t in schedule.ticks(cursor, now):
            ticks.append(t)
            if len(ticks) > MAX_CATCHUP * 2:
                ticks = ticks[-MAX_CATCHUP:]
    if not ticks:
        return [], cursor
    last = ticks[-1]
    if catchup == "all":
        return ticks[-MAX_CATCHUP:], last
    if catchup == "latest":
        return [last], last
    late = (now - last).total_seconds()
    return ([last] if late <= grace else []), last


__all__ = [
    "CATCHUP", "MISFIRE_GRACE", "Schedule", "due_ticks", "load_zone", "make_schedule",
    "parse_interval",
]
