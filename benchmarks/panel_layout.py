"""Panel, kernel side: layout (dot and fallback), SVG, panel construction, event -> trait latency.

    .venv/bin/python benchmarks/panel_layout.py                  # 100, 500 and 1,000 assets
    .venv/bin/python benchmarks/panel_layout.py --sizes 500 --repeats 5

The browser side (first paint, state change reaching the page) is benchmarks/panel_browser.py.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from panel_graphs import dag_registry

from nbflow.core.events import Event, EventKind
from nbflow.core.states import State
from nbflow.session import Session
from nbflow.settings import Settings
from nbflow.widget.layout import layout_graph, render_svg
from nbflow.widget.panel import LineagePanel


def ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:7.1f} ms"


def bench(n: int, repeats: int) -> None:
    reg = dag_registry(n)
    graph = reg.graph()
    names = list(graph.order)
    edges = [(u, v) for v in names for u in graph.upstream[v]]
    timings: dict[str, list[float]] = {"dot layout": [], "fallback layout": [], "svg": [],
                                       "panel (layout+status)": [], "event -> states trait": []}
    with tempfile.TemporaryDirectory() as home:
        session = Session(Settings.resolve(home=Path(home)), reg)
        session.status()           # open and migrate the store outside the timing
        for _ in range(repeats):
            t = time.perf_counter()
            placed = layout_graph(names, edges, engine="dot")
            timings["dot layout"].append(time.perf_counter() - t)
            t = time.perf_counter()
            layout_graph(names, edges, engine="layered")
            timings["fallback layout"].append(time.perf_counter() - t)
            t = time.perf_counter()
            render_svg(placed)
            timings["svg"].append(time.perf_counter() - t)
            t = time.perf_counter()
            panel = LineagePanel(session, namespace={})
            timings["panel (layout+status)"].append(time.perf_counter() - t)
            seen = threading.Event()
            panel.observe(lambda change, seen=seen: seen.set(), names="stamp")
            t = time.perf_counter()
            session.emit(Event(EventKind.STEP_STARTED, "bench", names[-1], State.RUNNING))
            seen.wait(2)
            timings["event -> states trait"].append(time.perf_counter() - t)
            panel.close()
        session.close()
    print(f"{n:>6} assets  " + "  ".join(f"{k}: {ms(v)}" for k, v in timings.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 500, 1000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    for n in args.sizes:
        bench(n, args.repeats)


if __name__ == "__main__":
    main()
