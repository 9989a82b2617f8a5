"""Read models: plain JSON-ready views (TypedDicts) of the graph, assets, runs, caches and limits.

Every edge (the CLI, the panel, later the server, the Jupyter extension and the MCP server)
reads these instead of the store: times are ISO 8601 text in UTC, durations seconds, states
their names, metadata JSON-safe. Each function takes the session and asks it or its store.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypedDict

from nbflow.core.codec import preview
from nbflow.core.events import LogLine
from nbflow.core.records import MaterializationRecord, RunRecord, StepRecord

if TYPE_CHECKING:
    from nbflow.session.session import Session


class NodeView(TypedDict):
    name: str
    kind: str
    group: str
    tags: dict[str, str]
    status: str | None
    reason: str | None
    upstream: list[str]


class GraphView(TypedDict):
    nodes: list[NodeView]
    edges: list[list[str]]
    """``[upstream, downstream]`` pairs between the selected assets."""


class MaterializationView(TypedDict):
    asset: str
    run_id: str
    time: str | None
    duration: float | None
    code_version: str
    data_version: str
    input_versions: dict[str, str]
    metadata: dict[str, Any]
    uri: str
    io: str
    partition: str | None
    deployment_run_id: str | None
    """The deployment run that the materialising run ran inside, if any."""


class AssetView(TypedDict):
    name: str
    kind: str
    group: str
    tags: dict[str, str]
    description: str
    upstream: list[str]
    downstream: list[str]
    status: str | None
    reason: str | None
    error: str | None
    last: MaterializationView | None
    history: list[MaterializationView]
    """Newest first."""


class StepView(TypedDict):
    name: str
    kind: str
    state: str
    attempts: int
    started_at: str | None
    ended_at: str | None
    duration: float | None
    upstream: list[str]
    error: str | None


class RunSummary(TypedDict):
    run_id: str
    kind: str
    name: str | None
    state: str
    created_at: str | None
    started_at: str | None
    ended_at: str | None
    duration: float | None
    deployment: str | None
    parent_run_id: str | None
    scheduled_at: str | None
    attempt: int
    error: str | None
    steps: list[StepView]


class LogView(TypedDict):
    time: str
    step: str | None
    level: str
    message: str


class RunView(RunSummary):
    selection: str | None
    parameters: dict[str, Any]
    tags: dict[str, Any]
    output_path: str | None
    failure: dict[str, Any]
    """For a failed notebook run: ``cell_index``, ``exception`` and ``message``."""
    children: list[RunSummary]
    """Runs started inside this one (asset runs of a deployment's notebook), oldest first."""
    logs: list[LogView]


class CacheView(TypedDict):
    task: str
    entries: int
    newest: str | None


class LimitView(TypedDict):
    tag: str
    limit: int
    in_use: int


# -- helpers ------------------------------------------------------------------------------------

def iso(value: datetime | float | None) -> str | None:
    """An aware datetime or epoch seconds as ISO 8601 text in UTC (None stays None)."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime.fromtimestamp(float(value), tz=UTC)
    return value.astimezone(UTC).isoformat()


def json_safe(value: Any) -> Any:
    """Metadata and parameters as JSON for views: the codec's display ``preview``."""
    return preview(value)


def materialization_view(m: MaterializationRecord, deployment_run_id: str | None = None) -> MaterializationView:
    return {"asset": m.asset, "run_id": m.run_id, "time": iso(m.ts), "duration": m.duration,
            "code_version": m.code_version, "data_version": m.data_version,
            "input_versions": dict(m.input_versions), "metadata": json_safe(dict(m.metadata)),
            "uri": m.uri, "io": m.io, "partition": m.partition,
            "deployment_run_id": deployment_run_id}


def step_view(s: StepRecord) -> StepView:
    return {"name": s.name, "kind": s.kind, "state": s.state.value, "attempts": s.attempts,
            "started_at": iso(s.started_at), "ended_at": iso(s.ended_at), "duration": s.duration,
            "upstream": list(s.upstream), "error": s.error}


def run_summary(r: RunRecord) -> RunSummary:
    return {"run_id": r.run_id, "kind": r.kind, "name": r.name, "state": r.state.value,
            "created_at": iso(r.created_at), "started_at": iso(r.started_at),
            "ended_at": iso(r.ended_at), "duration": r.duration, "deployment": r.deployment,
            "parent_run_id": r.parent_run_id, "scheduled_at": iso(r.scheduled_at),
            "attempt": r.attempt, "error": r.error, "steps": [step_view(s) for s in r.steps]}


# -- views --------------------------------------------------------------------------------------

def graph_view(session: Session, selection: str = "*") -> GraphView:
    """The selected assets with their status, group and tags, and the edges between them."""
    graph = session.registry.graph()
    if not len(graph):
        return {"nodes": [], "edges": []}
    statuses = {s.name: s for s in session.status(selection)}
    nodes: list[NodeView] = []
    for name in graph.order:
        if name not in statuses:
            continue
        spec, st = graph.specs[name], statuses[name]
        nodes.append({"name": name, "kind": spec.kind, "group": spec.group,
                      "tags": {str(k): str(v) for k, v in spec.tags.items()},
                      "status": st.status, "reason": st.reason,
                      "upstream": list(graph.upstream[name])})
    edges = [[u, n["name"]] for n in nodes for u in n["upstream"] if u in statuses]
    return {"nodes": nodes, "edges": edges}


def asset_view(session: Session, name: str, *, history: int = 20) -> AssetView:
    """One defined asset: its definition, status and materialisation history (newest first).

    Raises ``UnknownAssetError`` (a ``NotFoundError``) when no asset has that name.
    """
    graph = session.registry.graph()
    if name not in graph:
        from nbflow.core.graph import unknown_name_error

        raise unknown_name_error(name, graph.specs, context="There is no asset",
                                 fix="check the name with `nbflow assets`")
    spec = graph.specs[name]
    status = next(iter(session.status([name])), None)
    records = session.materializations(name, history)
    parents = session.store.parent_runs(m.run_id for m in records)
    last = status.last if status is not None else None
    return {
        "name": name, "kind": spec.kind, "group": spec.group,
        "tags": {str(k): str(v) for k, v in spec.tags.items()},
        "description": spec.description or "", "upstream": list(graph.upstream[name]),
        "downstream": list(graph.downstream[name]),
        "status": status.status if status is not None else None,
        "reason": status.reason if status is not None else None,
        "error": status.error if status is not None else None,
        "last": None if last is None else materialization_view(last, parents.get(last.run_id)),
        "history": [materialization_view(m, parents.get(m.run_id)) for m in records],
    }


def recorded_assets(session: Session) -> list[MaterializationView]:
    """The last materialisation of every asset the store knows, by name (no definitions needed)."""
    known = session.store.latest_materializations()
    parents = session.store.parent_runs(m.run_id for m in known.values())
    return [materialization_view(m, parents.get(m.run_id)) for _, m in sorted(known.items())]


def run_view(session: Session, run_id: str) -> RunView:
    """One run (a unique id prefix is enough) with steps, child runs and logs.

    Raises ``NotFoundError`` when no run matches.
    """
    r = session.get_run(run_id)
    store = session.store
    logs: list[LogView] = [
        {"time": iso(e.ts) or "", "step": e.step, "level": "" if p.level is None else str(p.level),
         "message": str(p.message)}
        for e in store.events(r.run_id) if isinstance(p := e.data, LogLine)]
    view: RunView = {
        **run_summary(r),  # type: ignore[typeddict-item]
        "selection": r.selection, "parameters": json_safe(dict(r.parameters)),
        "tags": json_safe(dict(r.tags)), "output_path": r.output_path,
        "failure": json_safe(dict(r.failure)),
        "children": [run_summary(c) for c in store.child_runs(r.run_id)], "logs": logs,
    }
    return view


def runs_view(session: Session, *, limit: int = 20, state: str | None = None,
              deployment: str | None = None, kind: str | None = None) -> list[RunSummary]:
    """Recent runs, newest first, with their steps."""
    return [run_summary(r) for r in session.runs(limit=limit, state=state, deployment=deployment,
                                                  kind=kind)]


def caches_view(session: Session) -> list[CacheView]:
    """Every task with cached results: how many and the newest, by task name."""
    return [{"task": t, "entries": n, "newest": iso(ts)}
            for t, n, ts in session.store.tasks.cache_summary()]


def limits_view(session: Session) -> list[LimitView]:
    """Every concurrency limit and how many of its slots are taken, by tag."""
    return [{"tag": tag, "limit": size, "in_use": used}
            for tag, (size, used) in session.store.tasks.limits().items()]


def parse_time(text: str | None) -> datetime | None:
    """The inverse of ``iso`` for edges that format times themselves."""
    return None if text is None else datetime.fromisoformat(text)


__all__ = [
    "AssetView", "CacheView", "GraphView", "LimitView", "LogView", "MaterializationView",
    "NodeView", "RunSummary", "RunView", "StepView", "asset_view", "caches_view", "graph_view",
    "iso", "json_safe", "limits_view", "materialization_view", "parse_time", "recorded_assets",
    "run_summary", "run_view", "runs_view", "step_view",
]
