"""Deployment schedules as the daemon's tick source under a fake clock: one run per due tick,
catch-up, limits, crashes, stopping.

Notebook execution is replaced by ``FakeExecute`` here (the scheduling logic is what is tested);
real kernels and real daemon processes are in test_daemon_process.py.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from zoneinfo import ZoneInfo

import pytest

from nbflow.automation.daemon import Daemon
from nbflow.automation.schedules import PassReport, ScheduleSource
from nbflow.core.states import State
from nbflow.deployments import service as D
from nbflow.session import Session
from nbflow.store.hosts import pid_alive

from .conftest import FakeExecute

UTC = dt.UTC


class FakeClock:
    def __init__(self, t: dt.datetime) -> None:
        self.t = t

    def __call__(self) -> dt.datetime:
        return self.t

    def advance(self, **delta: float) -> None:
        self.t += dt.timedelta(**delta)


def start_at(session, name: str, t: dt.datetime) -> None:
    """Move a deployment's cursor to fake time ``t`` (as if deployed then)."""
    ds = session.store.deployments
    row = ds.get(name)
    ds.save(name, row.notebook, row.spec, reset_cursor=True, now=t.timestamp())


T0 = dt.datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def make(session, execute, clock, **kw) -> tuple[Daemon, ScheduleSource]:
    """A daemon with the schedule source alone, as ``nbflow daemon`` builds it."""
    source = ScheduleSource(session, execute=execute, poll=0.05, **kw)
    return Daemon([source], clock=clock), source


def once(daemon: Daemon) -> PassReport:
    return daemon.run_once()["schedules"]


def scheduled(session, name: str) -> list[dt.datetime]:
    return sorted(r.scheduled_at for r in session.runs(limit=1000, deployment=name))


def test_each_due_tick_becomes_exactly_one_run(session, notebook):
    D.deploy(notebook, name="probe", every="1m", catchup="all", parameters={"n": 5})
    start_at(session, "probe", T0)
    clock, fake = FakeClock(T0), FakeExecute()
    sched, _ = make(session, fake, clock)
    try:
        assert once(sched).claimed == []
        clock.advance(minutes=5, seconds=10)
        report = once(sched)
        assert len(report.claimed) == 5 and sorted(report.started) == sorted(report.claimed)
        assert once(sched).claimed == []  # same time again: nothing new
    finally:
        sched.close()
    assert scheduled(session, "probe") == [T0 + dt.timedelta(minutes=m) for m in range(1, 6)]
    runs = session.runs(limit=100, deployment="probe")
    assert {r.state for r in runs} == {State.SUCCEEDED}
    assert len(fake.requests) == 5 and {r.parameters["n"] for r in fake.requests} == {5}
    assert {r.env["NBFLOW_RUN_ID"] for r in fake.requests} == {r.run_id for r in runs}


@pytest.mark.parametrize("catchup,expected", [
    ("all", [5, 10, 15, 20, 25]), ("latest", [25]), ("none", []),
])
def test_catchup_policies_after_an_outage(session, notebook, catchup, expected):
    D.deploy(notebook, name="probe", every="5m", catchup=catchup)
    start_at(session, "probe", T0)
    clock = FakeClock(T0 + dt.timedelta(minutes=27))  # last tick 2 minutes late
    sched, _ = make(session, FakeExecute(), clock)
    try:
        once(sched)
        assert scheduled(session, "probe") == [T0 + dt.timedelta(minutes=m) for m in expected]
        clock.advance(minutes=3, seconds=5)  # an on-time tick runs under every policy
        once(sched)
    finally:
        sched.close()
    assert scheduled(session, "probe")[-1] == T0 + dt.timedelta(minutes=30)
    if catchup == "none":
        ticks = session.store.deployments.recent_ticks("probe")
        assert ("SKIPPED", T0.timestamp() + 25 * 60) in [(s, t) for t, s, _ in ticks]


