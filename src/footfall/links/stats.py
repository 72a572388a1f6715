"""Click and open counts of links and campaigns, asked of the one query path, human by default.

A click or open is a machine's when it was flagged at collection (HEAD, bots, previewers,
scanners, privacy-proxy prefetches: footfall.links.classify) or, for clicks, when it belongs to
a scanner burst (the query path's `link:traffic` dimension: one recipient's clicks on two or
more different links of a campaign within the burst window). Unique counts are the query
path's `recipients` metric: distinct recipients, or distinct visitors where no recipient is
known. Every number comes from `footfall.query.run_query` over the whole stored history.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from footfall.meta.sites import SiteInfo
from footfall.query import Condition, DateRange, Query, QueryResult, run_query
from footfall.query.query import Filter
from footfall.store.base import EventStore

_ALL = DateRange("all")
_CLICK = Condition("is", "event:kind", ("click",))
_OPEN = Condition("is", "event:kind", ("open",))
_HUMAN = Condition("is", "link:traffic", ("human",))
# Landing page views carry their link's campaign too (attribution): stats count these two.
_CLICK_OR_OPEN = Condition("is", "event:kind", ("click", "open"))


def _ask(
    store: EventStore,
    site: SiteInfo,
    metrics: tuple[str, ...],
    dimensions: tuple[str, ...],
    filters: Sequence[Filter],
    *,
    include_bots: bool = False,
    now: datetime | None = None,
) -> QueryResult:
    query = Query(
        site=site.domain,
        metrics=metrics,
        date_range=_ALL,
        dimensions=dimensions,
        filters=tuple(filters),
        include_bots=include_bots,
    )
    return run_query(store, query, site, now=now)


def _ids(values: Sequence[int]) -> tuple[str, ...]:
    return tuple(str(value) for value in values)


def _numbers(result: QueryResult) -> dict[tuple[str, ...], list[int]]:
    """{dimension values: metric values} of an answer."""
    return {
        tuple(str(value) for value in row.dimensions): [int(v) for v in row.metrics]
        for row in result.rows
    }


def link_counts(
    store: EventStore, site: SiteInfo, link_ids: Sequence[int]
) -> dict[int, tuple[int, int]]:
    """{link id: (human clicks, unique human clickers)} of the site's links; links without
    clicks are absent.

    Bursts are judged per campaign by campaign_stats; here only collection flags count, so a
    link's own numbers never depend on the other links of its campaign.
    """
    if not link_ids:
        return {}
    found = _numbers(
        _ask(
            store,
            site,
            ("events", "recipients"),
            ("link:code",),
            [_CLICK, Condition("is", "link:code", _ids(link_ids))],
        )
    )
    return {int(key[0]): (values[0], values[1]) for key, values in found.items()}


def any_clicks(store: EventStore, site: SiteInfo, link_id: int) -> bool:
    """Whether any click (human or machine) of this link is stored."""
    result = _ask(
        store,
        site,
        ("events",),
        (),
        [_CLICK, Condition("is", "link:code", (str(link_id),))],
        include_bots=True,
    )
    return bool(result.rows and result.rows[0].metrics[0])


def _rate(part: int, whole: int | None) -> float | None:
    return round(100.0 * part / whole, 2) if whole else None


def campaign_stats(
    store: EventStore,
    site: SiteInfo,
    campaign_id: int,
    links: Sequence[dict[str, Any]],
    *,
    sends: int | None = None,
    include_machine: bool = False,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The stats of API.md section 4 for one campaign of `site`.

    `links` are the campaign's links as dicts with at least `id`; each comes back with its
    `clicks` and `unique_clicks` added.
    """
    campaign = Condition("is", "link:campaign", (str(campaign_id),))
    counted: list[Filter] = [campaign] if include_machine else [campaign, _HUMAN]

    def ask(dimensions: tuple[str, ...], *extra: Filter) -> dict[tuple[str, ...], list[int]]:
        metrics = ("events", "recipients")
        result = _ask(
            store,
            site,
            metrics,
            dimensions,
            [*counted, *extra],
            include_bots=include_machine,
            now=now,
        )
        return _numbers(result)

    kinds = ask(("event:kind",), _CLICK_OR_OPEN)
    opens, unique_opens = kinds.get(("open",), [0, 0])
    clicks, unique_clicks = kinds.get(("click",), [0, 0])
    traffic = _numbers(
        _ask(
            store,
            site,
            ("events",),
            ("event:kind", "link:traffic"),
            [campaign, _CLICK_OR_OPEN],
            now=now,
        )
    )
    per_link = ask(("link:code",), _CLICK)
    days = ask(("time:day", "event:kind"), _CLICK_OR_OPEN)
    dates = sorted({day for day, _ in days})
    return {
        "campaign_id": campaign_id,
        "machine": "include" if include_machine else "exclude",
        "sends": sends,
        "opens": opens,
        "unique_opens": unique_opens,
        "clicks": clicks,
        "unique_clicks": unique_clicks,
        "machine_opens": traffic.get(("open", "machine"), [0])[0],
        "machine_clicks": traffic.get(("click", "machine"), [0])[0],
        "click_rate": _rate(unique_clicks, sends),
        "click_to_open_rate": _rate(unique_clicks, unique_opens),
        "links": [
            {
                **link,
                "clicks": per_link.get((str(link["id"]),), [0, 0])[0],
                "unique_clicks": per_link.get((str(link["id"]),), [0, 0])[1],
            }
            for link in links
        ],
        "platforms": _breakdown(ask(("link:platform",), _CLICK), "other"),
        "countries": _breakdown(ask(("visit:country",), _CLICK), "unknown"),
        "timeseries": [
            {
                "date": day,
                "opens": days.get((day, "open"), [0])[0],
                "clicks": days.get((day, "click"), [0])[0],
            }
            for day in dates
        ],
    }


def _breakdown(found: dict[tuple[str, ...], list[int]], empty: str) -> dict[str, int]:
    """{value: events}, most first (ties by value), an empty value named `empty`."""
    counts: dict[str, int] = {}
    for key, values in found.items():
        name = key[0] or empty
        counts[name] = counts.get(name, 0) + values[0]
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def redirect_click_counts(
    store: EventStore, campaign_ids: Sequence[int]
) -> dict[int, Counter[str]]:
    """{campaign id: Counter(platform -> human clicks)} for o7tracker-style campaigns.

    These campaigns have no site scope of their own (the o7tracker API spans them), so this
    one count is asked of the store directly, with bound parameters in its own style.
    """
    if not campaign_ids:
        return {}
    clickhouse = store.dialect_name == "clickhouse"
    marks = [f"%(p{i})s" if clickhouse else "?" for i in range(len(campaign_ids))]
    sql = (
        "SELECT campaign_id, platform, count(*) FROM events WHERE kind = 'click' AND NOT is_bot "
        f"AND link_id = 0 AND campaign_id IN ({', '.join(marks)}) GROUP BY campaign_id, platform"
    )
    params: Any = (
        {f"p{i}": value for i, value in enumerate(campaign_ids)}
        if clickhouse
        else list(campaign_ids)
    )
    counts: dict[int, Counter[str]] = defaultdict(Counter)
    for campaign, platform, count in store.execute(sql, params):
        counts[int(campaign)][platform] += int(count)
    return counts
