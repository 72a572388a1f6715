"""Click and open counts of links and campaigns, read from the event store, human by default.

A click or open is a machine's when it was flagged at collection (HEAD, bots, previewers,
scanners, privacy-proxy prefetches: footfall.links.classify) or, for clicks, when it belongs to
a scanner burst: one recipient's clicks on two or more different links of a campaign within
`burst_seconds` of each other. Unique counts are distinct recipients, or distinct visitors where
no recipient is known. SQL is written once, with `?` placeholders, and bound in the store's own
parameter style.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from footfall.links.classify import default_rules
from footfall.store.base import EventStore


def _execute(store: EventStore, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Run `sql` (with `?` placeholders) binding `params` the way this store expects."""
    if getattr(store, "dialect_name", "duckdb") != "clickhouse":
        return store.execute(sql, list(params))
    pieces = sql.split("?")
    if len(pieces) != len(params) + 1:
        raise ValueError("placeholder count does not match the parameters")
    named = pieces[0] + "".join(f"%(p{i})s{piece}" for i, piece in enumerate(pieces[1:]))
    values = {f"p{i}": value for i, value in enumerate(params)}
    return store.execute(named, values)  # type: ignore[arg-type]


def _in_list(count: int) -> str:
    return "(" + ", ".join("?" for _ in range(count)) + ")"


def _visitor_key(store: EventStore) -> str:
    # The recipient when known, else the visitor (prefixed so the two never collide).
    if getattr(store, "dialect_name", "duckdb") == "clickhouse":
        return "if(recipient != '', recipient, concat('#', toString(visitor_id)))"
    return "CASE WHEN recipient <> '' THEN recipient ELSE '#' || CAST(visitor_id AS VARCHAR) END"


@dataclass(frozen=True, slots=True)
class Hit:
    """One stored click or open, as the stats need it."""

    link_id: int
    platform: str
    country: str
    who: str  # recipient, or "#<visitor id>"
    is_bot: bool
    ts: datetime


def _hits(store: EventStore, kind: str, column: str, ids: Sequence[int]) -> list[Hit]:
    if not ids:
        return []
    rows = _execute(
        store,
        f"SELECT link_id, platform, country, {_visitor_key(store)}, is_bot, ts FROM events "
        f"WHERE kind = ? AND {column} IN {_in_list(len(ids))}",
        [kind, *ids],
    )
    return [Hit(int(r[0]), r[1], r[2], r[3], bool(r[4]), r[5]) for r in rows]


def burst_machines(hits: Iterable[Hit], burst_seconds: float) -> set[int]:
    """Indexes (into `hits`) of clicks made by a scanner fetching several links at once."""
    by_recipient: dict[str, list[tuple[datetime, int, int]]] = defaultdict(list)
    for index, hit in enumerate(hits):
        if not hit.is_bot and not hit.who.startswith("#"):
            by_recipient[hit.who].append((hit.ts, hit.link_id, index))
    machine: set[int] = set()
    for clicks in by_recipient.values():
        if len({link for _, link, _ in clicks}) < 2:
            continue
        clicks.sort()
        for (ts_a, link_a, index_a), (ts_b, link_b, index_b) in zip(
            clicks, clicks[1:], strict=False
        ):
            if link_a != link_b and (ts_b - ts_a).total_seconds() <= burst_seconds:
                machine.update((index_a, index_b))
    return machine


@dataclass
class _Tally:
    human: list[Hit] = field(default_factory=list)
    machine: list[Hit] = field(default_factory=list)

    def counted(self, include_machine: bool) -> list[Hit]:
        return self.human + self.machine if include_machine else self.human


def _split(hits: list[Hit], bursts: set[int]) -> _Tally:
    tally = _Tally()
    for index, hit in enumerate(hits):
        (tally.machine if hit.is_bot or index in bursts else tally.human).append(hit)
    return tally


