"""The demo's traffic model: the data file's tables turned into the generator's parameters.

Weighted choices become lists of SLOTS entries (each value repeated by its weight), which SQL
indexes with a uniform draw. Sources and user agents go through the pipeline's own enrichment,
so that a demo visit carries exactly the source, channel, browser and OS a real one would.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import Any

from footfall.enrich.channels import channel_for, source_for
from footfall.enrich.referrers import classify_referrer
from footfall.enrich.useragent import parse_user_agent
from footfall.enrich.utm import Campaign
from footfall.store.demo.spec import DemoSpec

# Resolution of weighted choices: each choice list is expanded to this many slots.
SLOTS = 10_000
# Visitors are drawn from a pool this many times the number of visits, skewed towards low
# indexes, so that about 70% of visits come from distinct visitors and regulars return often.
VISITOR_POOL_FACTOR = 1.5
VISITOR_SKEW = 1.3

_UTM_TAGS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")


def parameters(spec: DemoSpec) -> dict[str, Any]:
    """Every value the generator's statements bind, from the spec and the traffic tables."""
    data = _traffic_data()
    params: dict[str, Any] = {
        "site_id": spec.site_id,
        "hostname": spec.hostname,
        "events": spec.events,
        "chunk_events": spec.chunk_events,
        "start_ms": spec.start_ms,
        "end_ms": spec.end_ms,
        "hours": spec.days * 24,
        "slots": SLOTS,
        "visitor_skew": VISITOR_SKEW,
        "hourly_weights": data["hourly_weights"],
        "weekday_weights": data["weekday_weights"],
        "growth_start": data["growth"][0],
        "growth_end": data["growth"][1],
        "daily_noise": data["daily_noise"],
        "pages": data["pages"],
        "signup_page": data["signup_page"],
        "cart_page": data["cart_page"],
        "checkout_page": data["checkout_page"],
        "outbound_urls": data["outbound_urls"],
        "download_paths": data["download_paths"],
        "signup_plans": _expand(data["signup_plans"], 100),
        "plan_names": [name for name, _, _ in data["plans"]],
        "plan_amounts": [amount for _, amount, _ in data["plans"]],
        "plan_slots": _expand([(i + 1, p[2]) for i, p in enumerate(data["plans"])], 100),
    }
    params.update(_keys(spec))
    params.update(_geo_parameters(data))
    params.update(_source_parameters(data))
    params.update(_platform_parameters(data))
    return params


def _keys(spec: DemoSpec) -> dict[str, int]:
    # Traffic depends on the seed only; ids also on the site and the run's end, so that a
    # second run into the same store never repeats a visitor, visit or event id.
    def key(*parts: object) -> int:
        text = ":".join(str(part) for part in parts).encode()
        return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big") >> 1

    return {
        "seed_key": key("visit", spec.seed),
        "traits_key": key("visitor-traits", spec.seed),
        "visitor_key": key("visitor", spec.seed, spec.site_id, spec.end_ms),
        "session_key": key("session", spec.seed, spec.site_id, spec.end_ms),
        "id_key1": key("event-a", spec.seed, spec.site_id, spec.end_ms),
        "id_key2": key("event-b", spec.seed, spec.site_id, spec.end_ms),
    }


def _geo_parameters(data: dict[str, Any]) -> dict[str, Any]:
    geos = data["geos"]
    euro = set(data["euro_countries"])
    return {
        "geo_country": [g[0] for g in geos],
        "geo_region": [g[1] for g in geos],
        "geo_city": [g[2] for g in geos],
        "geo_offsets": [g[3] for g in geos],
        "geo_currency": ["EUR" if g[0] in euro else "USD" for g in geos],
        "geo_slots": _expand([(i + 1, g[4]) for i, g in enumerate(geos)], SLOTS),
    }


def _source_parameters(data: dict[str, Any]) -> dict[str, Any]:
    """Referrer and tags of each traffic source, with the source and channel the pipeline's
    enrichment gives them, so that demo visits read exactly like collected ones."""
    columns: dict[str, list[str]] = {
        name: [] for name in ("referrer", "name", "channel", *_UTM_TAGS)
    }
    for entry in data["sources"]:
        tags = {tag: str(entry.get(tag, "")) for tag in _UTM_TAGS}
        campaign = Campaign(**tags)
        referrer = str(entry.get("referrer", ""))
        info = classify_referrer(referrer) if referrer else None
        columns["referrer"].append(referrer)
        columns["name"].append(source_for(info, campaign))
        columns["channel"].append(channel_for(info, campaign, False))
        for tag, value in tags.items():
            columns[tag].append(value)
    params: dict[str, Any] = {f"source_{name}": values for name, values in columns.items()}
    weights = [(i + 1, entry["weight"]) for i, entry in enumerate(data["sources"])]
    params["source_slots"] = _expand(weights, SLOTS)
    return params


def _platform_parameters(data: dict[str, Any]) -> dict[str, Any]:
    """Browser, OS and device class of each user agent, as the pipeline's parser reads them."""
    devices = list(data["screen_widths"])
    parsed = [parse_user_agent(header) for _, header in data["user_agents"]]
    params: dict[str, Any] = {
        f"platform_{name}": [getattr(info, name) for info in parsed]
        for name in ("device", "os", "os_version", "browser", "browser_version")
    }
    params["platform_device_index"] = [devices.index(info.device) + 1 for info in parsed]
    weights = [(i + 1, weight) for i, (weight, _) in enumerate(data["user_agents"])]
    params["platform_slots"] = _expand(weights, SLOTS)
    params["screen_slots"] = [_expand(data["screen_widths"][d], 100) for d in devices]
    params["screen_slot_count"] = 100
    return params


def _expand(weighted: Sequence[tuple[Any, float]], slots: int) -> list[Any]:
    """`slots` values, each repeated in proportion to its weight (largest remainders win)."""
    total = sum(weight for _, weight in weighted)
    exact = [weight / total * slots for _, weight in weighted]
    counts = [int(share) for share in exact]
    by_remainder = sorted(range(len(exact)), key=lambda i: counts[i] - exact[i])
    for i in by_remainder[: slots - sum(counts)]:
        counts[i] += 1
    return [value for (value, _), count in zip(weighted, counts, strict=True) for _ in range(count)]


@cache
def _traffic_data() -> dict[str, Any]:
    text = resources.files("footfall.store.demo").joinpath("traffic.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data
