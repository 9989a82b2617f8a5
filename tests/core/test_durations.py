"""The one duration parser: numbers, timedeltas and texts; NaN, inf, negative and huge refused."""

from __future__ import annotations

import datetime as dt

import pytest

from nbflow.core.durations import MAX_SECONDS, parse_duration, parse_optional_duration
from nbflow.core.tasks import make_task
from nbflow.errors import DefinitionError, ScheduleError


@pytest.mark.parametrize("value,seconds", [
    (90, 90.0), (1.5, 1.5), ("90", 90.0), ("30s", 30.0), ("5M", 300.0), ("1h", 3600.0),
    ("2d", 172800.0), ("1w", 604800.0), (dt.timedelta(minutes=2), 120.0), (0, 0.0),
])
def test_parse_duration(value, seconds):
    assert parse_duration(value, what="timeout") == seconds


@pytest.mark.parametrize("value,message", [
    (float("nan"), "is not a number"), (float("inf"), "longer than 100 years"),
    (-1, "at least 0"), ("99999999999999999999d", "longer than 100 years"),
    (10 ** 400, "longer than 100 years"), ("9" * 500, "longer than 100 years"),
    (True, "must be a duration"), ("soon", "is not a duration"), ([1], "must be a duration"),
])
def test_parse_duration_refuses_naming_the_option(value, message):
    with pytest.raises(DefinitionError, match=f"^cache_ttl.*{message}"):
        parse_duration(value, what="cache_ttl")


def test_minimum_unit_and_error_class():
    with pytest.raises(ScheduleError, match="Interval '15' is not a duration"):
        parse_duration("15", what="Interval", unit_required=True, error=ScheduleError)
    with pytest.raises(DefinitionError, match="more than 0"):
        parse_duration(0, what="timeout", allow_minimum=False)
    assert parse_duration(MAX_SECONDS, what="x") == MAX_SECONDS
    assert parse_optional_duration(None, what="x") is None


@pytest.mark.parametrize("kwargs", [{"timeout": float("nan")}, {"timeout": "inf"},
                                    {"cache": "inputs", "cache_ttl": float("inf")}])
def test_task_options_use_it(kwargs):
    with pytest.raises(DefinitionError, match="task 'work'"):
        make_task(lambda: 1, name="work", **kwargs)
