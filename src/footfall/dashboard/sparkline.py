"""The site list's sparklines: each site's visitors per day over the last 30 days, as SVG."""

from __future__ import annotations

from dataclasses import dataclass

from footfall.api.deps import Services
from footfall.api.query import answer, parsed
from footfall.meta.sites import SiteInfo


@dataclass(frozen=True)
class Sparkline:
    """A site's daily visitors of the last 30 days, as SVG polyline points."""

    total: int | float
    points: str


SPARK_WIDTH, SPARK_HEIGHT = 120, 32


def sparkline(services: Services, site: SiteInfo) -> Sparkline:
    """Visitors per day over the last 30 days, scaled into a SPARK_WIDTH x SPARK_HEIGHT box."""
    payload = {
        "site_id": site.domain,
        "metrics": ["visitors"],
        "date_range": "30d",
        "dimensions": ["time:day"],
        "order_by": [["time:day", "asc"]],
    }
    daily = [row.metrics[0] for row in answer(services, parsed(payload), site).rows]
    total_payload = {"site_id": site.domain, "metrics": ["visitors"], "date_range": "30d"}
    total = answer(services, parsed(total_payload), site).rows
    top = max(daily, default=0) or 1
    step = SPARK_WIDTH / max(len(daily) - 1, 1)
    points = " ".join(
        f"{index * step:.1f},{SPARK_HEIGHT - 2 - (SPARK_HEIGHT - 4) * value / top:.1f}"
        for index, value in enumerate(daily)
    )
    return Sparkline(total[0].metrics[0] if total else 0, points)
