"""nbflow: orchestration that lives in Jupyter.

Assets (``@asset``, ``%%asset``) with lineage, versions and staleness; tasks and flows with
retries and caching; notebooks as scheduled deployments; one run store for all of it.
Public names are imported lazily so ``import nbflow`` stays fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "AllPartitions": "nbflow.core.partition_mappings",
    "AssetStatus": "nbflow.core.records",
    "Client": "nbflow.client",
    "CycleError": "nbflow.errors",
    "DailyPartitions": "nbflow.core.time_windows",
    "DefinitionError": "nbflow.errors",
    "DimensionMapping": "nbflow.core.partition_mappings",
    "DynamicPartitions": "nbflow.core.partitions",
    "Freshness": "nbflow.core.freshness_policy",
    "HourlyPartitions": "nbflow.core.time_windows",
    "IOManagerError": "nbflow.errors",
    "IdentityMapping": "nbflow.core.partition_mappings",
    "LastPartition": "nbflow.core.partition_mappings",
    "MaterializeResult": "nbflow.session.result",
    "MonthlyPartitions": "nbflow.core.time_windows",
    "MultiKey": "nbflow.core.partitions",
    "MultiPartitions": "nbflow.core.partitions_multi",
    "NbflowError": "nbflow.errors",
    "PartitionError": "nbflow.errors",
    "Registry": "nbflow.core.registry",
    "RunRecord": "nbflow.core.records",
    "RunRequest": "nbflow.automation.sensors",
    "SelectionError": "nbflow.errors",
    "Session": "nbflow.session",
    "Settings": "nbflow.settings",
    "SkipReason": "nbflow.automation.sensors",
    "State": "nbflow.core.states",
    "StaticMapping": "nbflow.core.partition_mappings",
    "StaticPartitions": "nbflow.core.partitions",
    "StoreError": "nbflow.errors",
    "TimeWindowMapping": "nbflow.core.partition_mappings",
    "TimeWindowPartitions": "nbflow.core.time_windows",
    "WeeklyPartitions": "nbflow.core.time_windows",
    "asset": "nbflow.core.specs",
    "asset_sensor": "nbflow.automation.sensors",
    "check": "nbflow.core.specs",
    "context": "nbflow.automation.sensors",
    "dbt_project": "nbflow.integrations.dbt",
    "deploy": "nbflow.deployments.service",
    "backfill": "nbflow.api",
    "events": "nbflow.automation.stream",
    "flow": "nbflow.session.flows",
    "forget": "nbflow.api",
    "get_logger": "nbflow.engine.context",
    "get_run": "nbflow.api",
    "get_session": "nbflow.session",
    "limit": "nbflow.session.tasks",
    "load": "nbflow.api",
    "materialize": "nbflow.api",
    "panel": "nbflow.widget.panel",
    "partitions": "nbflow.api",
    "register_executor": "nbflow.engine.executors",
    "register_io_manager": "nbflow.engine.io",
    "run_status_sensor": "nbflow.automation.sensors",
    "runs": "nbflow.api",
    "sensor": "nbflow.automation.sensors",
    "set_session": "nbflow.session",
    "status": "nbflow.api",
    "task": "nbflow.session.tasks",
    "trigger": "nbflow.deployments.service",
    "unmapped": "nbflow.engine.futures",
}

__all__ = sorted([*_EXPORTS, "load_ipython_extension", "__version__"])


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'nbflow' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext nbflow``: register the magics."""
    from nbflow.notebook import load_ipython_extension as load

    load(ipython)


if TYPE_CHECKING:  # for type checkers and IDEs; at run time these come from __getattr__
    from nbflow.api import get_run, load, materialize, runs, status  # noqa: F401
    from nbflow.core.freshness_policy import Freshness  # noqa: F401
    from nbflow.core.records import AssetStatus, RunRecord  # noqa: F401
    from nbflow.core.registry import Registry  # noqa: F401
    from nbflow.core.specs import asset, check  # noqa: F401
    from nbflow.core.states import State  # noqa: F401
    from nbflow.session import Session, get_session, set_session  # noqa: F401
