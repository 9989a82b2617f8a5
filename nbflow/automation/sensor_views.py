"""Sensor state as read models and verbs for the edges: list, detail, reset the cursor, pause."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

from nbflow.errors import NotFoundError

if TYPE_CHECKING:
    from nbflow.session import Session
    from nbflow.store.sensors import SensorRow


def _session(session: Session | None) -> Session:
    from nbflow.session import get_session

    return session or get_session()


def _row(session: Session, name: str) -> SensorRow:
    table = session.store.sensors
    row = table.get(name)
    if row is None:
        names = [r.name for r in table.all()]
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else (
            "; a sensor is stored once a daemon has run it (`nbflow daemon -f FILE.py`)."
            if not names else f"; known: {', '.join(names)}.")
        raise NotFoundError(f"There is no sensor {name!r}{hint}", kind="sensor", name=name,
                            suggestion=close[0] if close else None)
    return row


def _view(row: SensorRow) -> dict[str, Any]:
    return {"name": row.name, "kind": row.kind, "cursor": row.cursor, "paused": row.paused,
            "last_tick_at": row.last_tick_at, "last_error": row.last_error}


def list_sensors(*, session: Session | None = None) -> list[dict[str, Any]]:
    """Every stored sensor: name, kind, cursor, paused, last tick time and last error."""
    return [_view(r) for r in _session(session).store.sensors.all()]


def sensor_detail(name: str, *, session: Session | None = None, ticks: int = 10) -> dict[str, Any]:
    """One sensor with its newest ticks and the run keys it claimed."""
    s = _session(session)
    view = _view(_row(s, name))
    view["ticks"] = [{"ts": t.ts, "status": t.status, "reason": t.reason, "run_ids": list(t.run_ids),
                      "cursor": t.cursor} for t in s.store.sensors.ticks(name, ticks)]
    view["run_keys"] = len(s.store.sensors.run_keys(name))
    return view


def reset_cursor(name: str, cursor: str | None = None, *, session: Session | None = None) -> None:
    """Set the cursor of ``name`` back to nothing (or to ``cursor``): its next tick starts there.
    Claimed run keys stay claimed, so keyed requests are still not launched twice."""
    s = _session(session)
    _row(s, name)
    s.store.sensors.set_cursor(name, cursor)


def set_paused(name: str, paused: bool, *, session: Session | None = None) -> None:
    """Pause (no ticks) or resume sensor ``name``."""
    s = _session(session)
    _row(s, name)
    s.store.sensors.set_paused(name, paused)


__all__ = ["list_sensors", "reset_cursor", "sensor_detail", "set_paused"]
