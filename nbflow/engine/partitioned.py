"""Partitioned runs: plan (asset, partition) steps from the mappings and run them like asset steps.

A step of a partitioned asset is named ``asset[key]`` (the key's string form), e.g.
``orders[2026-01-05]``; a step of an unpartitioned asset keeps the asset's name. Events, the
store and the views use that step id. ``plan_partitions`` expands a selection of assets and a
partition selection into steps and their dependencies (upstream partitions from each edge's
mapping, a self-dependent asset's earlier partitions first); ``run_plan`` runs them: fresh steps
are CACHED, the others call the asset with ``nf.context().partition_key`` set, one value file
per partition, retries and checks as for any asset step, a failure skipping what depends on it.

What an asset's parameter receives from a partitioned upstream asset: the value itself through
the identity mapping (the same key), otherwise a dict typed upstream key -> value, in key order
(yesterday through ``TimeWindowMapping(-1, -1)``: ``{date: value}``, empty on the first day).
An unpartitioned asset reading a partitioned one gets the dict of the partitions that exist.
"""

from __future__ import annotations

import dataclasses
import heapq
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from typing import Any

from nbflow.core.events import (
    Event,
    EventKind,
    Materialized,
    StepFinished,
    StepRetrying,
    StepStarted,
)
from nbflow.core.freshness import stale_reason
from nbflow.core.graph import Graph
from nbflow.core.partition_mappings import IdentityMapping, upstream_partitions
from nbflow.core.partitions import DynamicSource
from nbflow.core.records import MaterializationRecord
from nbflow.core.specs import AssetSpec
from nbflow.core.states import State
from nbflow.core.versions import code_version
from nbflow.engine.assets import (
    AssetRun,
    Ref,
    StepFailure,
    StepOutput,
    _user_traceback,
    execute_asset,
    load_inputs,
)
from nbflow.engine.context import AssetStepContext, asset_step, reset_asset_step
from nbflow.engine.executors import Executor
from nbflow.engine.io import io_manager, load_value, value_problem
from nbflow.errors import PartitionError


def step_id(asset: str, partition: str | None) -> str:
    """``orders[2026-01-05]`` for a partition, ``orders`` for an unpartitioned asset."""
    return asset if partition is None else f"{asset}[{partition}]"


def split_step(step: str) -> tuple[str, str | None]:
    """The asset and partition of a step id (the inverse of ``step_id``)."""
    if step.endswith("]") and "[" in step:
        asset, _, rest = step.partition("[")
        return asset, rest[:-1]
    return step, None


@dataclass(frozen=True)
class Node:
    """One planned step: its asset, typed key and key text (None, None: unpartitioned)."""

    asset: str
    key: Any = None
    text: str | None = None


@dataclass
class Plan:
    """Steps in a runnable order, what each waits for and what each parameter reads.

    ``inputs[step][param]`` is a step id (one value) or a dict typed key -> step id (a dict
    of values); ``needs`` lists every upstream step id of a step (its input versions).
    ``outside`` holds the upstream step ids not in the plan, whose stored values are read.
    """

    steps: list[str] = field(default_factory=list)
    nodes: dict[str, Node] = field(default_factory=dict)
    inputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    needs: dict[str, list[str]] = field(default_factory=dict)
    deps: dict[str, list[str]] = field(default_factory=dict)
    outside: set[str] = field(default_factory=set)
    loose: set[str] = field(default_factory=set)
    """Steps of unpartitioned assets that read whichever upstream partitions exist."""