def test_daily_cron_runs_at_local_six_across_the_dst_change(session, notebook):
    D.deploy(notebook, name="probe", cron="0 6 * * *", tz="Europe/Paris", catchup="none")
    start = dt.datetime(2026, 3, 26, 0, 0, tzinfo=UTC)
    start_at(session, "probe", start)
    clock = FakeClock(start)
    sched, source = make(session, FakeExecute(), clock)
    try:
        while clock.t < dt.datetime(2026, 3, 31, 12, tzinfo=UTC):  # fake clock: 30-minute steps
            clock.advance(minutes=30)
            source.tick(clock())
        once(sched)
    finally:
        sched.close()
    local = [t.astimezone(ZoneInfo("Europe/Paris")) for t in scheduled(session, "probe")]
    assert [(t.day, t.hour, t.minute) for t in local] == [(d, 6, 0) for d in range(26, 32)]
    assert [t.utcoffset().total_seconds() / 3600 for t in local] == [1, 1, 1, 2, 2, 2]


def test_per_deployment_and_global_concurrency_limits(session, notebook):
    D.deploy(notebook, name="one", every="1m", catchup="all", max_concurrency=1)
    D.deploy(notebook, name="two", every="1m", catchup="all")
    D.deploy(notebook, name="three", every="1m", catchup="all")
    for name in ("one", "two", "three"):
        start_at(session, name, T0)
    fake = FakeExecute(seconds=0.15)
    per_deployment: Counter[str] = Counter()
    peak_one = [0]
    original = fake.__call__
    lock = threading.Lock()

    def counting(request, cancel):
        name = request.env["NBFLOW_DEPLOYMENT"]
        with lock:
            per_deployment[name] += 1
            peak_one[0] = max(peak_one[0], per_deployment["one"])
        try:
            return original(request, cancel)
        finally:
            with lock:
                per_deployment[name] -= 1

    sched, _ = make(session, counting, FakeClock(T0 + dt.timedelta(minutes=4, seconds=1)),
                 max_concurrency=2)
    try:
        report = once(sched)
    finally:
        sched.close()
    assert len(report.claimed) == 12
    assert fake.peak == 2 and peak_one[0] == 1
    assert session.store.deployments.run_counts() == {"SUCCEEDED": 12}


def test_two_daemons_at_once_never_run_a_tick_twice(session, notebook):
    D.deploy(notebook, name="probe", every="1m", catchup="all")
    D.deploy(notebook, name="other", every="2m", catchup="all")
    for name in ("probe", "other"):
        start_at(session, name, T0)
    fake = FakeExecute(seconds=0.01)
    clock = FakeClock(T0 + dt.timedelta(minutes=30, seconds=1))
    second = Session(session.settings, session.registry)
    (a, _), (b, _) = make(session, fake, clock, max_concurrency=3), make(second, fake, clock, max_concurrency=3)
    reports = {}
    barrier = threading.Barrier(2)

    def go(name, sched):
        barrier.wait()
        reports[name] = once(sched)

    threads = [threading.Thread(target=go, args=item) for item in (("a", a), ("b", b))]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        a.close()
        b.close()
        second.close()
    runs = session.runs(limit=1000, kind="deployment")
    keys = [(r.deployment, r.scheduled_at) for r in runs]
    assert len(keys) == len(set(keys)) == 45
    assert len(fake.requests) == 45
    assert len({r.env["NBFLOW_RUN_ID"] for r in fake.requests}) == 45
    assert set(reports["a"].claimed).isdisjoint(reports["b"].claimed)
    assert {r.state for r in runs} == {State.SUCCEEDED}


def test_retries_with_delay_then_success(session, notebook):
    D.deploy(notebook, name="flaky", manual=True, retries=2, retry_delay=0.2)
    calls = []

    def fail_twice(request):
        calls.append(time.monotonic())
        return len(calls) < 3

    fake = FakeExecute(fail=fail_twice)
    from nbflow.deployments.runs import claim_run

    ds = session.store.deployments
    dep = D.get_deployment("flaky")
    rid = claim_run(session, ds, dep, time.time(), {}, tick=False, trigger="manual")
    sched, _ = make(session, fake, FakeClock(T0))
    try:
        once(sched)
    finally:
        sched.close()
    run = session.get_run(rid)
    assert (run.state, run.attempt) == (State.SUCCEEDED, 3)
    assert calls[1] - calls[0] >= 0.2 and calls[2] - calls[1] >= 0.2


