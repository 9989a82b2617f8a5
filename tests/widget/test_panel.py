"""LineagePanel against a real session: layout, live states, clicks as custom messages, cancel."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from nbflow.core.specs import asset
from nbflow.widget import layout as layout_module
from nbflow.widget import panel as panel_module
from nbflow.widget.panel import LineagePanel, json_safe, summarize


def click(p: LineagePanel, **content: Any) -> None:
    """Deliver a message the way the page sends it: an ipywidgets ``custom`` comm message."""
    p._handle_msg({"content": {"data": {"method": "custom", "content": content}}, "buffers": []})


def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


def test_panel_draws_every_asset_with_its_status(chain: Any) -> None:
    chain.materialize("raw")
    ns: dict[str, Any] = {}
    p = LineagePanel(chain, namespace=ns)
    try:
        for name in ("raw", "clean", "total"):
            assert f'id="nbflow-node-{name}"' in p.svg
        assert p.states == {"raw": "fresh", "clean": "missing", "total": "missing"}
        assert p.engine in ("dot", "layered")
    finally:
        p.close()


@pytest.mark.parametrize("scope,expected_run", [
    ("this", {"raw", "clean"}),                  # missing upstream comes along
    ("upstream", {"raw", "clean"}),
    ("downstream", {"raw", "clean", "total"}),
])
def test_click_materialises_in_a_worker_thread(chain: Any, scope: str, expected_run: set[str]) -> None:
    ns: dict[str, Any] = {}
    p = LineagePanel(chain, namespace=ns)
    target = "raw" if scope == "downstream" else "clean"
    try:
        click(p, action="materialize", name=target, scope=scope)
        assert p.wait(20)
        assert set(p.last_result.states) == expected_run
        assert all(p.states[n] == "succeeded" for n in expected_run)
        assert ns["clean"] == [3, 4]
        assert p.message.startswith(f"Run {p.last_result.run_id}")
        assert not p.running
    finally:
        p.close()


def test_materialise_stale_rebuilds_only_what_is_not_fresh(chain: Any) -> None:
    chain.materialize("*")
    p = LineagePanel(chain, namespace={})
    try:
        assert set(p.states.values()) == {"fresh"}

        @asset(registry=chain.registry, name="raw")
        def raw2() -> list[int]:
            return [5, 6]

        p.refresh()
        assert p.states == {"raw": "stale", "clean": "stale", "total": "stale"}
        click(p, action="materialize_stale")
        assert p.wait(20)
        assert {n: s.value for n, s in p.last_result.states.items()} == {
            "raw": "SUCCEEDED", "clean": "SUCCEEDED", "total": "SUCCEEDED"}
        assert chain.load("total") == 11
    finally:
        p.close()


def test_events_from_runs_started_elsewhere_update_the_panel_throttled(chain: Any) -> None:
    p = LineagePanel(chain, namespace={})
    pushes: list[dict[str, str]] = []
    p.observe(lambda change: pushes.append(dict(change["new"])), names="states")
    try:
        chain.materialize("*")
        wait_for(lambda: p.states.get("total") == "succeeded")
        assert p.stamp > 0
        # 3 steps emit ~10 events; the throttle folds them into fewer pushes
        assert 1 <= len(pushes) <= 8
        wait_for(lambda: not p.running, 5)
    finally:
        p.close()


def test_cancel_stops_after_the_current_step(chain: Any) -> None:
    gate, started = threading.Event(), threading.Event()

    @asset(registry=chain.registry, name="raw")
    def slow_raw() -> list[int]:
        started.set()
        gate.wait(10)
        return [1]

    p = LineagePanel(chain, namespace={})
    try:
        click(p, action="materialize", name="raw", scope="downstream")
        assert started.wait(10)
        wait_for(lambda: p.states.get("raw") == "running")
        assert p.running
        click(p, action="cancel")
        gate.set()
        assert p.wait(20)
        states = {n: s.value for n, s in p.last_result.states.items()}
        assert states == {"raw": "SUCCEEDED", "clean": "CANCELLED", "total": "CANCELLED"}
        assert p.states == {"raw": "succeeded", "clean": "missing", "total": "missing"}
    finally:
        p.close()


def test_details_pane_shows_the_last_materialisation(chain: Any) -> None:
    result = chain.materialize("raw")
    p = LineagePanel(chain, namespace={})
    try:
        click(p, action="select", name="raw")
        d = p.details
        assert d["name"] == "raw" and d["label"] == "fresh" and d["downstream"] == ["clean"]
        last = d["last"]
        assert last["run_id"] == result.run_id
        assert last["code_version"] and last["data_version"]
        assert last["metadata"]["length"] == 3
        assert last["time"] and last["duration"] >= 0
    finally:
        p.close()


def test_details_pane_shows_the_error_with_traceback(chain: Any) -> None:
    @asset(registry=chain.registry)
    def broken(raw: list[int]) -> int:
        return raw[10]

    p = LineagePanel(chain, namespace={})
    try:
        click(p, action="materialize", name="broken", scope="upstream")
        assert p.wait(20)
        assert p.states["broken"] == "failed"
        click(p, action="select", name="broken")
        assert "IndexError" in p.details["error"]
        assert "raw[10]" in p.details["error"]
    finally:
        p.close()


def test_bad_message_is_shown_not_raised(chain: Any) -> None:
    p = LineagePanel(chain, namespace={})
    try:
        click(p, action="materialize", name="nope", scope="this")
        assert "nope" in p.message
        click(p, action="materialize", name="raw", scope="sideways")
        assert "scope" in p.message
    finally:
        p.close()


def test_new_assets_appear_on_refresh_and_the_install_hint_is_said_once(
        chain: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("nbflow.widget.layout.find_dot", lambda: None)
    monkeypatch.setattr(panel_module, "_told_install", False)
    first = LineagePanel(chain, namespace={})
    second = LineagePanel(chain, namespace={})
    try:
        assert "conda install -c conda-forge graphviz" in first.notice
        assert first.engine == "layered" and second.notice == ""

        @asset(registry=chain.registry)
        def extra(total: int) -> int:
            return total + 1

        panel_module.refresh_panels()
        assert 'id="nbflow-node-extra"' in first.svg and first.states["extra"] == "missing"
    finally:
        first.close()
        second.close()


def test_summary_and_json_safety() -> None:
    assert summarize(None) == ""
    assert json_safe({"a": float("nan"), "b": (1, {2}), "c": object}) == {
        "a": "nan", "b": [1, [2]], "c": str(object)}


def test_failed_blocking_check_shows_check_failed(chain: Any) -> None:
    from nbflow.core.specs import check

    @asset(registry=chain.registry, checks=[check(lambda v: v > 100, name="big_enough")])
    def checked(total: int) -> int:
        return total

    p = LineagePanel(chain, namespace={})
    try:
        click(p, action="materialize", name="checked", scope="upstream")
        assert p.wait(20)
        assert p.states["checked"] == "check failed"
        assert p.states["total"] == "succeeded"
        click(p, action="select", name="checked")
        assert "big_enough" in p.details["error"]
    finally:
        p.close()


def test_runs_started_elsewhere_are_announced_and_settled(chain: Any) -> None:
    p = LineagePanel(chain, namespace={})
    try:
        result = chain.materialize("raw")
        wait_for(lambda: p.message == f"Run {result.run_id}: SUCCEEDED.")
        wait_for(lambda: p.states["clean"] == "missing" and p.states["raw"] == "succeeded")
        assert not p.running
    finally:
        p.close()


def test_materialise_this_rebuilds_an_upstream_that_only_failed(chain: Any) -> None:
    attempts: list[int] = []

    @asset(registry=chain.registry, name="raw")
    def flaky_raw() -> list[int]:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("first try fails")
        return [2]

    chain.materialize("raw")                       # failed, and no value ever stored
    p = LineagePanel(chain, namespace={})
    try:
        assert p.states["raw"] == "failed"
        click(p, action="materialize", name="clean", scope="this")
        assert p.wait(20)
        assert set(p.last_result.states) == {"raw", "clean"}
        assert p.states["raw"] == "succeeded" and p.states["clean"] == "succeeded"
    finally:
        p.close()


def test_a_saved_panel_carries_a_static_svg_of_the_graph(session: Any) -> None:
    """GitHub, nbviewer and papermill outputs cannot run the widget: they show the SVG."""
    import nbflow as nf
    from nbflow.widget.panel import LineagePanel

    @nf.asset(registry=session.registry)
    def source() -> int:
        return 1

    @nf.asset(registry=session.registry)
    def report(source: int) -> int:
        return source + 1

    session.materialize("source")
    p = LineagePanel(session, layout_engine="layered")
    try:
        bundle = p._repr_mimebundle_()
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        assert "application/vnd.jupyter.widget-view+json" in data
        svg = data["image/svg+xml"]
        assert svg.startswith("<svg") and ">source<" in svg and ">report<" in svg
        assert data["text/plain"] == "nbflow lineage panel: 2 assets (1 fresh, 1 missing)"
    finally:
        p.close()


@pytest.mark.parametrize("scope,force,expected", [
    ("this", False, {"clean": "CACHED"}),
    ("this", True, {"clean": "SUCCEEDED"}),
    ("upstream", False, {"raw": "CACHED", "clean": "CACHED"}),
    ("upstream", True, {"raw": "SUCCEEDED", "clean": "SUCCEEDED"}),
    ("downstream", False, {"clean": "CACHED", "total": "CACHED"}),
    ("downstream", True, {"clean": "SUCCEEDED", "total": "SUCCEEDED"}),
])
def test_every_menu_scope_has_a_force_choice(chain: Any, scope: str, force: bool,
                                             expected: dict[str, str]) -> None:
    chain.materialize("*")
    p = LineagePanel(chain, namespace={})
    try:
        click(p, action="materialize", name="clean", scope=scope, force=force)
        assert p.wait(20)
        got = {n: s.value for n, s in p.last_result.states.items()}
        assert {n: got.get(n) for n in expected} == expected
        assert all(v == "CACHED" for v in got.values()) == (not force)
    finally:
        p.close()


def test_no_install_hint_for_an_empty_graph_and_it_clears_once_dot_is_there(
        session: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("nbflow.widget.layout.find_dot", lambda: None)
    monkeypatch.setattr(panel_module, "_told_install", False)
    p = LineagePanel(session, namespace={})
    try:
        assert p.notice == "" and p.engine == ""

        @asset(registry=session.registry)
        def first() -> int:
            return 1

        p.refresh()
        assert "apt install graphviz" in p.notice
        monkeypatch.setattr("nbflow.widget.layout.find_dot", lambda: "/usr/bin/dot")

        @asset(registry=session.registry)
        def second(first: int) -> int:
            return first + 1

        monkeypatch.setattr("nbflow.widget.layout._dot_layout",
                            lambda exe, nodes, edges, groups=None: layout_module._layered_layout(nodes, edges))
        p.refresh()
        assert p.notice == ""
    finally:
        p.close()


def test_details_carry_epoch_time_history_and_a_value_preview(chain: Any) -> None:
    pd = pytest.importorskip("pandas")

    @asset(registry=chain.registry)
    def frame() -> Any:
        return pd.DataFrame({"id": list(range(8)), "name": [f"n{i}" for i in range(8)]})

    first = chain.materialize("raw, frame")
    again = chain.materialize("raw", force=True)
    p = LineagePanel(chain, namespace={})
    try:
        click(p, action="select", name="raw")
        d = p.details
        assert [h["run_id"] for h in d["history"]] == [again.run_id, first.run_id]
        assert d["history"][0]["ts"] >= d["history"][1]["ts"]
        assert d["history"][0]["ts"] == pytest.approx(d["last"]["ts"])
        assert d["preview"] == {"kind": "repr", "type": "list", "text": "[3, -1, 4]"}
        click(p, action="select", name="frame")
        preview = p.details["preview"]
        assert preview["kind"] == "table" and preview["shape"] == [8, 2]
        assert preview["columns"] == ["id", "name"] and len(preview["rows"]) == 5
        assert preview["rows"][0] == [0, "n0"]
        assert p.details["history"][0]["rows"] == 8
        click(p, action="select", name="total")
        assert p.details["preview"] is None and p.details["history"] == []
    finally:
        p.close()
