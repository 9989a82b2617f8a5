"""Registry: the assets defined in a process (or an explicit, isolated set of them)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from nbflow.core.graph import Graph, build_graph
from nbflow.core.specs import AssetSpec


class Registry:
    """Holds asset specs by name; redefining a name replaces it (a cell run twice)."""

    def __init__(self) -> None:
        self._specs: dict[str, AssetSpec] = {}
        self._graph: Graph | None = None
        self._lock = threading.Lock()

    def add(self, spec: AssetSpec) -> AssetSpec:
        with self._lock:
            self._specs[spec.name] = spec
            self._graph = None
        return spec

    def remove(self, name: str) -> None:
        with self._lock:
            self._specs.pop(name, None)
            self._graph = None

    def clear(self) -> None:
        with self._lock:
            self._specs.clear()
            self._graph = None

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

    def graph(self) -> Graph:
        """The validated graph (cached until the next change)."""
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
