"""Keyset pages of runs: a page of run summaries and the opaque cursor of the next page.

A cursor encodes the (created_at, run id) of the last run on a page, so the next page is one
index range scan however deep it is (no OFFSET), and runs recorded meanwhile do not shift it.
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import TYPE_CHECKING, TypedDict

from nbflow.errors import ParameterError
from nbflow.session.views import RunSummary, run_summary

if TYPE_CHECKING:
    from nbflow.session.session import Session

MAX_PAGE = 200


class RunPage(TypedDict):
    runs: list[RunSummary]
    """Newest first."""
    next: str | None
    """Pass as ``before`` for the next page; ``None`` on the last page."""


def encode_cursor(created_at: float, run_id: str) -> str:
    return base64.urlsafe_b64encode(f"{created_at!r}:{run_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    """The (created_at, run id) a cursor holds; ``ParameterError`` naming ``before`` otherwise."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        ts, run_id = text.split(":", 1)
        value = float(ts)
        if not run_id or not math.isfinite(value):
            raise ValueError(text)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ParameterError(f"The cursor {cursor!r} is not one this server gave; pass the "
                             "'next' value of the previous page as before=, or leave it out for "
                             "the first page.", parameter="before") from None
    return value, run_id


def runs_page_view(session: Session, *, limit: int = 20, before: str | None = None,
                   state: str | None = None, kind: str | None = None,
                   deployment: str | None = None, since: float | None = None,
                   until: float | None = None) -> RunPage:
    """One page of runs, newest first, filtered, and the cursor of the next page."""
    from nbflow.core.states import State

    if not 1 <= limit <= MAX_PAGE:
        raise ParameterError(f"limit must be between 1 and {MAX_PAGE}, got {limit}.",
                             parameter="limit")
    if state is not None and state.upper() not in State.__members__:
        raise ParameterError(f"state {state!r} is not a run state; use one of "
                             f"{', '.join(State.__members__)}.", parameter="state")
    records, cursor = session.store.runs_page(
        limit=limit, before=None if before is None else decode_cursor(before), state=state,
        kind=kind, deployment=deployment, since=since, until=until)
    return {"runs": [run_summary(r) for r in records],
            "next": None if cursor is None else encode_cursor(*cursor)}


__all__ = ["MAX_PAGE", "RunPage", "decode_cursor", "encode_cursor", "runs_page_view"]
