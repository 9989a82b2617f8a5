"""Values back in the notebook: bind a run's values to their names and update their outputs.

One rule for the panel and the magics: when a run produces an asset's value, the notebook
variable of that name gets it, and the output an ``%%asset`` cell displayed for it (a display
id) is updated in place, whoever started the run.
"""

from __future__ import annotations

import threading
from collections.abc import MutableMapping
from typing import Any

from nbflow.core.states import State

_handles: dict[str, Any] = {}
_lock = threading.Lock()


def show(name: str, value: Any) -> None:
    """Display ``value`` as asset ``name``'s output; later runs update it in place."""
    if value is None:
        return
    from IPython.display import display

    handle = display(value, display_id=True)
    with _lock:
        _handles[name] = handle


def bind(namespace: MutableMapping[str, Any] | None, result: Any) -> list[str]:
    """Put the values of the assets ``result`` built into ``namespace``; returns their names."""
    if result is None:
        return []
    bound = []
    for name, state in dict(getattr(result, "states", {})).items():
        if state != State.SUCCEEDED:
            continue
        try:
            value = result[name]
        except Exception:  # noqa: BLE001, S112 - a value that cannot be loaded stays in the store
            continue
        if namespace is not None:
            namespace[name] = value
        bound.append(name)
        with _lock:
            handle = _handles.get(name)
        if handle is not None:
            try:
                handle.update(value)
            except Exception:  # noqa: BLE001, S112 - the front end went away; the value is bound
                continue
    return bound


__all__ = ["bind", "show"]
