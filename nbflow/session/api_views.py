"""Read models the API and the client share: the asset list with status, a materialise result.

Plain JSON-ready TypedDicts like ``nbflow.session.views`` (whose helpers they use).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

from nbflow.session.views import MaterializationView, iso, materialization_view

if TYPE_CHECKING:
    from nbflow.session.result import MaterializeResult
    from nbflow.session.session import Session


class FreshnessView(TypedDict):
    """An asset's standing against its freshness policy (``core/freshness_policy.py``)."""

    state: str
    """``overdue`` or ``on time``."""
    overdue: bool
    deadline: str | None
    """ISO 8601 (UTC): the deadline that passed, or the next one."""
    reason: str | None
    partition: str | None


class AssetItem(TypedDict):
    name: str
    kind: str
    group: str
    tags: dict[str, str]
    status: str
    """``fresh``, ``stale``, ``missing`` or ``failed``."""
    reason: str | None
    error: str | None
    deployment_run_id: str | None
    last: MaterializationView | None
    freshness: FreshnessView | None
    """None for an asset without a freshness policy."""


class MaterializeView(TypedDict):
    run_id: str
    state: str
    ok: bool
    states: dict[str, str]
    errors: dict[str, dict[str, str]]
    duration: float


def assets_view(session: Session, selection: str = "*") -> list[AssetItem]:
    """Every selected defined asset with its status and last materialisation, upstream first."""
    graph = session.registry.graph()
    if not len(graph):
        return []
    out: list[AssetItem] = []
    for st in session.status(selection):
        spec = graph.specs[st.name]
        out.append({"name": st.name, "kind": spec.kind, "group": spec.group,
                    "tags": {str(k): str(v) for k, v in spec.tags.items()},
                    "status": st.status, "reason": st.reason, "error": st.error,
                    "deployment_run_id": st.deployment_run_id,
                    "last": None if st.last is None else materialization_view(st.last),
                    "freshness": None if (f := st.freshness) is None else {
                        "state": f.state, "overdue": f.overdue, "deadline": iso(f.deadline),
                        "reason": f.reason, "partition": f.partition}})
    return out


def materialize_view(result: MaterializeResult) -> MaterializeView:
    """A materialisation's outcome without its values."""
    return {"run_id": result.run_id, "state": result.state.value, "ok": result.ok,
            "states": {k: v.value for k, v in result.states.items()},
            "errors": {k: {str(a): str(b) for a, b in v.items()} for k, v in result.errors.items()},
            "duration": result.duration}


__all__ = ["AssetItem", "FreshnessView", "MaterializeView", "assets_view", "materialize_view"]