def test_paused_deployments_are_not_scheduled_and_resume_does_not_replay(session, notebook):
    D.deploy(notebook, name="probe", every="1s", catchup="all")
    D.set_paused("probe", True)
    clock = FakeClock(dt.datetime.now(UTC) + dt.timedelta(seconds=30))
    sched, _ = make(session, FakeExecute(), clock)
    try:
        assert once(sched).claimed == []
        D.set_paused("probe", False)
        cursor = session.store.deployments.get("probe").cursor  # resume: "from now on"
        clock.t = dt.datetime.fromtimestamp(cursor, UTC) + dt.timedelta(seconds=2.5)
        expected = int(cursor + 2.5) - int(cursor)  # whole seconds in (cursor, cursor + 2.5]
        assert len(once(sched).claimed) == expected
    finally:
        sched.close()
    assert min(scheduled(session, "probe")).timestamp() > cursor


def test_a_run_of_a_dead_daemon_is_marked_crashed_at_start(session, notebook):
    D.deploy(notebook, name="probe", manual=True)
    ds = session.store.deployments
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    assert not pid_alive(dead.pid) and pid_alive(os.getpid())
    for run_id, pid in (("deadrun", dead.pid), ("liverun", os.getppid())):
        ds.claim(run_id, deployment="probe", scheduled_at=float(len(run_id) + pid),
                 parameters={}, output_path="x", tags={}, tick=False)
        ds.take(run_id, owner={"host": socket.gethostname(), "pid": pid}, limit=None)
    sched, source = make(session, FakeExecute(), FakeClock(T0))
    try:
        crashed = source.recover()
    finally:
        sched.close()
    assert crashed == ["deadrun"]
    run = session.get_run("deadrun")
    assert run.state is State.CRASHED and f"pid {dead.pid}" in run.error
    assert session.get_run("liverun").state is State.RUNNING


def test_stop_takes_no_new_work_and_drain_cancels_what_runs_on(session, notebook):
    D.deploy(notebook, name="probe", every="1m", catchup="all")
    start_at(session, "probe", T0)
    fake = FakeExecute(seconds=30)
    sched, source = make(session, fake, FakeClock(T0 + dt.timedelta(minutes=3, seconds=1)), max_concurrency=1)
    try:
        report = source.tick(sched.clock())
        assert len(report.claimed) == 3 and len(report.started) == 1
        sched.stop()
        assert source.tick(sched.clock()).started == []
        started = time.monotonic()
        assert sched.drain(grace=0.3) == report.started
        assert time.monotonic() - started < 10
    finally:
        sched.close()
    states = Counter(r.state for r in session.runs(limit=10, deployment="probe"))
    assert states == {State.CANCELLED: 1, State.PENDING: 2}


def test_a_deleted_deployment_cancels_its_queued_runs(session, notebook):
    D.deploy(notebook, name="probe", every="1m", catchup="all")
    start_at(session, "probe", T0)
    sched, source = make(session, FakeExecute(), FakeClock(T0 + dt.timedelta(minutes=2, seconds=1)))
    try:
        source._enqueue(D.get_deployment("probe"), session.store.deployments.get("probe"), sched.clock())
        D.delete_deployment("probe")
        once(sched)
    finally:
        sched.close()
    runs = session.runs(limit=10, deployment="probe")
    assert len(runs) == 2 and {r.state for r in runs} == {State.CANCELLED}
    assert "was deleted" in runs[0].error


@pytest.mark.parametrize("kwargs,match", [
    ({"max_concurrency": 0}, "max_concurrency"), ({"poll": 0}, "poll interval"),
])
def test_the_schedule_source_refuses_bad_settings(session, kwargs, match):
    from nbflow.errors import NbflowError

    with pytest.raises(NbflowError, match=match):
        ScheduleSource(session, **kwargs)


