"""Exports of a site's statistics over a date range: CSV reports, raw events, a PDF report."""

from footfall.exports.files import EXPORT_FORMATS, ExportRequest, export_bytes, export_filename

__all__ = ["EXPORT_FORMATS", "ExportRequest", "export_bytes", "export_filename"]
