"""The event stream as a verb: ``nbflow.events(after=ID, kinds=..., assets=...)`` over the store.

Every event any process commits to the store gets the next id of the event table; reading
``id > after`` in id order (an indexed query) is the stream, and the last id read is the
cursor. The daemon follows it by looking at ``last_event_id()`` every ~0.25 s (one index
lookup) and reading only when it moved, so a reaction starts within about a second of the
commit. PostgreSQL's LISTEN/NOTIFY could replace the look; the poll is cheap enough that one
code path serves SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from nbflow.core.events import EventKind
from nbflow.errors import NbflowError

if TYPE_CHECKING:
    from nbflow.session import Session
    from nbflow.store.base import StoredEvent


def events(after: int = 0, *, kinds: Iterable[str | EventKind] | str | None = None,
           assets: Iterable[str] | str | None = None, limit: int = 100,
           session: Session | None = None) -> list[StoredEvent]:
    """Events committed after event id ``after``, oldest first, at most ``limit`` (<= 1000).

    Each has ``.id`` (pass the last one as ``after`` to read on), ``.kind``, ``.run_id``,
    ``.step``, ``.state``, ``.ts`` and its payload. ``kinds`` picks event kinds
    (``"MATERIALIZATION"``, ``"RUN_FINISHED"`` ...), ``assets`` the events of those assets.
    """
    from nbflow.session import get_session

    wanted = None
    if kinds is not None:
        wanted = [kinds] if isinstance(kinds, str) else list(kinds)
        bad = [k for k in wanted if str(k).upper() not in EventKind.__members__]
        if bad:
            raise NbflowError(f"Unknown event kind(s) {', '.join(map(repr, bad))}; use some of "
                              f"{', '.join(EventKind.__members__)}.")
        wanted = [str(k).upper() for k in wanted]
    names = [assets] if isinstance(assets, str) else None if assets is None else list(assets)
    if isinstance(after, bool) or not isinstance(after, int) or after < 0:
        raise NbflowError(f"events(after=...) takes an event id (a whole number >= 0), got {after!r}.")
    store = (session or get_session()).store
    store.flush()
    return store.events_after(after, kinds=wanted, assets=names, limit=limit)


__all__ = ["events"]
