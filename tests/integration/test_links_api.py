"""Links and campaigns API over a real app: shapes, validation, the redirect corpus, roles, QR."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from footfall.links.tokens import TokenSigner, split_attribution
from tests.support.links import SITE, LinksWorld, links_world
from tests.unit.links.redirect_corpus import ATTACK_PATHS, BAD_TARGETS


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LinksWorld]:
    with links_world(tmp_path_factory.mktemp("links-api")) as running:
        yield running


def test_create_link_answers_the_contract_shape(world: LinksWorld) -> None:
    campaign = world.campaign("newsletter-2026-11")
    assert set(campaign) >= {"id", "code", "pixel_url"}
    assert campaign["pixel_url"].endswith(f"/r/{campaign['code']}.gif")
    link = world.link(
        "https://example.com/landing",
        campaign="newsletter-2026-11",
        name="CTA",
        code="cta-nov",
        tags=["cta", "cta", " header "],
        utm={"utm_source": "newsletter", "utm_medium": "email"},
    )
    assert set(link) >= {
        "id",
        "code",
        "short_url",
        "url",
        "site",
        "campaign",
        "created_at",
        "click_count",
    }
    assert link["code"] == "cta-nov"
    assert link["short_url"].endswith("/u/cta-nov")
    assert link["url"] == "https://example.com/landing?utm_source=newsletter&utm_medium=email"
    assert (link["site"], link["campaign"], link["name"]) == (SITE, campaign["code"], "CTA")
    assert link["tags"] == ["cta", "header"]
    assert link["click_count"] == 0 and link["created_at"].endswith("Z")
    again = world.client.get(f"/api/v1/links/{link['id']}", headers=world.auth("admin"))
    assert again.json() == link


def test_codes_are_unique_and_validated(world: LinksWorld) -> None:
    world.link("https://example.com/one", code="taken")
    clash = world.client.post(
        "/api/v1/links",
        json={"url": "https://example.com/two", "site": SITE, "code": "taken"},
        headers=world.auth(),
    )
    assert clash.status_code == 409 and clash.json()["error"]["code"] == "code_taken"
    for bad in ["a/b", "../x", "api", "x" * 65, "ü"]:
        answer = world.client.post(
            "/api/v1/links",
            json={"url": "https://example.com/", "site": SITE, "code": bad},
            headers=world.auth(),
        )
        assert answer.status_code == 400, bad
    generated = {world.link(f"https://example.com/g{n}")["code"] for n in range(20)}
    assert len(generated) == 20


def test_no_corpus_target_creates_a_link(world: LinksWorld) -> None:
    before = world.client.get("/api/v1/links?archived=true", headers=world.auth()).json()["links"]
    for url in BAD_TARGETS:
        answer = world.client.post(
            "/api/v1/links", json={"url": url, "site": SITE}, headers=world.auth()
        )
        assert answer.status_code == 400, url
        assert answer.json()["error"]["code"] in {"invalid_url", "invalid_request"}
    after = world.client.get("/api/v1/links?archived=true", headers=world.auth()).json()["links"]
    assert after == before


def test_no_path_redirects_anywhere_unstored(world: LinksWorld) -> None:
    link = world.link("https://example.com/only-here")
    stored = {
        item["url"]
        for item in world.client.get("/api/v1/links", headers=world.auth()).json()["links"]
    }
    token = TokenSigner(world.app.state.settings.secret_key).sign("alice@example.com")
    for template in ATTACK_PATHS:
        path = template.format(code=link["code"], token=token, upper=link["code"].upper())
        response = world.client.get(path, follow_redirects=False)
        if response.status_code in (301, 302, 303, 307, 308):
            # The one addition: the signed attribution parameter, on the link's own site.
            target, value = split_attribution(response.headers["location"])
            assert target in stored, path
            assert target == "https://example.com/only-here", path
            assert value is not None, path
        else:
            assert response.status_code == 404, path


def test_allow_list_of_target_hosts(world: LinksWorld) -> None:
    policy = world.client.put(
        "/api/v1/link-policies/localhost",
        json={"allowed_target_hosts": ["shop.example", "*.docs.example"]},
        headers=world.auth("admin"),
    )
    assert policy.status_code == 200, policy.text
    assert policy.json()["allowed_target_hosts"] == ["shop.example", "*.docs.example"]

    def create(url: str) -> int:
        return world.client.post(
            "/api/v1/links", json={"url": url, "site": "localhost"}, headers=world.auth("admin")
        ).status_code

    assert create("https://shop.example/a") == 201
    assert create("https://v2.docs.example/a") == 201
    assert create("https://evil.example/") == 400
    assert create("https://shop.example.evil.com/") == 400
    assert create("https://shоp.example/") == 400  # Cyrillic o


def test_reuse_registers_a_target_once_per_campaign(world: LinksWorld) -> None:
    campaign = world.campaign("reuse")
    first = world.link("https://example.com/same", campaign=campaign["code"], reuse=True)
    second = world.client.post(
        "/api/v1/links",
        json={"url": "https://example.com/same", "campaign": campaign["code"], "reuse": True},
        headers=world.auth(),
    )
    assert second.status_code == 200 and second.json()["id"] == first["id"]
    other = world.link("https://example.com/same", reuse=True)  # no campaign: a different link
    assert other["id"] != first["id"]
    listed = world.client.get(
        f"/api/v1/links?campaign={campaign['code']}", headers=world.auth()
    ).json()["links"]
    assert [item["id"] for item in listed] == [first["id"]]


def test_roles(world: LinksWorld) -> None:
    body = {"url": "https://example.com/roles", "site": SITE}
    assert world.client.post("/api/v1/links", json=body).status_code == 401
    viewer = world.client.post("/api/v1/links", json=body, headers=world.auth("viewer"))
    assert viewer.status_code == 403
    assert world.client.get("/api/v1/links", headers=world.auth("viewer")).status_code == 403
    campaign = world.client.post(
        "/api/v1/campaigns", json={"name": "x", "site": SITE}, headers=world.auth("viewer")
    )
    assert campaign.status_code == 403
    # The analyst is granted example.com only: localhost does not exist for it.
    elsewhere = world.client.post(
        "/api/v1/links",
        json={"url": "https://example.com/", "site": "localhost"},
        headers=world.auth("analyst"),
    )
    assert elsewhere.status_code == 404
    admin_link = world.client.post(
        "/api/v1/links",
        json={"url": "https://shop.example/admin-only", "site": "localhost"},
        headers=world.auth("admin"),
    ).json()
    hidden = world.client.get(f"/api/v1/links/{admin_link['id']}", headers=world.auth("analyst"))
    assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "link_not_found"


def test_qr_codes(world: LinksWorld) -> None:
    link = world.link("https://example.com/qr")
    svg = world.client.get(f"/api/v1/links/{link['id']}/qr", headers=world.auth())
    assert svg.status_code == 200
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in svg.content
    png = world.client.get(f"/api/v1/links/{link['id']}/qr?format=png", headers=world.auth())
    assert png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
    bad = world.client.get(f"/api/v1/links/{link['id']}/qr?format=gif", headers=world.auth())
    assert bad.status_code == 400


def test_documented_in_openapi(world: LinksWorld) -> None:
    paths = world.client.get("/openapi.json").json()["paths"]
    for path in [
        "/api/v1/links",
        "/api/v1/links/{link_id}",
        "/api/v1/links/{link_id}/qr",
        "/api/v1/campaigns",
        "/api/v1/campaigns/{campaign_id}/stats",
        "/admin/campaigns",
        "/admin/campains/{campaign_id}",
        "/u/{code}/{token}",
        "/r/{campaign_code}.gif",
        "/track/{id}",
    ]:
        assert path in paths, path
