"""Backfills on real daemon processes (SQLite and PostgreSQL): submitted from the CLI, a SIGKILL
mid-backfill and a restart (no step materialised twice, none missing), SIGTERM hands it back."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
from sensor_latency import CLI, start_daemon

from tests.waiting import wait_for as _wait_for


def wait_for(predicate, timeout: float = 120.0, what: str = "condition"):
    return _wait_for(predicate, timeout, what)


pytestmark = [pytest.mark.slow]

DAYS = 24
PIPELINE = textwrap.dedent("""
    import time
    import nbflow as nf

    daily = nf.DailyPartitions(start="2026-01-01")

    @nf.asset(partitions=daily)
    def raw():
        time.sleep(0.15)  # slow enough that a kill lands mid-backfill
        return nf.context().partition_key.day

    @nf.asset(partitions=daily)
    def clean(raw):
        return raw * 2

    @nf.asset(partitions=daily)
    def report(clean):
        return clean + 1
""")


def submit(home: Path, url: str, pipeline: Path) -> str:
    env = {"NBFLOW_HOME": str(home), "NBFLOW_DATABASE_URL": url, "COLUMNS": "200", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", CLI, "backfill", "raw+", "--partitions",
                          f"2026-01-01...2026-01-{DAYS}", "-f", str(pipeline), "--submit"],
                         check=False, env=env, cwd=str(home), capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"{3 * DAYS} step(s) in {DAYS} run(s) submitted" in out.stdout
    return out.stdout.split("backfill ", 1)[1].split(":", 1)[0].strip()


def materialised(session) -> Counter:
    seen: Counter = Counter()
    after = 0
    while batch := session.store.events_after(after, kinds=["MATERIALIZATION"]):
        for e in batch:
            seen[e.step] += 1
        after = batch[-1].id
    return seen


def test_sigkill_mid_backfill_then_restart_materialises_every_step_exactly_once(store_url, session, home):
    home.mkdir(parents=True, exist_ok=True)
    pipeline = home / "pipeline.py"
    pipeline.write_text(PIPELINE)
    backfill_id = submit(home, store_url, pipeline)
    tables = session.store.backfills
    first = start_daemon(home, store_url, pipeline)
    try:
        wait_for(lambda: tables.counts(backfill_id).get("SUCCEEDED", 0) >= 9, what="a few days done")
    finally:
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=30)
    at_kill = tables.counts(backfill_id)
    assert at_kill.get("SUCCEEDED", 0) < 3 * DAYS, at_kill  # killed mid-way
    assert tables.get(backfill_id).state == "RUNNING"  # its runner died holding it

    # SIGTERM on the second daemon: no new run, the backfill handed back (REQUESTED)
    second = start_daemon(home, store_url, pipeline)
    try:
        wait_for(lambda: tables.counts(backfill_id).get("SUCCEEDED", 0) >= at_kill.get("SUCCEEDED", 0) + 6,
                 what="the second daemon to go on")
    finally:
        second.send_signal(signal.SIGTERM)
        out = second.communicate(timeout=60)[0]
    row = tables.get(backfill_id)
    assert row.state == "REQUESTED" and row.owner is None, (row, out)
    assert tables.counts(backfill_id).get("RUNNING", 0) == 0  # its last run ended first

    third = start_daemon(home, store_url, pipeline)
    try:
        wait_for(lambda: tables.get(backfill_id).state == "SUCCEEDED", what="the backfill to finish")
    finally:
        third.terminate()
        third.communicate(timeout=60)
    assert tables.counts(backfill_id) == {"SUCCEEDED": 3 * DAYS}
    seen = materialised(session)
    expected = {f"{a}[2026-01-{d:02d}]" for a in ("raw", "clean", "report") for d in range(1, DAYS + 1)}
    assert set(seen) == expected  # none missing
    assert set(seen.values()) == {1}, {k: n for k, n in seen.items() if n > 1}  # none twice
