"""Freshness policies: when an asset is due, and whether it is overdue (with the reason); pure.

A policy (``Freshness``) says how late an asset may be, as Dagster's freshness policies do:

- ``Freshness(max_lag="6h")`` (or ``@asset(freshness="6h")``): the asset must have been
  materialised within the last 6 hours; it falls due ``max_lag`` after its last materialisation;
- ``Freshness(max_lag="1h", cron="0 6 * * *", tz="Europe/Brussels")``: by each cron tick plus
  ``max_lag`` it must have been materialised since that tick ("materialised since the last
  06:00, at most 1 h late"); ticks are the project's cron (``core/cron.py``), so daylight saving
  changes move the wall-clock tick, never skip or double a deadline.

For a partitioned asset the *latest partition* is what is due: the last key of its definition as
of the tick (or as of ``now - max_lag``) must exist by the deadline; for a daily definition,
yesterday's partition by 06:00 + 1 h today.

The verdict (``FreshnessState``) is ``overdue`` or ``on time``, with the deadline (the one that
passed, or the next one) and, when overdue, the reason: its own last run failed, an upstream
asset is overdue, or it was not materialised since the deadline's tick. This verdict sits beside
the fresh / stale / missing / failed one (``core/freshness.py``) and never changes it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from nbflow.core.cron import Cron, fire_times, parse_cron
from nbflow.core.durations import parse_duration
from nbflow.errors import DefinitionError, ScheduleError

OVERDUE, ON_TIME = "overdue", "on time"
_LOOK_BACK = (dt.timedelta(days=2), dt.timedelta(days=32), dt.timedelta(days=367),
              dt.timedelta(days=5 * 366))
"""How far back the last cron tick is looked for, widening (a yearly cron needs a year)."""


@dataclass(frozen=True)
class Freshness:
    """How late an asset may be: ``max_lag`` alone, or due by each ``cron`` tick + ``max_lag``.

    ``max_lag`` is a duration (``"1h"``, seconds, a ``timedelta``), read as seconds; ``tz`` is the
    IANA zone of the cron's wall-clock times.
    """

    max_lag: float
    cron: str | None = None
    tz: str = "UTC"
    _cron: Cron | None = field(default=None, init=False, repr=False, compare=False)
    _zone: dt.tzinfo = field(default=dt.UTC, init=False, repr=False, compare=False)

    def __init__(self, max_lag: float | str | dt.timedelta, cron: str | None = None,
                 tz: str = "UTC") -> None:
        from nbflow.core.schedules import load_zone

        lag = parse_duration(max_lag, what="Freshness max_lag")
        try:
            parsed = None if cron is None else parse_cron(cron)
            zone = load_zone(tz)
        except ScheduleError as e:
            raise DefinitionError(f"Freshness: {e}") from None
        if cron is None and lag == 0:
            raise DefinitionError("Freshness max_lag must be more than 0 seconds without a cron; "
                                  "give a lag such as '6h', or a cron such as '0 6 * * *'.")
        object.__setattr__(self, "max_lag", lag)
        object.__setattr__(self, "cron", cron)
        object.__setattr__(self, "tz", tz)
        object.__setattr__(self, "_cron", parsed)
        object.__setattr__(self, "_zone", zone)

    def describe(self) -> str:
        lag = _span(self.max_lag)
        if self.cron is None:
            return f"materialised within {lag}"
        return f"by each {self.cron!r} ({self.tz}) tick + {lag}"

    def last_tick(self, now: dt.datetime) -> dt.datetime | None:
        """The latest cron tick whose deadline (tick + ``max_lag``) is at or before ``now``."""
        assert self._cron is not None
        at = now - dt.timedelta(seconds=self.max_lag)
        for back in _LOOK_BACK:
            last = None
            for t in fire_times(self._cron, self._zone, at - back):
                if t > at:
                    break
                last = t
            if last is not None:
                return last
        return None

    def next_tick(self, after: dt.datetime) -> dt.datetime | None:
        """The first cron tick strictly after ``after``."""
        assert self._cron is not None
        return next(iter(fire_times(self._cron, self._zone, after)), None)


def as_freshness(value: object, *, asset: str) -> Freshness | None:
    """``@asset(freshness=...)`` as a policy: None, a duration (max lag) or a ``Freshness``."""
    if value is None or isinstance(value, Freshness):
        return value
    if isinstance(value, (str, int, float, dt.timedelta)) and not isinstance(value, bool):
        try:
            return Freshness(max_lag=value)
        except DefinitionError as e:
            raise DefinitionError(f"Asset {asset!r}: {e}") from None
    raise DefinitionError(
        f"freshness of asset {asset!r} must be a duration such as '6h' or "
        f"nf.Freshness(max_lag='1h', cron='0 6 * * *', tz='Europe/Brussels'), got {value!r}.")


@dataclass(frozen=True)
class FreshnessState:
    """An asset's standing against its policy: overdue or not, the deadline, and why."""

    overdue: bool
    deadline: dt.datetime | None
    """The deadline that passed (overdue), or the next one (on time); None when unknown."""
    reason: str | None = None
    partition: str | None = None
    """For a partitioned asset, the partition that is due."""

    @property
    def state(self) -> str:
        return OVERDUE if self.overdue else ON_TIME


