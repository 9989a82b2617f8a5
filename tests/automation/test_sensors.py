"""Sensors in one process: the event stream, tick() without launching, the sensor tick source
(exactly-once run keys, leases, a raising and a hanging sensor), the CLI, tick() in IPython."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from click.testing import CliRunner

import nbflow as nf
from nbflow.automation.sensor_source import SensorSource
from nbflow.automation.sensors import SensorRegistry
from nbflow.core.events import PAYLOADS, Event, EventKind
from nbflow.core.states import State

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.fixture
def assets(session):
    @nf.asset(registry=session.registry)
    def raw() -> int:
        return 1

    @nf.asset(registry=session.registry)
    def out(raw: int) -> int:
        return raw + 1

    return session


def source(session, reg: SensorRegistry, **kw) -> SensorSource:
    src = SensorSource(session, reg, **kw)
    return src


# ---------------------------------------------------------------------- the event stream
@pytest.mark.parametrize("url", ["memory", "sql"])
def test_events_read_the_stream_by_id_with_filters(url, memory_session, session):
    s = memory_session if url == "memory" else session
    for i, (kind, step) in enumerate([(EventKind.RUN_STARTED, None), (EventKind.MATERIALIZATION, "a"),
                                      (EventKind.MATERIALIZATION, "b"), (EventKind.RUN_FINISHED, None)]):
        data = {"kind": "assets"} if kind is EventKind.RUN_STARTED else {
            "code_version": "1", "data_version": str(i)} if step else {}
        s.emit(Event(kind, "r1", step, State.SUCCEEDED if kind is EventKind.RUN_FINISHED else None,
                     PAYLOADS[kind](**data)))
    every = nf.events(session=s)
    assert [e.kind for e in every] == [EventKind.RUN_STARTED, EventKind.MATERIALIZATION,
                                       EventKind.MATERIALIZATION, EventKind.RUN_FINISHED]
    ids = [e.id for e in every]
    assert ids == sorted(ids) and len(set(ids)) == 4
    assert [e.step for e in nf.events(kinds=["MATERIALIZATION"], session=s)] == ["a", "b"]
    assert [e.step for e in nf.events(assets="b", session=s)] == ["b"]
    assert [e.id for e in nf.events(after=ids[1], session=s)] == ids[2:]
    assert [e.id for e in nf.events(after=ids[0], limit=2, session=s)] == ids[1:3]
    assert s.store.last_event_id() == ids[-1]
    assert nf.events(after=ids[-1], session=s) == []


def test_events_refuse_an_unknown_kind_in_one_sentence(memory_session):
    with pytest.raises(nf.NbflowError, match="Unknown event kind.*'MATERIALISED'.*MATERIALIZATION"):
        nf.events(kinds="MATERIALISED")


# ---------------------------------------------------------------------- tick()
def test_tick_of_an_interval_sensor_returns_requests_and_cursor_and_launches_nothing(assets):
    reg = SensorRegistry()

    @nf.sensor(target="out", registry=reg)
    def counter():
        n = int(nf.context().cursor or 0)
        nf.context().set_cursor(str(n + 1))
        return [nf.RunRequest(run_key=f"k{n}")] if n < 2 else nf.SkipReason("enough")

    first = counter.tick()
    assert [r.run_key for r in first.requests] == ["k0"] and first.cursor == "1"
    third = counter.tick(cursor="2")
    assert third.requests == () and third.skip_reason == "enough" and third.cursor == "3"
    assert assets.runs() == []


@pytest.mark.parametrize(("returned", "requests", "skip"), [
    (None, 0, None),
    (nf.RunRequest(), 1, None) if hasattr(nf, "RunRequest") else (None, 0, None),
    ([nf.RunRequest(run_key="a"), nf.RunRequest(run_key="b")], 2, None),
    (nf.SkipReason("no new files"), 0, "no new files"),
    ((r for r in [nf.RunRequest(run_key="g")]), 1, None),
])
def test_what_a_sensor_may_return(returned, requests, skip):
    reg = SensorRegistry()
    s = nf.sensor(lambda: returned, name="s", target="x", registry=reg)
    result = s.tick()
    assert (len(result.requests), result.skip_reason) == (requests, skip)


@pytest.mark.parametrize("returned", [42, "run", [nf.RunRequest(), 3]])
def test_a_wrong_return_value_is_an_error_naming_the_sensor(returned):
    s = nf.sensor(lambda: returned, name="odd", target="x", registry=SensorRegistry())
    with pytest.raises(nf.NbflowError, match="Sensor 'odd' returned .*RunRequest"):
        s.tick()


def test_asset_sensor_tick_is_called_per_materialisation_with_the_event_id_as_cursor(assets):
    reg = SensorRegistry()
    seen = []

    @nf.asset_sensor(asset="raw", target="out", registry=reg, batch=2)
    def on_raw(event):
        seen.append(event.id)
        return nf.RunRequest()

    for _ in range(3):
        nf.materialize("raw", force=True)
    first = on_raw.tick()
    assert len(first.requests) == 2 and first.more and first.cursor == str(seen[1])
    assert [r.run_key for r in first.requests] == [f"event-{i}" for i in seen]
    second = on_raw.tick(first.cursor)
    assert len(second.requests) == 1 and not second.more and second.cursor == str(seen[2])
    assert on_raw.tick(second.cursor).requests == ()
    assert all(e.kind is EventKind.MATERIALIZATION for e in nf.events(after=seen[0] - 1, kinds=["MATERIALIZATION"]))


def test_run_status_sensor_sees_failed_runs_of_its_selection_only(assets):
    reg = SensorRegistry()

    @nf.asset(registry=assets.registry)
    def broken(raw: int) -> int:
        raise ValueError("no")

    @nf.run_status_sensor(on=["FAILED"], of="broken", registry=reg, target="raw")
    def on_fail(run):
        return nf.RunRequest(tags={"failed_run": run.run_id})

    ok = nf.materialize("raw")
    bad = nf.materialize("broken")
    assert ok.ok and not bad.ok
    result = on_fail.tick()
    assert [r.tags["failed_run"] for r in result.requests] == [bad.run_id]


def test_an_asset_sensor_keeps_its_own_cursor():
    s = nf.asset_sensor(lambda e: nf.context().set_cursor("9"), asset="a", name="a_s",
                        registry=SensorRegistry())
    ctx = nf.automation.sensors.SensorContext(s, "1")  # type: ignore[attr-defined]
    with pytest.raises(nf.NbflowError, match="nbflow keeps it"):
        ctx.set_cursor("9")


def test_context_outside_a_sensor_is_the_run_context():
    assert nf.context().run_id is None  # type: ignore[union-attr]


# ---------------------------------------------------------------------- the tick source
def test_a_run_key_is_launched_once_across_ticks_and_sources(assets):
    reg = SensorRegistry()

    @nf.sensor(interval=0.01, target="+out", registry=reg)
    def same_key():
        return nf.RunRequest(run_key="only-once")

    a, b = source(assets, reg), source(assets, reg)
    try:
        for src in (a, b, a):
            src.once(NOW)
            time.sleep(0.05)
        runs = [r for r in assets.runs(limit=50) if r.tags.get("sensor") == "same_key"]
        assert len(runs) == 1 and runs[0].state is State.SUCCEEDED
        assert runs[0].tags["run_key"] == "only-once" and runs[0].selection == "+out"
        assert assets.store.sensors.run_keys("same_key") == {"only-once": runs[0].run_id}
        statuses = [t.status for t in assets.store.sensors.ticks("same_key")]
        assert statuses == ["SKIPPED", "SKIPPED", "REQUESTED"]
    finally:
        a.close()
        b.close()


def test_an_interval_sensor_ticks_once_per_interval_whichever_source_gets_there(assets):
    reg = SensorRegistry()
    calls = []
    nf.sensor(lambda: calls.append(1), name="hourly", interval="1h", target="out", registry=reg)
    a, b = source(assets, reg), source(assets, reg)
    try:
        a.once(NOW)
        b.once(NOW)
        assert calls == [1]
    finally:
        a.close()
        b.close()


def test_a_raising_and_a_hanging_sensor_are_reported_and_others_keep_ticking(assets):
    reg = SensorRegistry()
    release = threading.Event()
    calls = []

    @nf.sensor(interval=0.05, target="out", registry=reg)
    def raises():
        raise RuntimeError("bucket unreachable")

    @nf.sensor(interval=0.05, target="out", registry=reg, timeout=0.5)
    def hangs():
        release.wait(30)

    @nf.sensor(interval=0.05, target="out", registry=reg)
    def healthy():
        calls.append(time.monotonic())
        return nf.SkipReason("nothing new")

    src = source(assets, reg, poll=0.05)
    reports = []
    src.on_tick = reports.append
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not (
                len(calls) >= 3 and any(r.sensor == "hangs" for r in reports)):
            src.tick(NOW)
            time.sleep(0.06)
        table = assets.store.sensors
        assert "RuntimeError: bucket unreachable" in (table.get("raises").last_error or "")
        assert any(r.sensor == "hangs" and r.status == "FAILED" and "timeout of 0.5 s" in r.reason
                   for r in reports)
        assert "timeout" in (table.get("hangs").last_error or "")
        assert len(calls) >= 3
        assert [t.status for t in table.ticks("raises")][:1] == ["FAILED"]
    finally:
        release.set()
        src.close()


def test_a_paused_sensor_is_not_ticked_and_reset_cursor_starts_over(assets):
    reg = SensorRegistry()
    cursors = []

    @nf.sensor(interval=0.01, target="out", registry=reg)
    def tracked():
        cursors.append(nf.context().cursor)
        nf.context().set_cursor(str(len(cursors)))

    src = source(assets, reg)
    runner = CliRunner()
    from nbflow.cli.main import cli
    try:
        time.sleep(0.05)  # past the 0.01 s interval
        src.once(NOW)
        assert runner.invoke(cli, ["sensor", "pause", "tracked"]).exit_code == 0
        time.sleep(0.05)  # past the 0.01 s interval
        src.once(NOW)
        assert cursors == [None]
        assert runner.invoke(cli, ["sensor", "resume", "tracked"]).exit_code == 0
        time.sleep(0.05)  # past the 0.01 s interval
        src.once(NOW)
        assert cursors == [None, "1"]
        assert runner.invoke(cli, ["sensor", "reset-cursor", "tracked"]).exit_code == 0
        time.sleep(0.05)  # past the 0.01 s interval
        src.once(NOW)
        assert cursors == [None, "1", None]
        listing = runner.invoke(cli, ["sensors"])
        assert listing.exit_code == 0 and "tracked" in listing.output
        shown = runner.invoke(cli, ["sensor", "show", "tracked"])
        assert shown.exit_code == 0 and "cursor   3" in shown.output
        missing = runner.invoke(cli, ["sensor", "show", "trackd"])
        assert missing.exit_code == 2 and "did you mean 'tracked'" in missing.output
    finally:
        src.close()


def test_a_deployment_request_is_queued_as_a_pending_deployment_run(session, notebook):
    from nbflow.deployments import service as D

    D.deploy(notebook, name="report", manual=True, parameters={"n": 1})
    reg = SensorRegistry()

    @nf.sensor(deployment="report", registry=reg)
    def wants_report():
        return nf.RunRequest(run_key="r1", parameters={"n": 5})

    src = source(session, reg)
    try:
        src.once(NOW)
    finally:
        src.close()
    [q] = session.store.deployments.pending()
    assert q.deployment == "report" and q.parameters == {"n": 5}
    assert q.tags["sensor"] == "wants_report" and q.tags["run_key"] == "r1"


# ---------------------------------------------------------------------- in a notebook
def test_tick_in_ipythons_in_process_shell(memory_session):
    from IPython.testing.globalipapp import start_ipython

    ip = start_ipython()
    ip.run_cell("import nbflow as nf\n"
                "from nbflow.automation.sensors import SensorRegistry\n"
                "@nf.sensor(target='orders', registry=SensorRegistry())\n"
                "def files():\n"
                "    seen = int(nf.context().cursor or 0)\n"
                "    nf.context().set_cursor(str(seen + 2))\n"
                "    return [nf.RunRequest(run_key=f'file-{i}') for i in range(seen, seen + 2)]\n"
                "result = files.tick(cursor='3')\n", store_history=False).raise_error()
    result = ip.user_ns["result"]
    assert [r.run_key for r in result.requests] == ["file-3", "file-4"] and result.cursor == "5"


def test_a_request_for_one_partition_runs_only_that_partition(session):
    daily = nf.DailyPartitions(start="2026-01-01", end="2026-01-10")
    built: list[str] = []

    @nf.asset(partitions=daily, registry=session.registry)
    def day() -> int:
        built.append(str(nf.context().partition_key))
        return 1

    @nf.asset(registry=session.registry)
    def plain() -> int:
        return 1

    reg = SensorRegistry()

    @nf.sensor(interval=0.01, target="day", registry=reg)
    def new_day():
        return [nf.RunRequest(run_key=k, partition=k) for k in ("2026-01-03", "2026-01-05")]

    @nf.sensor(interval=0.01, target="day", registry=reg)
    def bad_key():
        return nf.RunRequest(run_key="x", partition="2026-02-30")

    @nf.sensor(interval=0.01, target="plain", registry=reg)
    def not_partitioned():
        return nf.RunRequest(run_key="y", partition="2026-01-03")

    src = source(session, reg)
    try:
        src.once(NOW)
    finally:
        src.close()
    assert sorted(built) == ["2026-01-03", "2026-01-05"]
    runs = [r for r in session.runs(limit=50) if r.tags.get("sensor") == "new_day"]
    assert sorted(r.tags["partition"] for r in runs) == ["2026-01-03", "2026-01-05"]
    assert all(r.state is State.SUCCEEDED for r in runs)
    [s] = nf.status("day")
    assert s.partitions.counts["fresh"] == 2
    errors = {name: session.store.sensors.get(name).last_error for name in ("bad_key", "not_partitioned")}
    assert "2026-02-30" in errors["bad_key"]
    assert "not partitioned; leave partition= out" in errors["not_partitioned"]
    assert not [r for r in session.runs(limit=50) if r.tags.get("sensor") in ("bad_key", "not_partitioned")]
