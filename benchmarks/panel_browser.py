"""Panel in a real browser: a 500-asset graph's first paint, and how fast state changes arrive.

    .venv/bin/python benchmarks/panel_browser.py               # 500 assets
    .venv/bin/python benchmarks/panel_browser.py --assets 1000

Starts JupyterLab (isolated dirs, a temporary NBFLOW_HOME) and Debian's Chromium headless via
Playwright. The page measures, with the kernel's and the browser's clocks (same machine):
  paint   = from the start of ``nbflow.panel()`` in the kernel (before layout) to the first
            animation frame after the SVG is in the page: layout + status + transfer + paint;
  lag     = from the newest event folded into a ``states`` push to the page applying it.
Then it clicks "Materialise stale" (every asset runs: ~3 events each) and reports the lag over
all those pushes, and one single-node click.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(Path(__file__).parent)]
from panel_graphs import dag_source

from tests.browser.lab import CHROMIUM, CHROMIUM_ARGS, LabServer, open_notebook, run_all


def write_notebook(root: Path, n: int) -> str:
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(cells=[new_code_cell(dag_source(n)), new_code_cell("p = nbflow.panel()\np")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, root / "big.ipynb")
    return "big.ipynb"


def measure(n: int) -> dict[str, float]:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=120_000)
    out: dict[str, float] = {"assets": n}
    with tempfile.TemporaryDirectory(prefix="nbflow-panel-bench-") as tmp:
        work = Path(tmp)
        root = work / "nbroot"
        root.mkdir()
        name = write_notebook(root, n)
        server = LabServer(work, root).start()
        errors: list[str] = []
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    page = open_notebook(browser, server, name, errors)
                    run_all(page)
                    panel = page.locator(".nbflow-panel")
                    expect(panel).to_have_attribute("data-nodes", str(n))
                    out["first_paint_ms"] = float(panel.get_attribute("data-paint-ms"))
                    page.locator(".nbflow-stale").click()
                    expect(page.locator(".nbflow-message")).to_contain_text(f"{n} succeeded")
                    out["bulk_updates"] = float(panel.get_attribute("data-updates"))
                    out["bulk_max_lag_ms"] = float(panel.get_attribute("data-max-lag-ms"))
                    out["bulk_last_lag_ms"] = float(panel.get_attribute("data-lag-ms"))
                    lags = [float(v) for v in panel.get_attribute("data-lags").split(",")]
                    out["bulk_median_lag_ms"] = sorted(lags)[len(lags) // 2]
                    print("lags of the bulk run's pushes (ms):", lags, file=sys.stderr)
                    last = page.locator(f".nbflow-panel g#nbflow-node-a{n - 1:03d}")
                    before = page.locator(".nbflow-message").text_content()
                    last.click()
                    page.locator(".nbflow-menu button[data-scope=this]").click()
                    expect(page.locator(".nbflow-message")).not_to_have_text(before or "")
                    expect(page.locator(".nbflow-message")).to_contain_text("1 succeeded")
                    out["single_click_lag_ms"] = float(panel.get_attribute("data-lag-ms"))
                finally:
                    browser.close()
        finally:
            server.stop()
        if errors:
            raise RuntimeError(f"page errors: {errors}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=500)
    args = parser.parse_args()
    t = time.monotonic()
    result = measure(args.assets)
    result["wall_s"] = round(time.monotonic() - t, 1)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
