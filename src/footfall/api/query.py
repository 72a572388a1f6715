"""POST /api/v2/query: the general query API (Stats API v2 shape), as JSON or CSV."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from sqlalchemy import Engine, select
from starlette.responses import JSONResponse, Response

from footfall.accounts.permissions import Action
from footfall.api.deps import Services, ServicesDep
from footfall.api.errors import ApiError
from footfall.api.goals import site_goals
from footfall.api.security import Principal, require, site_access
from footfall.meta.db import session_scope
from footfall.meta.link_models import Campaign, Link
from footfall.meta.sites import SiteInfo
from footfall.query import Query, QueryError, QueryResult, parse_query, run_query

router = APIRouter(tags=["reports"])
Reader = Annotated[Principal, Depends(require(Action.REPORTS_READ))]

_EXAMPLE = {
    "site_id": "example.com",
    "metrics": ["visitors", "pageviews", "bounce_rate"],
    "date_range": "30d",
    "dimensions": ["visit:source"],
    "filters": [["is", "visit:country", ["DE", "FR"]]],
    "order_by": [["visitors", "desc"]],
    "pagination": {"limit": 10, "offset": 0},
}


class MetaLabels:
    """Names of tracked links and campaigns for the link:* dimensions, read once per answer."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._codes: dict[int, str] | None = None
        self._campaigns: dict[int, str] | None = None

    def link_code(self, link_id: int) -> str:
        """The link's code (its id as text when the link is gone)."""
        if self._codes is None:
            with session_scope(self._engine) as session:
                self._codes = dict(session.execute(select(Link.id, Link.code)).tuples().all())
        return self._codes.get(link_id, str(link_id))

    def campaign_name(self, campaign_id: int) -> str:
        """The campaign's name (its id as text when the campaign is gone)."""
        if self._campaigns is None:
            with session_scope(self._engine) as session:
                rows = session.execute(select(Campaign.id, Campaign.name)).tuples().all()
                self._campaigns = dict(rows)
        return self._campaigns.get(campaign_id, str(campaign_id))


def answer(
    services: Services, query: Query, site: SiteInfo, *, now: datetime | None = None
) -> QueryResult:
    """Run `query` for `site` with its goals and link names (400 on an unanswerable query)."""
    try:
        return run_query(
            services.store,
            query,
            site,
            now=now,
            labels=MetaLabels(services.engine),
            goals=site_goals(services, site.id),
        )
    except QueryError as exc:
        raise ApiError(400, "invalid_request", str(exc)) from None


def parsed(payload: Any, default_site: str | None = None) -> Query:
    """`parse_query` with its errors as the contract's 400."""
    try:
        return parse_query(payload, default_site=default_site)
    except QueryError as exc:
        raise ApiError(400, "invalid_request", str(exc)) from None


def wants_csv(request: Request) -> bool:
    """Whether the caller prefers CSV (Accept: text/csv)."""
    accept = request.headers.get("accept", "")
    return "text/csv" in accept and "application/json" not in accept


@router.post(
    "/api/v2/query",
    responses={200: {"content": {"text/csv": {}}, "description": "results (JSON or CSV)"}},
)
def query_v2(
    request: Request,
    services: ServicesDep,
    reader: Reader,
    payload: Annotated[dict[str, Any], Body(examples=[_EXAMPLE])],
) -> Response:
    """Answer a Stats API v2 query; `Accept: text/csv` gives the rows as CSV."""
    query = parsed(payload)
    site = site_access(reader, services, query.site, Action.REPORTS_READ)
    result = answer(services, query, site)
    if wants_csv(request):
        return Response(result.to_csv(), media_type="text/csv; charset=utf-8")
    return JSONResponse(result.to_json())
