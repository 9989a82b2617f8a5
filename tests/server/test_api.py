"""The API through its real server: assets, materialise, runs pages, deployments, errors, events,
and an audit row for every mutation, naming the token."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from nbflow.core.states import State
from tests.deployments.conftest import PARAMS, write_notebook
from tests.server.conftest import Live


def define(live: Live) -> None:
    from nbflow.core.specs import asset

    reg = live.session.registry

    @asset(registry=reg, group="sales", tags={"owner": "ann"})
    def raw() -> int:
        return 1

    @asset(registry=reg)
    def total(raw: int) -> int:
        return raw + 1


def audit_rows(live: Live) -> list[dict[str, Any]]:
    with live.client("viewer") as c:
        return list(reversed(c.get("/api/audit").json()))


def test_assets_materialise_and_history(live: Live) -> None:
    define(live)
    with live.client("operator") as c:
        assert {a["name"]: a["status"] for a in c.get("/api/assets").json()} == {
            "raw": "missing", "total": "missing"}
        assert [a["name"] for a in c.get("/api/assets", params={"group": "sales"}).json()] == ["raw"]
        assert [a["name"] for a in c.get("/api/assets", params={"tag": "owner=ann"}).json()] == ["raw"]
        first = c.post("/api/materialize", json={"selection": "total+"}).json()
        assert first["ok"] is False and first["states"] == {"total": "FAILED"}
        assert "select it too" in first["errors"]["total"]["message"]
        done = c.post("/api/materialize", json={"selection": "*"}).json()
        assert done["ok"] is True and done["states"] == {"raw": "SUCCEEDED", "total": "SUCCEEDED"}
        again = c.post("/api/materialize", json={"selection": "*"}).json()
        assert again["states"] == {"raw": "CACHED", "total": "CACHED"}
        detail = c.get("/api/assets/total").json()
        assert detail["status"] == "fresh" and detail["upstream"] == ["raw"]
        assert detail["history"][0]["run_id"] == done["run_id"]
        run = c.get(f"/api/runs/{done['run_id'][:8]}").json()
        assert run["state"] == "SUCCEEDED" and [s["name"] for s in run["steps"]] == ["raw", "total"]
        graph = c.get("/api/graph").json()
        assert graph["edges"] == [["raw", "total"]]
    rows = [r for r in audit_rows(live) if r["verb"] == "materialize"]
    assert [r["target"] for r in rows] == ["total+", "*", "*"]
    assert {r["actor"] for r in rows} == {"token:t-operator"}
    assert rows[1]["parameters"] == {"force": False, "run_id": done["run_id"]}
    assert all(r["outcome"] == "ok" for r in rows)  # a failed step is a run's outcome, not the verb's


def make_runs(live: Live, n: int) -> list[str]:
    store = live.session.store
    ids = []
    for i in range(n):
        rid = f"run-{i:03d}"
        store.create_run(rid, kind="flow" if i % 3 else "assets", name=f"r{i}",
                         state=State.SUCCEEDED if i % 2 else State.FAILED,
                         created_at=1000.0 + i // 2, ended_at=1000.0 + i // 2)
        ids.append(rid)
    return ids


def test_runs_are_paged_by_keyset_newest_first_and_filtered(live: Live) -> None:
    ids = make_runs(live, 45)  # pairs share a created_at: the run id breaks the tie
    expected = sorted(ids, key=lambda r: (1000 + int(r[4:]) // 2, r), reverse=True)
    seen: list[str] = []
    cursor = None
    with live.client("viewer") as c:
        for _ in range(10):
            page = c.get("/api/runs", params={"limit": 20, **({"before": cursor} if cursor else {})}).json()
            seen += [r["run_id"] for r in page["runs"]]
            cursor = page["next"]
            if cursor is None:
                break
        assert seen == expected
        failed = c.get("/api/runs", params={"state": "failed", "limit": 200}).json()["runs"]
        assert {r["run_id"] for r in failed} == {r for r in ids if int(r[4:]) % 2 == 0}
        flows = c.get("/api/runs", params={"kind": "flow", "limit": 200}).json()["runs"]
        assert all(r["kind"] == "flow" for r in flows) and len(flows) == 30
        window = c.get("/api/runs", params={"since": "1970-01-01T00:16:50Z",
                                            "until": "1970-01-01T00:16:52+00:00"}).json()["runs"]
        assert sorted(r["run_id"] for r in window) == ["run-020", "run-021", "run-022", "run-023"]


@pytest.mark.parametrize(("path", "params", "status", "field"), [
    ("/api/runs", {"limit": 0}, 422, "limit"),
    ("/api/runs", {"limit": "many"}, 422, "limit"),
    ("/api/runs", {"before": "not-a-cursor"}, 422, "before"),
    ("/api/runs", {"state": "sleepy"}, 422, "state"),
    ("/api/runs", {"since": "yesterday"}, 422, "since"),
    ("/api/runs", {"deployment": "a\x00b"}, 422, "deployment"),
    ("/api/runs/nope", {}, 404, "run"),
    ("/api/assets/nope", {}, 404, "asset"),
    ("/api/deployments/nope", {}, 404, "deployment"),
    ("/api/assets", {"selection": "((("}, 422, "selection"),
])
def test_bad_input_is_a_4xx_naming_the_field(live: Live, path: str, params: dict[str, Any],
                                             status: int, field: str) -> None:
    define(live)
    with live.client("viewer") as c:
        r = c.get(path, params=params)
    assert r.status_code == status, r.text
    body = r.json()
    first = body["message"].splitlines()[0]  # a selection error adds a caret diagram below
    assert body["field"] == field and first.endswith(".") and len(first) > 20
    assert "Traceback" not in r.text


def test_cancel_a_queued_run_and_409_for_one_that_ended(live: Live) -> None:
    store = live.session.store
    store.create_run("queued-1", kind="deployment", name="d", deployment="d")
    store.create_run("over-1", kind="flow", state=State.SUCCEEDED, ended_at=time.time())
    with live.client("operator") as c:
        r = c.post("/api/runs/queued-1/cancel")
        assert r.status_code == 200 and r.json()["state"] == "CANCELLED"
        r = c.post("/api/runs/over-1/cancel")
        assert r.status_code == 409 and r.json()["error"] == "ConflictError"
        assert "already ended" in r.json()["message"]
    rows = [r for r in audit_rows(live) if r["verb"] == "run.cancel"]
    assert [(r["target"], r["outcome"]) for r in rows] == [("queued-1", "ok"), ("over-1", "error")]
    assert rows[1]["error"].startswith("ConflictError: Run over-1 has already ended")


def test_every_mutation_leaves_an_audit_row(live: Live, tmp_path: Path) -> None:
    nb = write_notebook(tmp_path / "probe.ipynb", [("from datetime import date", []),
                                                   (PARAMS, ["parameters"]), ("print(n)", [])])
    with live.client("admin") as c:
        made = c.post("/api/deployments", json={"notebook": str(nb), "name": "probe",
                                                "cron": "0 6 * * *", "parameters": {"n": 2}})
        assert made.status_code == 200, made.text
        assert made.json()["parameters"]["n"] == 2 and made.json()["schedule"]
        bad = c.post("/api/deployments", json={"notebook": str(nb), "manual": True,
                                               "parameters": {"n": "x"}})
        assert bad.status_code == 422 and bad.json()["field"] == "n"
        upd = c.put("/api/deployments/probe", json={"every": "15m"})
        assert upd.status_code == 200 and "15" in upd.json()["schedule"]
        assert c.post("/api/deployments/probe/pause").json()["paused"] is True
        assert c.post("/api/deployments/probe/resume").json()["paused"] is False
        wrong = c.post("/api/deployments/probe/trigger", json={"parameters": {"n": "many"}})
        assert wrong.status_code == 422, wrong.text
        assert c.put("/api/limits/db", json={"slots": 2}).json() == [
            {"tag": "db", "limit": 2, "in_use": 0}]
        assert c.post("/api/limits/db/reset").json() == {"count": 0}
        assert c.delete("/api/caches").json() == {"count": 0}
        made_token = c.post("/api/tokens", json={"name": "ci", "role": "operator"})
        assert made_token.status_code == 201 and made_token.json()["token"].startswith("nbf_")
        assert [t["name"] for t in c.get("/api/tokens").json()] == [
            "ci", "t-admin", "t-editor", "t-operator", "t-viewer"]
        assert c.delete("/api/tokens/ci").status_code == 204
        assert c.delete("/api/deployments/probe").status_code == 204
        assert c.get("/api/deployments").json() == []
    rows = audit_rows(live)
    got = [(r["verb"], r["target"], r["outcome"]) for r in rows if r["actor"] == "token:t-admin"]
    assert got == [
        ("deploy", str(nb), "ok"), ("deploy", str(nb), "error"), ("deploy", str(nb), "ok"),
        ("deployment.set_paused", "probe", "ok"), ("deployment.set_paused", "probe", "ok"),
        ("trigger", "probe", "error"), ("limit", "db", "ok"), ("limit.reset", "db", "ok"),
        ("cache.clear", None, "ok"), ("token.create", "ci", "ok"), ("token.revoke", "ci", "ok"),
        ("deployment.delete", "probe", "ok")]
    first = next(r for r in rows if r["verb"] == "deploy")
    assert first["parameters"]["name"] == "probe" and first["parameters"]["parameters"] == {"n": 2}
    trig = next(r for r in rows if r["verb"] == "trigger")
    assert trig["parameters"]["parameters"] == {"n": "many"} and "ParameterError" in trig["error"]
    assert all("nbf_" not in str(r) for r in rows)  # no token ever lands in the log


def test_the_event_stream_sends_the_stores_events(live: Live) -> None:
    define(live)
    live.session.materialize("*")
    with live.client("viewer") as c:
        r = c.get("/api/events", params={"follow": "false"})
        assert r.headers["content-type"].startswith("text/event-stream")
        ids = [int(line[4:]) for line in r.text.splitlines() if line.startswith("id: ")]
        kinds = [line[7:] for line in r.text.splitlines() if line.startswith("event: ")]
        assert ids == sorted(ids) and len(ids) >= 4
        assert kinds[0] == "RUN_STARTED" and kinds[-1] == "RUN_FINISHED"
        later = c.get("/api/events", params={"follow": "false", "after": ids[1]}).text
        assert [int(x[4:]) for x in later.splitlines() if x.startswith("id: ")] == ids[2:]
        resumed = c.get("/api/events", params={"follow": "false"},
                        headers={"Last-Event-ID": str(ids[-2])}).text
        assert [int(x[4:]) for x in resumed.splitlines() if x.startswith("id: ")] == ids[-1:]
