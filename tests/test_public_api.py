"""The public surface: pinned names, lazy imports, and an import that stays fast."""

from __future__ import annotations

import subprocess
import sys

import nbflow

BASE = {
    "AssetStatus", "CycleError", "DefinitionError", "context", "deploy", "flow", "get_logger",
    "limit", "panel", "task", "unmapped", "IOManagerError", "MaterializeResult",
    "NbflowError", "Registry", "RunRecord", "SelectionError", "Session", "Settings", "State",
    "StoreError", "asset", "check", "get_run", "get_session", "load", "load_ipython_extension",
    "materialize", "register_executor", "register_io_manager", "runs", "set_session", "status",
    "__version__",
}


def test_public_names_are_sorted_and_pinned() -> None:
    assert nbflow.__all__ == sorted(nbflow.__all__)
    assert BASE <= set(nbflow.__all__)
    for name in nbflow.__all__:
        assert getattr(nbflow, name) is not None, name


def test_import_nbflow_loads_no_heavy_library() -> None:
    code = ("import sys, nbflow\n"
            "heavy = [m for m in ('sqlalchemy', 'pandas', 'IPython', 'papermill', 'dask', 'click', "
            "'rich', 'pyarrow', 'alembic', 'ipywidgets', 'anywidget', 'fsspec') if m in sys.modules]\n"
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_defining_an_asset_loads_no_heavy_library() -> None:
    code = ("import sys, nbflow as nf\n"
            "@nf.asset\ndef a():\n    return 1\n"
            "nf.Registry()\n"
            "print(','.join(m for m in ('sqlalchemy', 'pandas', 'IPython') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_unknown_attribute_is_an_attribute_error() -> None:
    try:
        nbflow.no_such_thing  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")
