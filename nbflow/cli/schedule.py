"""Schedule commands: ``nbflow schedule preview`` prints the next fire times of a cron or interval."""

from __future__ import annotations

import datetime as dt
import re

import click

_EVERY = re.compile(r"^\s*(?:every\s+)?(\d+(?:\.\d+)?\s*[smhdw])\s*$", re.IGNORECASE)


@click.group()
def schedule() -> None:
    """Try out schedules before deploying them."""


@schedule.command("preview")
@click.argument("expression")
@click.option("--tz", default=None, help="IANA time zone of a cron expression (default UTC).")
@click.option("--from", "start", default=None, metavar="ISO",
              help="Start instant, ISO 8601 (default now); without an offset it is in --tz.")
@click.option("-n", "count", type=click.IntRange(1, 1000), default=10, show_default=True,
              help="How many fire times to print.")
def preview(expression: str, tz: str | None, start: str | None, count: int) -> int:
    """Print the next fire times of EXPRESSION (a cron expression, or an interval like 15m).

    Example: nbflow schedule preview "0 6 * * 1-5" --tz Europe/Paris -n 5
    """
    from nbflow.core.schedules import load_zone, make_schedule
    from nbflow.errors import ScheduleError

    m = _EVERY.match(expression)
    if m:
        sched = make_schedule(every=m.group(1), tz=tz)
    else:
        sched = make_schedule(cron=expression, tz=tz)
    zone = load_zone(sched.tz if sched.cron is not None else (tz or "UTC"))
    if start is None:
        t = dt.datetime.now(dt.UTC)
    else:
        try:
            t = dt.datetime.fromisoformat(start)
        except ValueError:
            raise ScheduleError(
                f"--from {start!r} is not an ISO 8601 time; write e.g. 2026-03-29T00:00 or "
                "2026-03-29T00:00+02:00.") from None
        if t.tzinfo is None:
            t = t.replace(tzinfo=zone)
    for _ in range(count):
        nxt = sched.next_after(t)
        if nxt is None:
            break
        click.echo(nxt.astimezone(zone).isoformat())
        t = nxt
    return 0


COMMANDS = [schedule]
