"""Prometheus metrics shared by collectors, the writer and the API (served at /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_ACCEPTED = Counter(
    "footfall_events_accepted_total",
    "Events accepted and queued by a collector, by endpoint.",
    ["endpoint"],
)
EVENTS_DROPPED = Counter(
    "footfall_events_dropped_total",
    "Requests answered without storing an event, by reason.",
    ["reason"],
)
EVENTS_REJECTED = Counter(
    "footfall_events_rejected_total",
    "Requests refused with a 4xx/503 status, by endpoint and status.",
    ["endpoint", "status"],
)
EVENTS_STORED = Counter("footfall_events_stored_total", "Events inserted into the event store.")
QUEUE_BYTES = Gauge("footfall_queue_bytes", "Bytes held in the queue and not yet retired.")
QUEUE_LAG_EVENTS = Gauge("footfall_queue_lag_events", "Events fetched but not yet stored.")
FLUSH_SECONDS = Histogram(
    "footfall_flush_seconds",
    "Time to enrich and insert one batch into the event store.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
FLUSH_BATCH_EVENTS = Histogram(
    "footfall_flush_batch_events",
    "Events per stored batch.",
    buckets=(1, 10, 100, 1_000, 5_000, 10_000, 20_000, 50_000),
)
REQUEST_SECONDS = Histogram(
    "footfall_request_seconds",
    "HTTP request latency by route group.",
    ["route"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
