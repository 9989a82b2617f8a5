"""The lineage panel in a real JupyterLab with Debian's Chromium (Playwright, no browser download).

Opens the ETL example, runs all cells, clicks a node and materialises it, watches it turn
succeeded; edits an upstream cell, re-runs it, watches downstream turn stale. A second notebook
checks the panel's features (legend, groups, pan/zoom, lineage highlight, search, keyboard menu,
force entries, the failure section) in the light and dark themes; a third runs in Notebook 7. Keeps screenshots
in test-artifacts/ and the measured timings in test-artifacts/panel-browser-timings.json.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.lab import (
    CHROMIUM,
    CHROMIUM_ARGS,
    LabServer,
    chromium_available,
    open_notebook,
    run_all,
)
from tests.conftest import dot_available, require

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(240)]


def node(page, name: str):
    return page.locator(f".nbflow-panel g#nbflow-node-{name}")


@contextlib.contextmanager
def lab_notebook(tmp_path: Path, cells: list[str], name: str, failure_png: str) -> Iterator[Any]:
    """JupyterLab with ``cells`` as notebook ``name`` open in Chromium: yields (page, the
    notebook's folder); a failure leaves ``failure_png`` in test-artifacts/, and page errors
    fail the test."""
    require("Chromium", chromium_available(), f"install Debian's chromium ({CHROMIUM} is missing)")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=60_000)
    ARTIFACTS.mkdir(exist_ok=True)
    root = tmp_path / "nbroot"
    root.mkdir()
    notebook = write_notebook(root, cells, name)
    server = LabServer(tmp_path, root).start()
    errors: list[str] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = None
            try:
                page = open_notebook(browser, server, notebook, errors)
                yield page, root
            except Exception:
                if page is not None:
                    page.screenshot(path=str(ARTIFACTS / failure_png))
                raise
            finally:
                browser.close()
    finally:
        server.stop()
    assert not errors, f"page errors: {errors}"


def test_panel_click_materialises_and_edits_turn_downstream_stale(tmp_path: Path) -> None:
    require("Chromium", chromium_available(), f"install Debian's chromium ({CHROMIUM} is missing)")
    require("Graphviz dot", dot_available(), "apt install graphviz")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=60_000)
    ARTIFACTS.mkdir(exist_ok=True)
    root = tmp_path / "nbroot"
    shutil.copytree(REPO / "notebooks", root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    server = LabServer(tmp_path, root).start()
    timings: dict[str, float] = {}
    errors: list[str] = []
    t0 = time.monotonic()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = None
            try:
                page = open_notebook(browser, server, "etl.ipynb", errors)
                timings["lab_ready_s"] = time.monotonic() - t0
                run_all(page)
                panel = page.locator(".nbflow-panel")
                expect(panel).to_be_visible()
                target = node(page, "daily_revenue")
                expect(target).to_have_class("nbflow-node state-fresh")
                expect(target.locator("text.nbflow-state")).to_have_text("fresh")
                assert panel.locator(".nbflow-canvas > svg").get_attribute("data-engine") == "dot"
                timings["panel_first_paint_ms"] = float(panel.get_attribute("data-paint-ms"))
                timings["run_all_to_panel_s"] = time.monotonic() - t0

                # click -> menu -> "Materialise this" -> running -> succeeded, without a cell run
                target.click()
                page.locator(".nbflow-menu button[data-scope=this][data-force=true]").click()
                expect(target).to_have_class("nbflow-node state-succeeded selected")
                expect(target.locator("text.nbflow-state")).to_have_text("succeeded")
                expect(page.locator(".nbflow-details h4")).to_have_text("daily_revenue")
                expect(page.locator(".nbflow-details")).to_contain_text("rows")
                expect(page.locator(".nbflow-message")).to_contain_text("1 succeeded")
                timings["click_lag_ms"] = float(panel.get_attribute("data-lag-ms"))
                timings["max_state_lag_ms"] = float(panel.get_attribute("data-max-lag-ms"))
                page.screenshot(path=str(ARTIFACTS / "panel-after-click.png"))

                # edit the upstream cell (amount > 0 -> amount > 100) and re-run it
                cell = page.locator(".jp-Notebook .jp-Cell").nth(3)
                expect(cell).to_contain_text("%%asset clean_orders")
                cell.locator(".jp-InputArea-editor").click()
                page.keyboard.press("Control+Home")
                page.keyboard.press("ArrowDown")
                page.keyboard.press("End")
                for _ in range(len("].copy()")):
                    page.keyboard.press("ArrowLeft")
                page.keyboard.press("Backspace")
                page.keyboard.type("100")
                expect(cell).to_contain_text("raw_orders.amount > 100")
                page.keyboard.press("Control+Enter")             # run in place
                expect(node(page, "clean_orders")).to_have_class("nbflow-node state-succeeded")
                for name in ("daily_revenue", "top_customers"):
                    expect(node(page, name).locator("text.nbflow-state")).to_have_text("stale")
                expect(node(page, "raw_orders").locator("text.nbflow-state")).to_have_text("fresh")
                timings["max_state_lag_ms"] = float(panel.get_attribute("data-max-lag-ms"))

                # the details pane says why daily_revenue is stale
                target.click()
                page.locator(".nbflow-menu-close").click()
                expect(page.locator(".nbflow-details")).to_contain_text("upstream 'clean_orders' changed")
                panel.scroll_into_view_if_needed()
                page.screenshot(path=str(ARTIFACTS / "panel-browser.png"))
                timings["total_s"] = time.monotonic() - t0
            except Exception:
                if page is not None:
                    page.screenshot(path=str(ARTIFACTS / "panel-browser-failure.png"))
                raise
            finally:
                browser.close()
    finally:
        server.stop()
    (ARTIFACTS / "panel-browser-timings.json").write_text(json.dumps(timings, indent=2))
    print({k: round(v, 1) for k, v in timings.items()})
    assert not errors, f"page errors: {errors}"


FEATURES_NB = [
    textwrap.dedent("""\
        import pathlib
        import pandas as pd
        import nbflow as nf

        @nf.asset(group='ingest')
        def raw_orders():
            return pd.DataFrame({'id': [1, 2, 3], 'amount': [5.0, -1.0, 7.5]})

        @nf.asset(group='ingest')
        def clean_orders(raw_orders):
            return raw_orders[raw_orders.amount > 0]

        @nf.asset(group='report')
        def revenue(clean_orders):
            return float(clean_orders.amount.sum())

        @nf.asset(group='report')
        def top_order(clean_orders):
            return clean_orders.nlargest(1, 'amount')

        def check_flag():
            if not pathlib.Path('ok.flag').exists():
                raise ValueError('flaky needs ok.flag')

        @nf.asset
        def flaky(revenue):
            check_flag()
            return revenue * 2

        nf.materialize('raw_orders, clean_orders, revenue, top_order')"""),
    "p = nf.panel()\np",
]


def write_notebook(root: Path, cells: list[str], name: str = "features.ipynb") -> str:
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(cells=[new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, root / name)
    return name


def luminance(css: str) -> float:
    """Relative luminance (0 black .. 1 white) of an ``rgb(...)``/``rgba(...)`` colour."""
    r, g, b = (float(v) / 255 for v in re.findall(r"[\d.]+", css)[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def style(locator, prop: str) -> str:
    return locator.evaluate(f"(e) => getComputedStyle(e).{prop}")


CANVAS = "document.querySelector('.nbflow-panel .nbflow-canvas')"


def transform(page) -> str:
    """The view: the CSS transform on the SVG's wrapper (pan and zoom never touch the SVG)."""
    return page.evaluate(f"() => {CANVAS}.style.transform")


def wait_transform_change(page, before: str) -> str:
    page.wait_for_function(f"(b) => {CANVAS}.style.transform !== b", arg=before)
    return transform(page)


def set_theme(page, theme: str) -> None:
    def item(label: str):
        return page.locator(".lm-Menu-content > .lm-Menu-item").filter(
            has=page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(label)}$")))

    page.get_by_role("menuitem", name="Settings", exact=True).click()
    item("Theme").hover()
    item(theme).click()
    light = "false" if "Dark" in theme else "true"
    page.wait_for_function(f"() => document.body.dataset.jpThemeLight === '{light}'")
    page.wait_for_timeout(300)   # the theme's stylesheet applies after the attribute


def test_panel_features_in_light_and_dark(tmp_path: Path) -> None:
    require("Graphviz dot", dot_available(), "apt install graphviz")
    from playwright.sync_api import expect

    with lab_notebook(tmp_path, FEATURES_NB, "features.ipynb", "panel-features-failure.png") as (page, root):
        run_all(page)
        panel = page.locator(".nbflow-panel")
        expect(panel).to_have_attribute("data-nodes", "5")
        expect(node(page, "revenue")).to_have_class("nbflow-node state-fresh")
        expect(node(page, "flaky")).to_have_class("nbflow-node state-missing")
        expect(panel.locator(".nbflow-notice")).to_be_hidden()

        # legend, groups as clusters
        legend = panel.locator(".nbflow-legend")
        for label in ("fresh", "succeeded", "stale", "missing", "failed"):
            expect(legend.locator(f"[data-state='{label}']")).to_be_visible()
        expect(legend).to_contain_text("built in this run")
        clusters = panel.locator("g.nbflow-cluster")
        expect(clusters).to_have_count(2)
        expect(panel.locator("g.nbflow-cluster[data-group=ingest] text")).to_have_text("ingest")

        # the view: fitted on both axes, wheel zooms, drag pans, buttons zoom and fit
        graph = panel.locator(".nbflow-graph")
        panel.evaluate("(e) => e.scrollIntoView({block: 'start'})")   # clear of the status bar
        box = graph.bounding_box()
        fitted = transform(page)
        assert "scale(" in fitted
        page.mouse.move(box["x"] + 20, box["y"] + 20)
        page.mouse.wheel(0, -300)
        zoomed = wait_transform_change(page, fitted)
        assert float(panel.get_attribute("data-zoom")) > 0
        page.mouse.move(box["x"] + 10, box["y"] + box["height"] - 10)
        page.mouse.down()
        page.mouse.move(box["x"] + 80, box["y"] + box["height"] - 40, steps=5)
        page.mouse.up()
        panned = wait_transform_change(page, zoomed)
        assert re.search(r"scale\(([\d.]+)\)", panned)[1] == re.search(r"scale\(([\d.]+)\)", zoomed)[1]
        k = float(panel.get_attribute("data-zoom"))
        panel.locator(".nbflow-zoom-in").click()
        expect(panel).not_to_have_attribute("data-zoom", f"{k:.3f}")
        assert float(panel.get_attribute("data-zoom")) == pytest.approx(k * 1.25, rel=0.01)
        panel.locator(".nbflow-zoom-fit").click()
        page.wait_for_function(f"(f) => {CANVAS}.style.transform === f", arg=fitted)
        for n in ("raw_orders", "flaky"):
            nb, gb = node(page, n).bounding_box(), graph.bounding_box()
            assert gb["x"] <= nb["x"] and nb["x"] + nb["width"] <= gb["x"] + gb["width"]
            assert gb["y"] <= nb["y"] and nb["y"] + nb["height"] <= gb["y"] + gb["height"]

        # selection: lineage lit, the rest dimmed; details in local time, with history
        node(page, "clean_orders").click()
        page.keyboard.press("Escape")
        expect(page.locator(".nbflow-menu")).to_be_hidden()
        expect(panel.locator("svg.nbflow-svg.nbflow-focus")).to_be_attached()
        lit = {n: node(page, n).get_attribute("data-lit")
               for n in ("raw_orders", "clean_orders", "revenue", "top_order", "flaky")}
        assert lit == {"raw_orders": "upstream", "clean_orders": "self", "revenue": "downstream",
                       "top_order": "downstream", "flaky": "downstream"}
        node(page, "top_order").click()
        page.keyboard.press("Escape")
        expect(node(page, "revenue")).not_to_have_attribute("data-lit", re.compile("."))
        assert float(style(node(page, "revenue"), "opacity")) < 0.5
        assert float(style(node(page, "top_order"), "opacity")) == 1
        details = panel.locator(".nbflow-details")
        expect(details.locator("h4")).to_have_text("top_order")
        when = details.locator("tr[data-key='last materialised'] td")
        expect(when).to_have_text(re.compile(r"^today \d\d:\d\d:\d\d$"))
        expect(details.locator("tr[data-key=state]")).to_have_count(1)
        expect(details.locator(".nbflow-history tbody tr")).to_have_count(1)
        expect(details.locator(".nbflow-preview th").first).to_contain_text("id")
        expect(details.locator(".nbflow-preview")).to_contain_text("7.5")

        # search: filter, then Enter centres and selects the first match
        search = panel.locator(".nbflow-search")
        search.fill("orders")
        expect(panel.locator("g.nbflow-node[data-match]")).to_have_count(2)
        expect(panel.locator(".nbflow-found")).to_have_text("2 of 5")
        assert float(style(node(page, "revenue"), "opacity")) < 0.5
        before = transform(page)
        search.press("Enter")
        wait_transform_change(page, before)
        expect(panel.locator("g.nbflow-node.selected")).to_have_count(1)
        first = panel.locator("g.nbflow-node.selected").get_attribute("data-name")
        assert "orders" in first
        nb, gb = node(page, first).bounding_box(), graph.bounding_box()
        assert abs((nb["x"] + nb["width"] / 2) - (gb["x"] + gb["width"] / 2)) < 4
        search.fill("")
        expect(panel.locator("g.nbflow-node[data-match]")).to_have_count(0)
        panel.locator(".nbflow-zoom-fit").click()

        # keyboard: Tab between nodes, Enter opens the menu, arrows move, Escape closes
        node(page, "raw_orders").focus()
        page.keyboard.press("Tab")
        focused = page.evaluate("() => document.activeElement.dataset.name || ''")
        assert focused and focused != "raw_orders"
        node(page, "raw_orders").focus()
        page.keyboard.press("Enter")
        menu = page.locator(".nbflow-menu")
        expect(menu).to_be_visible()
        expect(menu.locator(".nbflow-menu-title")).to_have_text("raw_orders")
        active = "() => [document.activeElement.dataset.scope, document.activeElement.dataset.force]"
        assert page.evaluate(active) == ["this", "false"]
        page.keyboard.press("ArrowDown")
        assert page.evaluate(active) == ["this", "true"]
        page.keyboard.press("ArrowDown")
        assert page.evaluate(active) == ["upstream", "false"]
        page.keyboard.press("ArrowUp")
        page.keyboard.press("ArrowUp")
        assert page.evaluate(active) == ["this", "false"]
        for scope in ("this", "upstream", "downstream"):
            expect(menu.locator(f"button[data-scope={scope}][data-force=true]")).to_have_text("force")
        page.keyboard.press("Escape")
        expect(menu).to_be_hidden()
        assert page.evaluate("() => document.activeElement.dataset.name") == "raw_orders"
        expect(page.locator(".jp-Notebook .jp-Cell .jp-InputArea-editor .cm-focused")).to_have_count(0)

        # force: the plain entry caches a fresh asset, the forced one rebuilds it
        page.keyboard.press("Enter")
        page.keyboard.press("Enter")            # "Materialise this", not forced
        expect(page.locator(".nbflow-message")).to_contain_text("1 cached")
        expect(node(page, "raw_orders")).to_have_class("nbflow-node state-fresh selected")
        fresh_fill = style(node(page, "raw_orders").locator("rect").first, "fill")
        node(page, "raw_orders").click()
        menu.locator("button[data-scope=this][data-force=true]").click()
        expect(page.locator(".nbflow-message")).to_contain_text("1 succeeded")
        expect(node(page, "raw_orders")).to_have_class("nbflow-node state-succeeded selected")
        expect(node(page, "raw_orders").locator(".nbflow-badge text")).to_have_text("✓")
        assert style(node(page, "raw_orders").locator("rect").first, "fill") != fresh_fill

        # a failure: its own section, the user's frame visible without scrolling
        stale = panel.locator(".nbflow-stale")
        expect(stale).to_be_enabled()
        node(page, "flaky").click()
        menu.locator("button[data-scope=this][data-force=false]").click()
        expect(node(page, "flaky")).to_have_class("nbflow-node state-failed selected")
        failure = details.locator(".nbflow-failure")
        expect(failure).to_contain_text("flaky needs ok.flag")
        expect(details.locator("tr[data-key='why stale']")).to_have_count(0)
        frame = failure.locator(".nbflow-frame", has_text="check_flag").first
        expect(frame).to_be_visible()
        fb, db = frame.bounding_box(), details.bounding_box()
        assert fb["y"] + fb["height"] <= db["y"] + db["height"]
        page.screenshot(path=str(ARTIFACTS / "panel-light.png"))
        panel.screenshot(path=str(ARTIFACTS / "panel-light-panel.png"))

        # "Materialise stale" runs what needs it, then is disabled
        (root / "ok.flag").write_text("ok")
        stale.click()
        expect(node(page, "flaky").locator("text.nbflow-state")).to_have_text("succeeded")
        expect(stale).to_be_disabled()

        # dark theme: a dark panel, readable buttons
        light_bg = luminance(style(panel, "backgroundColor"))
        set_theme(page, "JupyterLab Dark")
        bg = luminance(style(panel, "backgroundColor"))
        assert light_bg > 0.8 and bg < 0.2, (light_bg, bg)
        button = panel.locator(".nbflow-refresh")
        assert luminance(style(button, "color")) - luminance(style(button, "backgroundColor")) > 0.4
        assert luminance(style(legend.locator("b").first, "color")) > 0.6
        assert luminance(style(node(page, "revenue").locator("text.nbflow-name"), "fill")) > 0.6
        node(page, "flaky").click()
        page.keyboard.press("Escape")
        panel.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "panel-dark.png"))
        panel.screenshot(path=str(ARTIFACTS / "panel-dark-panel.png"))
        set_theme(page, "JupyterLab Dark High Contrast")
        panel.screenshot(path=str(ARTIFACTS / "panel-high-contrast-panel.png"))
        set_theme(page, "JupyterLab Light")


