"""The daemon's freshness source under a fake clock, on SQLite and PostgreSQL: a FRESHNESS event
when an asset becomes overdue and when it recovers, once per change, also with two daemons
racing (the store's compare-and-set); the Daemon loop aims its tick just past a deadline."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest

import nbflow as nf
from nbflow.automation.daemon import Daemon
from nbflow.automation.freshness import FreshnessSource
from nbflow.core.events import FRESHNESS_RUN_ID, EventKind, FreshnessChanged
from nbflow.core.registry import Registry
from nbflow.session import Session
from nbflow.settings import Settings
from nbflow.store.freshness import FreshnessTables

UTC = dt.UTC


def freshness_events(session: Any) -> list[tuple[str, FreshnessChanged]]:
    out = []
    for e in session.store.events_after(0, kinds=["FRESHNESS"]):
        assert e.event.kind is EventKind.FRESHNESS and e.event.run_id == FRESHNESS_RUN_ID
        assert isinstance(e.event.data, FreshnessChanged)
        out.append((e.event.step, e.event.data))
    return out


def made_at(session: Any, name: str) -> dt.datetime:
    return session.store.latest_materializations()[name].ts


def test_overdue_then_recovered_once_each_under_a_fake_clock(session: Any) -> None:
    reg = session.registry

    @nf.asset(freshness="1h", registry=reg)
    def raw() -> int:
        return 1

    @nf.asset(freshness="1h", registry=reg)
    def report(raw: int) -> int:
        return raw

    assert session.materialize("*").ok
    t0 = made_at(session, "report")
    source = FreshnessSource(session)
    assert source.tick(t0 + dt.timedelta(minutes=59)) == []  # on time: a first look records nothing
    assert freshness_events(session) == []
    assert source.next_tick(t0 + dt.timedelta(minutes=59)) == pytest.approx(1.0)  # the poll caps it
    assert source.next_tick(t0 + dt.timedelta(minutes=59, seconds=59.5)) <= 0.6

    late = t0 + dt.timedelta(hours=1, seconds=1)
    changes = source.tick(late)
    assert {c.asset for c in changes} == {"raw", "report"}
    assert source.tick(late + dt.timedelta(seconds=1)) == []  # still overdue: no new event
    events = dict(freshness_events(session))
    assert events["raw"].overdue and events["raw"].reason.startswith("last materialised")
    assert events["report"].reason == "upstream 'raw' is overdue"
    assert events["raw"].policy == "materialised within 1h"
    assert events["report"].deadline == pytest.approx(
        (made_at(session, "report") + dt.timedelta(hours=1)).timestamp())

    assert session.materialize("raw", force=True).ok  # at this clock both are within 1 h again
    again = late + dt.timedelta(minutes=1)
    new_raw = made_at(session, "raw")
    changes = FreshnessSource(session).tick(new_raw + dt.timedelta(minutes=30))
    assert [(c.asset, c.state.overdue) for c in changes] == [("raw", False), ("report", False)]
    assert source.tick(new_raw + dt.timedelta(minutes=30)) == []
    assert [(a, p.overdue) for a, p in freshness_events(session)] == [
        ("raw", True), ("report", True), ("raw", False), ("report", False)]
    rows = source.tables.all()
    assert rows["raw"].overdue is False and rows["raw"].event_id == changes[0].event_id
    assert len(source.tick(again + dt.timedelta(hours=2))) == 2  # and late again


def test_a_cron_deadline_across_the_spring_dst_change(session: Any) -> None:
    reg = session.registry

    @nf.asset(partitions=nf.DailyPartitions(start="2026-03-20", end="2026-04-05", tz="Europe/Brussels"),
              freshness=nf.Freshness(max_lag="1h", cron="0 6 * * *", tz="Europe/Brussels"),
              registry=reg)
    def daily() -> int:
        return 1

    assert session.materialize("daily", partitions="2026-03-20...2026-03-27").ok
    deadline = dt.datetime(2026, 3, 29, 5, tzinfo=UTC)  # 06:00 CEST + 1 h
    source = FreshnessSource(session)
    assert source.tick(deadline - dt.timedelta(seconds=2)) == []
    assert source.next_tick(deadline - dt.timedelta(seconds=2)) == pytest.approx(1.0)
    assert source.next_tick(deadline - dt.timedelta(seconds=0.5)) == pytest.approx(0.55)
    [change] = source.tick(deadline + dt.timedelta(seconds=0.05))
    assert change.state.partition == "2026-03-28" and change.state.deadline == deadline
    [(asset, payload)] = freshness_events(session)
    assert asset == "daily" and payload.partition == "2026-03-28"
    assert payload.deadline == deadline.timestamp()


def test_two_daemons_record_each_change_once(session: Any, store_url: str) -> None:
    reg = session.registry

    @nf.asset(freshness="1h", registry=reg)
    def raw() -> int:
        return 1

    assert session.materialize("raw").ok
    others = [Session(Settings.resolve(home=session.settings.home, database_url=store_url),
                      Registry()) for _ in range(3)]
    try:
        for other in others:
            other.registry.add(reg.graph().specs["raw"])
        sources = [FreshnessSource(s) for s in [session, *others]]
        late = made_at(session, "raw") + dt.timedelta(hours=2)
        start = threading.Barrier(len(sources))
        won: list[int] = []

        def tick(source: FreshnessSource) -> None:
            start.wait()
            won.append(len(source.tick(late)))

        threads = [threading.Thread(target=tick, args=(s,)) for s in sources]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(won) == [0, 0, 0, 1]
        assert [p.overdue for _, p in freshness_events(session)] == [True]
    finally:
        for other in others:
            other.close()


def test_compare_and_set_refuses_a_stale_view(session: Any) -> None:
    tables = FreshnessTables(session.store)
    late = FreshnessChanged(overdue=True, reason="never materialised")
    assert tables.record_change("a", FreshnessChanged(overdue=False), seen=None) is None  # on time
    assert tables.all()["a"].overdue is False and tables.all()["a"].event_id is None
    first = tables.record_change("a", late, seen=False)
    assert first is not None
    assert tables.record_change("a", late, seen=False) is None  # someone already moved it
    assert tables.record_change("b", late, seen=None) is not None
    assert tables.record_change("b", late, seen=None) is None  # the first row exists already
    assert [a for a, _ in freshness_events(session)] == ["a", "b"]  # no event left from losers


def test_the_daemon_loop_ticks_just_past_the_deadline(session: Any) -> None:
    reg = session.registry

    @nf.asset(freshness="10s", registry=reg)
    def quick() -> int:
        return 1

    assert session.materialize("quick").ok
    t0 = made_at(session, "quick")
    mono = [0.0]
    seen: list[float] = []

    def clock() -> dt.datetime:
        return t0 + dt.timedelta(seconds=mono[0])

    source = FreshnessSource(session, poll=4.0)  # the deadline, not the poll, sets the pace
    original = source.tick

    def tick(now: dt.datetime) -> Any:
        seen.append(mono[0])
        return original(now)

    source.tick = tick  # type: ignore[method-assign]
    daemon = Daemon([source], clock=clock, timer=lambda: mono[0])

    def wait(event: threading.Event, seconds: float) -> bool:
        if mono[0] + seconds > 12:
            daemon.stop()
            return True
        mono[0] += seconds
        return False

    daemon._wait = wait
    daemon.serve()
    assert seen[:4] == pytest.approx([0.0, 4.0, 8.0, 10.05])
    [(asset, payload)] = freshness_events(session)
    assert asset == "quick" and payload.overdue


def test_a_memory_store_is_refused_with_the_fix(memory_session: Any) -> None:
    with pytest.raises(nf.NbflowError, match="NBFLOW_DATABASE_URL"):
        FreshnessSource(memory_session)
