"""The o7tracker-compatible flow end to end: Basic auth, exact JSON, /track/ counts per platform."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.app import wait_rows
from tests.support.links import PASSWORD, LinksWorld, links_world

FIELDS = {
    "id",
    "redirect_url",
    "created_at",
    "updated_at",
    "platforms",
    "click_count",
    "android_click_count",
    "iphone_click_count",
    "windowsphone_click_count",
}
ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36"
)
WINDOWS_PHONE = (
    "Mozilla/5.0 (Windows Phone 10.0; Android 6.0.1; Microsoft; Lumia 950) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/52.0.2743.116 Mobile Safari/537.36 Edge/15.14977"
)


def _basic(user: str, password: str = PASSWORD) -> dict[str, str]:
    encoded = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LinksWorld]:
    with links_world(tmp_path_factory.mktemp("o7")) as running:
        yield running


def _create(world: LinksWorld, prefix: str, body: dict[str, Any]) -> dict[str, Any]:
    response = world.client.post(prefix, json=body, headers=_basic("admin"))
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_o7tracker_flow(world: LinksWorld) -> None:
    created = _create(
        world,
        "/admin/campaigns",
        {"redirect_url": "https://app.example/install", "platforms": ["WindowsPhone", "Android"]},
    )
    assert set(created) == FIELDS
    assert created["redirect_url"] == "https://app.example/install"
    assert created["platforms"] == ["WindowsPhone", "Android"]
    assert created["click_count"] == 0
    assert created["created_at"].endswith("Z") and created["updated_at"].endswith("Z")
    campaign_id = created["id"]

    # Clicks: by query parameter (any letter case), by User-Agent, and a bot (not counted).
    for path, agent in [
        (f"/track/{campaign_id}?platform=Android", ""),
        (f"/track/{campaign_id}?platform=android", ANDROID),
        (f"/track/{campaign_id}?platform=IPhone", ANDROID),
        (f"/track/{campaign_id}", WINDOWS_PHONE),
        (f"/track/{campaign_id}", ANDROID),
        (f"/track/{campaign_id}", "curl/8.5.0"),
    ]:
        answer = world.client.get(path, headers={"user-agent": agent}, follow_redirects=False)
        assert answer.status_code == 302
        assert answer.headers["location"] == "https://app.example/install"
    wait_rows(world.app, 6, "kind = 'click' AND campaign_id = ?", [campaign_id])

    read = world.client.get(f"/admin/campaigns/{campaign_id}", headers=_basic("admin")).json()
    assert set(read) == FIELDS
    # The first click sent no User-Agent: a machine by the rules, even with a platform given.
    assert read["android_click_count"] == 2
    assert read["iphone_click_count"] == 1
    assert read["windowsphone_click_count"] == 1
    assert read["click_count"] == 4

    alias = world.client.get(f"/admin/campains/{campaign_id}", headers=_basic("admin")).json()
    assert alias == read

    changed = world.client.put(
        f"/admin/campaigns/{campaign_id}",
        json={"redirect_url": "https://app.example/v2", "platforms": ["IPhone"]},
        headers=_basic("admin"),
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["platforms"] == ["IPhone"]
    moved = world.client.get(f"/track/{campaign_id}", follow_redirects=False)
    assert moved.headers["location"] == "https://app.example/v2"

    deleted = world.client.delete(f"/admin/campaigns/{campaign_id}", headers=_basic("admin"))
    assert deleted.status_code == 204
    assert world.client.get(f"/track/{campaign_id}", follow_redirects=False).status_code == 404
    gone = world.client.get(f"/admin/campaigns/{campaign_id}", headers=_basic("admin"))
    assert gone.status_code == 404


def test_platform_filter(world: LinksWorld) -> None:
    android = _create(
        world, "/admin/campains", {"redirect_url": "https://a.example/", "platforms": ["Android"]}
    )
    iphone = _create(
        world, "/admin/campaigns", {"redirect_url": "https://i.example/", "platforms": ["IPhone"]}
    )
    both = _create(
        world,
        "/admin/campaigns",
        {"redirect_url": "https://b.example/", "platforms": ["IPhone", "WindowsPhone"]},
    )

    def ids(query: str) -> set[int]:
        answer = world.client.get(f"/admin/campaigns{query}", headers=_basic("admin"))
        assert answer.status_code == 200, answer.text
        return {item["id"] for item in answer.json()}

    assert {android["id"], iphone["id"], both["id"]} <= ids("")
    found = ids("?platforms=Android,WindowsPhone")
    assert android["id"] in found and both["id"] in found and iphone["id"] not in found
    bad = world.client.get("/admin/campaigns?platforms=Symbian", headers=_basic("admin"))
    assert bad.status_code == 400


def test_auth_and_validation(world: LinksWorld) -> None:
    body = {"redirect_url": "https://app.example/", "platforms": ["Android"]}
    anonymous = world.client.post("/admin/campaigns", json=body)
    assert anonymous.status_code == 401
    assert "Basic" in anonymous.headers["www-authenticate"]
    wrong = world.client.post("/admin/campaigns", json=body, headers=_basic("admin", "wrong-pw"))
    assert wrong.status_code == 401
    viewer = world.client.post("/admin/campaigns", json=body, headers=_basic("viewer"))
    assert viewer.status_code == 403
    for bad in [
        {"redirect_url": "javascript:alert(1)", "platforms": ["Android"]},
        {"redirect_url": "//evil.com", "platforms": ["Android"]},
        {"redirect_url": "https://app.example/", "platforms": ["Nokia"]},
        {"platforms": ["Android"]},
    ]:
        answer = world.client.post("/admin/campaigns", json=bad, headers=_basic("admin"))
        assert answer.status_code == 400, bad
