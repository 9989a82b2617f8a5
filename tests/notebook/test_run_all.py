"""Run All gives the values a user expects: a real kernel runs a notebook top to bottom (nbclient),
as Jupyter's Run All and a papermill deployment do."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

pytestmark = [pytest.mark.kernel, pytest.mark.slow]

CELLS = [
    "%load_ext nbflow",
    "%%asset s\nimport time\ntime.sleep(1)\ntime.time()",
    "old = s\n%materialize s --force",
    "assert s != old, 'the next cell read the old value'\nassert s == __import__('nbflow').load('s')\n'new value read'",
]


def test_run_all_reads_the_value_materialize_just_built(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    monkeypatch.setenv("NBFLOW_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("NBFLOW_DATABASE_URL", raising=False)
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in nb.cells for o in c.outputs if o.output_type == "error"]
    assert errors == []
    last = nb.cells[-1].outputs[0]
    assert last.data["text/plain"] == "'new value read'"
    table = "".join(o.get("data", {}).get("text/plain", "") for o in nb.cells[2].outputs)
    assert "SUCCEEDED" in table
