"""Partitions core: enumerate large definitions and a multi key space; medians of 5.

Targets (issue 11): a 100,000-key definition enumerated in at most 200 ms; a 4 x 5 x 30 multi
key space in at most 20 ms. Each measurement builds a fresh definition (no warm cache) and
times construction plus enumeration of typed keys and of their string forms.

    .venv/bin/python benchmarks/partitions_core.py [--check]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from collections.abc import Callable

from nbflow.core.partitions import StaticPartitions
from nbflow.core.partitions_multi import MultiPartitions
from nbflow.core.time_windows import DailyPartitions, HourlyPartitions

UTC = dt.UTC
START = dt.datetime(2015, 1, 1, tzinfo=UTC)
NOW = START + dt.timedelta(hours=100_000)  # about 11.4 years of hours
STATIC = [f"customer-{i:06d}" for i in range(100_000)]


def median_ms(fn: Callable[[], int], runs: int = 5) -> tuple[float, int]:
    times, n = [], 0
    for _ in range(runs):
        t = time.perf_counter()
        n = fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), n


def hourly_keys() -> int:
    return len(list(HourlyPartitions(start=START).keys(NOW)))


def hourly_strings() -> int:
    return len(HourlyPartitions(start=START).key_strings(NOW))


def hourly_brussels_year() -> int:
    d = HourlyPartitions(start=f"{2000 + hourly_brussels_year.n}-01-01", tz="Europe/Brussels",
                         end=f"{2001 + hourly_brussels_year.n}-01-01")
    hourly_brussels_year.n += 1  # a new year each run: stepped ticks are shared once computed
    return len(d.key_strings(NOW))


hourly_brussels_year.n = 0  # type: ignore[attr-defined]


def daily_brussels_strings() -> int:
    d = DailyPartitions(start="1800-01-01", tz="Europe/Brussels")
    return len(d.key_strings(dt.datetime(2073, 10, 16, tzinfo=UTC)))


def static_keys() -> int:
    d = StaticPartitions(STATIC)
    return len(list(d.keys())) + 0 * len(d.key_strings())


def multi_space() -> int:
    d = MultiPartitions(region=StaticPartitions(["eu", "us", "ap", "af"]),
                        tier=StaticPartitions(["a", "b", "c", "d", "e"]),
                        day=DailyPartitions(start="2026-01-01", end="2026-01-31",
                                            tz="Europe/Brussels"))
    now = dt.datetime(2026, 6, 1, tzinfo=UTC)
    return len(d.keys(now)) + 0 * len(d.key_strings(now))


CASES: list[tuple[str, Callable[[], int], float]] = [
    ("hourly UTC, ~11.4 years: typed keys", hourly_keys, 200),
    ("hourly UTC, ~11.4 years: string forms", hourly_strings, 200),
    ("static, 100,000 keys: build + keys + strings", static_keys, 200),
    ("daily Europe/Brussels, 100,000 days: string forms", daily_brussels_strings, 200),
    ("hourly Europe/Brussels, one year (cron stepping): strings", hourly_brussels_year, 0),
    ("multi 4 x 5 x 30: build + keys + strings", multi_space, 20),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 above a target")
    args = parser.parse_args()
    failed = False
    for label, fn, target in CASES:
        ms, n = median_ms(fn)
        verdict = "" if not target else ("ok" if ms <= target else "OVER")
        failed |= verdict == "OVER"
        shown = f"<= {target:.0f} ms" if target else "(no target)"
        print(f"{label:<60} {n:>8,} keys  {ms:8.1f} ms  {shown} {verdict}")
    return 1 if failed and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
