"""The module-level verbs (``nbflow.materialize`` ...) acting on the default session."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from nbflow.core.records import AssetStatus, RunRecord
from nbflow.core.registry import Registry
from nbflow.engine.executors import Executor
from nbflow.session import Session, get_session
from nbflow.session.result import MaterializeResult


def _session(registry: Registry | None) -> Session:
    s = get_session()
    if registry is None or registry is s.registry:
        return s
    return Session(settings=s.settings, registry=registry, store=s.store)


def materialize(selection: str | Iterable[str] = "*", *, force: bool = False,
                executor: str | Executor | None = None, max_workers: int | None = None,
                registry: Registry | None = None, cancel: threading.Event | None = None,
                partition: Any = None, partitions: Any = None) -> MaterializeResult:
    """Materialise the selected assets (``"*"``, ``"+orders"``, ``"group:sales and not tag:wip"``).

    Fresh assets are skipped as ``CACHED`` unless ``force=True``. ``executor`` defaults to the
    ``NBFLOW_EXECUTOR`` setting (``inprocess`` when unset). Returns a result with
    ``.ok``, ``.run_id``, ``.states``, ``.errors`` and ``result[name]`` for a value.
    ``partition="2026-01-05"`` or ``partitions="2026-01-01...2026-01-31"`` (a list, ``*``
    patterns) pick the partitions of partitioned assets; their steps are ``asset[key]``.
    """
    return _session(registry).materialize(selection, force=force, executor=executor,
                                          max_workers=max_workers, cancel=cancel,
                                          partition=partition, partitions=partitions)


def backfill(selection: str | Iterable[str], partitions: Any, *, policy: str = "per_partition",
             max_partitions_per_run: int | None = None, concurrency: int = 1, force: bool = False,
             submit: bool = False, dry_run: bool = False, registry: Registry | None = None) -> Any:
    """Backfill ``selection`` over ``partitions`` (``"2026-01-01...2026-12-31"``, a list, ``*``).

    The plan (every (asset, partition) step, one run per partition, per
    ``max_partitions_per_run`` partitions, or all in one run with ``policy="single_run"``) is
    written to the store before anything runs; then it runs here, or with ``submit=True`` on the
    daemon. Returns a ``Backfill`` (``.state``, ``.counts()``, ``.cancel()``, ``.resume()``);
    ``dry_run=True`` returns the plan only (``print(plan.describe())``).
    """
    from nbflow.session.backfills import Backfill, plan_backfill, run_backfill, submit_backfill

    session = _session(registry)
    plan = plan_backfill(session, selection, partitions, policy=policy,
                         max_partitions_per_run=max_partitions_per_run)
    if dry_run:
        return plan
    backfill_id = submit_backfill(session, plan, concurrency=concurrency, force=force)
    if not submit:
        progress, done = _progress_line(f"Backfill {backfill_id} of {plan.selection}")
        try:
            run_backfill(session, backfill_id, progress=progress)
        finally:
            done()
    return Backfill(session, backfill_id)


def _progress_line(label: str) -> tuple[Any, Any]:
    """A progress line for long work: updated in place in a notebook cell, on stderr in a
    terminal, nothing otherwise. Returns (``progress(done, total)``, ``finish()``)."""
    import sys
    import time

    shown: dict[str, Any] = {"at": 0.0, "text": ""}
    try:
        from IPython import get_ipython
        from IPython.display import display

        shell = get_ipython()
    except ImportError:  # pragma: no cover - IPython is a dependency
        shell = None
    handle = display(f"{label}: starting...", display_id=True) if shell is not None else None
    tty = handle is None and sys.stderr.isatty()

    def progress(n: int, total: int) -> None:
        shown["text"] = f"{label}: {n}/{total} steps done"
        now = time.monotonic()
        if now - shown["at"] < 0.25 and n < total:
            return
        shown["at"] = now
        if handle is not None:
            handle.update(shown["text"])
        elif tty:
            sys.stderr.write("\r" + shown["text"])
            sys.stderr.flush()

    def finish() -> None:
        if handle is not None and shown["text"]:
            handle.update(shown["text"])
        elif tty and shown["text"]:
            sys.stderr.write("\n")

    return progress, finish


def forget(name: str, *, registry: Registry | None = None) -> list[str]:
    """Remove asset ``name`` from the graph; its history stays in the store.

    Returns the notebook cells that read it, which now read the notebook variable instead.
    """
    return _session(registry).forget(name)


def load(name: str, *, partition: Any = None, registry: Registry | None = None) -> Any:
    """The latest stored value of asset ``name`` (of one ``partition`` when given)."""
    return _session(registry).load(name, partition)


def partitions(name: str) -> Any:
    """Dynamic partitions ``name`` in the store: ``.add(["acme"])``, ``.remove([...])``, ``.keys()``."""
    return get_session().partitions(name)


def status(selection: str | Iterable[str] = "*", *, registry: Registry | None = None) -> list[AssetStatus]:
    """Every selected asset: fresh / stale (and why) / missing / failed, and its last
    materialisation; ``freshness``: overdue or on time (with the deadline) under its policy."""
    return _session(registry).status(selection)


def runs(limit: int = 20, state: str | None = None, deployment: str | None = None) -> list[RunRecord]:
    """Recent runs, newest first, each with its steps."""
    return get_session().runs(limit=limit, state=state, deployment=deployment)


def get_run(run_id: str) -> RunRecord:
    """One run and its steps (name, state, attempts, start, end, error)."""
    return get_session().get_run(run_id)
