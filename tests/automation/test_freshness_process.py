"""Freshness in real daemon processes (``nbflow daemon -f pipeline.py``) on SQLite and PostgreSQL:
two daemons record an asset overdue within 2 s of its deadline, once, and its recovery once."""

from __future__ import annotations

import signal
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import nbflow as nf

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
from sensor_latency import start_daemon

pytestmark = [pytest.mark.slow]

LAG = 5.0
PIPELINE = textwrap.dedent(f"""
    import nbflow as nf

    @nf.asset(freshness={LAG})
    def quick():
        return 1
""")


def started(proc: Any, out: list[str]) -> threading.Event:
    """Collect the daemon's output in ``out``; the event is set once it says it started."""
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            out.append(line)
            if " started (pid " in line:
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    return ready


def freshness_events(session: Any, after: int = 0) -> list[Any]:
    return [e.event for e in session.store.events_after(after, kinds=["FRESHNESS"])]


def wait_for(predicate: Any, timeout: float, what: str) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_two_daemons_record_the_deadline_within_two_seconds_once(session: Any, store_url: str,
                                                                home: Path) -> None:
    @nf.asset(freshness=LAG, registry=session.registry)
    def quick() -> int:
        return 1

    assert session.materialize("quick").ok
    home.mkdir(parents=True, exist_ok=True)
    pipeline = home / "pipeline.py"
    pipeline.write_text(PIPELINE)
    outs: list[list[str]] = [[], []]
    procs = [start_daemon(home, store_url, pipeline) for _ in outs]
    try:
        for proc, out in zip(procs, outs):
            assert started(proc, out).wait(60) and proc.poll() is None, "".join(out)
        # a slow start may have found the first materialisation late already: start afresh
        if _overdue(session):
            assert session.materialize("quick", force=True).ok
            wait_for(lambda: not _overdue(session), 10, "the daemons to see it on time")
        before = session.store.last_event_id()
        assert session.materialize("quick", force=True).ok  # the deadline starts now
        made = session.store.latest_materializations()["quick"].ts.timestamp()
        deadline = made + LAG
        assert time.time() < deadline - 1, "the daemons took too long to start"
        [late] = wait_for(lambda: freshness_events(session, before), LAG + 10, "the overdue event")
        assert late.step == "quick" and late.data.overdue
        assert late.data.deadline == pytest.approx(deadline)
        assert 0 <= late.ts - deadline <= 2.0, late.ts - deadline
        time.sleep(1.5)  # both daemons have ticked past it since
        assert len(freshness_events(session, before)) == 1

        assert session.materialize("quick", force=True).ok
        recovered = session.store.latest_materializations()["quick"].ts.timestamp()
        events = wait_for(lambda: (e := freshness_events(session, before))[1:] and e, 10,
                          "the recovery")
        assert not events[1].data.overdue and events[1].ts - recovered <= 2.0
        time.sleep(1.5)
        assert [e.data.overdue for e in freshness_events(session, before)] == [True, False]
        print(f"\noverdue recorded {late.ts - deadline:.3f} s after the deadline; recovery "
              f"{events[1].ts - recovered:.3f} s after the materialisation")
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(60)
    said = "".join(outs[0] + outs[1])
    assert said.count("freshness quick overdue") == len(
        [e for e in freshness_events(session) if e.data.overdue]), said


def _overdue(session: Any) -> bool:
    rows = session.store.events_after(0, kinds=["FRESHNESS"])
    return bool(rows) and rows[-1].event.data.overdue