Failure = tuple[float, str, str | None]
"""A last failed step: (epoch seconds, run id, error)."""


def evaluate(policy: Freshness, now: dt.datetime, *, last_ts: float | None,
             failure: Failure | None = None, upstream_overdue: Sequence[str] = ()) -> FreshnessState:
    """The standing of an unpartitioned asset last materialised at ``last_ts`` (epoch seconds,
    None: never); ``failure`` is its last failed step, ``upstream_overdue`` its overdue upstreams."""
    lag = dt.timedelta(seconds=policy.max_lag)
    if policy.cron is None:
        if last_ts is not None:
            deadline = _at(last_ts) + lag
            if now < deadline:
                return FreshnessState(False, deadline)
            why = (f"last materialised {_show(deadline - lag, policy)}, more than "
                   f"{_span(policy.max_lag)} ago")
        else:
            deadline, why = None, "never materialised"
        return FreshnessState(True, deadline, _reason(why, failure, last_ts, upstream_overdue))
    tick = policy.last_tick(now)
    if tick is None:  # no deadline has passed yet
        return FreshnessState(False, _next_deadline(policy, now - lag))
    if last_ts is not None and _at(last_ts) >= tick:
        return FreshnessState(False, _next_deadline(policy, tick))
    why = ("never materialised" if last_ts is None
           else f"not materialised since the {_show(tick, policy)} tick")
    return FreshnessState(True, tick + lag, _reason(why, failure, last_ts, upstream_overdue))


def evaluate_partitioned(policy: Freshness, now: dt.datetime, *,
                         due_key: Callable[[dt.datetime], str | None],
                         window_end: Callable[[str], dt.datetime | None],
                         materialised: Callable[[str], bool],
                         failure: Callable[[str], Failure | None],
                         upstream_overdue: Sequence[str] = ()) -> FreshnessState:
    """The standing of a partitioned asset: the latest partition as of the deadline's tick
    (``due_key(at)``: the last key complete at ``at``) must be materialised by the deadline.

    ``window_end(key)`` is when a key's window ends (None for keys without a window);
    ``materialised(key)`` whether it has a materialisation; ``failure(key)`` its last failure.
    """
    lag = dt.timedelta(seconds=policy.max_lag)
    if policy.cron is None:
        key = due_key(now - lag)
        end = None if key is None else window_end(key)
        deadline = None if end is None else end + lag
    else:
        tick = policy.last_tick(now)
        key = None if tick is None else due_key(tick)
        deadline = None if tick is None else tick + lag
    if key is None or materialised(key):
        upcoming = None if policy.cron is None else _next_deadline(policy, now - lag)
        return FreshnessState(False, upcoming, partition=key)
    fail = failure(key)
    why = f"partition {key!r} is not materialised"
    return FreshnessState(True, deadline, _reason(why, fail, None, upstream_overdue), key)


def _reason(why: str, failure: Failure | None, last_ts: float | None,
            upstream_overdue: Sequence[str]) -> str:
    """An overdue asset's reason: its own failed run first, then an overdue upstream, then ``why``."""
    if failure is not None and (last_ts is None or failure[0] > last_ts):
        return f"its last run {failure[1]} failed: {failure[2]}"
    if upstream_overdue:
        return f"upstream {upstream_overdue[0]!r} is overdue"
    return why


def _next_deadline(policy: Freshness, after: dt.datetime) -> dt.datetime | None:
    tick = policy.next_tick(after)
    return None if tick is None else tick + dt.timedelta(seconds=policy.max_lag)


def _at(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)


def _show(t: dt.datetime, policy: Freshness) -> str:
    return t.astimezone(policy._zone).strftime("%Y-%m-%d %H:%M %Z")


def _span(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


__all__ = ["ON_TIME", "OVERDUE", "Freshness", "FreshnessState", "as_freshness", "evaluate",
           "evaluate_partitioned"]
