"""The daemon loop under a fake clock: intervals, back-off per source, early wake, stop, --once,
drain and signals."""

from __future__ import annotations

import datetime as dt
import os
import signal
import threading
import time

import pytest

from nbflow.automation.daemon import Daemon, TickSource, backoff
from nbflow.errors import NbflowError

T0 = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


class FakeClock:
    """Wall clock, monotonic timer and wait in one: waiting advances fake time, unless the daemon
    was woken; past ``horizon`` seconds the daemon is stopped instead."""

    def __init__(self, horizon: float) -> None:
        self.mono = 0.0
        self.horizon = horizon
        self.daemon: Daemon | None = None
        self.waits: list[float] = []

    def __call__(self) -> dt.datetime:
        return T0 + dt.timedelta(seconds=self.mono)

    def monotonic(self) -> float:
        return self.mono

    def wait(self, event: threading.Event, seconds: float) -> bool:
        self.waits.append(seconds)
        if event.is_set():
            return True
        if self.mono + seconds > self.horizon:
            assert self.daemon is not None
            self.daemon.stop()
            return True
        self.mono += seconds
        return False


class Probe(TickSource):
    """Records when it ticks; fails the ticks whose numbers are in ``fail``; runs ``then``."""

    def __init__(self, name: str, interval: float, clock: FakeClock | None = None, *,
                 fail: frozenset[int] = frozenset(), then=None) -> None:
        self.name, self.interval, self.clock = name, interval, clock
        self.fail, self.then = fail, then
        self.ticks: list[float] = []
        self.nows: list[dt.datetime] = []
        self.stopped = False

    def tick(self, now: dt.datetime) -> dict[str, int]:
        self.ticks.append(self.clock.mono if self.clock else time.monotonic())
        self.nows.append(now)
        if self.then is not None:
            self.then(self, len(self.ticks))
        if len(self.ticks) in self.fail:
            raise OSError(f"{self.name} tick {len(self.ticks)} failed")
        return {"tick": len(self.ticks)}

    def stop(self) -> None:
        self.stopped = True


def run(sources: list[Probe], clock: FakeClock) -> tuple[Daemon, list[tuple[str, str, float]]]:
    for s in sources:
        s.clock = clock
    daemon = Daemon(sources, clock=clock, timer=clock.monotonic, wait=clock.wait)
    clock.daemon = daemon
    errors: list[tuple[str, str, float]] = []
    daemon.on_error = lambda name, exc, pause: errors.append((name, str(exc), pause))
    daemon.serve()
    return daemon, errors


def test_two_sources_tick_on_their_own_intervals():
    clock = FakeClock(horizon=10)
    fast, slow = Probe("fast", 1.0), Probe("slow", 3.0)
    daemon, errors = run([fast, slow], clock)
    assert fast.ticks == [float(t) for t in range(11)]
    assert slow.ticks == [0.0, 3.0, 6.0, 9.0]
    assert slow.nows == [T0 + dt.timedelta(seconds=s) for s in (0, 3, 6, 9)]
    assert errors == [] and daemon.stopping
    assert max(clock.waits) == 1.0  # never sleeps past the earliest source


def test_a_failing_source_backs_off_while_the_other_keeps_ticking():
    clock = FakeClock(horizon=16)
    flaky, steady = Probe("flaky", 1.0, fail=frozenset({1, 2, 3})), Probe("steady", 1.0)
    daemon, errors = run([flaky, steady], clock)
    assert errors == [("flaky", "flaky tick 1 failed", 2.0), ("flaky", "flaky tick 2 failed", 4.0),
                      ("flaky", "flaky tick 3 failed", 8.0)]
    assert flaky.ticks == [0.0, 2.0, 6.0, 14.0, 15.0, 16.0]  # after a success: its interval again
    assert steady.ticks == [float(t) for t in range(17)]
    assert daemon.failures == {"flaky": 0, "steady": 0}


@pytest.mark.parametrize("interval,failures,pause", [
    (1.0, 1, 2.0), (1.0, 2, 4.0), (0.05, 3, 0.4), (1.0, 6, 60.0), (5.0, 100, 60.0),
])
def test_backoff_doubles_up_to_a_minute(interval, failures, pause):
    assert backoff(interval, failures) == pytest.approx(pause)


def test_a_source_woken_early_ticks_at_once():
    clock = FakeClock(horizon=13)
    slow = Probe("slow", 10.0)
    fast = Probe("fast", 1.0, then=lambda src, n: slow.wake() if n == 3 else None)
    run([slow, fast], clock)
    assert fast.ticks == [float(t) for t in range(14)]
    assert slow.ticks == [0.0, 2.0, 12.0]  # woken at 2 by the fast source, then its interval


