"""Cell assets: define an asset from a cell and materialise it (missing upstream first).

``%%asset`` parses its line and calls ``define_cell_asset`` then ``run_cell_asset``; both
raise ``NbflowError`` for anything the user should fix, which the magic turns into a
``UsageError``. Failures of the user's own code come back as ``CellError`` carrying the
user's traceback, which IPython shows as is.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from nbflow.core.graph import closest
from nbflow.core.specs import AssetSpec, make_asset
from nbflow.core.states import State
from nbflow.errors import CellError, DefinitionError, NbflowError
from nbflow.notebook.cells import compile_cell, names_read, parse_cell
from nbflow.widget.plan import upstream_to_build


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
                      description: str | None = None, partitions: str | None = None) -> AssetSpec:
    """Compile the cell, register it as asset ``name`` and check the graph still holds.

    ``partitions`` is a definition's short text form (``daily:2026-01-01``, ``static:a,b,c``,
    ``dynamic:NAME``); the cell then runs once per partition and reads its key from
    ``nbflow.context().partition_key``.

    A definition that fails (a bad option, an unknown I/O manager, a cycle, a cell that reads
    itself, a name that looks like a misspelt asset) registers nothing: the graph stays as it was.
    """
    if not name.isidentifier():
        raise DefinitionError(f"Asset name {name!r} is not a Python identifier; use letters, "
                              "digits and underscores, e.g. %%asset clean_orders.")
    from nbflow.engine.io import io_names

    if io not in io_names():
        hint = closest(io, io_names())
        raise DefinitionError(f"--io {io!r} is not an I/O manager;"
                              + (f" did you mean {hint!r}?" if hint else "")
                              + f" Use one of {', '.join(io_names())} or register one with "
                              "nbflow.register_io_manager(name, factory).")
    registry = session.registry
    tree = parse_cell(source)
    known = set(registry.names())
    reads = names_read(tree)
    if name in reads:
        raise DefinitionError(f"The cell of asset {name!r} reads {name!r}, its own value; an asset "
                              "cannot depend on itself. Read its upstream assets instead, or give "
                              "the cell another name.")
    for n in reads:
        if n in known or n in namespace or hasattr(builtins, n):
            continue
        hint = closest(n, known)
        if hint is not None:
            raise DefinitionError(f"The cell of asset {name!r} reads {n!r}, which is not defined. "
                                  f"Did you mean the asset {hint!r}?")
    upstream = [n for n in reads if n in known and n != name]
    made = compile_cell(source, name=name, params=upstream, namespace=namespace, var=var,
                        filename=filename)
    spec = make_asset(made.fn, name=name, deps=list(deps), group=group, tags=tags,
                      code_version=code_version, io=io, source=source, kind="cell",
                      partitions=partitions,
                      description=description or f"%%asset cell ({', '.join(upstream) or 'no upstream'})")

    def redefine() -> AssetSpec:
        # Called when an upstream is forgotten: the cell's upstream is found again.
        return define_cell_asset(session, name, source, namespace=namespace, filename=filename,
                                 io=io, deps=deps, var=var, group=group, tags=tags,
                                 code_version=code_version, description=description,
                                 partitions=partitions)

    previous = registry.get(name)
    again = registry.recipe(name)
    registry.add(spec, redefine=redefine)
    try:
        registry.graph()
    except NbflowError:
        if previous is not None:
            registry.add(previous, redefine=again)
        else:
            registry.remove(name)
        raise
    return spec


def run_cell_asset(session: Any, name: str, partitions: Any = None) -> CellRun:
    """Materialise ``name`` now (forced: the cell ran), after any upstream that has no value.

    A partitioned asset runs for ``partitions`` (a key, a range, a pattern; default every
    key); its value is then a dict of typed partition key -> value, in key order (what an
    unpartitioned reader gets too).
    """
    build, notes = upstream_to_build(session, name)
    graph = session.registry.graph()
    spec = graph.specs[name]
    partitioned = [b for b in build if graph.specs[b].partitions is not None]
    if partitioned:  # one materialised partition is a value: readers get the partitions that exist
        made = {st.name for st in session.status(partitioned)
                if st.partitions is not None and st.partitions.latest is not None}
        build = [b for b in build if b not in made]
    if spec.partitions is None and partitions is not None:
        raise NbflowError(f"Asset {name!r} is not partitioned, so --partition {partitions!r} "
                          "does not apply; add --partitions daily:2026-01-01 (or static:a,b, "
                          "dynamic:NAME) to define its partitions.")
    result = session.materialize([*build, name], force=True, keep=[name],
                                 **({} if partitions is None else {"partitions": partitions}))
    if spec.partitions is not None:
        return _partitioned_run(spec, result, tuple(notes), tuple(build))
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


def _partitioned_run(spec: AssetSpec, result: Any, notes: tuple[str, ...],
                     build: tuple[str, ...]) -> CellRun:
    from nbflow.engine.partitioned import split_step

    name, defn = spec.name, spec.partitions
    assert defn is not None

    steps = [(sid, part) for sid in result.states
             for asset, part in [split_step(sid)] if asset == name and part is not None]
    for sid, _part in steps:
        if result.states[sid] not in (State.SUCCEEDED, State.CACHED):
            error = result.errors.get(sid, {})
            message = error.get("message") or f"it ended {result.states[sid].value}"
            if error.get("traceback"):
                raise CellError(f"Asset {name!r} failed for partition {sid} in run "
                                f"{result.run_id}: {message}", error["traceback"])
            raise NbflowError(f"Partition {sid} of asset {name!r} did not materialise in run "
                              f"{result.run_id}: {message}")
    if not steps:
        raise NbflowError(f"Asset {name!r} has no partitions to run; add keys to its dynamic "
                          "partitions (nbflow.partitions(NAME).add([...])) or widen --partition.")
    return CellRun({defn.parse_key(part): result[sid] for sid, part in steps}, result.run_id, notes,
                   build)


__all__ = ["CellError", "CellRun", "define_cell_asset", "parse_names",
           "parse_tags", "run_cell_asset"]
