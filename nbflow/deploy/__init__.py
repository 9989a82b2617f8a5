"""Deployments: notebooks as scheduled, parameterised runs through papermill, and the scheduler.

Public entry points (imported lazily, so ``import nbflow.deploy`` stays light):
``deploy`` (define or update a deployment), ``trigger`` (run one now) and ``Scheduler``.
"""

from __future__ import annotations

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
