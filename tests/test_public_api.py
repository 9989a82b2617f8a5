"""The public surface: pinned names, lazy imports, and an import that stays fast."""

from __future__ import annotations

import subprocess
import sys

import nbflow

PUBLIC = [
    "AllPartitions", "AssetStatus", "Client", "CycleError", "DailyPartitions", "DefinitionError",
    "DimensionMapping", "DynamicPartitions", "Freshness", "HourlyPartitions", "IOManagerError",
    "IdentityMapping", "LastPartition", "MaterializeResult", "MonthlyPartitions", "MultiKey",
    "MultiPartitions", "NbflowError", "PartitionError", "Registry", "RunRecord", "RunRequest",
    "SelectionError", "Session", "Settings", "SkipReason", "State", "StaticMapping",
    "StaticPartitions", "StoreError", "TimeWindowMapping", "TimeWindowPartitions",
    "WeeklyPartitions", "__version__", "asset", "asset_sensor", "backfill", "check", "context", "dbt_project",
    "deploy",
    "events", "flow", "forget", "get_logger", "get_run", "get_session", "limit", "load",
    "load_ipython_extension", "materialize", "panel", "partitions", "register_executor",
    "register_io_manager", "run_status_sensor", "runs", "sensor", "set_session", "status", "task",
    "trigger", "unmapped",
]
"""The public surface, pinned exactly: adding or removing a name is a decision made here."""


def test_public_names_are_sorted_and_pinned() -> None:
    assert nbflow.__all__ == sorted(nbflow.__all__)
    assert nbflow.__all__ == sorted(PUBLIC)
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
