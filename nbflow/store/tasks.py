"""Task tables in the store: cached results, and concurrency-limit slots shared across processes."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, delete, func, insert, select

from nbflow.core.tasks import CacheEntry
from nbflow.errors import RunCancelled
from nbflow.store.base import check_limit
from nbflow.store.hosts import pid_alive
from nbflow.store.schema import concurrency_limits, concurrency_slots, task_cache

if TYPE_CHECKING:
    from nbflow.store.sql import SqlStore

_HOST = socket.gethostname()


class TaskTables:
    """Reads and writes the task tables of one ``SqlStore``.

    Cache entries are read on the calling thread (one primary-key lookup) and written in their
    own short transaction. Concurrency slots are rows: taking one is a write transaction that
    counts the rows for each limited tag and inserts one per tag, all or nothing, so threads and
    processes sharing the store see the same limit.
    """

    def __init__(self, store: SqlStore) -> None:
        self.store = store
        self._get_sql = select(task_cache.c.task, task_cache.c.payload, task_cache.c.created_at,
                               task_cache.c.expires_at, task_cache.c.run_id, task_cache.c.step
                               ).where(task_cache.c.key == bindparam("key"))

    # ------------------------------------------------------------------ cache
    def get_entry(self, key: str) -> CacheEntry | None:
        with self.store.engine.connect() as conn:
            row = conn.execute(self._get_sql, {"key": key}).first()
        if row is None:
            return None
        task, payload, created_at, expires, run_id, step = row
        return CacheEntry(key=key, task=task, payload=bytes(payload), created_at=created_at,
                          expires_at=expires, run_id=run_id, step=step)

    def find_entry(self, run_id: str, step: str) -> CacheEntry | None:
        """The result stored by step ``step`` of run ``run_id`` (cached or persisted), if any."""
        q = (select(task_cache.c.key, task_cache.c.task, task_cache.c.payload,
                    task_cache.c.created_at, task_cache.c.expires_at)
             .where(task_cache.c.run_id == run_id, task_cache.c.step == step)
             .order_by(task_cache.c.created_at.desc()).limit(1))
        with self.store.connect() as conn:
            row = conn.execute(q).first()
        if row is None:
            return None
        key, task, payload, created_at, expires = row
        return CacheEntry(key=key, task=task, payload=bytes(payload), created_at=created_at,
                          expires_at=expires, run_id=run_id, step=step)

    def put_entry(self, entry: CacheEntry) -> None:
        with self.store.begin() as conn:
            conn.execute(delete(task_cache).where(task_cache.c.key == entry.key))
            conn.execute(insert(task_cache).values(
                key=entry.key, task=entry.task, payload=entry.payload, run_id=entry.run_id,
                step=entry.step, created_at=entry.created_at, expires_at=entry.expires_at))

    def clear_entries(self, task: str | None = None) -> int:
        """Delete the cached results of ``task`` (all tasks when ``None``); returns how many."""
        q = delete(task_cache)
        if task is not None:
            q = q.where(task_cache.c.task == task)
        with self.store.begin() as conn:
            return int(conn.execute(q).rowcount or 0)

    def cache_summary(self) -> list[tuple[str, int, float | None]]:
        """(task, entries, newest entry time) for every task with cached results."""
        q = (select(task_cache.c.task, func.count(), func.max(task_cache.c.created_at))
             .group_by(task_cache.c.task).order_by(task_cache.c.task))
        with self.store.connect() as conn:
            return [(t, int(n), ts) for t, n, ts in conn.execute(q)]

    # ------------------------------------------------------------------ limits
    def set_limit(self, name: str, slots: int | None) -> None:
        """Allow at most ``slots`` running tasks tagged ``name``; ``None`` removes the limit."""
        check_limit(name, slots)
        with self.store.begin() as conn:
            conn.execute(delete(concurrency_limits).where(concurrency_limits.c.name == name))
            if slots is not None:
                conn.execute(insert(concurrency_limits).values(
                    name=name, slots=slots, updated_at=time.time()))

    def limits(self) -> dict[str, tuple[int, int]]:
        """tag -> (limit, slots in use) for every limited tag."""
        used = (select(concurrency_slots.c.name, func.count().label("n"))
                .group_by(concurrency_slots.c.name)).subquery()
        q = (select(concurrency_limits.c.name, concurrency_limits.c.slots, used.c.n)
             .outerjoin(used, used.c.name == concurrency_limits.c.name)
             .order_by(concurrency_limits.c.name))
        with self.store.connect() as conn:
            return {n: (int(s), int(u or 0)) for n, s, u in conn.execute(q)}

    def limited(self, tags: Sequence[str]) -> dict[str, int]:
        """The limits among ``tags`` (a plain read: tags without a limit need no slot)."""
        if not tags:
            return {}
        q = select(concurrency_limits.c.name, concurrency_limits.c.slots).where(
            concurrency_limits.c.name.in_(list(tags)))
        with self.store.connect() as conn:
            return {n: int(s) for n, s in conn.execute(q)}

    def try_acquire(self, tags: Sequence[str], *, run_id: str | None = None,
                    step: str | None = None) -> list[int] | None:
        """Take one slot of every limited tag in ``tags`` at once; ``None`` when one is full.

        Returns the slot ids to give back with ``release``.
        """
        holder = f"{_HOST}:{os.getpid()}:{threading.get_ident()}"
        now = time.time()
        with self.store.begin() as conn:
            q = select(concurrency_limits.c.name, concurrency_limits.c.slots).where(
                concurrency_limits.c.name.in_(list(tags)))
            if self.store.dialect == "postgresql":
                q = q.with_for_update()  # serialise takers of the same tags
            limits = {n: int(s) for n, s in conn.execute(q)}
            if not limits:
                return []
            used: dict[str, int] = dict(conn.execute(
                select(concurrency_slots.c.name, func.count()).where(
                    concurrency_slots.c.name.in_(list(limits))).group_by(concurrency_slots.c.name)
            ).all())
            if any(used.get(n, 0) >= s for n, s in limits.items()):
                return None
            ids = []
            for n in sorted(limits):
                res = conn.execute(insert(concurrency_slots).values(
                    name=n, holder=holder, run_id=run_id, step=step, acquired_at=now))
                ids.append(int(res.inserted_primary_key[0]))  # type: ignore[index]
            return ids

    def acquire(self, tags: Sequence[str], *, run_id: str | None = None, step: str | None = None,
                cancel: threading.Event | None = None,
                on_wait: Callable[[], Any] | None = None) -> list[int]:
        """Wait until one slot of every limited tag is free and take them (polls the store)."""
        pause = 0.01
        waited = False
        while True:
            ids = self.try_acquire(tags, run_id=run_id, step=step)
            if ids is not None:
                return ids
            if not waited:
                waited = True
                self.reap_dead_holders()
                if on_wait is not None:
                    on_wait()
                continue
            if cancel is not None and cancel.wait(pause):
                raise RunCancelled("The run was cancelled while a task waited for a concurrency slot.")
            if cancel is None:
                time.sleep(pause)
            pause = min(pause * 1.5, 0.25)

    def release(self, ids: Sequence[int]) -> None:
        if not ids:
            return
        with self.store.begin() as conn:
            conn.execute(delete(concurrency_slots).where(concurrency_slots.c.id.in_(list(ids))))

    def reap_dead_holders(self) -> int:
        """Free slots held by processes on this host that no longer exist (killed mid-task)."""
        with self.store.connect() as conn:
            rows = conn.execute(select(concurrency_slots.c.id, concurrency_slots.c.holder).where(
                concurrency_slots.c.holder.like(f"{_HOST}:%"))).all()
        dead = [i for i, holder in rows if not pid_alive(int(holder.split(":")[1]))]
        if dead:
            self.release(dead)
        return len(dead)

    def reset_slots(self, name: str) -> int:
        """Free every slot of tag ``name`` (after a crash on another host)."""
        with self.store.begin() as conn:
            return int(conn.execute(delete(concurrency_slots).where(
                concurrency_slots.c.name == name)).rowcount or 0)


__all__ = ["TaskTables"]
