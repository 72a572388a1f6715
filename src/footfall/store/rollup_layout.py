"""What the embedded store's visit rollup keeps beyond one row per visit: the dimensions with
rows per visit and value (footfall.store.visit_values) and the visit attributes linked to the
visitor's previous visit with the same value (footfall.store.visits). The rollup's tables, its
per-day sums (footfall.store.visit_days) and the planner (footfall.query.plan) read them here.
"""

from __future__ import annotations

# Dimensions kept per visit and value: their table, and the events column they read (the
# planner's column for the dimension, footfall.query.query.EVENT_COLUMNS).
VALUE_DIMENSIONS: dict[str, tuple[str, str]] = {
    "event:page": ("visit_pages", "pathname"),
    "visit:country": ("visit_countries", "country"),
    "visit:region": ("visit_regions", "region"),
    "visit:city": ("visit_cities", "city"),
    "visit:browser": ("visit_browsers", "browser"),
    "visit:os": ("visit_operating_systems", "os"),
    "visit:device": ("visit_devices", "device"),
}
VALUE_TABLES = tuple(table for table, _ in VALUE_DIMENSIONS.values())

# Visit attributes (columns of `visits`, one value per visit) linked in `visits` itself to the
# visitor's previous visit with the same value (its `first_ev_ts`; NULL: none), in the column
# `link_column` names. Those of the dashboard's tabs: each link costs a sort of the rollup's
# rows at every checkpoint.
LINKED_ATTRIBUTES = (
    "s_entry_page",
    "s_exit_page",
    "s_source",
    "s_referrer",
    "s_channel",
    "s_utm_source",
    "s_utm_medium",
    "s_utm_campaign",
)


def link_column(attribute: str) -> str:
    """The `visits` column linking a visit to the visitor's previous one with the same
    `attribute` value: `prev_channel_ts` for `s_channel`."""
    return f"prev_{attribute.removeprefix('s_')}_ts"
