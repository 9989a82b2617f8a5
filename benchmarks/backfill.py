"""Backfills: a 365-day backfill of a 3-asset daily chain (1,095 partition-steps, trivial bodies).

    .venv/bin/python benchmarks/backfill.py [--days 365] [--repeats 3] [--url URL]

Per repeat, on a fresh store (SQLite under a temporary NBFLOW_HOME by default):
  per_partition = ``nf.backfill("raw+", partitions=<365 days>)``: plan written, one run per day;
  single_run    = the same with ``policy="single_run"`` (one run of 1,095 steps);
  self-chain    = 365 days of one asset that reads yesterday's partition of itself;
  cancel/resume = cancel from another thread once 400 steps have succeeded: seconds until no
                  step runs, then resume; each partition-step must be materialised once.
Prints medians (targets: <= 10 s, <= 1 s, <= 5 s; no step running within 1 s of the cancel).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any


def fresh_session(url: str | None) -> Any:
    from nbflow.core.registry import Registry
    from nbflow.session import Session, set_session
    from nbflow.settings import Settings

    home = Path(tempfile.mkdtemp(prefix="nbflow-backfill-"))
    s = Session(Settings.resolve(home=home, database_url=url), Registry())
    set_session(s)
    return s


def chain(registry: Any, gate: Any = None) -> None:
    import nbflow as nf

    daily = nf.DailyPartitions(start="2025-01-01")

    @nf.asset(partitions=daily, registry=registry)
    def raw() -> int:
        if gate is not None:
            gate()
        return nf.context().partition_key.day

    @nf.asset(partitions=daily, registry=registry)
    def clean(raw: int) -> int:
        return raw * 2

    @nf.asset(partitions=daily, registry=registry)
    def report(clean: int) -> int:
        return clean + 1


def span(days: int) -> str:
    end = date(2025, 1, 1) + timedelta(days=days - 1)
    return f"2025-01-01...{end.isoformat()}"


def timed(fn: Any) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def per_partition(days: int, url: str | None, policy: str = "per_partition") -> float:
    import nbflow as nf

    s = fresh_session(url)
    chain(s.registry)
    seconds = timed(lambda: nf.backfill("raw+", partitions=span(days), policy=policy))
    s.close()
    return seconds


def self_chain(days: int, url: str | None) -> float:
    import nbflow as nf

    s = fresh_session(url)
    daily = nf.DailyPartitions(start="2025-01-01")

    @nf.asset(partitions=daily, registry=s.registry,
              partition_mapping={"total": nf.TimeWindowMapping(start_offset=-1, end_offset=-1)})
    def total(total: dict | None = None) -> int:
        return 1 + sum((total or {}).values())

    seconds = timed(lambda: nf.backfill("total", partitions=span(days)))
    s.close()
    return seconds


def cancel_resume(days: int, url: str | None) -> dict[str, Any]:
    from nbflow.session.backfills import (
        cancel_backfill,
        plan_backfill,
        resume_backfill,
        run_backfill,
        submit_backfill,
    )

    s = fresh_session(url)
    chain(s.registry)
    plan = plan_backfill(s, "raw+", span(days))
    bid = submit_backfill(s, plan)
    tables = s.store.backfills
    runner = threading.Thread(target=run_backfill, args=(s, bid))
    runner.start()
    while tables.counts(bid).get("SUCCEEDED", 0) < 400:
        time.sleep(0.01)
    at = time.perf_counter()
    cancel_backfill(s, bid)
    runner.join()
    stopped = time.perf_counter() - at
    done_at_cancel = tables.counts(bid).get("SUCCEEDED", 0)
    resume_backfill(s, bid)
    resumed = timed(lambda: run_backfill(s, bid))
    seen: Counter = Counter()
    after = 0
    while batch := s.store.events_after(after, kinds=["MATERIALIZATION"]):
        seen.update(e.step for e in batch)
        after = batch[-1].id
    s.close()
    return {"stopped_s": stopped, "succeeded_at_cancel": done_at_cancel, "resume_s": resumed,
            "each_once": set(seen.values()) == {1} and len(seen) == 3 * days}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--url", default=None, help="a store URL (default: SQLite in a temporary home)")
    args = ap.parse_args()
    runs: dict[str, list[float]] = {"per_partition_s": [], "single_run_s": [], "self_chain_s": []}
    cancels = []
    for _ in range(args.repeats):
        runs["per_partition_s"].append(per_partition(args.days, args.url))
        runs["single_run_s"].append(per_partition(args.days, args.url, "single_run"))
        runs["self_chain_s"].append(self_chain(args.days, args.url))
        cancels.append(cancel_resume(args.days, args.url))
    out: dict[str, Any] = {"days": args.days, "steps": 3 * args.days, "repeats": args.repeats}
    for k, v in runs.items():
        out[k] = round(statistics.median(v), 3)
        out[k.replace("_s", "_range_s")] = [round(min(v), 3), round(max(v), 3)]
    out["per_partition_ms_per_step"] = round(out["per_partition_s"] / (3 * args.days) * 1000, 2)
    out["cancel_stopped_s"] = round(statistics.median(c["stopped_s"] for c in cancels), 3)
    out["cancel_succeeded_at"] = [c["succeeded_at_cancel"] for c in cancels]
    out["resume_s"] = round(statistics.median(c["resume_s"] for c in cancels), 3)
    out["each_step_materialised_once"] = all(c["each_once"] for c in cancels)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