def select_keys(spec: AssetSpec, selection: Any, *, dynamic: DynamicSource | None = None,
                now: Any = None) -> list[Any]:
    """The keys of ``spec``'s partitions that ``selection`` picks, naming the asset on error."""
    assert spec.partitions is not None
    try:
        keys = spec.partitions.select(selection, now, dynamic)
    except PartitionError as e:
        raise PartitionError(f"Asset {spec.name!r}: {e}", definition=e.definition, key=e.key,
                             asset=spec.name) from None
    if not keys:
        raise PartitionError(
            f"The partition selection {selection!r} picks no partition of asset {spec.name!r} "
            f"({spec.partitions!r}); pick keys it has, e.g. {spec.partitions.render_ranges(spec.partitions.keys(now, dynamic)[:3], now, dynamic) or 'add keys first'}.",
            key=str(selection), asset=spec.name)
    return keys


def plan_partitions(graph: Graph, names: list[str], selection: Any, *,
                    dynamic: DynamicSource | None = None, now: Any = None) -> Plan:
    """The steps for assets ``names`` (topologically sorted) and partitions ``selection``.

    ``selection`` (a key, a list, ``"2026-01-01...2026-01-31"``, ``*`` patterns; None: every
    key) applies to each partitioned asset in ``names``; unpartitioned assets get one step.
    """
    plan = Plan()
    chosen = set(names)
    per_asset: dict[str, list[Node]] = {}
    for name in names:
        spec = graph.specs[name]
        defn = spec.partitions
        if defn is None:
            per_asset[name] = [Node(name)]
            continue
        keys = select_keys(spec, "*" if selection is None else selection, dynamic=dynamic, now=now)
        fmt = defn.format_key
        per_asset[name] = [Node(name, k, fmt(k)) for k in keys]
    in_plan: set[str] = set()
    for name in names:
        spec = graph.specs[name]
        maps = graph.mappings.get(name, {})
        defn = spec.partitions
        params = {**graph.inputs[name], **({graph.self_inputs[name]: name}
                                            if name in graph.self_inputs else {})}
        nodes = per_asset[name]
        if name in graph.self_inputs:  # earlier partitions first
            nodes = sorted(nodes, key=lambda n: defn.index(n.key, now, dynamic))  # type: ignore[union-attr]
        own = {step_id(name, n.text) for n in nodes}
        for node in nodes:
            sid = step_id(name, node.text)
            ins: dict[str, Any] = {}
            needs: list[str] = []
            for u in dict.fromkeys([*graph.upstream[name], *params.values()]):
                up = graph.specs[u].partitions
                if up is None:
                    ids: Any = u
                    needs.append(u)
                else:
                    mapping = maps[u]
                    keys = upstream_partitions(node.key, defn, up, mapping, asset=name,
                                               upstream_asset=u, now=now, dynamic=dynamic)
                    fmt = up.format_key
                    many = {k: step_id(u, fmt(k)) for k in keys}
                    needs.extend(many.values())
                    ids = next(iter(many.values())) if (
                        isinstance(mapping, IdentityMapping) and len(many) == 1) else many
                    if defn is None:
                        plan.loose.add(sid)
                for p, target in params.items():
                    if target == u:
                        ins[p] = ids
            deps = []
            for n in needs:
                if n in in_plan or (n in own and n != sid):
                    deps.append(n)
                elif n == sid:
                    raise PartitionError(f"Step {sid!r} reads itself; map {name!r} to earlier "
                                         "partitions.", asset=name)
                else:
                    asset_u = split_step(n)[0]
                    if asset_u not in chosen or n not in own:
                        plan.outside.add(n)
            plan.nodes[sid] = node
            plan.inputs[sid] = ins
            plan.needs[sid] = needs
            plan.deps[sid] = deps
            plan.steps.append(sid)
            in_plan.add(sid)
    return plan


class PartitionCall:
    """The asset's function with its step context set and dict inputs loaded (in the worker)."""

    def __init__(self, fn: Callable[..., Any], ctx: AssetStepContext, base: str) -> None:
        self.fn, self.ctx, self.base = fn, ctx, base

    @property
    def __code__(self) -> Any:  # tracebacks start at the user's frame
        return getattr(self.fn, "__code__", None)

    def __call__(self, **kwargs: Any) -> Any:
        for p, v in kwargs.items():
            if isinstance(v, dict):
                kwargs[p] = {k: (load_value(io_manager(r.io, self.base), r.uri, r.data_version, p)
                                 if isinstance(r, Ref) else r) for k, r in v.items()}
        token = asset_step(self.ctx)
        try:
            return self.fn(**kwargs)
        finally:
            reset_asset_step(token)


