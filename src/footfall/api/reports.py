"""Seed report endpoints: traffic, conversions and the hourly /analytics counts.

Each is a thin wrapper: it builds `Query` objects and shapes the answers of the one query path.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi import Query as Param
from starlette.responses import JSONResponse, PlainTextResponse, Response

from footfall.accounts.permissions import Action
from footfall.api.deps import Services, ServicesDep
from footfall.api.errors import ApiError
from footfall.api.goals import site_goals
from footfall.api.query import answer
from footfall.api.security import Principal, require, site_access
from footfall.meta.sites import SiteInfo
from footfall.query import Condition, DateRange, Query, page_regex

router = APIRouter(tags=["reports"])
Reader = Annotated[Principal, Depends(require(Action.REPORTS_READ))]

# The traffic report's source buckets, from visit:channel values.
_CHANNEL_BUCKETS = {
    "direct": ("Direct",),
    "referral": ("Referral",),
    "search": ("Organic Search",),
    "social": ("Organic Social",),
    "email": ("Email",),
    "paid": ("Paid Search", "Paid Social"),
}
_DEFAULT_DAYS = 30
_MAX_TIMESTAMP = 253_402_300_799  # 9999-12-31T23:59:59Z


def _dates(site: SiteInfo, start: date | None, end: date | None) -> DateRange:
    if start is None and end is None:
        today = datetime.now(UTC).astimezone(site.zone).date()
        return DateRange("custom", start=today - timedelta(days=_DEFAULT_DAYS - 1), end=today)
    if start is None or end is None:
        raise ApiError(400, "invalid_request", "give both start_date and end_date, or neither")
    if end < start:
        raise ApiError(400, "invalid_request", "end_date is before start_date")
    return DateRange("custom", start=start, end=end)


def _first(services: Services, query: Query, site: SiteInfo) -> list[int | float]:
    rows = answer(services, query, site).rows
    return rows[0].metrics if rows else [0 for _ in query.metrics]


@router.get("/api/v1/reports/traffic")
def traffic(
    services: ServicesDep,
    reader: Reader,
    site: Annotated[str, Param(description="the site's domain")],
    start_date: date | None = None,
    end_date: date | None = None,
) -> dict[str, Any]:
    """Visitors, pageviews and unique visitors per traffic source (channel) over the dates."""
    info = site_access(reader, services, site, Action.REPORTS_READ)
    dates = _dates(info, start_date, end_date)
    visitors, pageviews = _first(
        services, Query(info.domain, ("visitors", "pageviews"), dates), info
    )
    sources: dict[str, int | float] = {}
    for bucket, channels in _CHANNEL_BUCKETS.items():
        only = (Condition("is", "visit:channel", channels),)
        sources[bucket] = _first(
            services, Query(info.domain, ("visitors",), dates, filters=only), info
        )[0]
    data = {"total_visitors": visitors, "total_page_views": pageviews, "traffic_sources": sources}
    return {"status": "success", "data": data}


@router.get("/api/v1/reports/conversions")
def conversions(
    services: ServicesDep,
    reader: Reader,
    site: Annotated[str, Param(description="the site's domain")],
    start_date: date | None = None,
    end_date: date | None = None,
) -> dict[str, Any]:
    """Conversions by type, the conversion rate and revenue per currency over the dates."""
    info = site_access(reader, services, site, Action.REPORTS_READ)
    dates = _dates(info, start_date, end_date)
    rate = _first(services, Query(info.domain, ("conversion_rate",), dates), info)[0]
    by_name = Query(
        info.domain,
        ("events",),
        dates,
        dimensions=("event:name",),
        filters=(Condition("is_not", "event:name", ("pageview",)),),
        conversions_only=True,
    )
    types: dict[str, int | float] = {
        str(row.dimensions[0]): row.metrics[0] for row in answer(services, by_name, info).rows
    }
    for goal in site_goals(services, info.id):
        if goal.page_path is None:
            continue
        page_views = (
            Condition("is", "event:name", ("pageview",)),
            Condition("matches", "event:page", (page_regex(goal.page_path),)),
        )
        count = _first(services, Query(info.domain, ("events",), dates, filters=page_views), info)
        if count[0]:
            types[goal.label] = count[0]
    by_currency = Query(
        info.domain,
        ("revenue",),
        dates,
        dimensions=("event:revenue_currency",),
        conversions_only=True,
    )
    revenue = {
        str(row.dimensions[0]): f"{Decimal(str(row.metrics[0])):.2f}"
        for row in answer(services, by_currency, info).rows
        if row.dimensions[0]
    }
    data = {
        "total_conversions": sum(types.values()),
        "conversion_rate": rate,
        "conversion_types": types,
        "revenue": revenue,
    }
    return {"status": "success", "data": data}


@router.get(
    "/analytics",
    responses={200: {"content": {"text/plain": {}}, "description": "counts (text or JSON)"}},
)
def hourly_counts(
    request: Request,
    services: ServicesDep,
    reader: Reader,
    timestamp: Annotated[int, Param(ge=0, le=_MAX_TIMESTAMP, description="epoch seconds")],
    site: str | None = None,
) -> Response:
    """Unique users, clicks and impressions with `timestamp - 3600 <= t <= timestamp`."""
    info = site_access(
        reader, services, site or services.settings.default_site, Action.REPORTS_READ
    )
    end = datetime.fromtimestamp(timestamp, UTC)
    # Whole seconds: an event at t.999 still has epoch second t, inside the window.
    window = DateRange(
        "instant", start_at=end - timedelta(seconds=3600), end_at=end + timedelta(seconds=1)
    )
    users = _first(services, Query(info.domain, ("visitors",), window), info)[0]
    named = Query(
        info.domain,
        ("events",),
        window,
        dimensions=("event:name",),
        filters=(Condition("is", "event:name", ("click", "impression")),),
    )
    counts = {str(row.dimensions[0]): row.metrics[0] for row in answer(services, named, info).rows}
    body = {
        "unique_users": users,
        "clicks": counts.get("click", 0),
        "impressions": counts.get("impression", 0),
    }
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse(body)
    text = "".join(f"{key},{value}\n" for key, value in body.items()).rstrip("\n")
    return PlainTextResponse(text)
