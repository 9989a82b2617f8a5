"""The one daemon loop: tick each source when it is due, back off a failing one, stop cleanly.

A tick source (``TickSource``) is a small object with a ``name``, a ``tick(now)`` that does one
pass of its work and returns a small report, and ``next_tick(now)``: the seconds until it wants
its next tick (at most its ``interval``). Deployment schedules are the first source
(``automation/schedules.py``); sensors, backfills, automation conditions, alerts and retention
plug in the same way.

``Daemon`` is the coordinator. Its responsibilities:

1. sleep until the earliest source is due, or until a source asks to be woken early
   (``wake(name)``, e.g. because a run it started has finished);
2. tick every due source; a tick that raises is reported through ``on_error`` and that source
   alone is retried after a back-off (twice its interval, doubling, at most a minute), so one
   failing source never stops the others and the daemon outlives a store outage;
3. ``run_once()``: one pass of every source, each waiting for the work it started (``--once``);
4. stopping: ``stop()`` (safe in a signal handler) stops taking new work, ``drain(grace)`` waits
   for running work and then cancels the rest; ``signals()`` wires SIGTERM and SIGINT to that:
   a first signal stops, a second cancels at once.

Three things are injectable so that the loop runs under a fake clock in tests: the clock (the
``now`` handed to the sources), the timer (monotonic seconds for the due times, so a wall-clock
jump neither stalls nor races the loop) and the wait (how the loop sleeps on its wake-up event).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from nbflow.errors import NbflowError

Clock = Callable[[], dt.datetime]
Timer = Callable[[], float]
Wait = Callable[[threading.Event, float], object]
"""Sleep up to the given seconds unless the event is set (``threading.Event.wait`` by default)."""

MAX_BACKOFF = 60.0
"""Seconds: the longest pause after repeated failures of one source."""

_EARLY = 0.001
"""Seconds: a source due this soon is ticked now (a timed wait may end a hair early)."""


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _event_wait(event: threading.Event, seconds: float) -> object:
    return event.wait(seconds)


def backoff(interval: float, failures: int) -> float:
    """Seconds before retrying a source after its ``failures``-th failure in a row."""
    return min(interval * 2 ** failures, MAX_BACKOFF)


class TickSource:
    """Base of the daemon's tick sources. Subclasses set ``name`` and ``interval`` and define
    ``tick``; the rest has defaults for a source that starts no long-running work."""

    name: str = "source"
    interval: float = 1.0
    """Seconds between ticks when nothing is sooner (also the base of the back-off)."""

    _notify: Callable[[], None] | None = None

    def bind(self, notify: Callable[[], None]) -> None:
        """The daemon hands the source a callback that wakes the loop for this source."""
        self._notify = notify

    def wake(self) -> None:
        """Ask the daemon to tick this source now (from any thread)."""
        if self._notify is not None:
            self._notify()

    def tick(self, now: dt.datetime) -> object:
        raise NotImplementedError

    def next_tick(self, now: dt.datetime) -> float:
        """Seconds from ``now`` until this source wants its next tick (at most ``interval``)."""
        return self.interval

    def once(self, now: dt.datetime) -> object:
        """One pass that waits for the work it started (``--once``); a plain tick by default."""
        return self.tick(now)

    def stop(self) -> None:
        """Take no new work (safe to call from a signal handler)."""

    def running(self) -> list[str]:
        """Ids of the work this source has going (runs)."""
        return []

    def cancel_all(self) -> list[str]:
        """Cancel what is going, wait for it to end; returns the ids that were cancelled."""
        return []

    def close(self) -> None:
        """Release what the source holds (threads, pools)."""


class Daemon:
    """Runs tick sources in one loop; see the module docstring for its responsibilities."""

    def __init__(self, sources: Sequence[TickSource], *, clock: Clock | None = None,
                 timer: Timer | None = None, wait: Wait | None = None) -> None:
        names = [s.name for s in sources]
        if not sources:
            raise NbflowError("A daemon needs at least one tick source; pass the sources to run.")
        if len(set(names)) != len(names):
            raise NbflowError(f"Tick source names must be unique, got {names}; rename the duplicates.")
        for source in sources:
            if source.interval <= 0:
                raise NbflowError(f"The interval of tick source {source.name!r} must be greater "
                                  f"than zero, got {source.interval}.")
        self.sources = list(sources)
        self.clock = clock or utc_now
        self._timer = timer or time.monotonic
        self._wait = wait or _event_wait
        self._event = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._woken: set[str] = set()
        self.failures: dict[str, int] = dict.fromkeys(names, 0)
        """Failed ticks in a row, per source."""
        self.on_error: Callable[[str, BaseException, float], None] | None = None
        """Called when a tick fails, with the source's name, the error and the seconds until its retry."""
        for source in self.sources:
            source.bind(functools.partial(self.wake, source.name))

    # ------------------------------------------------------------------ the loop
    def wake(self, name: str | None = None) -> None:
        """Tick source ``name`` (every source when None) now instead of at its due time."""
        with self._lock:
            self._woken.update(self.failures if name is None else (name,))
        self._event.set()

    def serve(self) -> None:
        """Tick the sources as they fall due until ``stop()``."""
        due = dict.fromkeys(self.failures, self._timer())  # when each source is next due
        while not self._stop.is_set():
            for source in self.sources:
                if self._stop.is_set():
                    break
                if due[source.name] - self._timer() > _EARLY:
                    continue
                pause = self._tick(source)
                due[source.name] = self._timer() + pause
            if self._stop.is_set():
                break
            self._wait(self._event, max(min(due.values()) - self._timer(), 0.0))
            self._event.clear()
            with self._lock:
                woken, self._woken = self._woken, set()
            now = self._timer()
            for name in woken:
                due[name] = min(due[name], now)

    def _tick(self, source: TickSource) -> float:
        """Tick one source; the seconds until its next tick (a back-off when it failed)."""
        try:
            source.tick(self.clock())
            self.failures[source.name] = 0
            return max(min(source.next_tick(self.clock()), source.interval), 0.0)
        except Exception as exc:  # noqa: BLE001 - a daemon reports and carries on
            self.failures[source.name] += 1
            pause = backoff(source.interval, self.failures[source.name])
            if self.on_error is not None:
                self.on_error(source.name, exc, pause)
            return pause

    def run_once(self) -> dict[str, Any]:
        """One pass of every source, each waiting for what it started; the reports by source name.

        A source that raises does not keep the others from their pass; the first error is raised
        once all have run."""
        reports: dict[str, Any] = {}
        errors: list[Exception] = []
        for source in self.sources:
            if self._stop.is_set():
                break
            try:
                reports[source.name] = source.once(self.clock())
            except Exception as exc:  # noqa: BLE001 - re-raised below, after the other sources
                errors.append(exc)
        if errors:
            raise errors[0]
        return reports

    # ------------------------------------------------------------------ stopping
    def stop(self) -> None:
        """Stop taking new work (safe to call from a signal handler)."""
        self._stop.set()
        for source in self.sources:
            source.stop()
        self._event.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def running(self) -> list[str]:
        return [item for source in self.sources for item in source.running()]

    def drain(self, grace: float | None = None) -> list[str]:
        """Wait up to ``grace`` seconds (None: no limit) for running work, then cancel the rest;
        returns the ids that were cancelled."""
        deadline = None if grace is None else time.monotonic() + grace
        while self.running() and (deadline is None or time.monotonic() < deadline):
            self._event.wait(0.1)
            self._event.clear()
        return self.cancel_all()

    def cancel_all(self) -> list[str]:
        return [item for source in self.sources for item in source.cancel_all()]

    def close(self) -> None:
        self.stop()
        for source in self.sources:
            source.close()

    @contextlib.contextmanager
    def signals(self, on_stop: Callable[[], None] | None = None) -> Iterator[None]:
        """While inside: a first SIGTERM or SIGINT calls ``on_stop`` and ``stop()`` (the caller
        then drains within its grace); a second cancels the running work at once. The previous
        handlers come back on exit. Call it from the main thread."""
        count = [0]

        def handle(signum: int, frame: Any) -> None:
            count[0] += 1
            if count[0] == 1:
                if on_stop is not None:
                    on_stop()
                self.stop()
            else:
                threading.Thread(target=self.cancel_all, daemon=True).start()

        old = {s: signal.signal(s, handle) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield
        finally:
            for s, handler in old.items():
                signal.signal(s, handler)


__all__ = ["Daemon", "TickSource", "backoff", "utc_now"]
