"""Real time: visitors of the last 5 minutes and pageviews per minute, once or as an SSE stream."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi import Query as Param
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from footfall.accounts.permissions import Action
from footfall.api.deps import Services, ServicesDep
from footfall.api.query import answer
from footfall.api.security import Principal, require, site_access
from footfall.meta.sites import SiteInfo
from footfall.query import DateRange, Query

router = APIRouter(prefix="/api/v1/realtime", tags=["reports"])
Reader = Annotated[Principal, Depends(require(Action.REPORTS_READ))]

VISITOR_WINDOW = timedelta(minutes=5)
MINUTES = 30
STREAM_INTERVAL_S = 5.0


def realtime_counts(
    services: Services, site: SiteInfo, now: datetime | None = None
) -> dict[str, Any]:
    """Visitors of the last 5 minutes; pageviews in each of the last 30 minutes, oldest first."""
    moment = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    recent = DateRange(
        "instant", start_at=moment - VISITOR_WINDOW, end_at=moment + timedelta(seconds=1)
    )
    visitors = answer(services, Query(site.domain, ("visitors",), recent), site, now=moment).rows
    minute = moment.replace(second=0)
    window = DateRange(
        "instant",
        start_at=minute - timedelta(minutes=MINUTES - 1),
        end_at=minute + timedelta(minutes=1),
    )
    per_minute = Query(site.domain, ("pageviews",), window, dimensions=("time:minute",))
    rows = answer(services, per_minute, site, now=moment).rows
    return {
        "visitors": visitors[0].metrics[0] if visitors else 0,
        "pageviews_per_minute": [row.metrics[0] for row in rows],
    }


@router.get("")
def realtime(
    services: ServicesDep, reader: Reader, site: Annotated[str, Param()]
) -> dict[str, Any]:
    """`{"visitors": N, "pageviews_per_minute": [30 values]}`."""
    info = site_access(reader, services, site, Action.REPORTS_READ)
    return realtime_counts(services, info)


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "SSE of counts"}},
)
async def realtime_stream(
    request: Request,
    services: ServicesDep,
    reader: Reader,
    site: Annotated[str, Param()],
    count: Annotated[int | None, Param(ge=1, description="stop after this many events")] = None,
) -> StreamingResponse:
    """The real-time counts as Server-Sent Events, every 5 seconds, first one at once."""
    info = await run_in_threadpool(site_access, reader, services, site, Action.REPORTS_READ)

    async def events() -> AsyncIterator[str]:
        sent = 0
        while count is None or sent < count:
            counts = await run_in_threadpool(realtime_counts, services, info)
            yield f"event: realtime\ndata: {json.dumps(counts)}\n\n"
            sent += 1
            if count is not None and sent >= count:
                return
            await asyncio.sleep(STREAM_INTERVAL_S)
            if await request.is_disconnected():
                return

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)
