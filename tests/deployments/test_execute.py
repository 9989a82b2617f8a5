"""Executing notebooks with papermill and a real kernel: values as data, failures, timeouts."""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path

import nbformat
import pytest

from nbflow.deployments.execute import ExecutionRequest, execute_notebook, prepare_notebook
from nbflow.deployments.parameters import INJECTED_TAG

AWKWARD = [
    "it's \"quoted\"", "back\\slash\\", "new\nline\r\n", "{} {0} {name}", "'''", '"""',
    "ünïcødé ✓ 漢字 🚀", "'); import os; os.system('touch PWNED') #", "\\x00\t", "",
    "${HOME} $(id) `id`", "%(x)s %s", "\"\"\"; raise SystemExit('escaped') ; \"\"\"",
]


def _printed(path: str, cell: int) -> dict:
    nb = json.loads(Path(path).read_text())
    text = "".join(nb["cells"][cell]["outputs"][0]["text"])
    return json.loads(text)


def test_prepare_notebook_injects_after_parameters_and_replaces_old_injection(notebook):
    nb = nbformat.read(str(notebook), as_version=4)
    old = nbformat.v4.new_code_cell("text = 'stale'")
    old.metadata["tags"] = [INJECTED_TAG]
    nb.cells.insert(2, old)
    nb, at = prepare_notebook(nb, {"text": "x"})
    assert at == 2
    tags = [c.metadata.get("tags", []) for c in nb.cells]
    assert tags == [[], ["parameters"], [INJECTED_TAG], []]
    assert "stale" not in nb.cells[2].source and "'x'" not in nb.cells[2].source
    assert prepare_notebook(nbformat.read(str(notebook), as_version=4), {})[1] is None


@pytest.mark.kernel
def test_values_arrive_exactly_and_run_id_is_set(kernel, notebook, tmp_path):
    combined = "".join(AWKWARD)
    values = {"text": combined, "n": 7, "day": dt.date(2026, 3, 29), "items": AWKWARD}
    out = tmp_path / "runs" / "probe" / "r1.ipynb"
    result = execute_notebook(ExecutionRequest(
        str(notebook), str(out), values, env={"NBFLOW_RUN_ID": "r1"}, html=True))
    assert result.ok, result.error
    got = _printed(result.output_path, 3)
    assert got == {"text": combined, "n": 7, "day": "2026-03-29", "items": AWKWARD, "run_id": "r1"}
    assert not (notebook.parent / "PWNED").exists()
    assert result.html_path and Path(result.html_path).read_text().count("<html") >= 1
    executed = nbformat.read(str(out), as_version=4)
    assert INJECTED_TAG in executed.cells[2].metadata["tags"]


@pytest.mark.kernel
def test_a_failing_cell_is_reported_and_the_notebook_kept(kernel, notebook, tmp_path):
    out = tmp_path / "fail.ipynb"
    result = execute_notebook(ExecutionRequest(str(notebook), str(out), {"n": -1}))
    assert not result.ok
    assert (result.cell_index, result.exception) == (2, "ValueError")
    assert result.message == "n must not be negative, got -1"
    assert result.error == "Cell 2 raised ValueError: n must not be negative, got -1"
    executed = json.loads(out.read_text())
    assert any(o.get("ename") == "ValueError" for c in executed["cells"] for o in c.get("outputs", []))


def _kernel_pids(marker: str) -> set[int]:
    """Processes whose environment carries NBFLOW_RUN_ID=marker (the run's kernel)."""
    needle = f"NBFLOW_RUN_ID={marker}".encode()
    pids = set()
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if needle in (p / "environ").read_bytes().split(b"\0"):
                    pids.add(int(p.name))
            except OSError:
                continue
    return pids


@pytest.mark.kernel
@pytest.mark.parametrize("how", ["timeout", "cancel"])
def test_timeout_and_cancel_kill_the_kernel(kernel, notebook, tmp_path, how):
    marker = f"kill-{how}-{id(tmp_path)}"
    cancel = threading.Event()
    if how == "cancel":
        threading.Timer(2.0, cancel.set).start()
    out = tmp_path / f"{how}.ipynb"
    request = ExecutionRequest(str(notebook), str(out), {"n": 30_000}, env={"NBFLOW_RUN_ID": marker},
                               timeout=2.0 if how == "timeout" else None)
    result = execute_notebook(request, cancel=cancel)
    assert not result.ok and result.duration < 20
    assert (result.timed_out, result.cancelled) == (how == "timeout", how == "cancel")
    assert result.cell_index == 2
    assert out.exists()
    assert _printed(str(out), 3)["run_id"] == marker  # the kernel really ran with that environment
    assert _kernel_pids(marker) == set()


def test_a_missing_kernel_is_a_result_not_an_exception(notebook, tmp_path):
    result = execute_notebook(ExecutionRequest(str(notebook), str(tmp_path / "x.ipynb"), {},
                                               kernel="no-such-kernel"))
    assert not result.ok and result.exception == "NoSuchKernel"
    assert "no-such-kernel" in result.error
