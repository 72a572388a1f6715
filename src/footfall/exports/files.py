"""One export request -> the bytes of its file (zip of CSV, Parquet or PDF) and its file name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from footfall.api.deps import Services
from footfall.exports.csv_reports import csv_zip
from footfall.exports.pdf import pdf_report
from footfall.exports.raw import events_parquet
from footfall.meta.sites import SiteInfo

# format -> (media type, file extension)
EXPORT_FORMATS: dict[str, tuple[str, str]] = {
    "csv": ("application/zip", "zip"),
    "parquet": ("application/vnd.apache.parquet", "parquet"),
    "pdf": ("application/pdf", "pdf"),
}
MAX_DAYS = 3660


@dataclass(frozen=True)
class ExportRequest:
    """What to export: a site, inclusive site-local dates, and a format of EXPORT_FORMATS."""

    site: SiteInfo
    start: date
    end: date
    format: str

    def __post_init__(self) -> None:
        if self.format not in EXPORT_FORMATS:
            raise ValueError(f"format must be one of {', '.join(EXPORT_FORMATS)}")
        if self.end < self.start:
            raise ValueError("the end date is before the start date")
        if (self.end - self.start).days >= MAX_DAYS:
            raise ValueError(f"an export covers at most {MAX_DAYS} days")


def export_filename(request: ExportRequest) -> str:
    """`<domain>-<start>-<end>.<ext>`, safe in a Content-Disposition header."""
    extension = EXPORT_FORMATS[request.format][1]
    domain = "".join(ch if ch.isalnum() or ch in ".-" else "_" for ch in request.site.domain)
    return f"{domain}-{request.start.isoformat()}-{request.end.isoformat()}.{extension}"


def export_bytes(
    services: Services, request: ExportRequest, progress: Callable[[str], None] | None = None
) -> bytes:
    """The export's file content (reads the store: call it from a worker thread)."""
    site, start, end = request.site, request.start, request.end
    if request.format == "csv":
        return csv_zip(services, site, start, end, progress)
    if request.format == "parquet":
        data = events_parquet(services.store, site, start, end)
    else:
        data = pdf_report(services, site, start, end)
    if progress is not None:
        progress(export_filename(request))
    return data
