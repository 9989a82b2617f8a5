"""The example notebooks really run (nbclient, a real ipykernel), and the panel obeys a click
sent the way the page sends it: an ipywidgets ``custom`` comm message."""

from __future__ import annotations

import re
import shutil
import textwrap
from pathlib import Path
from typing import Any

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
pytestmark = [pytest.mark.kernel, pytest.mark.slow]


def _client(nb: Any, workdir: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    from nbclient import NotebookClient

    monkeypatch.setenv("NBFLOW_HOME", str(home))
    monkeypatch.delenv("NBFLOW_DATABASE_URL", raising=False)
    return NotebookClient(nb, timeout=120, kernel_name="python3",
                          resources={"metadata": {"path": str(workdir)}})


def _copy_examples(tmp_path: Path) -> Path:
    work = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOKS, work, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return work


def _text(cell: Any) -> str:
    out = []
    for o in cell.get("outputs", []):
        if o.output_type == "stream":
            out.append(o.text)
        elif o.output_type in ("execute_result", "display_data"):
            out.append(o.data.get("text/plain", ""))
        elif o.output_type == "error":
            out.append(f"{o.ename}: {o.evalue}")
    return "".join(out)


@pytest.mark.parametrize("name", ["etl.ipynb", "tasks.ipynb", "partitions.ipynb"])
def test_example_notebook_runs_clean(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = _copy_examples(tmp_path)
    nb = nbformat.read(work / name, as_version=4)
    _client(nb, work, tmp_path / "home", monkeypatch).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors == []
    assert (tmp_path / "home" / "nbflow.db").exists()      # runs were recorded in the store


def test_partitions_notebook_runs_ranges_then_the_rest(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    work = _copy_examples(tmp_path)
    nb = nbformat.read(work / "partitions.ipynb", as_version=4)
    _client(nb, work, tmp_path / "home", monkeypatch).execute()
    text = "\n".join(_text(c) for c in nb.cells if c.cell_type == "code")
    assert "{'failed': 0, 'stale': 0, 'missing': 5, 'fresh': 5}" in text   # after the range
    assert "{'CACHED': 10, 'SUCCEEDED': 11}" in text                       # the rest: 5 + 5 days + summary
    assert "'days': 10" in text
    assert "day_over_day fresh {'fresh': '2026-01-01...2026-01-10'}" in text
    assert "21 step(s) in 11 runs (per_partition)" in text                 # the plan: 10 days + summary
    assert "('SUCCEEDED', {'SUCCEEDED': 21})" in text                      # the backfill, forced
    assert "daily_orders+ over 2026-01-01...2026-01-10 (21 succeeded)>" in text
    assert "of daily_orders+: 21/21 steps done" in text                    # its progress line
    assert "{'acme': 'report for acme', 'globex': 'report for globex'}" in text


def test_panel_click_message_materialises_in_the_kernel(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    work = _copy_examples(tmp_path)
    nb = nbformat.read(work / "etl.ipynb", as_version=4)
    client = _client(nb, work, tmp_path / "home", monkeypatch)
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)
        views = [o.data["application/vnd.jupyter.widget-view+json"]["model_id"]
                 for c in nb.cells if c.cell_type == "code" for o in c.outputs
                 if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
        assert len(views) == 1
        model_id = views[0]

        def send(content: dict[str, Any]) -> None:
            msg = client.kc.session.msg("comm_msg", {
                "comm_id": model_id, "data": {"method": "custom", "content": content}})
            client.kc.shell_channel.send(msg)

        def run(source: str) -> str:
            cell = nbformat.v4.new_code_cell(textwrap.dedent(source))
            nb.cells.append(cell)
            client.execute_cell(cell, len(nb.cells) - 1)
            return _text(cell)

        send({"action": "select", "name": "daily_revenue"})
        send({"action": "materialize", "name": "daily_revenue", "scope": "this"})
        out = run(f"""
            from ipywidgets import widgets
            p = widgets.Widget.widgets[{model_id!r}]
            assert p.wait(60)
            print("STATE", p.states["daily_revenue"], p.states["raw_orders"])
            print("RUN", p.last_result.run_id, sorted(p.last_result.states))
            print("DETAILS", p.details["name"], p.details["last"]["metadata"].get("rows"))
            print("LATEST", nbflow.get_session().runs(limit=1)[0].run_id == p.last_result.run_id)
        """)
        assert "STATE succeeded fresh" in out
        assert "RUN " in out and "['daily_revenue']" in out
        assert re.search(r"DETAILS daily_revenue \d+", out)
        assert "LATEST True" in out

        # edit the upstream cell and re-run it: downstream turns stale in the panel
        edited = next(c for c in nb.cells if c.source.startswith("%%asset clean_orders"))
        edited.source = edited.source.replace("raw_orders.amount > 0", "raw_orders.amount > 100")
        client.execute_cell(edited, nb.cells.index(edited))
        out = run("""
            import time
            deadline = time.monotonic() + 10
            while p.states["daily_revenue"] != "stale" and time.monotonic() < deadline:
                time.sleep(0.05)
            print("AFTER", p.states["clean_orders"], p.states["daily_revenue"], p.states["top_customers"])
        """)
        assert "AFTER succeeded stale stale" in out
