"""Fixtures for deployment tests: notebooks written on the fly, a fake notebook executor."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from nbflow.deployments.execute import ExecutionRequest, ExecutionResult

PARAMS = '''\
text = "default"
n: int = 1
day: date = date(2026, 1, 1)
items = ["a"]
'''

BODY = '''\
import os, json, time
record = {"text": text, "n": n, "day": day.isoformat(), "items": items,
          "run_id": os.environ.get("NBFLOW_RUN_ID")}
print(json.dumps(record))
if n < 0:
    raise ValueError(f"n must not be negative, got {n}")
if n >= 1000:
    time.sleep(n / 1000)
'''


def write_notebook(path: Path, cells: list[tuple[str, list[str]]]) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for source, tags in cells:
        cell = nbformat.v4.new_code_cell(source)
        if tags:
            cell.metadata["tags"] = tags
        nb.cells.append(cell)
    nbformat.write(nb, str(path))
    return path


@pytest.fixture
def notebook(tmp_path: Path) -> Path:
    """A notebook with imports, a parameters cell, and a cell that prints the values as JSON."""
    return write_notebook(tmp_path / "probe.ipynb", [
        ("from datetime import date", []), (PARAMS, ["parameters"]), (BODY, [])])


@pytest.fixture
def report(tmp_path: Path) -> Path:
    """A copy of the example report notebook (it materialises an asset)."""
    src = Path(__file__).resolve().parents[2] / "notebooks" / "report.ipynb"
    return Path(shutil.copy(src, tmp_path / "report.ipynb"))


class FakeExecute:
    """Stands in for papermill in scheduler-logic tests: records requests, optionally blocks."""

    def __init__(self, seconds: float = 0.0, fail: Callable[[ExecutionRequest], bool] | None = None):
        self.seconds = seconds
        self.fail = fail
        self.requests: list[ExecutionRequest] = []
        self.concurrent = 0
        self.peak = 0
        self._lock = threading.Lock()

    def __call__(self, request: ExecutionRequest, cancel: threading.Event | None) -> ExecutionResult:
        with self._lock:
            self.requests.append(request)
            self.concurrent += 1
            self.peak = max(self.peak, self.concurrent)
        try:
            start = time.monotonic()
            Path(request.output_path).parent.mkdir(parents=True, exist_ok=True)
            Path(request.output_path).write_text("{}")
            cancelled = bool(cancel and cancel.wait(self.seconds)) if self.seconds else False
            if cancelled:
                return ExecutionResult(False, request.output_path, time.monotonic() - start,
                                       "The run was cancelled.", None, "RunCancelled",
                                       "cancelled", cancelled=True)
            if self.fail and self.fail(request):
                return ExecutionResult(False, request.output_path, time.monotonic() - start,
                                       "Cell 2 raised ValueError: boom", 2, "ValueError", "boom")
            return ExecutionResult(True, request.output_path, time.monotonic() - start)
        finally:
            with self._lock:
                self.concurrent -= 1


@pytest.fixture
def kernel() -> str:
    """The python3 kernel; fails under CI=true when it is missing, skips elsewhere."""
    import os

    from jupyter_client.kernelspec import KernelSpecManager

    if "python3" not in KernelSpecManager().find_kernel_specs():
        message = "the python3 Jupyter kernel is not installed (pip install ipykernel)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return "python3"
