"""Routes for assets: the list with status, one asset with its history, the graph, materialise."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request

from nbflow.server.auth import require
from nbflow.server.models import MaterializeIn, model_of
from nbflow.session.api_views import AssetItem, MaterializeView, assets_view, materialize_view
from nbflow.session.views import AssetView, GraphView, asset_view, graph_view

router = APIRouter(tags=["assets"])


def _selection(selection: str, group: str | None, tag: str | None) -> str:
    """The query's filters as one selection (translation of input, no rule of its own)."""
    parts = [f"({selection})"] + ([f"group:{group}"] if group else []) + ([f"tag:{tag}"] if tag else [])
    return " and ".join(parts) if len(parts) > 1 else selection


@router.get("/assets", response_model=list[model_of(AssetItem)],  # type: ignore[misc]
            dependencies=[Depends(require("viewer"))])
def list_assets(request: Request, selection: str = Query("*", description="e.g. orders+"),
                group: str | None = Query(None, description="Only assets of this group."),
                tag: str | None = Query(None, description="Only assets with this tag: key=value.")
                ) -> list[AssetItem]:
    """Every defined asset (or the selected ones) with its status and last materialisation."""
    return assets_view(request.app.state.session, _selection(selection, group, tag))


@router.get("/graph", response_model=model_of(GraphView),
            dependencies=[Depends(require("viewer"))])
def get_graph(request: Request, selection: str = "*") -> GraphView:
    """The lineage graph of the selected assets."""
    return graph_view(request.app.state.session, selection)


@router.get("/assets/{name}", response_model=model_of(AssetView),
            dependencies=[Depends(require("viewer"))])
def get_asset(request: Request, name: str,
              history: int = Query(20, ge=1, le=500)) -> AssetView:
    """One asset: definition, status and materialisation history, newest first."""
    return asset_view(request.app.state.session, name, history=history)


@router.post("/materialize", response_model=model_of(MaterializeView),
             dependencies=[Depends(require("operator"))])
def materialize(request: Request, body: MaterializeIn) -> MaterializeView:
    """Materialise the selection now (fresh assets are CACHED unless ``force``); waits for the end."""
    return materialize_view(request.app.state.session.materialize(body.selection, force=body.force))
