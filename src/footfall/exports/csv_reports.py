"""The CSV reports of an export, one file per report, all through the one query path."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import Any

from footfall.api.deps import Services
from footfall.api.query import answer, parsed
from footfall.meta.sites import SiteInfo

VISIT_METRICS = ["visitors", "visits", "pageviews", "bounce_rate", "visit_duration"]
# file name -> the v2 query fields of that report (site and dates are added per export).
REPORTS: dict[str, dict[str, Any]] = {
    "visitors.csv": {
        "metrics": VISIT_METRICS,
        "dimensions": ["time:day"],
        "order_by": [["time:day", "asc"]],
    },
    "pages.csv": {
        "metrics": ["visitors", "pageviews"],
        "dimensions": ["event:page"],
        "filters": [["is", "event:name", ["pageview"]]],
    },
    "sources.csv": {"metrics": VISIT_METRICS, "dimensions": ["visit:source"]},
    "channels.csv": {"metrics": VISIT_METRICS, "dimensions": ["visit:channel"]},
    "countries.csv": {"metrics": ["visitors", "percentage"], "dimensions": ["visit:country"]},
    "devices.csv": {"metrics": ["visitors", "percentage"], "dimensions": ["visit:device"]},
    "browsers.csv": {"metrics": ["visitors", "percentage"], "dimensions": ["visit:browser"]},
    "goals.csv": {
        "metrics": ["visitors", "events"],
        "dimensions": ["event:name"],
        "filters": [["is_not", "event:name", ["pageview"]]],
    },
}
# Reports counting only conversions (events sent as conversions or matching a goal).
CONVERSION_REPORTS = frozenset({"goals.csv"})


def report_csv(services: Services, site: SiteInfo, start: date, end: date, name: str) -> str:
    """One report of REPORTS as CSV (header: dimension and metric names)."""
    fields = REPORTS[name]
    # Stable order: the first metric, largest first, ties by the dimension's value.
    ordering = [[fields["metrics"][0], "desc"], [fields["dimensions"][0], "asc"]]
    payload = {
        "site_id": site.domain,
        "date_range": [start.isoformat(), end.isoformat()],
        "order_by": ordering,
        **fields,
    }
    query = parsed(payload)
    if name in CONVERSION_REPORTS:
        query = replace(query, conversions_only=True)
    return answer(services, query, site).to_csv()


def csv_zip(
    services: Services,
    site: SiteInfo,
    start: date,
    end: date,
    progress: Callable[[str], None] | None = None,
) -> bytes:
    """A zip of every report of REPORTS; `progress` hears each file name once it is written."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in REPORTS:
            archive.writestr(name, report_csv(services, site, start, end, name))
            if progress is not None:
                progress(name)
    return buffer.getvalue()
