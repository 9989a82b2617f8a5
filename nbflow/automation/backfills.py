"""The daemon's backfill source: run submitted backfills, and those whose runner died.

Each tick looks at the backfills that want a runner (``REQUESTED``, or ``RUNNING`` /
``CANCELING`` with an owner that is dead on this host or has stopped beating) and starts each
one it can claim in a thread of its own, at most ``max_concurrency`` at once. The backfill's
own runs then follow each other with no sleeping in between (``session/backfills.py``). On
SIGTERM the source starts no new run and hands its backfills back (REQUESTED) once their
current run ends, so a restarted daemon goes on where this one stopped.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import TYPE_CHECKING

from nbflow.automation.daemon import TickSource
from nbflow.session.backfills import owner_gone, owner_id, run_backfill
from nbflow.store.backfills import REQUESTED

if TYPE_CHECKING:
    from nbflow.session.session import Session


class BackfillSource(TickSource):
    """Runs backfills from the store; see the module docstring."""

    name = "backfills"

    def __init__(self, session: Session, *, poll: float = 1.0, max_concurrency: int = 2) -> None:
        self.session = session
        self.interval = poll
        self.max_concurrency = max_concurrency
        self.owner = owner_id()
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()
        self._halt = threading.Event()
        self._abort = threading.Event()
        self.errors: dict[str, str] = {}
        """Backfill id -> the error its runner raised (also printed by the daemon)."""

    def tick(self, now: dt.datetime) -> list[str]:
        """Start the backfills that want a runner; returns the ids started."""
        if self._halt.is_set():
            return []
        tables = self.session.store.backfills
        timeout = self.session.settings.heartbeat_timeout
        started: list[str] = []
        with self._lock:
            for done in [i for i, t in self._threads.items() if not t.is_alive()]:
                del self._threads[done]
            free = self.max_concurrency - len(self._threads)
        for row in tables.active():
            if free <= 0:
                break
            if row.id in self._threads:
                continue
            if row.state != REQUESTED and not owner_gone(row, timeout):
                continue
            t = threading.Thread(target=self._run, args=(row.id,), daemon=True,
                                 name=f"nbflow-backfill-{row.id}")
            with self._lock:
                self._threads[row.id] = t
            t.start()
            started.append(row.id)
            free -= 1
        return started

    def _run(self, backfill_id: str) -> None:
        try:
            run_backfill(self.session, backfill_id, owner=self.owner, halt=self._halt,
                         abort=self._abort)
        except Exception as exc:  # noqa: BLE001 - kept as data; the next tick may claim it again
            self.errors[backfill_id] = f"{type(exc).__name__}: {exc}".splitlines()[0]
        finally:
            self.wake()

    def once(self, now: dt.datetime) -> list[str]:
        started = self.tick(now)
        for t in list(self._threads.values()):
            t.join()
        return started

    def running(self) -> list[str]:
        with self._lock:
            return [i for i, t in self._threads.items() if t.is_alive()]

    def stop(self) -> None:
        self._halt.set()

    def cancel_all(self) -> list[str]:
        ids = self.running()
        self._abort.set()
        for t in list(self._threads.values()):
            t.join(30)
        return ids

    def close(self) -> None:
        self._halt.set()
        self._abort.set()


__all__ = ["BackfillSource"]
