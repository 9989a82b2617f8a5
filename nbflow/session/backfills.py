"""Backfills: a durable plan of (asset, partition) steps in batches, run one batch per run.

``plan_backfill`` turns a selection and a partition selection into steps grouped in batches:
one partition per run (``per_partition``), ``N`` per run (``max_partitions_per_run=N``) or all
in one run (``single_run``: one run, still one call per partition). ``submit_backfill`` writes the plan before anything runs, and
``run_backfill`` runs it in this process; the daemon's backfill source runs the submitted ones.

The store is the truth: before a batch starts its steps are RUNNING under the run's id, after
it they carry the run's outcome. A process killed mid-batch leaves RUNNING steps; whoever runs
the backfill next first looks at each one's latest materialisation: made by that run, the step
succeeded (it is not run again), otherwise it is PENDING again (it is run, once).
Cancel is a state in the store that the runner reads between steps; resume runs exactly the
steps that did not succeed, in the same backfill (its history is kept).
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nbflow.core.graph import closest
from nbflow.core.states import State
from nbflow.engine.partitioned import plan_partitions, split_step, step_id
from nbflow.errors import NbflowError, NotFoundError, PartitionError
from nbflow.store.backfills import (
    CANCELING,
    CANCELLED,
    ENDED,
    FAILED,
    PENDING,
    REQUESTED,
    RUNNING,
    SKIPPED,
    SUCCEEDED,
    BackfillRow,
    BackfillTables,
    StepRow,
)
from nbflow.store.hosts import pid_alive, this_host

if TYPE_CHECKING:
    from nbflow.session.session import Session

POLICIES = ("per_partition", "single_run")
WHOLE = ""
"""The partition text of an unpartitioned asset's step (it runs once, in the last batch)."""
BEAT_S = 0.5
"""Seconds between a runner's heartbeats (and its looks at the stored state, for a cancel)."""

Progress = Callable[[int, int], None]
"""Called with (steps done, steps in all) after each batch."""


@dataclass(frozen=True)
class BackfillPlan:
    """What a backfill will run: ``steps`` as (asset, partition, batch), in order."""

    selection: str
    partitions: str
    policy: str
    per_run: int
    steps: list[tuple[str, str, int]] = field(default_factory=list)

    @property
    def batches(self) -> int:
        return len({b for _, _, b in self.steps})

    def describe(self) -> str:
        """A few lines for ``--dry-run``: the runs and what each builds."""
        by_batch: dict[int, list[tuple[str, str]]] = {}
        for a, p, b in self.steps:
            by_batch.setdefault(b, []).append((a, p))
        runs = "run" if self.batches == 1 else "runs"
        lines = [f"{len(self.steps)} step(s) in {self.batches} {runs} ({self.policy}"
                 + (f", {self.per_run} partitions per run" if self.per_run > 1 else "") + ")"]
        shown = sorted(by_batch)
        for b in shown[:5] + (shown[-1:] if len(shown) > 6 else shown[5:6]):
            parts = sorted({p for _, p in by_batch[b] if p != WHOLE})
            assets = list(dict.fromkeys(a for a, _ in by_batch[b]))
            span = (parts[0] if len(parts) == 1 else f"{parts[0]}...{parts[-1]}") if parts else "(unpartitioned)"
            lines.append(f"  run {b + 1}: {', '.join(assets)} for {span}")
            if b == shown[4] and len(shown) > 6:
                lines.append(f"  ... {len(shown) - 6} more run(s) ...")
        return "\n".join(lines)


def _text(partitions: Any) -> str:
    if isinstance(partitions, str):
        return partitions
    if isinstance(partitions, Iterable):
        return ",".join(str(p) for p in partitions)
    return str(partitions)


