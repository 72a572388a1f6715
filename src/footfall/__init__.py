"""Footfall: self-hosted web, link and email campaign analytics."""

__version__ = "0.1.0"