def test_panel_renders_in_notebook_7(tmp_path: Path) -> None:
    require("Chromium", chromium_available(), f"install Debian's chromium ({CHROMIUM} is missing)")
    pytest.importorskip("notebook", reason="pip install notebook (the test extra has it)")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=60_000)
    ARTIFACTS.mkdir(exist_ok=True)
    root = tmp_path / "nbroot"
    root.mkdir()
    name = write_notebook(root, FEATURES_NB, "nb7.ipynb")
    server = LabServer(tmp_path, root, app="notebook").start()
    errors: list[str] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = None
            try:
                page = open_notebook(browser, server, name, errors)
                assert "/notebooks/" in page.url
                run_all(page)
                panel = page.locator(".nbflow-panel")
                expect(panel).to_have_attribute("data-nodes", "5")
                expect(node(page, "revenue")).to_have_class("nbflow-node state-fresh")
                expect(panel.locator("g.nbflow-cluster")).to_have_count(2)
                node(page, "revenue").click()
                expect(page.locator(".nbflow-menu")).to_be_visible()
                expect(panel.locator(".nbflow-details h4")).to_have_text("revenue")
                panel.scroll_into_view_if_needed()
                page.screenshot(path=str(ARTIFACTS / "panel-notebook7.png"))
                print("Notebook 7 page errors:", errors)
            except Exception:
                if page is not None:
                    page.screenshot(path=str(ARTIFACTS / "panel-notebook7-failure.png"))
                raise
            finally:
                browser.close()
    finally:
        server.stop()
    # Notebook 7 itself may log an error of its own (a settings schema in the isolated settings
    # dir); the panel's module (an anywidget blob: URL) must log none.
    ours = [e for e in errors if "blob:" in e or "nbflow" in e or "anywidget" in e]
    assert not ours, f"page errors from the panel: {ours}"


