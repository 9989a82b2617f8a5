"""Plan: which upstream assets a run of one asset must build first (those with no value yet).

Shared by the panel's "materialise this" and the ``%%asset`` magic: upstream assets that were
never materialised (or only failed) are built first; stale ones are used as they are, with a
note saying so. What counts as having a value is the freshness verdict's (``core.freshness``).
"""

from __future__ import annotations

from typing import Any

from nbflow.core.freshness import FRESH, has_value


def upstream_to_build(session: Any, name: str) -> tuple[list[str], list[str]]:
    """(upstream assets without a value, in run order; notes on stale upstream used as is)."""
    graph = session.registry.graph()
    ancestors = graph.upstream_of([name])
    if not ancestors:
        return [], []
    status = {s.name: s for s in session.status(sorted(ancestors))}
    build: set[str] = set()
    notes: list[str] = []
    frontier = list(graph.upstream[name])
    seen: set[str] = set()
    while frontier:
        u = frontier.pop()
        if u in seen:
            continue
        seen.add(u)
        st = status.get(u)
        if st is None or not has_value(st.status, st.last is not None):
            build.add(u)                         # missing, or failed without any value
            frontier.extend(graph.upstream[u])
        elif st.status != FRESH:
            why = st.reason or st.status
            notes.append(f"Note: upstream {u!r} is {st.status} ({why}); using its last "
                         f"materialisation. Run `%materialize {u}` to rebuild it.")
    return graph.sorted(build), sorted(notes)


__all__ = ["upstream_to_build"]
