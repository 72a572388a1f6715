"""The PDF report: the dashboard's numbers (top stats, graph, panels) on printable pages."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

import footfall.dashboard
from footfall.api.deps import Services
from footfall.dashboard.reports import Dashboard, build_dashboard
from footfall.dashboard.state import State
from footfall.meta.sites import SiteInfo

CHART_WIDTH, CHART_HEIGHT = 640, 170
# The dashboard's templates folder (report.html lives next to the pages it mirrors).
_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(footfall.dashboard.__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)


def chart_points(values: list[int | float], width: int, height: int) -> str:
    """SVG polyline points drawing `values` left to right in a width x height box."""
    top = max(values, default=0) or 1
    step = width / max(len(values) - 1, 1)
    return " ".join(
        f"{index * step:.1f},{height - (height - 4) * value / top - 2:.1f}"
        for index, value in enumerate(values)
    )


def report_html(view: Dashboard) -> str:
    """The report as standalone HTML (styles included: WeasyPrint loads nothing else)."""
    graph = view.graph
    context = {
        "view": view,
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "points": chart_points(graph.values, CHART_WIDTH, CHART_HEIGHT),
        "previous_points": chart_points(graph.previous, CHART_WIDTH, CHART_HEIGHT)
        if graph.previous
        else "",
    }
    return _TEMPLATES.get_template("report.html").render(context)


def pdf_report(services: Services, site: SiteInfo, start: date, end: date) -> bytes:
    """The site's report for `start`..`end` as PDF bytes."""
    # Imported here: WeasyPrint loads Pango and fonts, which only PDF exports need.
    import weasyprint  # type: ignore[import-untyped]  # noqa: PLC0415

    state = State(period="custom", start=start, end=end, interval="day")
    view = build_dashboard(services, site, state)
    document: bytes = weasyprint.HTML(string=report_html(view)).write_pdf()
    return document
