"""GET /api/v1/export: a site's statistics over a date range as a file (CSV zip, Parquet, PDF)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from fastapi import Query as Param
from starlette.responses import Response

from footfall.accounts.permissions import Action
from footfall.api.deps import ServicesDep
from footfall.api.errors import ApiError
from footfall.api.security import Principal, require, site_access
from footfall.exports import EXPORT_FORMATS, ExportRequest, export_bytes, export_filename

router = APIRouter(tags=["reports"])
Exporter = Annotated[Principal, Depends(require(Action.EXPORTS_CREATE))]


@router.get(
    "/api/v1/export",
    response_class=Response,
    responses={
        200: {
            "content": {media: {} for media, _ in EXPORT_FORMATS.values()},
            "description": "csv: a zip of CSV reports (visitors by day, pages, sources, channels, "
            "countries, devices, browsers, goals); parquet: the raw events; pdf: a report",
        }
    },
)
def export(
    services: ServicesDep,
    exporter: Exporter,
    site: Annotated[str, Param(description="the site's domain")],
    start_date: Annotated[date, Param(description="first day (site time zone), inclusive")],
    end_date: Annotated[date, Param(description="last day (site time zone), inclusive")],
    format: Annotated[Literal["csv", "parquet", "pdf"], Param()] = "csv",
) -> Response:
    """Export a site's statistics from start_date to end_date (analyst or admin)."""
    info = site_access(exporter, services, site, Action.EXPORTS_CREATE)
    try:
        request = ExportRequest(info, start_date, end_date, format)
    except ValueError as exc:
        raise ApiError(400, "invalid_request", str(exc)) from None
    content = export_bytes(services, request)
    headers = {
        "content-disposition": f'attachment; filename="{export_filename(request)}"',
        "cache-control": "no-store",
    }
    return Response(content, media_type=EXPORT_FORMATS[format][0], headers=headers)
