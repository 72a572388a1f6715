"""Synthetic demo traffic for `footfall demo`: realistic visits, expanded into events in DuckDB.

Visitors come from a skewed pool (some return often) with a place, device and browser each;
visits get a source, a pageview count (about half bounce), pages drawn by popularity,
engagement, custom events and conversions, and a start time following each place's day,
the week and slow growth. Randomness comes from hashing (seed, visit, stream), so one seed
always yields the same traffic, laid out backwards from the run's end.
"""

from footfall.store.demo.generator import (
    ProgressCallback,
    generate_into_duckdb,
    generate_into_store,
)
from footfall.store.demo.spec import DEFAULT_CHUNK_EVENTS, DemoSpec, DemoSummary

__all__ = [
    "DEFAULT_CHUNK_EVENTS",
    "DemoSpec",
    "DemoSummary",
    "ProgressCallback",
    "generate_into_duckdb",
    "generate_into_store",
]
