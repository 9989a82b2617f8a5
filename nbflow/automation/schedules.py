"""Deployment schedules as a tick source: due ticks become exactly one run each, within limits.

One tick (``tick(now)``), in order:

1. recover: runs left RUNNING by a daemon that died are marked CRASHED (at once for a dead
   process on this host, after the heartbeat timeout otherwise);
2. enqueue: each active deployment's due ticks (its catch-up policy decides which) are claimed
   as PENDING runs; the unique (deployment, scheduled time) makes a tick's claim exclusive;
3. start: queued runs are taken (PENDING -> RUNNING, atomically, under the deployment's limit)
   while this source has free slots, and run in worker threads; a run that ends wakes the
   daemon, so a freed slot is filled at once;
4. keep heartbeats of the runs it has claimed but not started (running ones beat through the
   store's writer).

With a kernel pool (``kernels``), local notebook runs take its ready kernels, and the pool keeps
kernels ready for every active local deployment's kernel name; ``close()`` closes the pool.

``stop()`` stops taking new work; the daemon's ``drain`` waits for running notebooks and then
``cancel_all()`` cancels the rest (their kernels are killed and the runs end CANCELLED).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nbflow.automation.daemon import TickSource
from nbflow.core.schedules import due_ticks
from nbflow.core.states import State
from nbflow.deployments.definition import Deployment
from nbflow.deployments.execute import ExecutionRequest, ExecutionResult, execute_notebook
from nbflow.deployments.runs import (
    Execute,
    claim_run,
    execute_claimed,
    executor_for,
    owner_tags,
    queued_values,
)
from nbflow.deployments.service import run_values
from nbflow.errors import NbflowError
from nbflow.store.hosts import pid_alive

if TYPE_CHECKING:
    from collections.abc import Callable

    from nbflow.deployments.kernels import KernelPool
    from nbflow.session import Session
    from nbflow.store.deployments import DeploymentRow

UTC = dt.UTC


@dataclass
class PassReport:
    """What one tick did (for ``--once`` output and tests)."""

    claimed: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    crashed: list[str] = field(default_factory=list)


class ScheduleSource(TickSource):
    """Runs deployments on their schedules; see the module docstring for one tick."""

    name = "schedules"

    def __init__(
        self,
        session: Session,
        *,
        max_concurrency: int = 4,
        poll: float = 1.0,
        execute: Execute | None = None,
        kernels: KernelPool | None = None,
    ) -> None:
        if max_concurrency < 1:
            raise NbflowError(f"max_concurrency must be at least 1, got {max_concurrency}.")
        if poll <= 0:
            raise NbflowError(f"The poll interval must be greater than zero, got {poll}.")
        self.session = session
        self.ds = session.store.deployments
        self.max_concurrency = max_concurrency
        self.interval = poll
        self._execute = execute
        self.kernels = kernels
        """Ready kernels for local notebook runs (the daemon's pool), or None."""
        self._pool = ThreadPoolExecutor(max_concurrency, thread_name_prefix="nbflow-deployment")
        self._running: dict[str, tuple[Future[None] | None, threading.Event]] = {}
        self._claimed: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._done = threading.Event()  # a run ended (``once`` waits on it)
        self._last_beat = 0.0
        self._last_recover = 0.0
        self._rows: dict[str, DeploymentRow] = {}
        self.owner = {**owner_tags(), "scheduler": session.new_run_id()}
        self.finished: list[str] = []
        self.on_crashed: Callable[[list[str]], None] | None = None
        """Called with the ids of runs ``recover`` marked CRASHED (the CLI prints them)."""

    # ------------------------------------------------------------------ one tick
    def tick(self, now: dt.datetime, *, enqueue: bool = True, only: set[str] | None = None) -> PassReport:
        report = PassReport()
        if time.monotonic() - self._last_recover >= self.session.settings.heartbeat_interval:
            report.crashed = self.recover()
        rows = {r.name: r for r in self.ds.all()}
        self._rows = rows
        deployments = {name: Deployment.from_row(r) for name, r in rows.items()}
        if self.kernels is not None:
            from nbflow.deployments.kernels import notebook_kernel

            self.kernels.want(*(notebook_kernel(d.notebook, d.kernel) for d in deployments.values()
                                if d.executor == "local" and not rows[d.name].paused))
        if enqueue and not self._stop.is_set():
            for dep in deployments.values():
                report.claimed += self._enqueue(dep, rows[dep.name], now)
        if not self._stop.is_set():
            report.started = self._start_pending(deployments, only)
        self._beat_claimed()
        return report

    def recover(self) -> list[str]:
        """Mark runs whose daemon died as CRASHED; returns their ids."""
        self._last_recover = time.monotonic()
        me = owner_tags()
        crashed = []
        for q in self.ds.open_runs():
            if q.state != str(State.RUNNING) or q.run_id in self._running:
                continue
            host, pid = q.tags.get("host"), q.tags.get("pid")
            if host == me["host"] and isinstance(pid, int) and pid != me["pid"] and not pid_alive(pid):
                error = (f"The process that ran this run (pid {pid} on {host}) died; "
                         "a scheduler marked the run CRASHED when it started.")
                if self.ds.finish_now(q.run_id, State.CRASHED, error):
                    crashed.append(q.run_id)
        crashed += self.session.store.sweep_crashed()
        if crashed and self.on_crashed is not None:
            self.on_crashed(crashed)
        return crashed

    def _enqueue(self, dep: Deployment, row: DeploymentRow, now: dt.datetime) -> list[str]:
        if row.paused or dep.schedule.manual:
            return []
        cursor = dt.datetime.fromtimestamp(row.cursor if row.cursor is not None else row.created_at, UTC)
        try:
            ticks, new_cursor = due_ticks(dep.schedule, cursor, now, dep.catchup)
        except NbflowError:
            return []
        claimed = []
        for t in ticks:
            try:
                values = run_values(dep, None)
            except NbflowError:
                values = dict(dep.parameters)  # the run fails when taken, with the reason
            run_id = claim_run(self.session, self.ds, dep, t.timestamp(), values, tick=True,
                               trigger="schedule")
            if run_id:
                claimed.append(run_id)
                with self._lock:
                    self._claimed.add(run_id)
        if new_cursor > cursor:
            if not ticks or ticks[-1] != new_cursor:
                self.ds.record_skipped(dep.name, new_cursor.timestamp())
            self.ds.advance_cursor(dep.name, new_cursor.timestamp())
        return claimed

    def _start_pending(self, deployments: dict[str, Deployment], only: set[str] | None) -> list[str]:
        started: list[str] = []
        free = self.max_concurrency - len(self._running)
        if free <= 0:
            return started
        for q in self.ds.pending():
            if free <= 0 or self._stop.is_set():
                break
            if only is not None and q.run_id not in only:
                continue
            dep = deployments.get(q.deployment)
            if dep is None:
                self.ds.finish_now(q.run_id, State.CANCELLED,
                                   f"Deployment {q.deployment!r} was deleted before this run started.")
                continue
            if not self.ds.take(q.run_id, owner=self.owner, limit=dep.max_concurrency):
                continue
            with self._lock:
                self._claimed.discard(q.run_id)
            try:
                values = run_values(dep, queued_values(q.parameters, q.tags))
            except NbflowError as exc:
                self.ds.finish_now(q.run_id, State.FAILED, str(exc))
                continue
            cancel = threading.Event()
            with self._lock:  # reserve the slot first: a fast run may end before submit returns
                self._running[q.run_id] = (None, cancel)
            future = self._pool.submit(self._run, dep, q.run_id, values, cancel, q.scheduled_at)
            with self._lock:
                if q.run_id in self._running:
                    self._running[q.run_id] = (future, cancel)
            started.append(q.run_id)
            free -= 1
        return started

    def _run(self, dep: Deployment, run_id: str, values: dict[str, Any],
             cancel: threading.Event, scheduled_at: float | None) -> None:
        try:
            execute_claimed(self.session, self.ds, dep, run_id, values, cancel=cancel,
                            execute=self._execute or self._executor(dep), scheduled_at=scheduled_at)
        finally:
            with self._lock:
                self._running.pop(run_id, None)
                self.finished.append(run_id)
            self._done.set()
            self.wake()

    def _executor(self, dep: Deployment) -> Execute:
        kernels = self.kernels
        if kernels is None or dep.executor != "local":
            return executor_for(dep)

        def on_pool(request: ExecutionRequest, cancel: threading.Event | None) -> ExecutionResult:
            return execute_notebook(request, cancel=cancel, kernels=kernels)

        return on_pool

    def _beat_claimed(self) -> None:
        interval = self.session.settings.heartbeat_interval
        if time.monotonic() - self._last_beat < interval:
            return
        self._last_beat = time.monotonic()
        with self._lock:
            ids = list(self._claimed)
        self.ds.beat(ids)

    def next_tick(self, now: dt.datetime) -> float:
        """The poll interval, or less when a deployment's next tick comes sooner."""
        soonest = self.interval
        for row in self._rows.values():
            if row.paused:
                continue
            nxt = Deployment.from_row(row).schedule.next_after(now)
            if nxt is not None:
                soonest = min(soonest, max((nxt - now).total_seconds(), 0.0) + 0.005)
        return soonest

    # ------------------------------------------------------------------ --once
    def once(self, now: dt.datetime) -> PassReport:
        """Claim due ticks, run them and what is queued, wait for all of it (``--once``)."""
        crashed = self.recover()
        report = self.tick(now)
        report.crashed = crashed + report.crashed
        queued = {q.run_id for q in self.ds.pending()} | set(report.started)
        while not self._stop.is_set():
            with self._lock:
                busy = bool(self._running)
            waiting = queued & {q.run_id for q in self.ds.pending()}
            if not busy and not waiting:
                break
            self._done.wait(self.interval)
            self._done.clear()
            more = self.tick(now, enqueue=False, only=waiting)
            report.started += more.started
            report.crashed += more.crashed
        return report

    # ------------------------------------------------------------------ stopping
    def stop(self) -> None:
        self._stop.set()
        self._done.set()

    def running(self) -> list[str]:
        with self._lock:
            return list(self._running)

    def cancel_all(self) -> list[str]:
        with self._lock:
            items = list(self._running.items())
        for _, (_, cancel) in items:
            cancel.set()
        for _, (future, _) in items:
            if future is None:
                continue
            with contextlib.suppress(Exception):  # the run's own record carries its failure
                future.result(timeout=60)
        return [run_id for run_id, _ in items]

    def close(self) -> None:
        self.stop()
        self.cancel_all()
        self._pool.shutdown(wait=True)
        if self.kernels is not None:
            self.kernels.close()
        self.session.store.flush()


__all__ = ["PassReport", "ScheduleSource"]
