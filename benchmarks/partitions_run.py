"""Partitioned runs on SQLite: a 365-day 3-asset daily chain, a self-dependent chain, and the
status of one asset with 100,000 partitions (90,000 materialised). Medians of 3.

    .venv/bin/python benchmarks/partitions_run.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid

import nbflow as nf
from nbflow.core.registry import Registry
from nbflow.session import Session
from nbflow.settings import Settings

DAYS = nf.DailyPartitions(start="2025-01-01", end="2026-01-01")  # 365 keys


def session(reg: Registry) -> Session:
    return Session(Settings.resolve(env={"NBFLOW_HOME": tempfile.mkdtemp()}), registry=reg)


def chain() -> float:
    reg = Registry()

    @nf.asset(partitions=DAYS, registry=reg)
    def raw() -> int:
        return 1

    @nf.asset(partitions=DAYS, registry=reg)
    def clean(raw: int) -> int:
        return raw + 1

    @nf.asset(partitions=DAYS, registry=reg)
    def report(clean: int) -> int:
        return clean + 1

    s = session(reg)
    t = time.perf_counter()
    r = s.materialize("*", partitions="*")
    took = time.perf_counter() - t
    assert r.ok and len(r.states) == 1095, r.summary()
    return took


def self_chain() -> float:
    reg = Registry()

    @nf.asset(partitions=DAYS, partition_mapping={"total": nf.TimeWindowMapping(-1, -1)},
              registry=reg)
    def total(total: dict | None = None) -> int:
        return 1 + sum((total or {}).values())

    s = session(reg)
    t = time.perf_counter()
    r = s.materialize("total", partitions="*")
    took = time.perf_counter() - t
    assert r.ok and len(r.states) == 365 and s.load("total", partition="2025-12-31") == 365
    return took


def big_status() -> tuple[float, Session]:
    reg = Registry()
    import datetime as dt

    hours = nf.DailyPartitions(start="1700-01-01",
                               end=(dt.date(1700, 1, 1) + dt.timedelta(days=100_000)).isoformat())

    @nf.asset(partitions=hours, registry=reg, code_version="1")
    def events() -> int:
        return 1

    s = session(reg)
    keys = hours.key_strings()[:100_000]
    assert len(keys) == 100_000, len(keys)
    from nbflow.store.schema import materializations

    rows = [{"asset": "events", "partition": k, "run_id": "bench", "ts": 1.0 + i,
             "code_version": s.registry.graph().specs["events"].code_version or "1",
             "data_version": uuid.uuid4().hex[:16], "input_versions": {}, "metadata": {},
             "uri": "", "io": "pickle", "duration": 0.0} for i, k in enumerate(keys[:90_000])]
    with s.store.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(materializations.insert(), rows)
    s.registry = reg
    return 0.0, s


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    n = ap.parse_args().repeat
    c = [chain() for _ in range(n)]
    print(f"365-day 3-asset chain (1,095 steps): median {statistics.median(c):.2f} s "
          f"({statistics.median(c) / 1095 * 1000:.2f} ms per step); runs {[round(x, 2) for x in c]}")
    sc = [self_chain() for _ in range(n)]
    print(f"365-day self-dependent chain: median {statistics.median(sc):.2f} s; runs "
          f"{[round(x, 2) for x in sc]}")
    _, s = big_status()
    st = []
    for _ in range(n):
        t = time.perf_counter()
        [one] = s.status("events")
        st.append(time.perf_counter() - t)
        p = one.partitions
        assert p.materialized == 90_000 and p.counts["missing"] == 10_000, p
    print(f"status of 1 asset with 100,000 partitions (90,000 materialised): median "
          f"{statistics.median(st) * 1000:.0f} ms; runs {[round(x * 1000) for x in st]}")


if __name__ == "__main__":
    main()