def plan_backfill(session: Session, selection: str | Iterable[str], partitions: Any, *,
                  policy: str = "per_partition",
                  max_partitions_per_run: int | None = None) -> BackfillPlan:
    """The steps a backfill of ``selection`` over ``partitions`` runs, grouped into runs."""
    from nbflow.session.partitions import dynamic_source
    from nbflow.session.session import select_names

    if policy not in POLICIES:
        raise NbflowError(f"Unknown backfill policy {policy!r}; use one of {', '.join(POLICIES)} "
                          "(or max_partitions_per_run=N for N partitions per run).")
    if max_partitions_per_run is not None and (isinstance(max_partitions_per_run, bool)
                                               or not isinstance(max_partitions_per_run, int)
                                               or max_partitions_per_run < 1):
        raise NbflowError(f"max_partitions_per_run must be a whole number >= 1, got "
                          f"{max_partitions_per_run!r}.")
    if partitions is None:
        raise PartitionError("A backfill needs partitions=: a key, a list, a range such as "
                             "'2026-01-01...2026-12-31', or '*' for every key.")
    graph = session.registry.graph()
    names = select_names(graph, selection, session)
    plan = plan_partitions(graph, names, partitions, dynamic=dynamic_source(session.store))
    keys_of: dict[str, list[str]] = {}
    whole: list[str] = []
    for sid in plan.steps:
        asset, part = split_step(sid)
        if part is None:
            whole.append(asset)
        else:
            keys_of.setdefault(asset, []).append(part)
    if not keys_of:
        raise PartitionError(f"Nothing in {_text(selection)!r} is partitioned, so there is nothing "
                             "to backfill; materialise it with nf.materialize instead.")
    per_run = 0 if policy == "single_run" else (max_partitions_per_run or 1)
    order = list(dict.fromkeys(k for ks in keys_of.values() for k in ks))
    if per_run and len({tuple(ks) for ks in keys_of.values()}) > 1:
        shapes = ", ".join(f"{a}: {len(ks)} key(s)" for a, ks in keys_of.items())
        raise PartitionError(f"The assets of {_text(selection)!r} have different partitions over "
                             f"{_text(partitions)!r} ({shapes}), so they cannot share one run per "
                             "partition; backfill them separately, or use policy='single_run'.")
    # unpartitioned assets run once: first when no partitioned asset of the backfill is
    # upstream of them (the partitions may read them), last otherwise (they read the partitions)
    partitioned = set(keys_of)
    tail = {a for a in whole if graph.upstream_of([a]) & partitioned}
    head = [a for a in whole if a not in tail]
    shift = 1 if head else 0
    batch_of = {k: (i // per_run if per_run else 0) + shift for i, k in enumerate(order)}
    last = max(batch_of.values()) + 1
    steps = [(a, WHOLE, 0) for a in head]
    body = [(a, k, batch_of[k]) for a, ks in keys_of.items() for k in ks]
    body.sort(key=lambda s: (s[2], names.index(s[0])))
    steps += body + [(a, WHOLE, last) for a in whole if a in tail]
    label = selection if isinstance(selection, str) else ", ".join(names)
    return BackfillPlan(label, _text(partitions),
                        "single_run" if per_run == 0 else "per_partition", per_run, steps)


def submit_backfill(session: Session, plan: BackfillPlan, *, concurrency: int = 1,
                    force: bool = False) -> str:
    """Write the plan to the store (REQUESTED); returns the backfill's id."""
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise NbflowError(f"concurrency must be a whole number >= 1, got {concurrency!r}.")
    backfill_id = uuid.uuid4().hex[:12]
    session.store.backfills.create(backfill_id, selection=plan.selection,
                                   partitions=plan.partitions, policy=plan.policy,
                                   per_run=plan.per_run, concurrency=concurrency, force=force,
                                   steps=plan.steps)
    return backfill_id


def get_backfill(session: Session, backfill_id: str) -> BackfillRow:
    """The stored backfill, or a NotFoundError naming the closest id."""
    tables = session.store.backfills
    row = tables.get(backfill_id)
    if row is None:
        near = closest(backfill_id, tables.ids())
        hint = f"; did you mean {near!r}?" if near else "; `nbflow backfills` lists them."
        raise NotFoundError(f"There is no backfill {backfill_id!r}{hint}", kind="backfill",
                            name=backfill_id, suggestion=near)
    return row


def owner_id() -> str:
    """How this process names itself as a backfill's runner."""
    return f"{this_host()}:{os.getpid()}"


def owner_gone(row: BackfillRow, timeout: float) -> bool:
    """Whether the process that claimed ``row`` is gone: dead on this host, or silent too long."""
    if row.owner is None:
        return True
    host, _, pid = row.owner.rpartition(":")
    if host == this_host() and pid.isdigit() and not pid_alive(int(pid)):
        return True
    return row.heartbeat_at is None or time.time() - row.heartbeat_at > timeout


def reconcile(session: Session, tables: BackfillTables, backfill_id: str) -> int:
    """Settle the steps a dead runner left RUNNING: SUCCEEDED when their run committed a
    materialisation, PENDING otherwise. Returns how many were settled as succeeded."""
    running = [s for s in tables.steps(backfill_id) if s.state == RUNNING]
    if not running:
        return 0
    outcomes: dict[tuple[str, str], str] = {}
    store = session.store
    by_asset: dict[str, list[StepRow]] = {}
    for s in running:
        by_asset.setdefault(s.asset, []).append(s)
    for asset, steps in by_asset.items():
        parts = [s.partition for s in steps if s.partition != WHOLE]
        latest = store.partitions.latest(asset, parts) if parts else {}
        plain = store.latest_materializations([asset]) if len(parts) < len(steps) else {}
        for s in steps:
            m = plain.get(asset) if s.partition == WHOLE else latest.get(s.partition)
            made = m is not None and m.run_id == s.run_id
            outcomes[(s.asset, s.partition)] = SUCCEEDED if made else PENDING
    tables.finish_steps(backfill_id, outcomes)
    return sum(1 for v in outcomes.values() if v == SUCCEEDED)


_OUTCOME = {State.SUCCEEDED: SUCCEEDED, State.CACHED: SUCCEEDED, State.FAILED: FAILED,
            State.SKIPPED: SKIPPED}


def run_backfill(session: Session, backfill_id: str, *, progress: Progress | None = None,
                 owner: str | None = None, halt: threading.Event | None = None,
                 abort: threading.Event | None = None) -> BackfillRow:
    """Run the backfill's remaining steps in this process; returns its row at the end.

    Claims it first (refused while another live process runs it), settles what a dead runner
    left RUNNING, then runs its batches, ``concurrency`` at a time (one at a time when an asset
    reads its own earlier partitions), stopping new runs at once on a cancel. ``halt`` (a
    daemon stopping) starts no new run and hands the backfill back (REQUESTED) for the next
    runner; ``abort`` also stops the running one after its current step.
    """
    tables = session.store.backfills
    row = get_backfill(session, backfill_id)
    me = owner or owner_id()
    if row.state in ENDED:
        raise NbflowError(f"Backfill {backfill_id} has ended ({row.state}); resume it with "
                          f"`nbflow backfill resume {backfill_id}` to run what did not succeed.")
    if row.owner not in (None, me) and not owner_gone(row, session.settings.heartbeat_timeout):
        raise NbflowError(f"Backfill {backfill_id} is being run by {row.owner}; cancel it with "
                          f"`nbflow backfill cancel {backfill_id}`, or wait for it.")
    if not tables.claim(row, me):
        raise NbflowError(f"Backfill {backfill_id} was taken by another process just now.")
    reconcile(session, tables, backfill_id)
    steps = tables.steps(backfill_id)
    total = len(steps)
    done = sum(1 for s in steps if s.state == SUCCEEDED)
    todo = sorted({s.batch for s in steps if s.state != SUCCEEDED})
    graph = session.registry.graph()
    serial = row.concurrency <= 1 or any(s.asset in graph.self_inputs for s in steps)
    stop = threading.Event()
    lock = threading.Lock()
    if progress is not None:
        progress(done, total)

    def watch() -> None:  # heartbeats, and a cancel from any process
        while not stop.wait(BEAT_S):
            state = tables.beat(backfill_id, me)
            if state in (None, CANCELING) or (abort is not None and abort.is_set()):
                stop.set()

    def one(batch: int) -> None:
        nonlocal done
        if stop.is_set() or (halt is not None and halt.is_set()):
            return
        run_id = session.new_run_id()
        started = tables.start_batch(backfill_id, batch, run_id)
        if not started:
            return
        names = list(dict.fromkeys(s.asset for s in started))
        keys = list(dict.fromkeys(s.partition for s in started if s.partition != WHOLE))
        outcomes: dict[tuple[str, str], str] = {}
        try:
            result = session.materialize(names, partitions=keys or None, run_id=run_id,
                                         force=row.force, cancel=stop)
            states = result.states
        except Exception:  # noqa: BLE001 - the run's record carries the error
            states = {}
        unfinished = PENDING if stop.is_set() else FAILED  # stopped: run again; else it failed
        for s in started:
            state = states.get(step_id(s.asset, None if s.partition == WHOLE else s.partition))
            outcomes[(s.asset, s.partition)] = _OUTCOME.get(state, unfinished)  # type: ignore[arg-type]
        tables.finish_steps(backfill_id, outcomes)
        with lock:
            done += sum(1 for v in outcomes.values() if v == SUCCEEDED)
        if progress is not None:
            progress(done, total)

    watcher = threading.Thread(target=watch, name=f"nbflow-backfill-{backfill_id}", daemon=True)
    watcher.start()
    try:
        if serial:
            for batch in todo:
                if stop.is_set() or (halt is not None and halt.is_set()):
                    break
                one(batch)
        else:
            with ThreadPoolExecutor(row.concurrency, thread_name_prefix="nbflow-backfill") as pool:
                list(pool.map(one, todo))
    except BaseException:
        stop.set()
        tables.finish(backfill_id, me, CANCELLED, "interrupted")
        tables.cancel_pending(backfill_id)
        raise
    finally:
        stop.set()
        watcher.join(5)
    counts = tables.counts(backfill_id)
    stored = tables.get(backfill_id)
    if stored is not None and stored.state == CANCELING:
        tables.cancel_pending(backfill_id)
        tables.finish(backfill_id, me, CANCELLED)
    elif ((halt is not None and halt.is_set()) or (abort is not None and abort.is_set())) \
            and counts.get(PENDING):
        tables.release(backfill_id, me)  # the next runner (a restarted daemon) goes on
    elif counts.get(FAILED) or counts.get(SKIPPED) or counts.get(PENDING):
        bad = counts.get(FAILED, 0) + counts.get(SKIPPED, 0) + counts.get(PENDING, 0)
        tables.finish(backfill_id, me, FAILED,
                      f"{bad} of {total} step(s) did not succeed ({counts.get(FAILED, 0)} failed, "
                      f"{counts.get(SKIPPED, 0)} skipped); resume it to run them again")
    else:
        tables.finish(backfill_id, me, SUCCEEDED)
    return get_backfill(session, backfill_id)


def cancel_backfill(session: Session, backfill_id: str) -> str:
    """Ask the backfill to stop; returns its new state (``CANCELLED`` or ``CANCELING``)."""
    row = get_backfill(session, backfill_id)
    state = session.store.backfills.request_cancel(backfill_id)
    if state is None:
        raise NbflowError(f"Backfill {backfill_id} has ended ({row.state}); nothing to cancel.")
    return state


def resume_backfill(session: Session, backfill_id: str) -> int:
    """Make an ended backfill REQUESTED again, with every step that did not succeed PENDING;
    returns how many steps will run."""
    row = get_backfill(session, backfill_id)
    n = session.store.backfills.resume(backfill_id)
    if n < 0:
        if row.state == SUCCEEDED:
            raise NbflowError(f"Backfill {backfill_id} succeeded; every step is done, nothing to resume.")
        raise NbflowError(f"Backfill {backfill_id} is {row.state}, not ended; cancel it first "
                          f"(`nbflow backfill cancel {backfill_id}`) to resume it later.")
    return n


class Backfill:
    """A stored backfill seen from Python: ``.id``, ``.state``, ``.counts()``, ``.steps()``,
    ``.cancel()``, ``.resume()`` (what ``nf.backfill`` returns)."""

    def __init__(self, session: Session, backfill_id: str) -> None:
        self.session = session
        self.id = backfill_id

    @property
    def row(self) -> BackfillRow:
        return get_backfill(self.session, self.id)

    @property
    def state(self) -> str:
        return self.row.state

    def counts(self) -> dict[str, int]:
        """Steps per state (``{"SUCCEEDED": 1090, "FAILED": 5}``)."""
        return self.session.store.backfills.counts(self.id)

    def steps(self) -> list[StepRow]:
        return self.session.store.backfills.steps(self.id)

    def cancel(self) -> str:
        return cancel_backfill(self.session, self.id)

    def resume(self, *, run: bool = True, progress: Progress | None = None) -> Backfill:
        """Run again what did not succeed (here, unless ``run=False``: then the daemon does)."""
        resume_backfill(self.session, self.id)
        if run:
            run_backfill(self.session, self.id, progress=progress)
        return self

    def __repr__(self) -> str:
        row = self.row
        counts = ", ".join(f"{n} {k.lower()}" for k, n in sorted(self.counts().items()))
        return f"<Backfill {self.id} {row.state}: {row.selection} over {row.partitions} ({counts})>"


__all__ = ["POLICIES", "REQUESTED", "Backfill", "BackfillPlan", "cancel_backfill", "get_backfill",
           "owner_gone", "plan_backfill", "reconcile", "resume_backfill", "run_backfill",
           "submit_backfill"]
