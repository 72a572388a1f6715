"""The test factories build rows as the pipeline would: checked against the real Enricher."""

from __future__ import annotations

from datetime import timedelta

import pytest

from footfall.events import Kind, RawEvent
from footfall.pipeline.steps import Enricher
from tests.support import factories
from tests.support.factories import SOURCE_FIELDS

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
START = factories.DEFAULT_TS


def raw(offset_s: float, url: str, referrer: str, **fields: object) -> RawEvent:
    values: dict[str, object] = {
        "event_id": factories.event_id(),
        "ts_ms": int((START + timedelta(seconds=offset_s)).timestamp() * 1000),
        "site_id": 1,
        "kind": Kind.PAGEVIEW.value,
        "name": "pageview",
        "visitor_id": 77,
        "url": url,
        "referrer": referrer,
        "user_agent": CHROME,
    }
    values.update(fields)
    return RawEvent(**values)  # type: ignore[arg-type]


def test_a_visit_carries_its_source_where_the_pipeline_does() -> None:
    landing = "https://example.com/?utm_source=news&utm_medium=email&utm_campaign=spring"
    enriched = Enricher(secret_key=b"factories").process(
        [
            raw(0, landing, "https://www.google.com/"),
            raw(5, landing, "https://www.google.com/", kind=Kind.EVENT.value, name="Signup"),
            raw(60, "https://example.com/pricing", landing),
            raw(61, "https://example.com/pricing", landing, kind=Kind.EVENT.value, name="Buy"),
        ]
    )
    source = {field: getattr(enriched[0], field) for field in SOURCE_FIELDS}
    built = factories.visit(
        77,
        START,
        pages=["/", "/pricing"],
        events=[(5, factories.custom_event("Signup")), (61, factories.custom_event("Buy"))],
        **source,
    )
    assert [(row.name, row.pathname) for row in built] == [
        (row.name, row.pathname) for row in enriched
    ]
    for made, real in zip(built, enriched, strict=True):
        assert {f: getattr(made, f) for f in SOURCE_FIELDS} == {
            f: getattr(real, f) for f in SOURCE_FIELDS
        }
    assert len({row.session_id for row in enriched}) == 1
    assert len({row.session_id for row in built}) == 1
    assert [row.ts for row in built] == [row.ts for row in enriched]


def test_visits_get_distinct_sessions_and_refuse_per_event_fields() -> None:
    first = factories.visit(1, START, pages=["/"])
    later = factories.visit(1, START + timedelta(hours=2), pages=["/"])
    assert first[0].session_id != later[0].session_id
    with pytest.raises(ValueError, match="pathname"):
        factories.visit(1, START, pathname="/x")
    with pytest.raises(ValueError, match="ascending"):
        factories.visit(1, START, pages=[("/b", 10.0), ("/a", 5.0)])


def test_kinds_and_revenue() -> None:
    assert (
        factories.conversion("Buy", "1.5", "eur").revenue_amount
        == factories.conversion("Buy", "1.5000", "EUR").revenue_amount
    )
    assert factories.conversion("Buy", "1.5", "eur").revenue_currency == "EUR"
    assert factories.engagement().interactive is False
    assert factories.click(campaign_id=3).channel == "Email"
    assert factories.click().channel == "Direct"
    assert factories.open(recipient="a@example.com").kind == Kind.OPEN.value