class RangeCall(PartitionCall):
    """A ``single_call`` asset's one call for several partitions: returns ``{key text: value}``
    with a value for each key (typed keys or their texts), or says which are missing."""

    def __init__(self, fn: Callable[..., Any], ctx: AssetStepContext, base: str,
                 texts: dict[Any, str]) -> None:
        super().__init__(fn, ctx, base)
        self.texts = texts

    def __call__(self, **kwargs: Any) -> Any:
        out = super().__call__(**kwargs)
        name = self.ctx.asset
        if not isinstance(out, Mapping):
            raise TypeError(f"single_call asset {name!r} returned {type(out).__name__}; it must "
                            "return a dict with one value per partition key of its call "
                            "(nf.context().partition_keys).")
        by_text = {(self.texts.get(k) or str(k)): v for k, v in out.items()}
        missing = [t for t in self.texts.values() if t not in by_text]
        if missing:
            raise KeyError(f"single_call asset {name!r} returned no value for partition(s) "
                           f"{', '.join(missing[:5])}; return one value per key of "
                           "nf.context().partition_keys.")
        return {t: by_text[t] for t in self.texts.values()}


def call_range(call: RangeCall, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Run a range call in the worker (inputs that are stored references are loaded)."""
    args = load_inputs(inputs, call.base, call.ctx.asset)
    try:
        return call(**args)  # type: ignore[no-any-return]
    except Exception as exc:  # noqa: BLE001 - the user's code: reported as the steps' failure
        raise StepFailure(f"{type(exc).__name__}: {exc}", _user_traceback(exc, call.fn), exc) from None


def _window(spec: AssetSpec, key: Any) -> tuple[Any, Any] | None:
    tw = getattr(spec.partitions, "time_window", None)
    if tw is None or key is None:
        return None
    try:
        return tuple(tw(key))  # type: ignore[return-value]
    except PartitionError:
        return None  # a multi definition without a time dimension


def run_plan(graph: Graph, plan: Plan, *, run_id: str, emit: Callable[[Event], None],
             executor: Executor, previous: Mapping[str, MaterializationRecord], base: str,
             force: bool = False, cancel: threading.Event | None = None,
             keep: Iterable[str] = (), remote: bool = False) -> AssetRun:
    """Run ``plan``'s steps and emit their events; ``previous`` maps step ids to their last
    materialisation (the plan's steps and its ``outside`` inputs). States are by step id."""
    states: dict[str, State] = {}
    errors: dict[str, dict[str, str]] = {}
    values: dict[str, Any] = {}
    keep_set = set(keep)
    current = {s: m.data_version for s, m in previous.items()}
    refs = {s: Ref(m.uri, m.io, m.data_version) for s, m in previous.items()}
    waiting = {s: len(plan.deps[s]) for s in plan.steps}
    downstream: dict[str, list[str]] = {s: [] for s in plan.steps}
    for s in plan.steps:
        for d in plan.deps[s]:
            downstream[d].append(s)
    consumers = {s: len(downstream[s]) for s in plan.steps}
    ready = deque(s for s in plan.steps if waiting[s] == 0)
    running: dict[Future[Any], tuple[str, int, str, dict[str, str]]] = {}
    attempts: dict[str, int] = {}
    delayed: list[tuple[float, int, str]] = []
    versions: dict[str, str] = {}
    asset_keep = {a for a in keep_set if a in graph.specs}
    # single_call assets: their steps wait, ready and not cached, until the whole run's set is,
    # then go to one call (``groups``: asset -> its steps; ``gathered``: the waiting ones)
    groups: dict[str, list[str]] = {}
    for s in plan.steps:
        if graph.specs[plan.nodes[s].asset].single_call and plan.nodes[s].text is not None:
            groups.setdefault(plan.nodes[s].asset, []).append(s)
    gathered: dict[str, list[tuple[str, dict[str, Any], str, dict[str, str]]]] = {a: [] for a in groups}
    ranges: dict[Future[Any], tuple[str, list[tuple[str, dict[str, Any], str, dict[str, str]]]]] = {}

    def cv_of(asset: str) -> str:
        if asset not in versions:
            spec = graph.specs[asset]
            versions[asset] = code_version(spec.fn, declared=spec.code_version, source=spec.source)
        return versions[asset]

    def finish(sid: str, state: State, error: str | None = None, **detail: Any) -> None:
        todo: list[tuple[str, State, str | None, dict[str, Any]]] = [(sid, state, error, detail)]
        states[sid] = state
        while todo:
            n, st, why, dt = todo.pop()
            node = plan.nodes[n]
            emit(Event(EventKind.STEP_FINISHED, run_id, n, st,
                       StepFinished(error=why, asset=node.asset, partition=node.text, **dt)))
            for d in downstream[n]:
                waiting[d] -= 1
                if st not in (State.SUCCEEDED, State.CACHED):
                    if d not in states:
                        blocker = errors.get(n, {}).get("blocked_by", n) if st is State.SKIPPED else n
                        errors[d] = {"message": f"Skipped: upstream {blocker!r} did not succeed.",
                                     "traceback": "", "blocked_by": blocker}
                        states[d] = State.SKIPPED
                        todo.append((d, State.SKIPPED,
                                     f"upstream {blocker!r} did not succeed", {}))
                elif waiting[d] == 0 and d not in states:
                    ready.append(d)
            for u in plan.deps[n]:
                consumers[u] -= 1
                if consumers[u] == 0 and u not in keep_set and plan.nodes[u].asset not in asset_keep:
                    values.pop(u, None)

    def value_of(u: str) -> Any:
        return values[u] if (u in values and not remote) else refs[u]

    def start(sid: str) -> None:
        node = plan.nodes[sid]
        spec = graph.specs[node.asset]
        needs = plan.needs[sid]
        loose = sid in plan.loose
        missing = [u for u in needs if u not in current
                   and not (loose and split_step(u)[1] is not None)]
        if missing:
            msg = (f"Step {sid!r} needs {missing[0]!r}, which has never been materialised; "
                   f"select it too (e.g. '+{node.asset}' with the same partitions).")
            errors[sid] = {"message": msg, "traceback": ""}
            finish(sid, State.FAILED, error=msg)
            return
        cv = cv_of(node.asset)
        inputs_v = {u: current[u] for u in needs if u in current}
        prev = previous.get(sid)
        if (not force and prev is not None
                and stale_reason(cv, prev.code_version, prev.input_versions, inputs_v) is None
                and value_problem(io_manager(prev.io, base), prev.uri, prev.data_version) is None):
            current[sid] = prev.data_version
            refs[sid] = Ref(prev.uri, prev.io, prev.data_version)
            finish(sid, State.CACHED)
            return
        attempt = attempts[sid] = attempts.get(sid, 0) + 1
        emit(Event(EventKind.STEP_STARTED, run_id, sid, State.RUNNING,
                   StepStarted(attempt=attempt, kind="asset", upstream=list(needs),
                               asset=node.asset, partition=node.text)))
        inputs: dict[str, Any] = {}
        for p, ids in plan.inputs[sid].items():
            if isinstance(ids, dict):
                inputs[p] = {k: value_of(u) for k, u in ids.items() if u in current}
            else:
                inputs[p] = value_of(ids)
        if node.asset in groups:
            gathered[node.asset].append((sid, inputs, cv, inputs_v))
            return
        ctx = AssetStepContext(run_id, sid, node.asset, node.key, _window(spec, node.key))
        step_spec = dataclasses.replace(spec, name=sid, fn=PartitionCall(spec.fn, ctx, base))
        fut = executor.submit(execute_asset, step_spec, inputs, base, not remote)
        running[fut] = (sid, attempt, cv, inputs_v)

    def launch_ranges() -> int:
        """Start each single_call asset whose steps of this run are all gathered or ended;
        returns how many calls started."""
        started = 0
        for asset, members in groups.items():
            got = gathered[asset]
            if not got or any(s not in states and s not in {g[0] for g in got} for s in members):
                continue
            gathered[asset] = []
            order = {s: i for i, s in enumerate(members)}
            got.sort(key=lambda g: order[g[0]])  # key order, whatever order they got ready in
            spec = graph.specs[asset]
            nodes = [plan.nodes[g[0]] for g in got]
            merged: dict[str, Any] = {}
            for (sid, inputs, _cv, _iv), node in zip(got, nodes, strict=True):
                for p, v in inputs.items():
                    ids = plan.inputs[sid][p]
                    if isinstance(ids, dict):
                        merged.setdefault(p, {}).update(v)
                    elif split_step(ids)[1] is None:
                        merged[p] = v  # an unpartitioned input: the same for every key
                    else:
                        merged.setdefault(p, {})[node.key] = v
            first, last = _window(spec, nodes[0].key), _window(spec, nodes[-1].key)
            span = (first[0], last[1]) if first and last else None
            label = f"{asset}[{nodes[0].text}...{nodes[-1].text}]" if len(nodes) > 1 else got[0][0]
            ctx = AssetStepContext(run_id, label, asset, None, span, tuple(n.key for n in nodes))
            call = RangeCall(spec.fn, ctx, base, {n.key: str(n.text) for n in nodes})
            ranges[executor.submit(call_range, call, merged)] = (asset, got)
            started += 1
        return started

    def collect_range(fut: Future[Any]) -> None:
        asset, got = ranges.pop(fut)
        spec = graph.specs[asset]
        try:
            values_by_text: dict[str, Any] = fut.result()
        except StepFailure as exc:
            for sid, *_ in got:
                errors[sid] = {"message": exc.message, "traceback": exc.traceback}
                finish(sid, State.FAILED, error=exc.message, traceback=exc.traceback, attempt=1)
            return
        except Exception as exc:  # noqa: BLE001 - the executor itself failed
            message = f"{type(exc).__name__}: {exc}"
            for sid, *_ in got:
                errors[sid] = {"message": message, "traceback": ""}
                finish(sid, State.FAILED, error=message, attempt=1)
            return
        for sid, _inputs, cv, inputs_v in got:
            value = values_by_text[str(plan.nodes[sid].text)]
            store = dataclasses.replace(spec, name=sid, fn=lambda v=value: v)
            try:
                out = execute_asset(store, {}, base, not remote)
            except StepFailure as exc:
                errors[sid] = {"message": exc.message, "traceback": exc.traceback}
                finish(sid, State.FAILED, error=exc.message, attempt=1)
                continue
            record(sid, 1, cv, inputs_v, out)

    def collect(fut: Future[Any]) -> None:
        if fut in ranges:
            collect_range(fut)
            return
        sid, attempt, cv, inputs_v = running.pop(fut)
        try:
            out: StepOutput = fut.result()
        except StepFailure as exc:
            fail(sid, attempt, exc.message, exc.traceback, exc.error or exc)
            return
        except Exception as exc:  # noqa: BLE001 - the executor itself failed
            fail(sid, attempt, f"{type(exc).__name__}: {exc}",
                 "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)), exc)
            return
        record(sid, attempt, cv, inputs_v, out)

    def record(sid: str, attempt: int, cv: str, inputs_v: dict[str, str], out: StepOutput) -> None:
        node = plan.nodes[sid]
        spec = graph.specs[node.asset]
        current[sid] = out.data_version
        refs[sid] = Ref(out.uri, spec.io, out.data_version)
        if not remote and (consumers.get(sid) or sid in keep_set or node.asset in asset_keep):
            values[sid] = out.value
        emit(Event(EventKind.MATERIALIZATION, run_id, sid, None, Materialized(
            code_version=cv, data_version=out.data_version, input_versions=inputs_v,
            metadata=out.metadata, uri=out.uri, io=spec.io, duration=out.duration,
            asset=node.asset, partition=node.text)))
        blocking = None
        for c in out.checks:
            emit(Event(EventKind.CHECK, run_id, sid, None, c))
            if not c.passed and c.severity == "error" and blocking is None:
                blocking = c
        if blocking is not None:
            msg = f"Check {blocking.name!r} failed" + (
                f": {blocking.message}" if blocking.message else ".")
            errors[sid] = {"message": msg, "traceback": "", "check": str(blocking.name)}
            finish(sid, State.FAILED, error=msg, attempt=attempt, duration=out.duration,
                   check=blocking.name)
            return
        finish(sid, State.SUCCEEDED, attempt=attempt, duration=out.duration)

    def fail(sid: str, attempt: int, message: str, tb: str, error: BaseException) -> None:
        node = plan.nodes[sid]
        policy = graph.specs[node.asset].retry
        try:
            again = policy.should_retry(error, attempt)
        except Exception as exc:  # noqa: BLE001 - the user's retry_on predicate raised
            again = False
            message = (f"{message} (not retried: retry_on of asset {node.asset!r} raised "
                       f"{type(exc).__name__}: {exc})")
        if again:
            delay = policy.delay(attempt)
            emit(Event(EventKind.STEP_RETRYING, run_id, sid, State.RETRYING,
                       StepRetrying(attempt=attempt, error=message, delay=delay)))
            if delay > 0:
                heapq.heappush(delayed, (time.monotonic() + delay, len(delayed), sid))
            else:
                ready.append(sid)
            return
        errors[sid] = {"message": message, "traceback": tb}
        finish(sid, State.FAILED, error=message, traceback=tb, attempt=attempt)

    def cancelled() -> bool:
        return cancel is not None and cancel.is_set()

    while ready or running or delayed or ranges or (any(gathered.values()) and not cancelled()):
        while delayed and delayed[0][0] <= time.monotonic():
            ready.append(heapq.heappop(delayed)[2])
        while ready:
            sid = ready.popleft()
            if cancelled():
                ready.appendleft(sid)
                break
            start(sid)
            if not executor.concurrent:
                for fut in list(running):
                    collect(fut)
        if groups and not ready and not cancelled() and launch_ranges() and not executor.concurrent:
            for fut in list(ranges):
                collect(fut)
            continue
        if not (ready or running or delayed or ranges):
            break  # gathered steps left over can no longer complete: they end CANCELLED below
        if cancelled() and not running and not ranges:
            break
        due = max(delayed[0][0] - time.monotonic(), 0.0) if delayed else None
        if running or ranges:
            done, _ = wait([*running, *ranges], timeout=due, return_when=FIRST_COMPLETED)
            for fut in done:
                collect(fut)
        elif due is not None and not ready:
            if cancel is not None:
                cancel.wait(due)
            else:
                time.sleep(due)
    for sid in plan.steps:
        if sid not in states:
            states[sid] = State.CANCELLED
            node = plan.nodes[sid]
            emit(Event(EventKind.STEP_FINISHED, run_id, sid, State.CANCELLED,
                       StepFinished(error="the run was cancelled", asset=node.asset,
                                    partition=node.text)))
    return AssetRun(states, errors, values, current)


__all__ = ["Node", "PartitionCall", "Plan", "plan_partitions", "run_plan", "select_keys",
           "split_step", "step_id"]