def test_wake_from_another_thread_cuts_a_real_sleep_short():
    source = Probe("slow", 30.0)
    daemon = Daemon([source])
    thread = threading.Thread(target=daemon.serve)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not source.ticks and time.monotonic() < deadline:
            time.sleep(0.01)
        source.wake()  # what a schedule source does when a run ends
        while len(source.ticks) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(source.ticks) == 2 and source.ticks[1] - source.ticks[0] < 5
        started = time.monotonic()
        daemon.stop()
        thread.join(10)
        assert not thread.is_alive() and time.monotonic() - started < 5
    finally:
        daemon.stop()
        thread.join(10)
    assert source.stopped and len(source.ticks) == 2


def test_stop_inside_a_tick_ends_the_loop_before_the_next_source():
    clock = FakeClock(horizon=100)
    holder: dict[str, Daemon] = {}
    first = Probe("first", 1.0, then=lambda src, n: holder["daemon"].stop() if n == 4 else None)
    second = Probe("second", 1.0)
    for s in (first, second):
        s.clock = clock
    daemon = Daemon([first, second], clock=clock, timer=clock.monotonic, wait=clock.wait)
    holder["daemon"] = clock.daemon = daemon
    daemon.serve()
    assert first.ticks == [0.0, 1.0, 2.0, 3.0]
    assert second.ticks == [0.0, 1.0, 2.0]
    assert first.stopped and second.stopped and clock.mono == 3.0


class Busy(Probe):
    """Has one run going until cancelled, or until ``done`` is set."""

    def __init__(self, name: str, *, once_fails: bool = False) -> None:
        super().__init__(name, 1.0)
        self.once_fails = once_fails
        self.done = threading.Event()
        self.cancelled = threading.Event()

    def running(self) -> list[str]:
        return [] if self.done.is_set() or self.cancelled.is_set() else [f"{self.name}-run"]

    def cancel_all(self) -> list[str]:
        going = self.running()
        self.cancelled.set()
        return going

    def once(self, now: dt.datetime) -> dict[str, int]:
        if self.once_fails:
            raise OSError(f"{self.name} once failed")
        return {"once": 1}


def test_drain_waits_for_running_work_then_cancels_what_is_left():
    finishing, stuck = Busy("finishing"), Busy("stuck")
    daemon = Daemon([finishing, stuck])
    threading.Timer(0.2, finishing.done.set).start()
    threading.Timer(0.2, daemon.wake).start()
    started = time.monotonic()
    assert daemon.running() == ["finishing-run", "stuck-run"]
    assert daemon.drain(grace=1.0) == ["stuck-run"]
    assert 1.0 <= time.monotonic() - started < 5
    assert stuck.cancelled.is_set() and daemon.running() == []


def test_run_once_gives_every_source_its_pass_and_then_raises_the_first_error():
    broken, fine = Busy("broken", once_fails=True), Busy("fine")
    calls: list[str] = []
    fine.once = lambda now: calls.append(str(now)) or {"once": 1}  # type: ignore[method-assign]
    daemon = Daemon([broken, fine], clock=lambda: T0)
    with pytest.raises(OSError, match="broken once failed"):
        daemon.run_once()
    assert calls == [str(T0)]
    assert Daemon([Busy("fine")], clock=lambda: T0).run_once() == {"fine": {"once": 1}}


def test_a_first_signal_stops_and_a_second_cancels_at_once():
    source = Busy("job")
    daemon = Daemon([source])
    stops: list[int] = []
    before = signal.getsignal(signal.SIGTERM)
    with daemon.signals(lambda: stops.append(len(daemon.running()))):
        os.kill(os.getpid(), signal.SIGTERM)
        deadline = time.monotonic() + 5
        while not daemon.stopping and time.monotonic() < deadline:
            time.sleep(0.01)
        assert daemon.stopping and stops == [1] and source.stopped
        assert not source.cancelled.is_set()  # the first signal lets running work go on
        os.kill(os.getpid(), signal.SIGINT)
        assert source.cancelled.wait(5)
        assert stops == [1]
    assert signal.getsignal(signal.SIGTERM) is before


@pytest.mark.parametrize("sources,match", [
    ([], "at least one tick source"),
    ([Probe("a", 1.0), Probe("a", 2.0)], r"unique, got \['a', 'a'\]"),
    ([Probe("a", 0.0)], "interval of tick source 'a' must be greater than zero, got 0.0"),
])
def test_the_daemon_refuses_bad_sources(sources, match):
    with pytest.raises(NbflowError, match=match):
        Daemon(sources)
