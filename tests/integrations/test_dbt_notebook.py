"""notebooks/dbt.ipynb runs in a real kernel, and the panel's graph spans cells and dbt models."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
pytestmark = [pytest.mark.kernel, pytest.mark.slow]

GRAPH = ("import json\nfrom nbflow.session.views import graph_view\n"
         "print('GRAPH=' + json.dumps(graph_view(nbflow.get_session())))")


def test_dbt_notebook_runs_and_the_graph_spans_both_worlds(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from nbclient import NotebookClient

    work = tmp_path / "notebooks"
    work.mkdir()
    shutil.copytree(NOTEBOOKS / "dbt", work / "dbt",
                    ignore=shutil.ignore_patterns("target", "logs", "*.duckdb*"))
    nb = nbformat.read(NOTEBOOKS / "dbt.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(GRAPH))
    monkeypatch.setenv("NBFLOW_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("NBFLOW_DATABASE_URL", raising=False)
    monkeypatch.delenv("SHOP_DUCKDB", raising=False)
    NotebookClient(nb, timeout=240, kernel_name="python3",
                   resources={"metadata": {"path": str(work)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors == []
    report = nb.cells[7].outputs[-1]["data"]["text/plain"]
    assert "EU" in report and "16.5" in report          # 10.0 + 4.0 + 2.5 from the raw cell
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    graph = json.loads(text.split("GRAPH=", 1)[1])
    kinds = {n["name"]: n["kind"] for n in graph["nodes"]}
    assert kinds == {"raw_orders": "cell", "countries": "dbt", "stg_orders": "dbt",
                     "orders_by_country": "dbt", "revenue_by_region": "dbt", "report": "cell"}
    edges = {tuple(e) for e in graph["edges"]}
    assert {("raw_orders", "stg_orders"), ("revenue_by_region", "report")} <= edges
    assert {n["name"]: n["status"] for n in graph["nodes"]}["report"] == "fresh"
    assert (work / "dbt" / "shop.duckdb").exists()
