"""Cells own their assets: which notebook cell (by Jupyter's cell id) defined which asset.

Before each cell runs, the registry's assets are noted; after it ran successfully, the assets
it defined (``%%asset`` or ``@nf.asset`` in the cell, not assets imported from modules) belong
to it. Assets the cell owned before and no longer defines (it was renamed, or its ``%%asset``
line removed) are forgotten, and the cell's output says so. A failed cell changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nbflow.core.specs import AssetSpec
from nbflow.errors import NbflowError


def defined_in_notebook(spec: AssetSpec) -> bool:
    """A ``%%asset`` cell or a function defined in the notebook itself (not imported)."""
    return spec.kind == "cell" or getattr(spec.fn, "__module__", None) == "__main__"


class CellOwners:
    """Cell id -> the asset names that cell defines, kept in step with each cell run."""

    def __init__(self, session: Callable[[], Any], say: Callable[[str], None] = print) -> None:
        self._session = session
        self._say = say
        self.by_cell: dict[str, set[str]] = {}
        self._before: dict[str, int] = {}
        self._cell: str | None = None

    def owner_of(self, name: str) -> str | None:
        return next((c for c, names in self.by_cell.items() if name in names), None)

    # IPython's pre_run_cell / post_run_cell events
    def before_cell(self, info: Any) -> None:
        self._cell = getattr(info, "cell_id", None)
        self._before = {s.name: id(s) for s in self._session().registry}

    def after_cell(self, result: Any) -> None:
        cell, self._cell = self._cell, None
        if cell is None or not getattr(result, "success", False):
            return
        registry = self._session().registry
        defined = {s.name for s in registry
                   if self._before.get(s.name) != id(s) and defined_in_notebook(s)}
        for other, names in self.by_cell.items():
            if other != cell:
                names -= defined              # an asset moved to this cell
        gone = [n for n in sorted(self.by_cell.get(cell, set()) - defined) if n in registry]
        kept = set()
        for name in gone:
            try:
                rewired = self._session().forget(name)
            except NbflowError as exc:
                kept.add(name)
                self._say(f"Kept asset {name!r}: {exc}")
                continue
            now = f" (this cell now defines {', '.join(repr(d) for d in sorted(defined))})" if defined else ""
            self._say(f"Removed asset {name!r}: this cell no longer defines it{now}."
                      + (f" {', '.join(repr(r) for r in rewired)} now read{'s' if len(rewired) == 1 else ''} "
                         f"the notebook variable {name!r} until you change "
                         f"{'its cell' if len(rewired) == 1 else 'their cells'}." if rewired else ""))
        owned = defined | kept
        if owned:
            self.by_cell[cell] = owned
        else:
            self.by_cell.pop(cell, None)


__all__ = ["CellOwners", "defined_in_notebook"]