RUNS_NB = [
    textwrap.dedent("""\
        import pathlib
        import nbflow as nf

        @nf.asset
        def raw_orders():
            return [5.0, -1.0, 7.5]

        @nf.asset
        def clean_orders(raw_orders):
            return [x for x in raw_orders if x > 0]

        nf.materialize('raw_orders, clean_orders')"""),
    "import nbflow as nf\np = nf.panel()\np",
    textwrap.dedent("""\
        tries = {'n': 0}

        @nf.task(retries=1, retry_delay=0)
        def flaky_inc(x):
            tries['n'] += 1
            if tries['n'] == 1:
                raise ValueError('first try fails')
            return x + 1

        @nf.task
        def add(a, b):
            return a + b

        @nf.flow
        def pipeline(n):
            a = flaky_inc.submit(n)
            b = flaky_inc.submit(a)
            return add(a, b)

        pipeline(1)"""),
    textwrap.dedent("""\
        import time

        @nf.task
        def wait_for_go():
            while not pathlib.Path('go.flag').exists():
                time.sleep(0.05)
            return 1

        @nf.flow
        def waiting():
            return wait_for_go()

        waiting()"""),
]


def test_panel_runs_tab_forget_and_restart_notice(tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with lab_notebook(tmp_path, RUNS_NB, "runs.ipynb", "panel-runs-failure.png") as (page, root):
        run_all(page)
        panel = page.locator(".nbflow-panel")
        expect(panel).to_have_attribute("data-nodes", "2")
        panel.evaluate("(e) => e.scrollIntoView({block: 'start'})")
        panel.locator(".nbflow-tab[data-tab=runs]").click()
        expect(panel.locator(".nbflow-runs")).to_be_visible()
        expect(panel.locator(".nbflow-graph")).to_be_hidden()

        # a flow started in a later cell appears live, running, then finishes
        rows = panel.locator("tr.nbflow-run-row")
        waiting = rows.filter(has_text="waiting")
        expect(waiting).to_have_attribute("data-state", "RUNNING")
        expect(waiting).to_have_attribute("data-kind", "flow")
        expect(waiting).to_contain_text("1 running")
        waiting.click()
        detail = panel.locator(".nbflow-run-detail")
        expect(detail.locator("tr[data-step=wait_for_go]")).to_have_attribute("data-state", "RUNNING")
        expect(detail.locator("g#nbflow-step-wait_for_go")).to_have_class("nbflow-node state-running")
        (root / "go.flag").write_text("go")
        expect(waiting).to_have_attribute("data-state", "SUCCEEDED")
        expect(detail.locator("g#nbflow-step-wait_for_go")).to_have_class("nbflow-node state-succeeded")

        # the flow with a retried task: steps, attempts, the task graph with its edges
        pipeline = rows.filter(has_text="pipeline")
        expect(pipeline).to_have_attribute("data-state", "SUCCEEDED")
        expect(rows.filter(has_text="raw_orders, clean_orders")).to_have_attribute("data-kind", "assets")
        pipeline.click()
        expect(detail.locator("h4")).to_contain_text("pipeline")
        expect(detail.locator("tr[data-step=flaky_inc] .nbflow-attempts")).to_have_text("2")
        expect(detail.locator("tr[data-step='flaky_inc-1'] .nbflow-attempts")).to_have_text("1")
        expect(detail.locator("tr[data-step=add]")).to_contain_text("← flaky_inc, flaky_inc-1")
        expect(detail.locator("tr[data-key='cache hits'] td")).to_have_text("0")
        graph = detail.locator(".nbflow-task-graph svg")
        expect(graph.locator("g.nbflow-node")).to_have_count(3)
        expect(graph.locator("path.nbflow-edge")).to_have_count(3)
        expect(graph.locator("g#nbflow-step-add")).to_have_class("nbflow-node state-succeeded")
        expect(detail.locator("h5", has_text="Logs")).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "panel-runs-light.png"))
        set_theme(page, "JupyterLab Dark")
        assert luminance(style(panel.locator(".nbflow-runs-table td").first, "color")) > 0.6
        panel.screenshot(path=str(ARTIFACTS / "panel-runs-dark-panel.png"))
        set_theme(page, "JupyterLab Light")

        # forget: the menu asks first; Cancel keeps the node, Forget removes it
        panel.locator(".nbflow-tab[data-tab=graph]").click()
        node(page, "clean_orders").click()
        menu = page.locator(".nbflow-menu")
        menu.locator(".nbflow-menu-forget").click()
        expect(menu.locator(".nbflow-menu-question")).to_contain_text("history stays in the store")
        assert page.evaluate("() => document.activeElement.textContent") == "Cancel"
        panel.screenshot(path=str(ARTIFACTS / "panel-forget-confirm.png"))
        menu.locator(".nbflow-menu-forget-no").click()
        expect(menu).to_be_hidden()
        expect(panel).to_have_attribute("data-nodes", "2")
        node(page, "clean_orders").click()
        menu.locator(".nbflow-menu-forget").click()
        menu.locator(".nbflow-menu-forget-yes").click()
        expect(panel).to_have_attribute("data-nodes", "1")
        expect(node(page, "clean_orders")).to_have_count(0)
        expect(page.locator(".nbflow-message")).to_contain_text("Forgot 'clean_orders'")

        # a kernel restart: the panel says so and re-runs its own cell on request
        expect(panel.locator(".nbflow-dead")).to_be_hidden()
        page.get_by_role("menuitem", name="Kernel", exact=True).click()
        page.get_by_role("menuitem", name=re.compile(r"^Restart Kernel…")).first.click()
        page.locator(".jp-Dialog .jp-mod-accept").click()
        dead = panel.locator(".nbflow-dead")
        expect(dead).to_be_visible()
        expect(dead).to_contain_text("kernel restarted")
        expect(panel).to_have_attribute("data-connected", "false")
        panel.evaluate("(e) => e.scrollIntoView({block: 'start'})")
        page.screenshot(path=str(ARTIFACTS / "panel-restarted.png"))
        node(page, "raw_orders").click()
        expect(page.locator(".nbflow-menu")).to_be_hidden()     # no menu that would do nothing
        expect(page.locator(".jp-StatusBar-TextItem", has_text=re.compile(r"\| Idle$"))).to_be_visible()
        dead.locator(".nbflow-rerun").click()
        fresh = page.locator(".nbflow-panel[data-connected=true]")
        expect(fresh).to_have_count(1)
        expect(page.locator(".nbflow-dead:visible")).to_have_count(0)
        expect(fresh).to_contain_text("No assets yet")       # a new kernel: nothing defined
        page.screenshot(path=str(ARTIFACTS / "panel-rerun.png"))


