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
    "AssetStatus": "nbflow.core.records",
    "CycleError": "nbflow.errors",
    "DefinitionError": "nbflow.errors",
    "IOManagerError": "nbflow.errors",
    "MaterializeResult": "nbflow.session.result",
    "NbflowError": "nbflow.errors",
    "Registry": "nbflow.core.registry",
    "RunRecord": "nbflow.core.records",
    "SelectionError": "nbflow.errors",
    "Session": "nbflow.session",
    "Settings": "nbflow.settings",
    "State": "nbflow.core.states",
    "StoreError": "nbflow.errors",
    "asset": "nbflow.core.specs",
    "check": "nbflow.core.specs",
    "context": "nbflow.engine.context",
    "deploy": "nbflow.deployments.service",
    "flow": "nbflow.session.flows",
    "forget": "nbflow.api",
    "get_logger": "nbflow.engine.context",
    "get_run": "nbflow.api",
    "get_session": "nbflow.session",
    "limit": "nbflow.session.tasks",
    "load": "nbflow.api",
    "materialize": "nbflow.api",
    "panel": "nbflow.widget.panel",
    "register_executor": "nbflow.engine.executors",
    "register_io_manager": "nbflow.engine.io",
    "runs": "nbflow.api",
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
    from nbflow.core.records import AssetStatus, RunRecord  # noqa: F401
    from nbflow.core.registry import Registry  # noqa: F401
    from nbflow.core.specs import asset, check  # noqa: F401
    from nbflow.core.states import State  # noqa: F401
    from nbflow.session import Session, get_session, set_session  # noqa: F401
