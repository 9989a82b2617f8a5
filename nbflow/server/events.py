"""``GET /api/events?after=ID``: the store's event stream as server-sent events.

Each event is one SSE message: ``id`` its stream id (so a reconnecting client resumes with
``Last-Event-ID``), ``event`` its kind, ``data`` the event as JSON. The store is polled in a
worker thread; a comment line keeps idle connections open.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from nbflow.server.auth import require
from nbflow.session.views import iso

router = APIRouter(tags=["events"])

POLL = 0.25
KEEPALIVE = 15.0


def _message(stored: Any) -> str:
    e = stored.event
    data = {"id": stored.id, "kind": str(e.kind), "run_id": e.run_id, "step": e.step,
            "state": None if e.state is None else str(e.state), "time": iso(e.ts),
            "data": e.to_data()}
    return f"id: {stored.id}\nevent: {e.kind}\ndata: {json.dumps(data, default=str)}\n\n"


@router.get("/events", dependencies=[Depends(require("viewer"))],
            responses={200: {"content": {"text/event-stream": {}},
                             "description": "A stream of server-sent events."}})
async def events(request: Request, after: int = Query(0, ge=0, description="Stream id to "
                                                      "start after (0: from the beginning)."),
                 follow: bool = Query(True, description="Keep the stream open for new events."),
                 last_event_id: int | None = Header(None, ge=0)) -> StreamingResponse:
    """Events with an id above ``after`` (or ``Last-Event-ID``), oldest first, then new ones."""
    store = request.app.state.session.store
    start = max(after, last_event_id or 0)

    async def stream() -> AsyncIterator[str]:
        cursor, idle = start, 0.0
        while True:
            batch = await run_in_threadpool(store.events_after, cursor)
            for stored in batch:
                cursor = stored.id
                yield _message(stored)
            if batch:
                idle = 0.0
                continue
            if not follow or await request.is_disconnected():
                return
            if idle >= KEEPALIVE:
                idle = 0.0
                yield ": keep-alive\n\n"
            await asyncio.sleep(POLL)
            idle += POLL

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store"})
