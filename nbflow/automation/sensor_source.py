"""Sensors as a tick source: evaluate due sensors, commit their requests exactly once, launch them.

One tick (``tick(now)``, every ``poll`` seconds, ~0.25 s):

1. look at the event stream's head (``last_event_id``, one index lookup); an asset or
   run-status sensor is due when the head moved past what it last saw (or its last batch left
   more), an interval sensor when its interval passed;
2. each due sensor is evaluated in a thread of its own under a lease from the store (so two
   daemons never tick one sensor at once, and an interval sensor ticks once per interval
   whichever daemon gets there first). Its outcome commits whole (``SensorTables.commit_tick``):
   the requested runs as PENDING rows (a keyed one only if its run key is new), the cursor and
   the tick record. A tick that raises, or runs past the sensor's ``timeout``, is recorded on
   that sensor as FAILED; the others keep ticking and the daemon never stops for it;
3. PENDING asset runs claimed by the sensors defined here are taken (PENDING -> RUNNING,
   atomically: one daemon wins) and materialised in worker threads; deployment runs stay
   PENDING for the schedule source, which starts queued runs (``on_deployment_run`` wakes it).

A daemon killed at any point leaves a consistent store: a tick not committed is asked again
from the old cursor (its keys were not claimed); a committed run is PENDING until some daemon
takes it (runs are taken once); a taken run that was running shows CRASHED.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nbflow.automation.daemon import TickSource
from nbflow.automation.sensors import (
    RunRequest,
    Sensor,
    SensorRegistry,
    SensorResult,
    default_sensors,
)
from nbflow.core.states import State
from nbflow.deployments.runs import owner_tags
from nbflow.errors import NbflowError
from nbflow.store.sensors import FAILED, REQUESTED, SKIPPED, NewRun

if TYPE_CHECKING:
    from nbflow.session import Session
    from nbflow.store.sensors import SensorTables


@dataclass
class SensorTick:
    """What one evaluation of one sensor did (for the CLI's log and tests)."""

    sensor: str
    status: str | None  # REQUESTED | SKIPPED | FAILED | None (nothing to do)
    reason: str | None = None
    run_ids: list[str] = field(default_factory=list)


@dataclass
class _Busy:
    thread: threading.Thread
    owner: str
    started: float
    timed_out: bool = False


class SensorSource(TickSource):
    """Runs the sensors of a registry; see the module docstring for one tick."""

    name = "sensors"

    def __init__(self, session: Session, sensors: SensorRegistry | None = None, *,
                 poll: float = 0.25, max_concurrency: int = 4) -> None:
        if poll <= 0:
            raise NbflowError(f"The sensor poll interval must be greater than zero, got {poll}.")
        if max_concurrency < 1:
            raise NbflowError(f"max_concurrency must be at least 1, got {max_concurrency}.")
        self.session = session
        self.registry = sensors or default_sensors()
        self.interval = poll
        self.max_concurrency = max_concurrency
        self.daemon_id = f"{owner_tags()['host']}:{owner_tags()['pid']}:{uuid.uuid4().hex[:8]}"
        self._pool = ThreadPoolExecutor(max_concurrency, thread_name_prefix="nbflow-sensor-run")
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._busy: dict[str, _Busy] = {}
        self._known: set[str] = set()
        self._seen: dict[str, int] = {}  # event sensor -> stream head when it last ticked
        self._more: set[str] = set()
        self._last: dict[str, float] = {}  # sensor -> monotonic time of its last tick here
        self._running: dict[str, Future[None]] = {}
        self._queued: dict[str, float] = {}  # runs this daemon made and may still be PENDING
        self._last_beat = 0.0
        self.on_tick: Callable[[SensorTick], None] | None = None
        """Called after each evaluation that did something (from the sensor's thread)."""
        self.on_deployment_run: Callable[[], None] | None = None
        """Called when a tick queued deployment runs (wake the schedule source)."""
        self.finished: list[str] = []

    @property
    def table(self) -> SensorTables:
        return self.session.store.sensors  # type: ignore[return-value]

    # ------------------------------------------------------------------ one tick
    def tick(self, now: dt.datetime) -> list[str]:
        """Start due sensor evaluations and pending runs; returns the ids of runs started."""
        if self._stop.is_set():
            return []
        sensors = self.registry.all()
        for s in sensors:
            if s.name not in self._known:
                self.table.ensure(s.name, s.kind)
                self._known.add(s.name)
        head = self.session.store.last_event_id() if any(s.kind != "sensor" for s in sensors) else 0
        self._check_timeouts()
        mono = time.monotonic()
        for s in sensors:
            if self._stop.is_set() or s.name in self._busy:
                continue
            due = mono - self._last.get(s.name, -1e18) >= s.interval
            if s.kind != "sensor":
                due = due or head > self._seen.get(s.name, -1) or s.name in self._more
            if due:
                self._last[s.name] = mono
                self._seen[s.name] = head
                self._spawn(s)
        self._beat()
        return self._start_pending()

    def _spawn(self, s: Sensor) -> None:
        owner = f"{self.daemon_id}:{uuid.uuid4().hex[:6]}"
        thread = threading.Thread(target=self._evaluate, args=(s, owner), daemon=True,
                                  name=f"nbflow-sensor-{s.name}")
        with self._lock:
            self._busy[s.name] = _Busy(thread, owner, time.monotonic())
        thread.start()

    def _check_timeouts(self) -> None:
        with self._lock:
            late = [(n, b) for n, b in self._busy.items()
                    if not b.timed_out and time.monotonic() - b.started > self._timeout(n)]
            for _, b in late:
                b.timed_out = True
        for name, b in late:
            error = (f"The tick of sensor {name!r} took longer than its timeout of "
                     f"{self._timeout(name):g} s and was abandoned; make it faster or give it "
                     "@sensor(timeout=...).")
            with contextlib.suppress(Exception):
                self.table.release(name, b.owner, error=error)
            self._report(SensorTick(name, FAILED, error))

    def _timeout(self, name: str) -> float:
        s = self.registry.get(name)
        return s.timeout if s is not None else 60.0

    def _evaluate(self, s: Sensor, owner: str) -> None:
        """One sensor's tick, in its own thread: lease, evaluate, commit."""
        try:
            not_before = time.time() - s.interval * 0.9 if s.kind == "sensor" else None
            row = self.table.lease(s.name, owner, seconds=s.timeout + 5.0, not_before=not_before)
            if row is None:
                return
            started = time.monotonic()
            try:
                result = s.tick(row.cursor, session=self.session)
                new_runs = [self._new_run(s, r) for r in result.requests]
            except Exception as exc:  # noqa: BLE001 - user code: reported on its sensor
                error = f"{type(exc).__name__}: {exc}"
                self.table.release(s.name, owner, error=error)
                self._report(SensorTick(s.name, FAILED, error))
                return
            if result.more:
                self._more.add(s.name)
            else:
                self._more.discard(s.name)
            status = _status(result)
            made = self.table.commit_tick(
                s.name, owner, status=status, reason=result.skip_reason, cursor=result.cursor,
                set_cursor=result.cursor_changed, new_runs=new_runs,
                duration=time.monotonic() - started)
            with self._lock:
                for run_id in made:
                    self._queued[run_id] = time.monotonic()
            if status is not None:
                self._report(SensorTick(s.name, status if made or status != REQUESTED else SKIPPED,
                                        result.skip_reason, made))
            if made:
                queued = any(r.fields.get("kind") == "deployment" for r in new_runs if r.run_id in made)
                if queued and self.on_deployment_run is not None:
                    self.on_deployment_run()
                self.wake()
        except Exception as exc:  # noqa: BLE001 - the store failed: report, the next tick retries
            self._report(SensorTick(s.name, FAILED, f"{type(exc).__name__}: {exc}"))
        finally:
            with self._lock:
                self._busy.pop(s.name, None)

    def _report(self, tick: SensorTick) -> None:
        if self.on_tick is not None:
            with contextlib.suppress(Exception):
                self.on_tick(tick)

    # ------------------------------------------------------------------ requests -> runs
    def _new_run(self, s: Sensor, r: RunRequest) -> NewRun:
        run_id = self.session.new_run_id()
        deployment = r.deployment or (None if r.target else s.deployment)
        target = r.target or (None if r.deployment else s.target)
        tags = {**dict(r.tags), "trigger": "sensor", "sensor": s.name, "run_key": r.run_key,
                **owner_tags()}
        if r.partition is not None:
            if deployment is not None:
                raise NbflowError(f"Sensor {s.name!r} requested partition {r.partition!r} of "
                                  f"deployment {deployment!r}; a deployment takes parameters, "
                                  "not partitions: pass RunRequest(parameters={...}).")
            tags["partition"] = str(r.partition)
        if deployment is not None:
            from nbflow.deployments.definition import plain
            from nbflow.deployments.runs import output_path
            from nbflow.deployments.service import get_deployment, run_values

            dep = get_deployment(deployment, session=self.session)
            values = run_values(dep, r.parameters)
            fields: dict[str, Any] = {
                "kind": "deployment", "name": dep.name, "deployment": dep.name,
                "parameters": plain(values), "tags": tags, "attempt": 1,
                "output_path": str(output_path(self.session, dep.name, run_id))}
        elif target is not None:
            from nbflow.session.session import select_names

            graph = self.session.registry.graph()
            names = select_names(graph, target)  # a bad selection fails the tick
            if r.partition is not None:  # so does a partition key its assets do not have
                from nbflow.engine.partitioned import plan_partitions
                from nbflow.session.partitions import dynamic_source

                if all(graph.specs[n].partitions is None for n in names):
                    raise NbflowError(f"Sensor {s.name!r} requested partition {r.partition!r} of "
                                      f"{target!r}, which is not partitioned; leave partition= out.")
                plan_partitions(graph, names, [str(r.partition)],
                                dynamic=dynamic_source(self.session.store))
            fields = {"kind": "assets", "name": target, "selection": target,
                      "parameters": dict(r.parameters), "tags": tags}
        else:
            raise NbflowError(f"Sensor {s.name!r} requested a run but has no target; give "
                              "@sensor(target='orders+') or deployment='NAME' (or "
                              "RunRequest(target=...)).")
        return NewRun(run_id, r.run_key, {**fields, "state": State.PENDING})

    def _start_pending(self) -> list[str]:
        if self._stop.is_set():
            return []
        with self._lock:
            free = self.max_concurrency - len(self._running)
        if free <= 0:
            return []
        started = []
        for q in self.table.pending("assets"):
            if free <= 0 or self._stop.is_set():
                break
            if self.registry.get(q.sensor) is None:
                continue  # another daemon's sensor: it has the definitions to run it
            if not self.table.take(q.run_id, owner_tags()):
                continue
            with self._lock:
                self._queued.pop(q.run_id, None)
                self._running[q.run_id] = self._pool.submit(self._materialize, q.run_id, q.selection or "",
                                                            q.tags.get("partition"))
            started.append(q.run_id)
            free -= 1
        return started

    def _materialize(self, run_id: str, selection: str, partition: str | None = None) -> None:
        try:
            # A request is the sensor's word that something outside changed: the run builds its
            # targets even when their code and inputs look fresh (as a Dagster RunRequest does).
            self.session.materialize(selection, run_id=run_id, force=True, partition=partition)
        except Exception:  # noqa: BLE001, S110 - the run's own record carries its failure
            pass
        finally:
            with self._lock:
                self._running.pop(run_id, None)
                self.finished.append(run_id)
            self.wake()

    def _beat(self) -> None:
        interval = self.session.settings.heartbeat_interval
        if time.monotonic() - self._last_beat < interval:
            return
        self._last_beat = time.monotonic()
        with self._lock:
            cutoff = time.monotonic() - 3600
            self._queued = {r: t for r, t in self._queued.items() if t > cutoff}
            ids = list(self._queued)
        self.table.beat(ids)

    def next_tick(self, now: dt.datetime) -> float:
        return self.interval

    # ------------------------------------------------------------------ --once and stopping
    def once(self, now: dt.datetime) -> list[SensorTick]:
        """Tick every sensor once, wait for the ticks and the runs they started."""
        ticks: list[SensorTick] = []
        previous = self.on_tick

        def collect(t: SensorTick) -> None:
            ticks.append(t)
            if previous is not None:
                previous(t)

        self.on_tick = collect
        try:
            self._last.clear()
            self.tick(now)
            while True:
                with self._lock:
                    busy = [b.thread for b in self._busy.values() if not b.timed_out]
                if not busy:
                    break
                for t in busy:
                    t.join(0.1)
                self._check_timeouts()
            self._start_pending()
            while True:
                with self._lock:
                    futures = list(self._running.values())
                if not futures:
                    break
                for f in futures:
                    with contextlib.suppress(Exception):
                        f.result()
        finally:
            self.on_tick = previous
        return ticks

    def stop(self) -> None:
        self._stop.set()

    def running(self) -> list[str]:
        with self._lock:
            return list(self._running)

    def close(self) -> None:
        self.stop()
        self._pool.shutdown(wait=True)


def _status(result: SensorResult) -> str | None:
    if result.requests:
        return REQUESTED
    if result.skip_reason is not None:
        return SKIPPED
    return None


__all__ = ["SensorSource", "SensorTick"]
