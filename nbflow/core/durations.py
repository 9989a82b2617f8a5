"""Durations: the one parser for seconds given as a number or a text like ``"15m"``; pure.

Every option that takes a duration (a task's ``timeout`` and ``cache_ttl``, a deployment's
``every``, ``timeout`` and ``retry_delay``) goes through ``parse_duration``. A duration is a
finite number of seconds between the option's minimum and ``MAX_SECONDS`` (100 years): NaN,
infinities, negative numbers and values too large to add to a date are refused, each with an
error that names the option.
"""

from __future__ import annotations

import datetime as dt
import math
import re

from nbflow.errors import DefinitionError, NbflowError

UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
MAX_SECONDS = 100 * 365.25 * 86400.0
"""100 years: longer durations are refused (they cannot be added to today's date safely)."""

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])?\s*$", re.IGNORECASE)


def parse_duration(value: float | str | dt.timedelta, *, what: str, minimum: float = 0.0,
                   allow_minimum: bool = True, unit_required: bool = False,
                   error: type[NbflowError] = DefinitionError) -> float:
    """Seconds from ``value``: a number, a ``timedelta`` or a text (``"90"``, ``"30s"``, ``"1.5h"``).

    Units are s, m, h, d and w (any case); a text without a unit is seconds unless
    ``unit_required``. The result is at least ``minimum`` (more than it when not
    ``allow_minimum``) and at most ``MAX_SECONDS``; otherwise ``error`` is raised with a message
    that starts with ``what`` (the option's name).
    """
    hint = ("use seconds (90) or a number with a unit s, m, h, d or w ('30s', '15m', '1h')"
            if not unit_required else "write a number and a unit (s, m, h, d or w), e.g. 30s, "
            "15m, 2h or 1d")
    if isinstance(value, bool):
        raise error(f"{what} must be a duration, got {value!r}; {hint}.")
    if isinstance(value, dt.timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, (int, float)):
        try:
            seconds = float(value)
        except OverflowError:  # an int too large for a float
            seconds = math.inf
    elif isinstance(value, str):
        m = _DURATION.match(value)
        if m is None or (unit_required and m.group(2) is None):
            raise error(f"{what} {value!r} is not a duration; {hint}.")
        seconds = float(m.group(1)) * UNITS[(m.group(2) or "s").lower()]
    else:
        raise error(f"{what} must be a duration, got {type(value).__name__} {value!r}; {hint}.")
    if math.isnan(seconds):
        raise error(f"{what} {value!r} is not a number; {hint}.")
    if seconds > MAX_SECONDS:
        raise error(f"{what} {value!r} is longer than 100 years; give a shorter duration "
                    "(or none at all for no limit).")
    if seconds < minimum or (seconds == minimum and not allow_minimum):
        need = f"at least {minimum:g}" if allow_minimum else f"more than {minimum:g}"
        raise error(f"{what} must be {need} seconds, got {value!r}.")
    return seconds


def parse_optional_duration(value: float | str | dt.timedelta | None, *, what: str,
                            minimum: float = 0.0, allow_minimum: bool = True,
                            error: type[NbflowError] = DefinitionError) -> float | None:
    """``parse_duration`` that passes ``None`` (no duration given) through."""
    if value is None:
        return None
    return parse_duration(value, what=what, minimum=minimum, allow_minimum=allow_minimum,
                          error=error)


__all__ = ["MAX_SECONDS", "UNITS", "parse_duration", "parse_optional_duration"]
