"""Schedules: cron in an IANA zone or a fixed interval; next fire times, due ticks; pure.

The clock is always passed in. Cron fire times, including daylight-saving changes, follow the
rules in ``nbflow.core.cron``. Intervals are counted in real elapsed time from the Unix epoch,
so ``every 15m`` fires at :00, :15, :30, :45 UTC whatever the zone; the shortest interval is
``MIN_INTERVAL`` (1 second).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from nbflow.core.cron import fire_times, parse_cron
from nbflow.core.durations import parse_duration
from nbflow.errors import ScheduleError

UTC = dt.UTC
CATCHUP = ("none", "latest", "all")
MISFIRE_GRACE = 60.0
"""With catch-up ``none``, a tick is still run when the scheduler sees it this many seconds late."""
MAX_CATCHUP = 1000
MIN_INTERVAL = 1.0
"""The shortest interval schedule, in seconds."""


def parse_interval(text: str | float) -> float:
    """``"15m"`` -> 900.0 seconds; at least ``MIN_INTERVAL``; text needs a unit (s, m, h, d, w)."""
    return parse_duration(text, what="Interval", minimum=MIN_INTERVAL, unit_required=True,
                          error=ScheduleError)


def load_zone(name: str) -> dt.tzinfo:
    """The IANA zone ``name`` (``Europe/Paris``); a clear error for empty or unknown names."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    fix = "use an IANA name such as 'Europe/Paris', 'America/New_York' or 'UTC'"
    if not isinstance(name, str) or not name.strip():
        raise ScheduleError(f"Time zone {name!r} is empty; {fix} (or leave it out for UTC).")
    shown = name if len(name) <= 60 else name[:57] + "..."
    try:
        if name != name.strip() or ".." in name or name.startswith("/") or len(name) > 255:
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        raise ScheduleError(f"Time zone {shown!r} is unknown; {fix}.") from None


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
            try:
                k = int(t.timestamp() // self.every) + 1
                nxt = dt.datetime.fromtimestamp(k * self.every, UTC)
                return nxt if nxt > t else dt.datetime.fromtimestamp((k + 1) * self.every, UTC)
            except (OverflowError, ValueError, OSError):  # past year 9999
                return None
        if self.cron is None:
            return None
        return next(fire_times(parse_cron(self.cron), load_zone(self.tz), t), None)

    def ticks(self, after: dt.datetime, until: dt.datetime) -> Iterator[dt.datetime]:
        """Fire times in ``(after, until]``, in order."""
        after, until = _aware(after), _aware(until)
        if self.cron is not None:
            for t in fire_times(parse_cron(self.cron), load_zone(self.tz), after):
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
    zone = "UTC" if tz is None else tz
    load_zone(zone)
    if cron is not None:
        sched = Schedule(cron=parse_cron(cron).text, tz=zone)
        if sched.next_after(dt.datetime.now(UTC)) is None:
            raise ScheduleError(
                f"Cron expression {cron!r} never fires (no date matches it); check the "
                "day-of-month, month and day-of-week fields."
            )
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
    "CATCHUP", "MAX_CATCHUP", "MIN_INTERVAL", "MISFIRE_GRACE", "Schedule", "due_ticks",
    "load_zone", "make_schedule", "parse_interval",
]
