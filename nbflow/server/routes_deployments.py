"""Routes for deployments: list, detail, create, update, pause, resume, delete, trigger."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from nbflow.deployments.service import (
    delete_deployment,
    deploy,
    get_deployment,
    set_paused,
    trigger,
)
from nbflow.deployments.views import (
    DeploymentSummary,
    DeploymentView,
    deployment_view,
    deployments_view,
)
from nbflow.errors import ParameterError
from nbflow.server.auth import require
from nbflow.server.models import DeploymentIn, Triggered, TriggerIn, model_of

router = APIRouter(tags=["deployments"])
_View = model_of(DeploymentView)


@router.get("/deployments", response_model=list[model_of(DeploymentSummary)],  # type: ignore[misc]
            dependencies=[Depends(require("viewer"))])
def list_deployments(request: Request) -> list[DeploymentSummary]:
    """Every deployment with its schedule in words, next run and newest run."""
    return deployments_view(request.app.state.session)


@router.get("/deployments/{name}", response_model=_View, dependencies=[Depends(require("viewer"))])
def get_one(request: Request, name: str) -> DeploymentView:
    """One deployment's settings, parameters, recent runs and ticks."""
    return deployment_view(name, request.app.state.session)


@router.post("/deployments", response_model=_View, dependencies=[Depends(require("editor"))])
def create(request: Request, body: DeploymentIn) -> DeploymentView:
    """Define a deployment of a notebook on the server (an existing name is updated)."""
    if body.notebook is None:
        raise ParameterError("A new deployment needs 'notebook', the notebook's path on the "
                             "server.", parameter="notebook")
    s = request.app.state.session
    dep = deploy(body.notebook, session=s, **body.options())
    return deployment_view(dep.name, s)


@router.put("/deployments/{name}", response_model=_View, dependencies=[Depends(require("editor"))])
def update(request: Request, name: str, body: DeploymentIn) -> DeploymentView:
    """Define deployment ``name`` again from the body (its notebook kept when left out)."""
    s = request.app.state.session
    notebook = body.notebook or get_deployment(name, session=s).notebook
    deploy(notebook, session=s, **{**body.options(), "name": name})
    return deployment_view(name, s)


@router.post("/deployments/{name}/pause", response_model=_View,
             dependencies=[Depends(require("editor"))])
def pause(request: Request, name: str) -> DeploymentView:
    """Stop scheduling ``name`` (triggers still run it)."""
    set_paused(name, True, session=request.app.state.session)
    return deployment_view(name, request.app.state.session)


@router.post("/deployments/{name}/resume", response_model=_View,
             dependencies=[Depends(require("editor"))])
def resume(request: Request, name: str) -> DeploymentView:
    """Schedule ``name`` again."""
    set_paused(name, False, session=request.app.state.session)
    return deployment_view(name, request.app.state.session)


@router.delete("/deployments/{name}", status_code=204, response_class=Response,
               dependencies=[Depends(require("editor"))])
def delete(request: Request, name: str) -> Response:
    """Delete deployment ``name`` (its runs stay in the history)."""
    delete_deployment(name, session=request.app.state.session)
    return Response(status_code=204)


@router.post("/deployments/{name}/trigger", response_model=Triggered,
             dependencies=[Depends(require("operator"))])
def trigger_run(request: Request, name: str, body: TriggerIn | None = None) -> Triggered:
    """Run ``name`` now in a background process with typed parameter overrides; its run id."""
    run_id = trigger(name, body.parameters if body else None, wait=False,
                     session=request.app.state.session)
    return Triggered(run_id=str(run_id))