PARTITIONS_NB = [
    textwrap.dedent("""\
        import nbflow as nf

        DAYS = nf.DailyPartitions(start="2026-01-01", end="2026-01-31")

        @nf.asset(partitions=DAYS)
        def sales():
            day = nf.context().partition_key.day
            if day == 13:
                raise ValueError("no sales data for the 13th")
            return day

        nf.materialize("sales", partitions="2026-01-01...2026-01-05")"""),
    "p = nf.panel()\np",
]


def test_panel_partition_strip_range_and_backfill(tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with lab_notebook(tmp_path, PARTITIONS_NB, "parts.ipynb", "panel-partitions-failure.png") as (page, _root):
        run_all(page)
        panel = page.locator(".nbflow-panel")
        expect(panel).to_have_attribute("data-nodes", "1")
        strip = node(page, "sales").locator("g.nbflow-strip")
        expect(strip).to_have_attribute("data-total", "30")
        expect(strip.locator("rect.strip-fresh")).to_have_count(2)
        expect(strip.locator("rect.strip-missing")).to_have_count(13)
        node(page, "sales").click()
        page.keyboard.press("Escape")
        section = panel.locator(".nbflow-partitions")
        expect(section.locator(".nbflow-part-summary")).to_contain_text("30 partitions: 5 fresh")
        expect(section.locator("li[data-verdict=fresh]")).to_contain_text("2026-01-01...2026-01-05")
        section.locator(".nbflow-part-from").fill("2026-01-06")
        section.locator(".nbflow-part-to").fill("2026-01-10")
        section.locator(".nbflow-part-run").click()
        expect(strip.locator("rect.strip-fresh")).to_have_count(5)
        section.locator(".nbflow-part-from").fill("2026-01-11")
        section.locator(".nbflow-part-to").fill("2026-01-15")
        section.locator(".nbflow-part-backfill").click()
        expect(page.locator(".nbflow-message")).to_contain_text("(1 failed, 4 succeeded)")
        expect(strip.locator("rect.strip-failed")).to_have_count(1)
        expect(panel.locator(".nbflow-partitions .nbflow-part-summary")).to_contain_text("14 fresh")
        panel.evaluate("(e) => e.scrollIntoView({block: 'start'})")
        page.screenshot(path=str(ARTIFACTS / "panel-partitions.png"))
