"""Cell hooks: after every cell the panel re-reads what changed, and cells own their assets.

``%load_ext nbflow`` installs them once per shell. After each cell the live panels re-read the
graph and every asset's status, so an ``@nf.asset`` defined in a plain cell appears, and a
global constant changed in a plain cell shows its readers stale: the panel, ``%nbflow status``
and the store always agree.
"""

from __future__ import annotations

from typing import Any

from nbflow.notebook.owners import CellOwners

_installed: dict[int, CellOwners] = {}


def _session() -> Any:
    from nbflow.session import get_session

    return get_session()


def owners(shell: Any) -> CellOwners | None:
    return _installed.get(id(shell))


def install(shell: Any) -> CellOwners:
    """Register the pre/post cell hooks on ``shell`` (again is a no-op)."""
    found = _installed.get(id(shell))
    if found is not None:
        return found
    book = CellOwners(_session)

    def after(result: Any) -> None:
        book.after_cell(result)
        from nbflow.widget.panel import refresh_panels

        refresh_panels()

    shell.events.register("pre_run_cell", book.before_cell)
    shell.events.register("post_run_cell", after)
    _installed[id(shell)] = book
    return book


__all__ = ["install", "owners"]