def test_a_run_that_ends_before_submit_returns_frees_its_slot(session, notebook, monkeypatch):
    from concurrent.futures import Future

    D.deploy(notebook, name="probe", every="1m", catchup="all")
    start_at(session, "probe", T0)
    sched, source = make(session, FakeExecute(), FakeClock(T0 + dt.timedelta(minutes=3, seconds=1)),
                 max_concurrency=1)

    def submit_and_finish_at_once(fn, *args):  # the worker wins the race against the caller
        fn(*args)
        done: Future = Future()
        done.set_result(None)
        return done

    monkeypatch.setattr(source._pool, "submit", submit_and_finish_at_once)
    try:
        report = once(sched)
        assert sched.running() == []
    finally:
        sched.close()
    assert len(report.started) == 3
    assert session.store.deployments.run_counts() == {"SUCCEEDED": 3}


def test_the_daemon_survives_a_failing_pass_and_reports_it(session, notebook):
    D.deploy(notebook, name="probe", every="1m", catchup="all")
    start_at(session, "probe", T0)
    sched, source = make(session, FakeExecute(), FakeClock(T0 + dt.timedelta(minutes=2, seconds=1)))
    errors: list[tuple[str, float]] = []
    real_all, calls = source.ds.all, []

    def flaky_all():
        calls.append(1)
        if len(calls) <= 2:
            raise OSError("database restarting")
        return real_all()

    source.ds.all = flaky_all  # type: ignore[method-assign]
    sched.on_error = lambda name, exc, pause: errors.append((f"{name}: {exc}", pause))
    thread = threading.Thread(target=sched.serve)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while (sum(r.state is State.SUCCEEDED for r in session.runs(deployment="probe")) < 2
               and time.monotonic() < deadline):
            time.sleep(0.05)
    finally:
        sched.stop()
        thread.join(10)
        sched.close()
    assert [e for e, _ in errors] == ["schedules: database restarting"] * 2
    assert errors[1][1] > errors[0][1]  # backs off
    assert [r.state for r in session.runs(deployment="probe")] == [State.SUCCEEDED] * 2


def test_trigger_waits_for_a_free_slot_of_the_deployment(session, notebook, monkeypatch):
    from nbflow.deployments import runs as R

    monkeypatch.setattr(D, "_POLL", 0.05)
    D.deploy(notebook, name="one", manual=True, max_concurrency=1)
    ds = session.store.deployments
    busy = R.claim_run(session, ds, D.get_deployment("one"), 1.0, {}, tick=False, trigger="manual")
    assert ds.take(busy, owner=R.owner_tags(), limit=1)
    fake = FakeExecute()
    monkeypatch.setattr(R, "local_execute", fake)
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("run", D.trigger("one")))
    thread.start()
    time.sleep(0.5)
    assert fake.requests == [] and thread.is_alive()  # the slot is taken: it waits
    ds.finish_now(busy, State.SUCCEEDED, None)
    thread.join(20)
    assert result["run"].state is State.SUCCEEDED and len(fake.requests) == 1


def test_a_queued_run_gets_its_parameters_with_their_exact_types(session, tmp_path):
    """Values travel through the queue in the codec's exact form, not the record's display copy."""
    from nbflow.deployments.runs import EXACT, claim_run
    from tests.deployments.conftest import write_notebook

    nb = write_notebook(tmp_path / "exact.ipynb", [("anything = None", ["parameters"]), ("anything", [])])
    value = {"when": dt.date(2026, 1, 31), "pair": (1, 2), "__nbflow_type__": "date", "at":
             dt.datetime(2026, 3, 29, 1, 30, tzinfo=ZoneInfo("Europe/Paris"))}
    dep = D.deploy(nb, name="exact", manual=True)
    run_id = claim_run(session, session.store.deployments, dep, time.time(), {"anything": value},
                       tick=False, trigger="manual")           # queued, as trigger --no-wait does
    record = session.get_run(run_id)
    assert EXACT in record.tags
    assert isinstance(record.parameters["anything"]["when"], str)   # the record shows ISO text
    fake = FakeExecute()
    sched, _ = make(session, fake, FakeClock(T0))
    try:
        once(sched)
    finally:
        sched.stop()
    got = fake.requests[0].parameters["anything"]
    assert got == value and type(got["pair"]) is tuple and type(got["when"]) is dt.date
    assert got["at"].tzinfo == ZoneInfo("Europe/Paris")
    assert session.get_run(run_id).state is State.SUCCEEDED
