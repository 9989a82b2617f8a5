"""Registry: the assets defined in a process (or an explicit, isolated set of them)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

from nbflow.core.graph import Graph, build_graph, unknown_name_error
from nbflow.core.specs import AssetSpec
from nbflow.errors import DefinitionError

Redefine = Callable[[], AssetSpec]
"""Defines an asset again from its recipe (a notebook cell): its upstream is found anew."""


class Registry:
    """Holds asset specs by name; redefining a name replaces it (a cell run twice)."""

    def __init__(self) -> None:
        self._specs: dict[str, AssetSpec] = {}
        self._redefine: dict[str, Redefine] = {}
        self._graph: Graph | None = None
        self._lock = threading.Lock()
        self._watchers: tuple[Callable[[], object], ...] = ()

    def add(self, spec: AssetSpec, *, redefine: Redefine | None = None) -> AssetSpec:
        """Add (or replace) ``spec``; ``redefine`` builds it again if an upstream is forgotten."""
        with self._lock:
            self._specs[spec.name] = spec
            if redefine is not None:
                self._redefine[spec.name] = redefine
            else:
                self._redefine.pop(spec.name, None)
            self._graph = None
        return spec

    def remove(self, name: str) -> None:
        with self._lock:
            self._specs.pop(name, None)
            self._redefine.pop(name, None)
            self._graph = None

    def clear(self) -> None:
        with self._lock:
            self._specs.clear()
            self._redefine.clear()
            self._graph = None

    def forget(self, name: str) -> list[str]:
        """Remove asset ``name``; the assets that read it are defined again without it.

        Returns those assets. Only assets with a recipe (notebook cells, which then read the
        name as a plain notebook variable) can be defined again: if a function asset reads
        ``name``, nothing changes and a ``DefinitionError`` names it.
        """
        if name not in self._specs:
            raise unknown_name_error(name, self._specs, context="Cannot forget",
                                     fix="check the name with `%nbflow status`")
        downstream = list(self.graph().downstream[name])
        stuck = [d for d in downstream if d not in self._redefine]
        if stuck:
            raise DefinitionError(
                f"Asset {name!r} is read by {', '.join(repr(d) for d in stuck)}, defined by a "
                f"function; change {'it' if len(stuck) == 1 else 'them'} first, or forget "
                f"{'it' if len(stuck) == 1 else 'them'} too.")
        saved = {n: (self._specs[n], self._redefine.get(n)) for n in (name, *downstream)}
        self.remove(name)
        try:
            for d in downstream:
                self._redefine[d]()
            self.graph()
        except BaseException:
            for spec, again in saved.values():
                self.add(spec, redefine=again)
            raise
        return downstream

    def recipe(self, name: str) -> Redefine | None:
        """How asset ``name`` is defined again (``None`` for function assets)."""
        return self._redefine.get(name)

    def get(self, name: str) -> AssetSpec | None:
        return self._specs.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __iter__(self) -> Iterator[AssetSpec]:
        return iter(list(self._specs.values()))

    def __len__(self) -> int:
        return len(self._specs)

    def names(self) -> list[str]:
        return list(self._specs)

    def watch(self, refresh: Callable[[], object]) -> None:
        """Call ``refresh()`` before every graph read: definitions kept outside Python (a dbt
        project) update their specs when their files changed."""
        self._watchers = (*self._watchers, refresh)

    def graph(self) -> Graph:
        """The validated graph (cached until the next change)."""
        for refresh in self._watchers:
            refresh()
        g = self._graph
        if g is None:
            with self._lock:
                g = self._graph = build_graph(list(self._specs.values()))
        return g


_default: Registry | None = None


def default_registry() -> Registry:
    """The process-wide registry that ``@asset`` and ``%%asset`` use unless told otherwise."""
    global _default
    if _default is None:
        _default = Registry()
    return _default
