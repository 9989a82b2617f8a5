"""Notebook edge: the ``%%asset``/``%%task`` magics, ``%materialize`` and ``%nbflow``."""

from __future__ import annotations

from typing import Any


def load_ipython_extension(ipython: Any) -> None:
    """Register nbflow's magics on ``ipython`` (``%load_ext nbflow``)."""
    from nbflow.notebook.magics import NbflowMagics

    ipython.register_magics(NbflowMagics)


__all__ = ["load_ipython_extension"]
