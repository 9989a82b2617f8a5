"""Cron and interval schedules: validation, next fire times across DST, catch-up policies.

The oracle property tests (cronsim, croniter) are in test_schedules_oracles.py.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest

from nbflow.core.schedules import Schedule, due_ticks, make_schedule, parse_interval
from nbflow.errors import ScheduleError

UTC = dt.UTC


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize("text,seconds", [
    ("30s", 30), ("15m", 900), ("2h", 7200), ("1d", 86400), ("1.5h", 5400), (" 10 M ", 600),
    (5, 5), (1, 1), ("1w", 604800),
])
def test_parse_interval(text, seconds):
    assert parse_interval(text) == seconds


@pytest.mark.parametrize("text", ["15", "m", "15x", "1y", "-5m", "0s", "", "15 minutes", 0, -1, 0.5, "0.0000001s",
                                  "99999999999999999999d", float("nan"), float("inf"), True])
def test_parse_interval_refuses(text):
    with pytest.raises(ScheduleError, match="Interval"):
        parse_interval(text)


@pytest.mark.parametrize("kwargs,message", [
    ({"cron": "61 * * * *"}, "out of range"),
    ({"cron": "* * * *"}, "has 4 field\\(s\\) but needs five"),
    ({"cron": "0 6 * * * *"}, "needs five"),
    ({"cron": "every day"}, "not valid"),
    ({"cron": "0 0 30 2 *"}, "never fires"),
    ({"cron": "0 6 * * *", "tz": "Mars/Olympus"}, "Time zone 'Mars/Olympus' is unknown"),
    ({"cron": "0 6 * * *", "tz": "../etc/passwd"}, "is unknown"),
    ({"cron": "0 6 * * *", "every": "1h"}, "only one of"),
    ({"every": "1h", "tz": "Europe/Paris"}, "only applies to cron"),
    ({"every": "soon"}, "Interval 'soon'"),
])
def test_make_schedule_refuses_bad_input(kwargs, message):
    with pytest.raises(ScheduleError, match=message):
        make_schedule(**kwargs)


@pytest.mark.parametrize("kwargs,words", [
    ({"cron": "0 6 * * *", "tz": "Europe/Paris"}, "daily at 06:00 (Europe/Paris)"),
    ({"cron": "@daily"}, "daily at 00:00 (UTC)"),
    ({"cron": "*/15 * * * *"}, "every 15 minutes (UTC)"),
    ({"cron": "* * * * *"}, "every minute (UTC)"),
    ({"cron": "5 * * * *"}, "hourly at :05 (UTC)"),
    ({"cron": "30 9 * * 1-5", "tz": "America/New_York"}, "weekdays at 09:30 (America/New_York)"),
    ({"cron": "0 7 * * 1"}, "Mondays at 07:00 (UTC)"),
    ({"cron": "0 7 1 * *"}, "monthly on day 1 at 07:00 (UTC)"),
    ({"cron": "0 7 1 1,7 *"}, "cron '0 7 1 1,7 *' (UTC)"),
    ({"every": "15m"}, "every 15 minutes"),
    ({"every": "1d"}, "every day"),
    ({"every": "90s"}, "every 90 seconds"),
    ({"manual": True}, "manual only"),
])
def test_describe_in_words(kwargs, words):
    assert make_schedule(**kwargs).describe() == words


# Europe/Paris: 2026-03-29 02:00 CET -> 03:00 CEST; 2026-10-25 03:00 CEST -> 02:00 CET.
# America/New_York: 2026-03-08 02:00 EST -> 03:00 EDT; 2026-11-01 02:00 EDT -> 01:00 EST.
@pytest.mark.parametrize("cron,tz,start,expected", [
    ("0 6 * * *", "Europe/Paris", utc(2026, 3, 27, 12),
     [utc(2026, 3, 28, 5), utc(2026, 3, 29, 4), utc(2026, 3, 30, 4)]),
    ("0 6 * * *", "Europe/Paris", utc(2026, 10, 24, 12),
     [utc(2026, 10, 25, 5), utc(2026, 10, 26, 5)]),
    # skipped wall time: fires once, at the end of the gap (03:00 CEST), as cron does
    ("30 2 * * *", "Europe/Paris", utc(2026, 3, 28, 12),
     [utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 0, 30)]),
    # repeated wall time: fires once, at the first occurrence
    ("30 2 * * *", "Europe/Paris", utc(2026, 10, 24, 12),
     [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]),
    ("30 1 * * *", "America/New_York", utc(2026, 10, 31, 12),
     [utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)]),
    ("0 * * * *", "Europe/Paris", utc(2026, 3, 28, 23, 30),
     [utc(2026, 3, 29, 0), utc(2026, 3, 29, 1), utc(2026, 3, 29, 2)]),
    ("0 6 * * *", "UTC", utc(2026, 1, 1, 6), [utc(2026, 1, 2, 6), utc(2026, 1, 3, 6)]),
])
def test_cron_fire_times_across_dst(cron, tz, start, expected):
    schedule = make_schedule(cron=cron, tz=tz)
    got, t = [], start
    for _ in expected:
        t = schedule.next_after(t)
        got.append(t)
    assert got == expected
    assert list(schedule.ticks(start, expected[-1])) == expected


def test_daily_cron_keeps_wall_clock_over_a_dst_change_with_a_fake_clock():
    schedule = make_schedule(cron="0 6 * * *", tz="Europe/Paris")
    zone = ZoneInfo("Europe/Paris")
    clock = utc(2026, 3, 25)
    fired = []
    while clock < utc(2026, 4, 2):  # a fake clock ticking every 10 minutes
        nxt = clock + dt.timedelta(minutes=10)
        ticks, _ = due_ticks(schedule, clock, nxt, "all")
        fired += ticks
        clock = nxt
    local = [t.astimezone(zone) for t in fired]
    assert [t.hour for t in local] == [6] * 8
    assert [t.day for t in local] == list(range(25, 32)) + [1]
    assert {t.utcoffset() for t in local} == {dt.timedelta(hours=1), dt.timedelta(hours=2)}


@pytest.mark.parametrize("every,start,expected", [
    (900, utc(2026, 1, 1, 0, 7), [utc(2026, 1, 1, 0, 15), utc(2026, 1, 1, 0, 30)]),
    (900, utc(2026, 1, 1, 0, 15), [utc(2026, 1, 1, 0, 30), utc(2026, 1, 1, 0, 45)]),
    (86400, utc(2026, 3, 28, 23), [utc(2026, 3, 29), utc(2026, 3, 30)]),
])
def test_interval_fire_times(every, start, expected):
    schedule = Schedule(every=every)
    assert [schedule.next_after(start), schedule.next_after(expected[0])] == expected


def test_manual_schedule_never_fires():
    schedule = make_schedule(manual=True)
    assert schedule.manual and schedule.next_after(utc(2026, 1, 1)) is None
    assert due_ticks(schedule, utc(2026, 1, 1), utc(2026, 2, 1), "all") == ([], utc(2026, 1, 1))


HOURLY = Schedule(cron="0 * * * *")


@pytest.mark.parametrize("catchup,now,run,cursor", [
    ("all", utc(2026, 1, 1, 3, 0, 5), [utc(2026, 1, 1, h) for h in (1, 2, 3)], utc(2026, 1, 1, 3)),
    ("latest", utc(2026, 1, 1, 3, 0, 5), [utc(2026, 1, 1, 3)], utc(2026, 1, 1, 3)),
    ("none", utc(2026, 1, 1, 3, 0, 5), [utc(2026, 1, 1, 3)], utc(2026, 1, 1, 3)),
    ("none", utc(2026, 1, 1, 3, 30), [], utc(2026, 1, 1, 3)),
    ("latest", utc(2026, 1, 1, 3, 30), [utc(2026, 1, 1, 3)], utc(2026, 1, 1, 3)),
    ("all", utc(2026, 1, 1, 0, 59), [], utc(2026, 1, 1, 0)),
])
def test_due_ticks_catchup_policies(catchup, now, run, cursor):
    assert due_ticks(HOURLY, utc(2026, 1, 1, 0), now, catchup) == (run, cursor)


def test_due_ticks_after_a_long_outage_is_bounded():
    ticks, cursor = due_ticks(Schedule(every=1), utc(2020, 1, 1), utc(2026, 1, 1), "all")
    assert len(ticks) == 1000 and cursor == utc(2026, 1, 1)
    ticks, cursor = due_ticks(Schedule(every=1), utc(2020, 1, 1), utc(2026, 1, 1), "latest")
    assert ticks == [utc(2026, 1, 1)]


@pytest.mark.parametrize("bad", ["sometimes", "", "ALL"])
def test_due_ticks_refuses_unknown_catchup(bad):
    with pytest.raises(ScheduleError, match="Catch-up policy"):
        due_ticks(HOURLY, utc(2026, 1, 1), utc(2026, 1, 2), bad)


def test_naive_times_are_refused():
    with pytest.raises(ScheduleError, match="no time zone"):
        HOURLY.next_after(dt.datetime(2026, 1, 1))


@pytest.mark.parametrize("kwargs,message", [
    ({"cron": "R R * * *"}, "random field 'R', which nbflow does not support"),
    ({"cron": "H * * * *"}, "hashed field"),
    ({"cron": "@reboot"}, "'@reboot' is not supported: nbflow's scheduler fires on clock times"),
    ({"cron": "0 6 * * *", "tz": ""}, "Time zone '' is empty"),
    ({"cron": "0 6 * * *", "tz": "A" * 300}, "is unknown; use an IANA name"),
    ({"every": "0.0000001s"}, "Interval must be at least 1 seconds"),
    ({"every": "99999999999999999999d"}, "longer than 100 years"),
    ({"every": 1e-7}, "at least 1 seconds"),
])
def test_issue_10_inputs_are_refused_before_anything_is_stored(kwargs, message):
    with pytest.raises(ScheduleError, match=re.escape(message)):
        make_schedule(**kwargs)


@pytest.mark.parametrize("cron,tz,start,expected", [
    # Vixie: a *-prefixed day-of-month does not restrict, so this is the first Monday
    ("0 0 */100,1-7 * MON", "UTC", utc(2026, 1, 1), [utc(2026, 1, 5), utc(2026, 2, 2)]),
    # every minute through the repeated hour: no 61-minute gap
    ("* * * * *", "Europe/Paris", utc(2026, 10, 25, 0, 59), [utc(2026, 10, 25, 1, 0)]),
    # a fixed time in the spring-forward gap fires at its end (04:00 EEST), not at 04:15
    ("15 3 * * *", "Europe/Athens", utc(2026, 3, 28, 12), [utc(2026, 3, 29, 1, 0)]),
    # */30 in Athens when clocks go back: real time, every 30 minutes, 04:00 once
    ("*/30 * * * *", "Europe/Athens", utc(2026, 10, 25, 0, 10),
     [utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 0), utc(2026, 10, 25, 1, 30),
      utc(2026, 10, 25, 2, 0)]),
])
def test_issue_10_cron_cases(cron, tz, start, expected):
    assert list(make_schedule(cron=cron, tz=tz).ticks(start, expected[-1])) == expected
