"""The /u/ redirect and /r/ pixel over a real app: what is recorded, flagged, and read."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from footfall.collect.links import PIXEL_GIF
from footfall.links.tokens import Attribution, TokenSigner, split_attribution
from tests.support.app import wait_rows
from tests.support.links import LinksWorld, counting_statements, links_world

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)
ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36"
)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LinksWorld]:
    with links_world(tmp_path_factory.mktemp("links-hotpath")) as running:
        yield running


def _signer(world: LinksWorld) -> TokenSigner:
    return TokenSigner(world.app.state.settings.secret_key)


def _landing(world: LinksWorld, location: str) -> tuple[str, Attribution | None]:
    """(the target without the attribution parameter, what the parameter says)."""
    target, value = split_attribution(location)
    assert value is not None, location
    return target, _signer(world).read_attribution(world.site_id, value)


def _events(world: LinksWorld, where: str, params: list[Any], count: int) -> list[dict[str, Any]]:
    return wait_rows(world.app, count, where, params)


def test_click_redirects_and_records_link_campaign_recipient_platform(world: LinksWorld) -> None:
    campaign = world.campaign("hot path")
    link = world.link("https://example.com/landing?a=1", campaign=campaign["code"])
    token = _signer(world).sign("alice@example.com")
    response = world.client.get(
        f"/u/{link['code']}/{token}",
        headers={"user-agent": IPHONE, "referer": "https://mail.example.net/inbox"},
        follow_redirects=False,
    )
    assert response.status_code == 302
    assert response.headers["location"].startswith("https://example.com/landing?a=1&ffl=")
    assert _landing(world, response.headers["location"]) == (
        "https://example.com/landing?a=1",
        Attribution(link["id"], campaign["id"], "alice@example.com"),
    )
    assert "no-store" in response.headers["cache-control"]
    [row] = _events(world, "kind = 'click' AND link_id = ?", [link["id"]], 1)
    assert row["campaign_id"] == campaign["id"]
    assert row["recipient"] == "alice@example.com"
    assert row["platform"] == "iPhone"
    assert row["is_bot"] is False
    assert row["referrer"] == "https://mail.example.net/inbox"
    assert row["channel"] == "Email"


def test_invalid_signature_still_redirects_but_names_no_recipient(world: LinksWorld) -> None:
    link = world.link("https://example.com/tampered")
    token = _signer(world).sign("alice@example.com")
    forged = "mallory%40example.com." + token.rsplit(".", 1)[1]
    response = world.client.get(
        f"/u/{link['code']}/{forged}", headers={"user-agent": ANDROID}, follow_redirects=False
    )
    assert response.status_code == 302
    assert _landing(world, response.headers["location"]) == (
        "https://example.com/tampered",
        Attribution(link["id"], 0, None),
    )
    [row] = _events(world, "kind = 'click' AND link_id = ?", [link["id"]], 1)
    assert row["recipient"] == ""
    assert row["platform"] == "Android"


def test_head_and_previewers_are_kept_but_flagged(world: LinksWorld) -> None:
    link = world.link("https://example.com/flagged")
    head = world.client.head(f"/u/{link['code']}", follow_redirects=False)
    assert head.status_code == 302
    preview = world.client.get(
        f"/u/{link['code']}",
        headers={"user-agent": "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"},
        follow_redirects=False,
    )
    assert preview.status_code == 302
    rows = _events(world, "kind = 'click' AND link_id = ?", [link["id"]], 2)
    assert [row["is_bot"] for row in rows] == [True, True]
    answer = world.client.get(f"/api/v1/links/{link['id']}", headers=world.auth()).json()
    assert answer["click_count"] == 0


def test_unknown_code_gets_a_friendly_page(world: LinksWorld) -> None:
    response = world.client.get("/u/no-such-code", follow_redirects=False)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "This link does not exist" in response.text


def test_pixel_is_always_served_and_records_opens_of_known_campaigns(world: LinksWorld) -> None:
    campaign = world.campaign("pixels")
    token = _signer(world).sign("bob@example.com")
    for path in [
        f"/r/{campaign['code']}/{token}.gif",
        f"/r/{campaign['code']}.gif",
        "/r/unknown-campaign.gif",
        "/r/unknown/whatever.gif",
        "/r/not-a-gif",
    ]:
        response = world.client.get(path)
        assert response.status_code == 200, path
        assert response.content == PIXEL_GIF and len(response.content) == 43
        assert response.headers["content-type"] == "image/gif"
        assert "no-store" in response.headers["cache-control"]
    rows = _events(world, "kind = 'open' AND campaign_id = ?", [campaign["id"]], 2)
    assert sorted(row["recipient"] for row in rows) == ["", "bob@example.com"]
    unknown = world.client.get("/r/unknown-campaign.gif")
    assert unknown.headers["x-footfall-dropped"] == "unknown_campaign"


def test_no_database_statement_per_click_after_warm_up(world: LinksWorld) -> None:
    campaign = world.campaign("no reads")
    links = [
        world.link(f"https://example.com/warm/{n}", campaign=campaign["code"]) for n in range(5)
    ]
    signer = _signer(world)
    world.client.get(f"/u/{links[0]['code']}", follow_redirects=False)  # warm-up
    world.client.get(f"/r/{campaign['code']}.gif")
    with counting_statements(world.app.state.engine) as statements:
        for n in range(100):
            link = links[n % len(links)]
            token = signer.sign(f"reader{n}@example.com")
            assert (
                world.client.get(f"/u/{link['code']}/{token}", follow_redirects=False).status_code
                == 302
            )
            assert world.client.get(f"/r/{campaign['code']}/{token}.gif").status_code == 200
        assert world.client.get("/u/missing-code").status_code == 404
    assert statements == []
    ids = [link["id"] for link in links]
    _events(world, f"kind = 'click' AND link_id IN ({', '.join('?' * 5)})", ids, 101)


def test_changes_reach_the_redirect_at_once(world: LinksWorld) -> None:
    link = world.link("https://example.com/before")
    code = link["code"]
    location = world.client.get(f"/u/{code}", follow_redirects=False).headers["location"]
    assert split_attribution(location)[0] == "https://example.com/before"
    changed = world.client.patch(
        f"/api/v1/links/{link['id']}",
        json={"url": "https://example.com/after"},
        headers=world.auth(),
    )
    assert changed.status_code == 200, changed.text
    location = world.client.get(f"/u/{code}", follow_redirects=False).headers["location"]
    assert split_attribution(location)[0] == "https://example.com/after"
    # It has a click now, so deleting archives it: the code stops redirecting, stats remain.
    _events(world, "kind = 'click' AND link_id = ?", [link["id"]], 2)
    deleted = world.client.delete(f"/api/v1/links/{link['id']}", headers=world.auth())
    assert deleted.json()["result"] == "archived"
    assert world.client.get(f"/u/{code}", follow_redirects=False).status_code == 404
    kept = world.client.get(f"/api/v1/links/{link['id']}", headers=world.auth()).json()
    assert kept["archived"] is True and kept["click_count"] == 2

    fresh = world.link("https://example.com/never-clicked")
    gone = world.client.delete(f"/api/v1/links/{fresh['id']}", headers=world.auth())
    assert gone.json()["result"] == "deleted"
    assert world.client.get(f"/api/v1/links/{fresh['id']}", headers=world.auth()).status_code == 404
    assert world.client.get(f"/u/{fresh['code']}", follow_redirects=False).status_code == 404


def test_unknown_track_id_is_404(world: LinksWorld, tmp_path: Path) -> None:
    assert world.client.get("/track/999999", follow_redirects=False).status_code == 404
    assert world.client.get("/track/abc", follow_redirects=False).status_code == 404


def test_only_the_links_own_site_gets_the_attribution_parameter(world: LinksWorld) -> None:
    link = world.link("https://elsewhere.example/page?x=1")
    response = world.client.get(f"/u/{link['code']}", follow_redirects=False)
    assert response.headers["location"] == "https://elsewhere.example/page?x=1"


def test_the_landing_pageview_carries_the_click_into_the_visit(world: LinksWorld) -> None:
    campaign = world.campaign("landing")
    link = world.link("https://example.com/welcome?ref=mail#top", campaign=campaign["code"])
    token = _signer(world).sign("bob@example.com")
    location = world.client.get(
        f"/u/{link['code']}/{token}", headers={"user-agent": IPHONE}, follow_redirects=False
    ).headers["location"]
    _, value = split_attribution(location)
    assert value is not None
    tampered = value[:-1] + ("A" if value[-1] != "A" else "B")
    for url in (location, location.replace(value, tampered)):
        answer = world.client.post(
            "/api/event",
            json={"n": "pageview", "u": url, "d": "example.com"},
            headers={"user-agent": IPHONE},
        )
        assert answer.status_code == 202, answer.text
    rows = _events(world, "kind = 'pageview' AND pathname = ?", ["/welcome"], 2)
    # Both stored without the parameter; only the genuine one names link, campaign, recipient.
    assert all("ffl" not in str(value) for row in rows for value in row.values()), rows
    assert sorted((row["link_id"], row["campaign_id"], row["recipient"]) for row in rows) == [
        (0, 0, ""),
        (link["id"], campaign["id"], "bob@example.com"),
    ]


def test_link_json_counts_clicks_and_unique_clickers(world: LinksWorld) -> None:
    link = world.link("https://example.com/counted")
    signer = _signer(world)
    for reader in ("alice@example.com", "alice@example.com", "bob@example.com"):
        path = f"/u/{link['code']}/{signer.sign(reader)}"
        answer = world.client.get(path, headers={"user-agent": IPHONE}, follow_redirects=False)
        assert answer.status_code == 302
    # A previewer's fetch is stored, flagged, and counted in neither number.
    preview = {"user-agent": "Slackbot-LinkExpanding 1.0"}
    world.client.get(f"/u/{link['code']}", headers=preview, follow_redirects=False)
    _events(world, "kind = 'click' AND link_id = ?", [link["id"]], 4)
    shown = world.client.get(f"/api/v1/links/{link['id']}", headers=world.auth()).json()
    assert (shown["click_count"], shown["unique_clicks"]) == (3, 2)
