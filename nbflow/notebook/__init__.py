"""Notebook edge: the ``%%asset``/``%%task`` magics, ``%materialize``, ``%nbflow``, cell hooks."""

from __future__ import annotations

from typing import Any


def load_ipython_extension(ipython: Any) -> None:
    """Register nbflow's magics and cell hooks on ``ipython`` (``%load_ext nbflow``)."""
    from nbflow.notebook.hooks import install
    from nbflow.notebook.magics import NbflowMagics

    ipython.register_magics(NbflowMagics)
    install(ipython)


__all__ = ["load_ipython_extension"]
