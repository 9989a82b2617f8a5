"""Deployments: notebooks as scheduled, parameterised runs through papermill, and the scheduler.

Public entry points (imported lazily, so ``import nbflow.deploy`` stays light):
``deploy`` (define or update a deployment), ``trigger`` (run one now) and ``Scheduler``.

The package itself is callable and means ``deploy``: once any ``nbflow.deploy.*`` module is
imported, Python binds the attribute ``nbflow.deploy`` to this package, so ``nbflow.deploy(...)``
has to work whether it names the function or the package.
"""

from __future__ import annotations

import sys
import types
from typing import Any

__all__ = ["Scheduler", "deploy", "trigger"]


def __getattr__(name: str) -> Any:
    if name in ("deploy", "trigger"):
        from nbflow.deploy import deployments

        return getattr(deployments, name)
    if name == "Scheduler":
        from nbflow.deploy.scheduler import Scheduler

        return Scheduler
    raise AttributeError(f"module 'nbflow.deploy' has no attribute {name!r}")


class _DeployModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from nbflow.deploy.deployments import deploy

        return deploy(*args, **kwargs)


sys.modules[__name__].__class__ = _DeployModule
