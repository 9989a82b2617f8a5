"""Read models: graph, asset, run, cache and limit views are plain JSON and say what the store says."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from nbflow.core.specs import asset
from nbflow.errors import NotFoundError
from nbflow.session.views import (
    asset_view,
    caches_view,
    graph_view,
    limits_view,
    recorded_assets,
    run_view,
    runs_view,
)


@pytest.fixture
def chain(session: Any) -> Any:
    r = session.registry

    @asset(registry=r, group="sales", tags={"owner": "ann"})
    def raw() -> list[int]:
        return [1, 2, 3]

    @asset(registry=r)
    def doubled(raw: list[int]) -> list[int]:
        return [x * 2 for x in raw]

    @asset(registry=r)
    def broken(doubled: list[int]) -> int:
        raise ValueError("bad row 7")

    return session


def _json(view: Any) -> Any:
    """Round-trips through JSON unchanged (the views are JSON-ready)."""
    assert json.loads(json.dumps(view)) == view
    return view


def test_graph_view(chain: Any) -> None:
    chain.materialize("raw")
    view = _json(graph_view(chain))
    nodes = {n["name"]: n for n in view["nodes"]}
    assert list(nodes) == ["raw", "doubled", "broken"]
    assert nodes["raw"]["group"] == "sales" and nodes["raw"]["tags"] == {"owner": "ann"}
    assert nodes["raw"]["status"] == "fresh" and nodes["doubled"]["status"] == "missing"
    assert view["edges"] == [["raw", "doubled"], ["doubled", "broken"]]
    assert [n["name"] for n in graph_view(chain, "doubled")["nodes"]] == ["doubled"]
    assert graph_view(chain, "doubled")["edges"] == []


def test_asset_view_with_history(chain: Any) -> None:
    chain.materialize("raw")
    chain.materialize("raw", force=True)
    view = _json(asset_view(chain, "raw"))
    assert view["status"] == "fresh" and view["downstream"] == ["doubled"]
    assert len(view["history"]) == 2
    assert view["last"] is not None and view["last"]["run_id"] == view["history"][0]["run_id"]
    assert datetime.fromisoformat(view["last"]["time"] or "").tzinfo is not None
    with pytest.raises(NotFoundError, match="Did you mean 'raw'"):
        asset_view(chain, "rwa")


def test_run_view_steps_and_runs_view(chain: Any) -> None:
    result = chain.materialize("*")
    view = _json(run_view(chain, result.run_id[:8]))
    assert view["run_id"] == result.run_id and view["state"] == "FAILED"
    steps = {s["name"]: s for s in view["steps"]}
    assert steps["broken"]["state"] == "FAILED" and "bad row 7" in (steps["broken"]["error"] or "")
    assert steps["doubled"]["upstream"] == ["raw"] and steps["raw"]["attempts"] == 1
    assert view["children"] == [] and view["logs"] == []
    listed = _json(runs_view(chain, state="FAILED"))
    assert [r["run_id"] for r in listed] == [result.run_id]
    with pytest.raises(NotFoundError) as info:
        run_view(chain, "nope")
    assert info.value.kind == "run"


def test_run_view_logs_and_children(session: Any) -> None:
    from nbflow.core.events import Event, EventKind, RunStarted
    from nbflow.core.states import State
    from nbflow.engine.context import get_logger
    from nbflow.session.flows import flow
    from nbflow.session.tasks import task

    @task
    def step(x: int) -> int:
        get_logger().info("handling %s", x)
        return x

    @flow
    def graph() -> int:
        return step(1)

    state = graph(return_state=True)
    logs = run_view(session, state.run_id)["logs"]
    assert [(entry["step"], entry["message"]) for entry in logs] == [("step", "handling 1")]
    session.emit(Event(EventKind.RUN_STARTED, "parent-run-1", data=RunStarted(kind="deployment", name="d")))
    session.emit(Event(EventKind.RUN_STARTED, "child-run-1", data=RunStarted(kind="assets", name="x",
                                                                   parent_run_id="parent-run-1")))
    session.emit(Event(EventKind.RUN_FINISHED, "child-run-1", state=State.SUCCEEDED))
    session.emit(Event(EventKind.RUN_FINISHED, "parent-run-1", state=State.SUCCEEDED))
    children = _json(run_view(session, "parent-run-1"))["children"]
    assert [(c["run_id"], c["state"]) for c in children] == [("child-run-1", "SUCCEEDED")]


def test_recorded_assets_need_no_definitions(chain: Any) -> None:
    chain.materialize("raw")
    rows = _json(recorded_assets(chain))
    assert [r["asset"] for r in rows] == ["raw"] and rows[0]["deployment_run_id"] is None


def test_caches_and_limits_views(session: Any) -> None:
    from nbflow.session.tasks import limit, task

    @task(cache="inputs")
    def fetch(x: int) -> int:
        return x

    assert caches_view(session) == [] and limits_view(session) == []
    fetch(1), fetch(2)
    caches = _json(caches_view(session))
    assert [(c["task"], c["entries"]) for c in caches] == [("fetch", 2)] and caches[0]["newest"]
    limit("db", 2)
    assert limits_view(session) == [{"tag": "db", "limit": 2, "in_use": 0}]


def test_deployment_views(session: Any, tmp_path: Any) -> None:
    from nbflow.deployments.service import deploy
    from nbflow.deployments.views import deployment_view, deployments_view

    nb = tmp_path / "report.ipynb"
    nb.write_text(json.dumps({"cells": [{"cell_type": "code", "metadata": {"tags": ["parameters"]},
                                         "source": "import datetime\nday = datetime.date(2026, 1, 2)\n",
                                         "outputs": [], "execution_count": None}],
                              "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    deploy(nb, name="daily", cron="0 6 * * *", tz="Europe/Paris",
           parameters={"day": __import__("datetime").date(2026, 1, 3)})
    listed = _json(deployments_view(session))
    assert [(d["name"], d["schedule"], d["tz"], d["last_run"]) for d in listed] == [
        ("daily", "daily at 06:00 (Europe/Paris)", "Europe/Paris", None)]
    nxt = datetime.fromisoformat(listed[0]["next_run"] or "")
    assert (nxt.hour, nxt.minute) == (6, 0)  # in the deployment's own zone
    detail = _json(deployment_view("daily", session))
    assert detail["runs"] == [] and detail["ticks"] == [] and detail["catchup"] == "latest"
    from nbflow.core.codec import loads

    assert loads(json.dumps(detail["parameters"])) == {"day": __import__("datetime").date(2026, 1, 3)}
    with pytest.raises(NotFoundError, match="Did you mean 'daily'"):
        deployment_view("dialy", session)