def link_counts(store: EventStore, link_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
    """{link id: (human clicks, unique human clickers)}; links without clicks are absent.

    Bursts are judged per link's campaign by campaign_stats; here only collection flags count,
    so a link's own numbers never depend on the other links of its campaign.
    """
    if not link_ids:
        return {}
    rows = _execute(
        store,
        f"SELECT link_id, count(*), count(DISTINCT {_visitor_key(store)}) FROM events "
        f"WHERE kind = 'click' AND NOT is_bot AND link_id IN {_in_list(len(link_ids))} "
        "GROUP BY link_id",
        list(link_ids),
    )
    return {int(link): (int(clicks), int(unique)) for link, clicks, unique in rows}


def any_clicks(store: EventStore, link_id: int) -> bool:
    """Whether any click (human or machine) of this link is stored."""
    rows = _execute(
        store, "SELECT count(*) FROM events WHERE kind = 'click' AND link_id = ?", [link_id]
    )
    return bool(rows and rows[0][0])


def _rate(part: int, whole: int | None) -> float | None:
    return round(100.0 * part / whole, 2) if whole else None


def campaign_stats(
    store: EventStore,
    campaign_id: int,
    links: Sequence[dict[str, Any]],
    *,
    sends: int | None = None,
    include_machine: bool = False,
) -> dict[str, Any]:
    """The stats of API.md section 4 for one campaign.

    `links` are the campaign's links as dicts with at least `id`; each comes back with its
    `clicks` and `unique_clicks` added.
    """
    click_hits = _hits(store, "click", "campaign_id", [campaign_id])
    clicks = _split(click_hits, burst_machines(click_hits, default_rules().burst_seconds))
    opens = _split(_hits(store, "open", "campaign_id", [campaign_id]), set())
    counted_clicks = clicks.counted(include_machine)
    counted_opens = opens.counted(include_machine)
    unique_clicks = len({hit.who for hit in counted_clicks})
    unique_opens = len({hit.who for hit in counted_opens})
    per_link = Counter(hit.link_id for hit in counted_clicks)
    per_link_unique = {
        link: len({hit.who for hit in counted_clicks if hit.link_id == link}) for link in per_link
    }
    days: dict[str, Counter[str]] = defaultdict(Counter)
    for kind, hits in (("clicks", counted_clicks), ("opens", counted_opens)):
        for hit in hits:
            days[hit.ts.date().isoformat()][kind] += 1
    return {
        "campaign_id": campaign_id,
        "machine": "include" if include_machine else "exclude",
        "sends": sends,
        "opens": len(counted_opens),
        "unique_opens": unique_opens,
        "clicks": len(counted_clicks),
        "unique_clicks": unique_clicks,
        "machine_opens": len(opens.machine),
        "machine_clicks": len(clicks.machine),
        "click_rate": _rate(unique_clicks, sends),
        "click_to_open_rate": _rate(unique_clicks, unique_opens),
        "links": [
            {
                **link,
                "clicks": per_link.get(link["id"], 0),
                "unique_clicks": per_link_unique.get(link["id"], 0),
            }
            for link in links
        ],
        "platforms": dict(Counter(hit.platform or "other" for hit in counted_clicks).most_common()),
        "countries": dict(
            Counter(hit.country or "unknown" for hit in counted_clicks).most_common()
        ),
        "timeseries": [
            {"date": day, "opens": days[day]["opens"], "clicks": days[day]["clicks"]}
            for day in sorted(days)
        ],
    }


def redirect_click_counts(
    store: EventStore, campaign_ids: Sequence[int]
) -> dict[int, Counter[str]]:
    """{campaign id: Counter(platform -> human clicks)} for o7tracker-style campaigns."""
    if not campaign_ids:
        return {}
    rows = _execute(
        store,
        "SELECT campaign_id, platform, count(*) FROM events WHERE kind = 'click' AND NOT is_bot "
        f"AND link_id = 0 AND campaign_id IN {_in_list(len(campaign_ids))} "
        "GROUP BY campaign_id, platform",
        list(campaign_ids),
    )
    counts: dict[int, Counter[str]] = defaultdict(Counter)
    for campaign, platform, count in rows:
        counts[int(campaign)][platform] += int(count)
    return counts
