"""The cost of the hook that runs after every notebook cell, on a 500-asset graph (target <= 20 ms).

After each cell the kernel notes which assets the cell defined (cells own their assets) and the
live panels re-read the graph and every asset's status, so the panel, ``%nbflow status`` and the
store agree. This measures one such pass with one panel open, the graph materialised and
nothing changed (the common case), and one pass right after a global constant that every asset
reads was changed (all become stale).

    .venv/bin/python benchmarks/notebook_hook.py [--assets 500] [--runs 21]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))

from panel_graphs import dag_edges  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--assets", type=int, default=500)
    ap.add_argument("--runs", type=int, default=21)
    args = ap.parse_args()

    import nbflow as nf
    from nbflow.core.registry import Registry
    from nbflow.core.specs import make_asset
    from nbflow.notebook.owners import CellOwners
    from nbflow.settings import Settings
    from nbflow.widget.panel import LineagePanel, refresh_panels

    home = Path(tempfile.mkdtemp(prefix="nbflow-hook-"))
    reg = Registry()
    namespace: dict[str, object] = {"__name__": "__main__", "SCALE": 1}
    for i, ups in dag_edges(args.assets):
        name = f"a{i:03d}"
        params = ", ".join(f"a{j:03d}" for j in ups)
        exec(f"def {name}({params}):\n    return {i} * SCALE", namespace)  # noqa: S102 - benchmark data
        reg.add(make_asset(namespace[name], name=name))  # type: ignore[arg-type]
    session = nf.Session(Settings.resolve(home=home), reg)
    nf.set_session(session)
    assert session.materialize("*").ok
    panel = LineagePanel(session, layout_engine="layered")
    owners = CellOwners(lambda: session, say=lambda _text: None)
    ok = SimpleNamespace(success=True)
    cell = SimpleNamespace(cell_id="bench")

    def one_pass() -> float:
        t0 = time.perf_counter()
        owners.before_cell(cell)
        owners.after_cell(ok)
        refresh_panels()
        return time.perf_counter() - t0

    one_pass()  # warm: code versions are cached per function
    quiet = [one_pass() for _ in range(args.runs)]
    changed = []
    for k in range(5):
        namespace["SCALE"] = k + 2         # a plain cell changes a constant every asset reads
        changed.append(one_pass())
    stale = sum(1 for s in session.status() if s.status == "stale")
    panel.close()
    session.close()
    print(f"{args.assets} assets, median of {args.runs}: {statistics.median(quiet) * 1000:.1f} ms per cell "
          f"(nothing changed); {statistics.median(changed) * 1000:.1f} ms right after a constant "
          f"changed ({stale} stale)")


if __name__ == "__main__":
    main()
