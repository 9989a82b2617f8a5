"""Cell assets: define an asset from a cell and materialise it (missing upstream first).

``%%asset`` parses its line and calls ``define_cell_asset`` then ``run_cell_asset``; both
raise ``NbflowError`` for anything the user should fix, which the magic turns into a
``UsageError``. Failures of the user's own code come back as ``CellError`` carrying the
user's traceback, which IPython shows as is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from nbflow.core.specs import AssetSpec, make_asset
from nbflow.core.states import State
from nbflow.errors import DefinitionError, NbflowError
from nbflow.notebook.cells import compile_cell, names_read, parse_cell
from nbflow.widget.plan import upstream_to_build


class CellError(NbflowError):
    """The user's cell code raised; IPython shows ``traceback`` instead of nbflow's frames."""

    def __init__(self, message: str, traceback: str) -> None:
        super().__init__(message)
        self.traceback = traceback

    def _render_traceback_(self) -> list[str]:
        return (self.traceback or str(self)).rstrip("\n").splitlines()


@dataclass(frozen=True)
class CellRun:
    """What running a cell asset did: the value, the run, and notes for the user."""

    value: Any
    run_id: str
    notes: tuple[str, ...]
    built_upstream: tuple[str, ...]


def parse_tags(text: str | None) -> dict[str, str]:
    """``k=v,k2=v2`` -> dict; a malformed pair names itself in the error."""
    tags: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise DefinitionError(f"Tag {part.strip()!r} is not KEY=VALUE; write --tags owner=sales,tier=gold.")
        tags[key.strip()] = value.strip()
    return tags


def parse_names(text: str | None) -> list[str]:
    """``a,b`` -> ``["a", "b"]``."""
    return [n.strip() for n in (text or "").split(",") if n.strip()]


def define_cell_asset(session: Any, name: str, source: str, *, namespace: dict[str, Any],
                      filename: str = "<cell>", io: str = "pickle", deps: Iterable[str] = (),
                      var: str | None = None, group: str | None = None,
                      tags: Mapping[str, str] | None = None, code_version: str | None = None,
                      description: str | None = None) -> AssetSpec:
    """Compile the cell, register it as asset ``name`` and check the graph still holds."""
    if not name.isidentifier():
        raise DefinitionError(f"Asset name {name!r} is not a Python identifier; use letters, "
                              "digits and underscores, e.g. %%asset clean_orders.")
    registry = session.registry
    tree = parse_cell(source)
    known = set(registry.names())
    upstream = [n for n in names_read(tree) if n in known and n != name]
    made = compile_cell(source, name=name, params=upstream, namespace=namespace, var=var,
                        filename=filename)
    spec = make_asset(made.fn, name=name, deps=list(deps), group=group, tags=tags,
                      code_version=code_version, io=io, source=source, kind="cell",
                      description=description or f"%%asset cell ({', '.join(upstream) or 'no upstream'})")
    previous = registry.get(name)
    registry.add(spec)
    try:
        registry.graph()
    except NbflowError:
        if previous is not None:
            registry.add(previous)
        else:
            registry.remove(name)
        raise
    return spec


def run_cell_asset(session: Any, name: str) -> CellRun:
    """Materialise ``name`` now (forced: the cell ran), after any upstream that has no value."""
    build, notes = upstream_to_build(session, name)
    result = session.materialize([*build, name], force=True, keep=[name])
    state = result.states.get(name)
    if state in (State.SUCCEEDED, State.CACHED):
        return CellRun(result[name], result.run_id, tuple(notes), tuple(build))
    error = result.errors.get(name, {})
    message = error.get("message") or f"it ended {getattr(state, 'value', state)}"
    if error.get("traceback"):
        raise CellError(f"Asset {name!r} failed in run {result.run_id}: {message}", error["traceback"])
    if state is State.SKIPPED:
        blocker = error.get("blocked_by", "?")
        up = result.errors.get(blocker, {}).get("message", "")
        raise NbflowError(f"Asset {name!r} did not run because upstream {blocker!r} failed"
                          + (f" ({up})" if up else "") + f"; fix {blocker!r} and run this cell again.")
    raise NbflowError(f"Asset {name!r} did not materialise in run {result.run_id}: {message}")


__all__ = ["CellError", "CellRun", "define_cell_asset", "parse_names",
           "parse_tags", "run_cell_asset"]
