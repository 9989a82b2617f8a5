"""Panel in a real browser: a big graph's first paint, pan/zoom frames, and how fast states arrive.

    .venv/bin/python benchmarks/panel_browser.py                         # 2,000 assets, 3 runs
    .venv/bin/python benchmarks/panel_browser.py --assets 500 --bulk     # + "Materialise stale"

Starts JupyterLab (isolated dirs, a temporary NBFLOW_HOME) and Debian's Chromium headless via
Playwright. The page measures, with the kernel's and the browser's clocks (same machine):
  paint   = from the start of ``nbflow.panel()`` in the kernel (before layout) to the first
            animation frame after the SVG is in the page: layout + status + transfer + paint;
  render  = in the page alone: from the SVG's arrival to the first frame painted after it;
  zoom / pan frame = one wheel step (or pointer move) to the next painted frame, 20 of each;
  lag     = from the newest event folded into a ``states`` push to the page applying it.
With ``--bulk`` it clicks "Materialise stale" (every asset runs: ~3 events each) and reports the
lag over all those pushes; always one single-node click. Figures are medians over ``--repeats``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

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


FRAMES_JS = """async ([kind, steps]) => {
  const graph = document.querySelector('.nbflow-panel .nbflow-graph');
  const r = graph.getBoundingClientRect();
  const cx = r.left + r.width / 2, cy = r.top + r.height / 2;
  const frame = () => new Promise((ok) => requestAnimationFrame(() => setTimeout(ok)));
  const out = [];
  if (kind === 'pan') graph.dispatchEvent(new PointerEvent('pointerdown', {bubbles: true, button: 0,
      pointerId: 7, clientX: cx, clientY: cy}));
  for (let i = 0; i < steps; i++) {
    const t = performance.now();
    if (kind === 'zoom') graph.dispatchEvent(new WheelEvent('wheel', {bubbles: true, cancelable: true,
        deltaY: i % 2 ? 60 : -60, clientX: cx, clientY: cy}));
    else graph.dispatchEvent(new PointerEvent('pointermove', {bubbles: true, pointerId: 7,
        clientX: cx + 10 * (i + 1), clientY: cy + 3 * (i + 1)}));
    await frame();
    out.push(performance.now() - t);
  }
  if (kind === 'pan') graph.dispatchEvent(new PointerEvent('pointerup', {bubbles: true, pointerId: 7}));
  return out;
}"""


def median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def measure(n: int, bulk: bool = False) -> dict[str, Any]:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=120_000)
    out: dict[str, Any] = {"assets": n}
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
                    out["render_ms"] = float(panel.get_attribute("data-render-ms"))
                    out["engine"] = panel.locator(".nbflow-canvas > svg").get_attribute("data-engine")
                    for kind in ("zoom", "pan"):
                        frames = page.evaluate(FRAMES_JS, [kind, 20])
                        out[f"{kind}_frame_median_ms"] = round(median(frames), 1)
                        out[f"{kind}_frame_max_ms"] = round(max(frames), 1)
                    page.locator(".nbflow-zoom-fit").click()
                    if bulk:
                        page.locator(".nbflow-stale").click()
                        expect(page.locator(".nbflow-message")).to_contain_text(f"{n} succeeded")
                        out["bulk_updates"] = float(panel.get_attribute("data-updates"))
                        out["bulk_max_lag_ms"] = float(panel.get_attribute("data-max-lag-ms"))
                        out["bulk_last_lag_ms"] = float(panel.get_attribute("data-lag-ms"))
                        lags = [float(v) for v in panel.get_attribute("data-lags").split(",")]
                        out["bulk_median_lag_ms"] = sorted(lags)[len(lags) // 2]
                        print("lags of the bulk run's pushes (ms):", lags, file=sys.stderr)
                    # after the bulk run the last asset builds alone; without it, a root does
                    one = f"a{n - 1:03d}" if bulk else "a000"
                    last = page.locator(f".nbflow-panel g#nbflow-node-{one}")
                    before = page.locator(".nbflow-message").text_content()
                    last.click()
                    page.locator(".nbflow-menu button[data-scope=this][data-force=true]").click()
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
    parser.add_argument("--assets", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--bulk", action="store_true", help='also time a "Materialise stale" of every asset')
    args = parser.parse_args()
    runs = []
    for _ in range(args.repeats):
        t = time.monotonic()
        result = measure(args.assets, args.bulk)
        result["wall_s"] = round(time.monotonic() - t, 1)
        print(json.dumps(result), file=sys.stderr)
        runs.append(result)
    summary = {k: (median([r[k] for r in runs]) if isinstance(v, (int, float)) else v)
               for k, v in runs[0].items()}
    summary["runs"] = len(runs)
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
