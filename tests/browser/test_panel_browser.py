"""The lineage panel in a real JupyterLab with Debian's Chromium (Playwright, no browser download).

Opens the ETL example, runs all cells, clicks a node and materialises it, watches it turn
succeeded; edits an upstream cell, re-runs it, watches downstream turn stale. Keeps screenshots
in test-artifacts/ and the measured timings in test-artifacts/panel-browser-timings.json.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

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
                assert panel.locator("svg").get_attribute("data-engine") == "dot"
                timings["panel_first_paint_ms"] = float(panel.get_attribute("data-paint-ms"))
                timings["run_all_to_panel_s"] = time.monotonic() - t0

                # click -> menu -> "Materialise this" -> running -> succeeded, without a cell run
                target.click()
                page.locator(".nbflow-menu button[data-scope=this]").click()
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
