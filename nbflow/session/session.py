"""Session: the composition root. Settings + registry + hooks + store + engine, and the verbs."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import threading
import time
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from nbflow.core.events import Event, EventKind, Hooks, RunFinished, RunStarted
from nbflow.core.freshness import Failure, Verdict, verdict
from nbflow.core.graph import Graph
from nbflow.core.records import AssetStatus, MaterializationRecord, RunRecord
from nbflow.core.registry import Registry, default_registry
from nbflow.core.states import State, run_state
from nbflow.core.versions import code_version
from nbflow.engine.assets import run_assets
from nbflow.engine.executors import Executor, make_executor
from nbflow.engine.io import io_manager, load_value, value_problem
from nbflow.errors import NbflowError, SelectionError
from nbflow.session.audit import audited
from nbflow.session.result import MaterializeResult
from nbflow.settings import Settings

if TYPE_CHECKING:  # SQLAlchemy loads when a SQL store opens, not when nbflow is imported
    from nbflow.store.base import RunStore


def select_names(graph: Graph, selection: str | Iterable[str],
                 session: Session | None = None) -> list[str]:
    """Asset names for a selection string, or a list of names (checked), in topological order.

    ``status:`` selectors (``status:stale``) ask ``session`` for the statuses present.
    """
    if isinstance(selection, str):
        from nbflow.core.selection import select

        statuses = None
        if session is not None and "status:" in selection:
            statuses = session.statuses_present(graph)
        return select(graph, selection, statuses=statuses)
    names = list(selection)
    for n in names:
        if n not in graph:
            from nbflow.core.graph import unknown_name_error

            raise unknown_name_error(n, graph.specs, context="The selection names",
                                     fix="define it or fix the name")
    if not names:
        raise SelectionError("The selection is empty; name at least one asset.", selection="")
    return graph.sorted(names)


class Session:
    """Ties one registry, one store and the engine together for a process or a test.

    Responsibilities: open the store lazily and subscribe it to the hooks; turn a selection into a
    run (run id, executor, events, flush); answer status, load and history questions.
    """

    def __init__(self, settings: Settings | None = None, registry: Registry | None = None,
                 store: RunStore | None = None) -> None:
        self.settings = settings if settings is not None else Settings.resolve()
        self.registry = registry if registry is not None else default_registry()
        self.hooks = Hooks()
        self._store = store
        self._lock = threading.Lock()
        # Subscribed now, so no event is lost; the store itself opens on the first event.
        self.hooks.subscribe(self._record)

    # ------------------------------------------------------------------ store
    @property
    def store(self) -> RunStore:
        """The run store: the one given, else opened from ``settings.url`` on first use."""
        if self._store is None:
            with self._lock:
                if self._store is None:
                    from nbflow.store import open_store

                    s = self.settings
                    store = open_store(s.url, heartbeat_interval=s.heartbeat_interval,
                                       heartbeat_timeout=s.heartbeat_timeout)
                    store.sweep_crashed()
                    self._store = store
        return self._store

    def _record(self, event: Event) -> None:
        self.store.record(event)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()

    @staticmethod
    def new_run_id() -> str:
        return uuid.uuid4().hex[:16]

    def emit(self, event: Event) -> None:
        self.hooks.emit(event)

    # ------------------------------------------------------------------ running
    @audited("materialize", target="selection", result_run_id=True)
    def materialize(self, selection: str | Iterable[str] = "*", *, force: bool = False,
                    executor: str | Executor | None = None, max_workers: int | None = None,
                    cancel: threading.Event | None = None, run_id: str | None = None,
                    keep: Iterable[str] = (), partition: Any = None,
                    partitions: Any = None) -> MaterializeResult:
        """Materialise the selected assets; fresh ones are CACHED unless ``force``.

        ``partition`` (one key) or ``partitions`` (a list, ``"2026-01-01...2026-01-31"``,
        ``*`` patterns) pick the partitions of the partitioned assets; without either, they
        run for every key. Partitioned steps are named ``asset[key]`` in ``states``.
        """
        graph = self.registry.graph()
        names = select_names(graph, selection, self)
        if partition is not None and partitions is not None:
            raise SelectionError("Pass partition= (one key) or partitions= (a selection), not "
                                 "both.", selection=str(selection))
        chosen = partitions if partition is None else [partition]
        partitioned = any(graph.specs[n].partitions is not None or n in graph.mappings
                          for n in names)
        store = self.store
        run_id = run_id or self.new_run_id()
        owned = executor is None or isinstance(executor, str)
        ex = make_executor(executor or self.settings.executor, max_workers)
        label = selection if isinstance(selection, str) else ", ".join(names)
        started = time.time()
        plan = None
        if partitioned:
            from nbflow.engine.partitioned import plan_partitions
            from nbflow.session.partitions import dynamic_source, load_previous

            try:
                plan = plan_partitions(graph, names, chosen, dynamic=dynamic_source(store))
            except BaseException:
                if owned:
                    ex.shutdown(wait=True)
                raise
        self.emit(Event(EventKind.RUN_STARTED, run_id, data=RunStarted(
            kind="assets", name=label, selection=label,
            steps=names if plan is None else plan.steps,
            parent_run_id=os.environ.get("NBFLOW_RUN_ID"),
            partitions=None if chosen is None else _partition_text(chosen))))
        try:
            if plan is not None:
                from nbflow.engine.partitioned import run_plan

                outcome = run_plan(
                    graph, plan, run_id=run_id, emit=self.emit, executor=ex,
                    previous=load_previous(store, plan.steps + sorted(plan.outside)),
                    base=self.settings.storage_base, force=force, cancel=cancel,
                    keep=frozenset(keep), remote=getattr(ex, "remote", False))
            else:
                outcome = run_assets(
                    graph, names, run_id=run_id, emit=self.emit, executor=ex,
                    previous=store.latest_materializations(), base=self.settings.storage_base,
                    force=force, cancel=cancel, keep=frozenset(keep),
                    remote=getattr(ex, "remote", False))
        except BaseException as exc:
            state = State.CANCELLED if isinstance(exc, KeyboardInterrupt) else State.FAILED
            self.emit(Event(EventKind.RUN_FINISHED, run_id, state=state,
                            data=RunFinished(error=f"{type(exc).__name__}: {exc}")))
            store.flush()
            raise
        finally:
            if owned:
                ex.shutdown(wait=True)
        state = run_state(list(outcome.states.values()))
        failed = [n for n, s in outcome.states.items() if s is State.FAILED]
        self.emit(Event(EventKind.RUN_FINISHED, run_id, state=state, data=RunFinished(
            error=f"{len(failed)} step(s) failed: {', '.join(failed[:5])}" if failed else None)))
        store.flush()
        return MaterializeResult(run_id=run_id, state=state, states=outcome.states,
                                 errors=outcome.errors, values=outcome.values,
                                 duration=time.time() - started, session=self)

    # ------------------------------------------------------------------ reading
    def forget(self, name: str) -> list[str]:
        """Remove asset ``name`` from the graph (its history stays in the store).

        Notebook cells that read it are defined again without it (they read the notebook
        variable instead) and returned; a function asset that reads it makes this refuse.
        """
        return self.registry.forget(name)

    def load(self, name: str, partition: Any = None) -> Any:
        """The latest stored value of asset ``name`` (of one ``partition``; or a step id
        such as ``orders[2026-01-05]``)."""
        from nbflow.engine.partitioned import split_step

        name, part = split_step(name)
        if partition is not None or part is not None:
            return self._load_partition(name, part if partition is None else partition)
        last = self.store.latest_materializations([name]).get(name)
        if last is None:
            if name not in self.registry:
                known = self.registry.names() or list(self.store.latest_materializations())
                from nbflow.core.graph import unknown_name_error

                raise unknown_name_error(name, known, context="Cannot load",
                                         fix="check the name with `nbflow assets`")
            raise NbflowError(f"Asset {name!r} has never been materialised; run "
                              f"nbflow.materialize({name!r}) first.")
        return load_value(io_manager(last.io, self.settings.storage_base), last.uri,
                          last.data_version, name)

    def _load_partition(self, name: str, partition: Any) -> Any:
        spec = self.registry.graph().specs.get(name)
        if spec is not None and spec.partitions is not None and not isinstance(partition, str):
            partition = spec.partitions.format_key(partition)
        last = self.store.partitions.latest(name, [str(partition)]).get(str(partition))
        if last is None:
            raise NbflowError(f"Partition {partition!r} of asset {name!r} has never been "
                              f"materialised; run nbflow.materialize({name!r}, "
                              f"partition={str(partition)!r}) first.")
        return load_value(io_manager(last.io, self.settings.storage_base), last.uri,
                          last.data_version, name)

    def partitions(self, name: str) -> Any:
        """The keys of dynamic partitions ``name``: ``.add([...])``, ``.remove([...])``, ``.keys()``."""
        from nbflow.session.partitions import DynamicKeys

        return DynamicKeys(name, self.store)

    def status(self, selection: str | Iterable[str] = "*", *,
               now: dt.datetime | None = None) -> list[AssetStatus]:
        """Per asset: fresh, stale (with the reason), missing or failed, with the last
        materialisation; ``freshness``: overdue or on time at ``now`` for assets with a policy."""
        graph = self.registry.graph()
        names = set(select_names(graph, selection, self)) if graph.specs else set()
        store = self.store
        latest = store.latest_materializations()
        failures = store.last_failures()
        parents = store.parent_runs(m.run_id for m in latest.values())
        verdicts: dict[str, Verdict] = {}
        base = self.settings.storage_base
        out = []
        parts = None
        if graph.mappings or any(s.partitions is not None for s in graph.specs.values()):
            from nbflow.session.partitions import PartitionStatus

            parts = PartitionStatus(graph, store, base, latest, failures, verdicts)
        for name in graph.order:  # upstream first, so staleness flows downstream
            spec = graph.specs[name]
            last = latest.get(name)
            fail = failures.get(name)
            ups = graph.upstream[name]
            if parts is not None and spec.partitions is not None:
                if name not in names and not graph.downstream[name]:
                    continue
                v = verdicts[name] = parts.asset_verdict(name)
                if name in names:
                    summary = parts.summary(name)
                    out.append(AssetStatus(name=name, status=v.status, reason=v.reason,
                                           error=v.error, partitions=summary))
                continue
            inputs = ({u: latest[u].data_version if u in latest else None for u in ups}
                      if parts is None or name not in graph.mappings
                      else parts.current_inputs(name, None))
            v = verdicts[name] = verdict(
                code_version="" if last is None else code_version(
                    spec.fn, declared=spec.code_version, source=spec.source),
                last_code_version=None if last is None else last.code_version,
                last_inputs={} if last is None else last.input_versions,
                last_ts=None if last is None else last.ts.timestamp(),
                inputs=inputs,
                upstream=verdicts,
                failure=None if fail is None else Failure(fail[0], fail[1], fail[2]),
                value_problem=None if last is None else value_problem(
                    io_manager(last.io, base), last.uri, last.data_version))
            status, reason, error = v.status, v.reason, v.error
            if name in names:
                out.append(AssetStatus(name=name, status=status, reason=reason, last=last,
                                       error=error,
                                       deployment_run_id=parents.get(last.run_id) if last else None))
        return _with_freshness(out, graph, store, now, latest, failures)

    def statuses_present(self, graph: Graph) -> dict[str, set[str]]:
        """asset -> the verdicts it or any of its partitions has (for ``status:`` selectors)."""
        out: dict[str, set[str]] = {}
        for st in self.status("*"):
            p = st.partitions
            out[st.name] = {s for s, n in p.counts.items() if n} if p is not None else {st.status}
        return out

    def runs(self, limit: int = 20, state: str | None = None, deployment: str | None = None,
             kind: str | None = None) -> list[RunRecord]:
        """Runs, newest first, with their steps."""
        return self.store.runs(limit=limit, state=state, deployment=deployment, kind=kind)

    def get_run(self, run_id: str) -> RunRecord:
        """One run with its steps; a unique prefix of the id is enough."""
        run = self.store.get_run(run_id)
        if run is None:
            matches = self.store.find_run_ids(run_id)
            if len(matches) == 1:
                run = self.store.get_run(matches[0])
            if run is None:
                from nbflow.errors import NotFoundError

                raise NotFoundError(f"There is no run {run_id!r}"
                                    + (f"; it matches several: {', '.join(matches)}." if matches
                                       else "; list runs with `nbflow runs`."),
                                    kind="run", name=run_id)
        return run

    def materializations(self, name: str, limit: int = 20) -> list[MaterializationRecord]:
        return self.store.materializations(name, limit)


def _with_freshness(out: list[AssetStatus], graph: Graph, store: RunStore,
                    now: dt.datetime | None, latest: Any, failures: Any) -> list[AssetStatus]:
    """``out`` with each policy's ``FreshnessState`` (``session/freshness.py``) attached."""
    from nbflow.session.freshness import freshness_states, has_policies

    if not out or not has_policies(graph):
        return out
    states = freshness_states(graph, store, now, names=[s.name for s in out], latest=latest,
                              failures=failures)
    return [dataclasses.replace(s, freshness=states[s.name]) if s.name in states else s
            for s in out]


def _partition_text(chosen: Any) -> str:
    if isinstance(chosen, (list, tuple)):
        return ", ".join(str(k) for k in chosen)
    return str(chosen)


_default: Session | None = None
_default_lock = threading.Lock()


def get_session() -> Session:
    """The process's default session (settings from ``NBFLOW_*`` variables)."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Session()
    return _default


def set_session(session: Session | None) -> Session | None:
    """Replace the default session (tests, notebooks with another store); returns the old one."""
    global _default
    old, _default = _default, session
    return old


