"""The dashboard's settings pages over a real app: forms end to end with CSRF, permissions per
role, escaping of entered values, the install check and no inline script or style."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.support import factories
from tests.support.accounts import OTHER_SITE, PASSWORD, SITE, World, accounts_world
from tests.support.factories import populate, visit

SETTINGS = f"/sites/{SITE}/settings"
HOSTILE = '<b>bold</b>"quoted"'


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with accounts_world(tmp_path) as found:
        yield found


def _hidden(page: str, name: str) -> str:
    return page.split(f'name="{name}" value="', 1)[1].split('"', 1)[0]


def _session(world: World, username: str) -> tuple[TestClient, str]:
    """A browser logged in as `username`, and the CSRF token of its session."""
    client = TestClient(world.app, base_url=str(world.client.base_url))
    form = client.get("/login")
    data = {"csrf_token": _hidden(form.text, "csrf_token"), "username": username}
    answer = client.post("/login", data=data | {"password": PASSWORD}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    account = client.get("/account")
    return client, _hidden(account.text, "csrf_token")


def _no_inline_code(page: str) -> None:
    assert "<style" not in page
    assert re.search(r"<script(?![^>]*\bsrc=)", page) is None
    assert " style=" not in page


def test_settings_page_shows_the_snippet_under_a_strict_policy(world: World) -> None:
    page = world.client.get(SETTINGS, headers=world.as_user("analyst"))
    assert page.status_code == 200, page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "style-src 'self'" in page.headers["content-security-policy"]
    base = str(world.app.state.settings.base_url).rstrip("/")
    assert (
        f"&lt;script defer data-domain=&#34;{SITE}&#34; src=&#34;{base}/js/script.js" in page.text
    )
    assert 'data-copy="snippet"' in page.text
    _no_inline_code(page.text)
    # analysts may share but not change the collector's settings
    assert "/settings/shared-links" in page.text
    assert "/settings/exclusions" not in page.text


def test_install_check_follows_recent_pageviews(world: World) -> None:
    page = world.client.get(SETTINGS, headers=world.as_user("analyst"))
    assert "No pageview in the last 24 hours" in page.text
    site = world.app.state.sites.lookup(SITE)
    old = datetime.now(UTC) - timedelta(days=3)
    populate(world.app.state.store, visit(1, old, ["/"], site_id=site.id))
    page = world.client.get(SETTINGS, headers=world.as_user("analyst"))
    assert "No pageview in the last 24 hours" in page.text
    recent = datetime.now(UTC) - timedelta(hours=2)
    populate(world.app.state.store, visit(2, recent, ["/"], site_id=site.id))
    page = world.client.get(SETTINGS, headers=world.as_user("analyst"))
    assert "Installed: a pageview arrived in the last 24 hours." in page.text


def test_goal_forms_add_and_delete_with_csrf(world: World) -> None:
    client, csrf = _session(world, "analyst")
    forged = client.post(
        f"{SETTINGS}/goals", data={"kind": "event", "value": "Signup"}, follow_redirects=False
    )
    assert forged.status_code == 403
    added = client.post(
        f"{SETTINGS}/goals",
        data={"csrf_token": csrf, "kind": "event", "value": HOSTILE},
        follow_redirects=False,
    )
    assert added.status_code == 303, added.text
    page = client.get(added.headers["location"])
    assert "The goal was added." in page.text
    assert "&lt;b&gt;bold&lt;/b&gt;&#34;quoted&#34;" in page.text and "<b>bold" not in page.text
    goals = world.client.get(f"/api/v1/sites/{SITE}/goals", headers=world.as_user("viewer"))
    [goal] = goals.json()["goals"]
    assert goal["event_name"] == HOSTILE
    path = client.post(
        f"{SETTINGS}/goals",
        data={"csrf_token": csrf, "kind": "page", "value": "/thanks*"},
        follow_redirects=False,
    )
    assert path.status_code == 303
    deleted = client.post(
        f"{SETTINGS}/goals/{goal['id']}/delete", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert deleted.status_code == 303
    goals = world.client.get(f"/api/v1/sites/{SITE}/goals", headers=world.as_user("viewer"))
    assert [g["page_path"] for g in goals.json()["goals"]] == ["/thanks*"]


def test_a_refused_goal_shows_why(world: World) -> None:
    client, csrf = _session(world, "analyst")
    bad = client.post(
        f"{SETTINGS}/goals", data={"csrf_token": csrf, "kind": "page", "value": "thanks"}
    )
    assert bad.status_code == 400
    assert "page_path starts with /" in bad.text
    _no_inline_code(bad.text)


def test_shared_link_forms_create_and_revoke(world: World) -> None:
    client, csrf = _session(world, "analyst")
    created = client.post(
        f"{SETTINGS}/shared-links",
        data={"csrf_token": csrf, "name": HOSTILE, "password": "a shared passphrase"},
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text
    page = client.get(SETTINGS)
    assert "&lt;b&gt;bold&lt;/b&gt;" in page.text and "<b>bold" not in page.text
    token = re.search(r'href="[^"]*/share/([\w-]+)"', page.text)
    assert token is not None
    visitor = TestClient(world.app, base_url=str(world.client.base_url))
    assert 'name="password"' in visitor.get(f"/share/{token.group(1)}").text
    link_id = re.search(r"/settings/shared-links/(\d+)/revoke", page.text)
    assert link_id is not None
    revoked = client.post(
        f"{SETTINGS}/shared-links/{link_id.group(1)}/revoke",
        data={"csrf_token": csrf},
        follow_redirects=False,
    )
    assert revoked.status_code == 303
    assert visitor.get(f"/share/{token.group(1)}").status_code == 404
    assert "No shared links." in client.get(SETTINGS).text


def test_admin_saves_exclusions(world: World) -> None:
    client, csrf = _session(world, "admin")
    saved = client.post(
        f"{SETTINGS}/exclusions",
        data={
            "csrf_token": csrf,
            "excluded_ip_ranges": "192.168.1.7\n10.0.0.0/8\n",
            "excluded_paths": "/admin/*",
            "allowed_hostnames": "",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    site = world.client.get(f"/api/v1/sites/{SITE}", headers=world.as_user("admin")).json()
    assert site["site"]["excluded_ip_ranges"] == ["192.168.1.7/32", "10.0.0.0/8"]
    assert site["site"]["excluded_paths"] == ["/admin/*"]
    page = client.get(SETTINGS)
    assert "192.168.1.7/32\n10.0.0.0/8</textarea>" in page.text
    bad = client.post(
        f"{SETTINGS}/exclusions", data={"csrf_token": csrf, "excluded_ip_ranges": "nonsense"}
    )
    assert bad.status_code == 400 and "is not an IP address or CIDR range" in bad.text


def test_analyst_may_not_change_exclusions(world: World) -> None:
    client, csrf = _session(world, "analyst")
    answer = client.post(
        f"{SETTINGS}/exclusions", data={"csrf_token": csrf, "excluded_paths": "/x"}
    )
    assert answer.status_code == 403


@pytest.mark.parametrize(
    ("user", "status"),
    [("admin", 200), ("analyst", 200), ("viewer", 403), ("analyst_elsewhere", 404)],
)
def test_settings_permissions_per_role(world: World, user: str, status: int) -> None:
    page = world.client.get(SETTINGS, headers=world.as_user(user), follow_redirects=False)
    assert page.status_code == status


def test_settings_need_a_login_and_forms_a_grant(world: World) -> None:
    anonymous = TestClient(world.app, base_url=str(world.client.base_url))
    answer = anonymous.get(SETTINGS, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    client, csrf = _session(world, "analyst_elsewhere")
    foreign = client.post(
        f"{SETTINGS}/goals", data={"csrf_token": csrf, "kind": "event", "value": "Signup"}
    )
    assert foreign.status_code == 404
    assert client.get(f"/sites/{OTHER_SITE}/settings").status_code == 200


def test_dashboard_links_to_settings_for_analysts_only(world: World) -> None:
    link = f'href="/sites/{SITE}/settings"'
    assert link in world.client.get(f"/sites/{SITE}", headers=world.as_user("analyst")).text
    assert link not in world.client.get(f"/sites/{SITE}", headers=world.as_user("viewer")).text


def test_admin_creates_changes_and_disables_users(world: World) -> None:
    client, csrf = _session(world, "admin")
    forged = client.post(
        "/admin/users",
        data={"username": "mallory", "password": PASSWORD, "role": "admin"},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    created = client.post(
        "/admin/users",
        data={"csrf_token": csrf, "username": "newbie", "password": PASSWORD, "role": "viewer"},
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text
    page = client.get(created.headers["location"])
    assert "The user was created." in page.text and 'href="/admin/users"' in page.text
    _no_inline_code(page.text)
    users = world.client.get("/api/v1/users", headers=world.as_user("admin")).json()["users"]
    newbie = next(user for user in users if user["username"] == "newbie")
    assert newbie["role"] == "viewer" and newbie["disabled"] is False
    changed = client.post(
        f"/admin/users/{newbie['id']}",
        data={"csrf_token": csrf, "role": "analyst"},
        follow_redirects=False,
    )
    assert changed.status_code == 303
    disabled = client.post(
        f"/admin/users/{newbie['id']}",
        data={"csrf_token": csrf, "disabled": "true"},
        follow_redirects=False,
    )
    assert disabled.status_code == 303
    user = world.client.get(f"/api/v1/users/{newbie['id']}", headers=world.as_user("admin"))
    assert user.json()["user"]["role"] == "analyst" and user.json()["user"]["disabled"] is True
    weak = client.post(
        "/admin/users",
        data={"csrf_token": csrf, "username": HOSTILE, "password": "short", "role": "viewer"},
    )
    assert weak.status_code == 400 and 'class="error"' in weak.text


def test_users_page_escapes_names_and_is_for_admins(world: World) -> None:
    client, csrf = _session(world, "admin")
    world.client.post(
        "/api/v1/users",
        json={
            "username": "obrien",
            "email": "o'brien<i>@example.com",
            "password": PASSWORD,
            "role": "viewer",
        },
        headers=world.as_user("admin"),
    )
    page = client.get("/admin/users")
    assert "o&#39;brien&lt;i&gt;@example.com" in page.text and "<i>" not in page.text
    for user in ("analyst", "viewer"):
        answer = world.client.get("/admin/users", headers=world.as_user(user))
        assert answer.status_code == 403
        assert (
            'href="/admin/users"'
            not in world.client.get("/account/keys", headers=world.as_user(user)).text
        )


def test_keys_page_shows_a_new_key_once_and_revokes_it(world: World) -> None:
    client, csrf = _session(world, "viewer")
    created = client.post(
        "/account/keys",
        data={"csrf_token": csrf, "name": HOSTILE, "scope_read": "1", "site": SITE},
    )
    assert created.status_code == 201, created.text
    raw = re.search(r'<code id="new-key">([^<]+)</code>', created.text)
    assert raw is not None
    assert "&lt;b&gt;bold&lt;/b&gt;" in created.text and "<b>bold" not in created.text
    _no_inline_code(created.text)
    stats = world.client.get(f"/api/v1/sites/{SITE}/goals", headers=world.bearer(raw.group(1)))
    assert stats.status_code == 200
    listing = client.get("/account/keys")
    assert raw.group(1) not in listing.text
    key_id = re.search(r"/account/keys/(\d+)/revoke", listing.text)
    assert key_id is not None
    revoked = client.post(
        f"/account/keys/{key_id.group(1)}/revoke",
        data={"csrf_token": csrf},
        follow_redirects=False,
    )
    assert revoked.status_code == 303
    stats = world.client.get(f"/api/v1/sites/{SITE}/goals", headers=world.bearer(raw.group(1)))
    assert stats.status_code == 401
    # a viewer may not hold a write key, and may not revoke another user's key
    refused = client.post(
        "/account/keys", data={"csrf_token": csrf, "name": "w", "scope_write": "1"}
    )
    assert refused.status_code == 403
    others = world.client.get("/api/v1/api-keys", headers=world.as_user("admin")).json()
    foreign = others["api_keys"][0]["id"]
    answer = client.post(f"/account/keys/{foreign}/revoke", data={"csrf_token": csrf})
    assert answer.status_code == 404


def test_campaign_pages_create_list_and_show_stats(world: World) -> None:
    client, csrf = _session(world, "analyst")
    campaigns = f"/sites/{SITE}/campaigns"
    created = client.post(
        campaigns,
        data={"csrf_token": csrf, "name": HOSTILE, "code": "spring", "sends": "10"},
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text
    campaign_id = int(created.headers["location"].rsplit("/", 1)[1])
    link = world.client.post(
        "/api/v1/links",
        json={"url": "https://example.com/offer", "campaign": "spring", "name": "Offer"},
        headers=world.as_user("analyst"),
    )
    assert link.status_code == 201, link.text
    link_id = link.json()["id"]
    site = world.app.state.sites.lookup(SITE)
    on = {"site_id": site.id, "campaign_id": campaign_id}
    populate(
        world.app.state.store,
        [
            factories.open(campaign_id, "alice", site_id=site.id, visitor_id=1),
            factories.click(link_id, recipient="alice", platform="iPhone", visitor_id=1, **on),
            factories.click(link_id, recipient="bob", platform="Android", visitor_id=2, **on),
            factories.click(link_id, recipient="eve", is_bot=True, visitor_id=3, **on),
        ],
    )
    listing = client.get(campaigns)
    assert listing.status_code == 200
    _no_inline_code(listing.text)
    assert "&lt;b&gt;bold&lt;/b&gt;" in listing.text and "<b>bold" not in listing.text
    row = listing.text.split(f'href="{campaigns}/{campaign_id}"', 1)[1].split("</tr>", 1)[0]
    assert re.findall(r'<td class="num">([^<]*)</td>', row) == ["10", "1", "1", "2", "2"]
    api = world.client.get(
        f"/api/v1/campaigns/{campaign_id}/stats", headers=world.as_user("analyst")
    ).json()
    assert [api[key] for key in ("opens", "unique_opens", "clicks", "unique_clicks")] == [
        1,
        1,
        2,
        2,
    ]
    page = client.get(f"{campaigns}/{campaign_id}")
    assert page.status_code == 200
    _no_inline_code(page.text)
    assert 'data-metric="click_rate"><span class="label">Click rate</span>' in page.text
    assert '<span class="value">20.0 %</span>' in page.text
    assert "Offer" in page.text and ">iPhone</td>" in page.text and ">Android</td>" in page.text
    assert "1 machine clicks left out" in page.text


def test_campaign_pages_per_role(world: World) -> None:
    answer = world.client.post(
        "/api/v1/campaigns",
        json={"name": "Elsewhere", "site": OTHER_SITE},
        headers=world.as_user("admin"),
    )
    foreign = answer.json()["id"]
    viewer = world.client.get(f"/sites/{SITE}/campaigns", headers=world.as_user("viewer"))
    assert viewer.status_code == 403
    analyst = world.as_user("analyst")
    assert world.client.get(f"/sites/{OTHER_SITE}/campaigns", headers=analyst).status_code == 404
    # a campaign of another site is not found under this one, nor under its own without a grant
    assert (
        world.client.get(f"/sites/{SITE}/campaigns/{foreign}", headers=analyst).status_code == 404
    )
    mine = world.client.get(f"/sites/{OTHER_SITE}/campaigns/{foreign}", headers=analyst)
    assert mine.status_code == 404
    admin = world.client.get(
        f"/sites/{OTHER_SITE}/campaigns/{foreign}", headers=world.as_user("admin")
    )
    assert admin.status_code == 200 and "Elsewhere" in admin.text


def test_a_refused_campaign_keeps_the_form(world: World) -> None:
    client, csrf = _session(world, "analyst")
    bad = client.post(
        f"/sites/{SITE}/campaigns", data={"csrf_token": csrf, "name": "Named", "sends": "-3"}
    )
    assert bad.status_code == 400 and 'class="error"' in bad.text
    assert 'value="Named"' in bad.text


def test_admin_grants_and_withdraws_members(world: World) -> None:
    client, csrf = _session(world, "admin")
    outsider = world.user_ids["outsider"]
    granted = client.post(
        f"{SETTINGS}/members",
        data={"csrf_token": csrf, "user_id": str(outsider), "role": "analyst"},
        follow_redirects=False,
    )
    assert granted.status_code == 303, granted.text
    assert world.client.get(SETTINGS, headers=world.as_user("outsider")).status_code == 403
    members = world.client.get(f"/api/v1/sites/{SITE}/members", headers=world.as_user("admin"))
    assert {"user_id": outsider, "username": "outsider", "role": "analyst"} in members.json()[
        "members"
    ]
    page = client.get(granted.headers["location"])
    assert (
        "The site was granted." in page.text
        and '<td class="member-name">outsider</td>' in page.text
    )
    removed = client.post(
        f"{SETTINGS}/members/{outsider}/remove", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert removed.status_code == 303
    assert world.client.get(f"/sites/{SITE}", headers=world.as_user("outsider")).status_code == 404
    analyst, analyst_csrf = _session(world, "analyst")
    refused = analyst.post(
        f"{SETTINGS}/members",
        data={"csrf_token": analyst_csrf, "user_id": str(outsider), "role": "admin"},
    )
    assert refused.status_code == 403


def _link_row(page: str, code: str) -> str:
    rows = [row.split("</tr>", 1)[0] for row in page.split("<tr>")[1:]]
    return next(row for row in rows if f"<code>{code}</code>" in row)


def test_link_pages_create_list_with_clicks_and_archive(world: World) -> None:
    client, csrf = _session(world, "analyst")
    links = f"/sites/{SITE}/links"
    dashboard = client.get(f"/sites/{SITE}")
    assert f'href="{links}"' in dashboard.text  # reachable from the dashboard
    created = client.post(
        links,
        data={
            "csrf_token": csrf,
            "url": "https://example.com/offer?x=1",
            "name": HOSTILE,
            "code": "offer",
        },
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text
    assert created.headers["location"] == f"{links}?notice=created"
    api = world.client.get(f"/api/v1/links?site={SITE}", headers=world.as_user("analyst")).json()
    (link,) = api["links"]
    assert (link["code"], link["name"], link["url"]) == (
        "offer",
        HOSTILE,
        "https://example.com/offer?x=1",
    )
    site = world.app.state.sites.lookup(SITE)
    populate(
        world.app.state.store,
        [
            factories.click(link["id"], site_id=site.id, visitor_id=1),
            factories.click(link["id"], site_id=site.id, visitor_id=1),
            factories.click(link["id"], site_id=site.id, visitor_id=2),
            factories.click(link["id"], site_id=site.id, visitor_id=3, is_bot=True),
        ],
    )
    listing = client.get(links)
    assert listing.status_code == 200
    _no_inline_code(listing.text)
    assert "&lt;b&gt;bold&lt;/b&gt;" in listing.text and "<b>bold" not in listing.text
    row = _link_row(listing.text, "offer")
    counted = world.client.get(f"/api/v1/links/{link['id']}", headers=world.as_user("analyst"))
    clicks, unique = counted.json()["click_count"], counted.json()["unique_clicks"]
    assert (clicks, unique) == (3, 2)  # human clicks; the bot's is left out
    assert re.findall(r'<td class="num">([^<]*)</td>', row) == ["3", "2"]
    assert f'href="{link["short_url"]}"' in row and f'href="{link["qr_url"]}"' in row
    # A link with clicks is archived, not deleted: its clicks stay in the reports.
    gone = client.post(
        f"{links}/{link['id']}/delete", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert gone.headers["location"] == f"{links}?notice=archived"
    assert "<code>offer</code>" not in client.get(links).text
    archived = world.client.get(f"/api/v1/links/{link['id']}", headers=world.as_user("analyst"))
    assert archived.json()["archived"] is True


def test_link_forms_refuse_bad_targets_and_keep_the_form(world: World) -> None:
    client, csrf = _session(world, "analyst")
    links = f"/sites/{SITE}/links"
    for url in ("javascript:alert(1)", "//evil.example/", "https://user:pw@example.com/"):
        bad = client.post(links, data={"csrf_token": csrf, "url": url, "name": "Kept"})
        assert bad.status_code == 400 and 'class="error"' in bad.text, url
        assert 'value="Kept"' in bad.text
    assert world.client.get(
        f"/api/v1/links?site={SITE}", headers=world.as_user("admin")
    ).json() == {"links": []}
    without_csrf = client.post(links, data={"url": "https://example.com/"})
    assert without_csrf.status_code == 403


def test_link_pages_per_role(world: World) -> None:
    made = world.client.post(
        "/api/v1/links",
        json={"url": "https://example.com/elsewhere", "site": OTHER_SITE, "code": "far"},
        headers=world.as_user("admin"),
    )
    assert made.status_code == 201, made.text
    far = made.json()["id"]
    assert (
        world.client.get(f"/sites/{SITE}/links", headers=world.as_user("viewer")).status_code == 403
    )
    analyst = world.as_user("analyst")
    assert world.client.get(f"/sites/{OTHER_SITE}/links", headers=analyst).status_code == 404
    # Another site's link cannot be deleted under this site, nor under its own without a grant.
    client, csrf = _session(world, "analyst")
    under_mine = client.post(f"/sites/{SITE}/links/{far}/delete", data={"csrf_token": csrf})
    assert under_mine.status_code == 404
    under_its_own = client.post(
        f"/sites/{OTHER_SITE}/links/{far}/delete", data={"csrf_token": csrf}
    )
    assert under_its_own.status_code == 404
    admin = world.client.get(f"/sites/{OTHER_SITE}/links", headers=world.as_user("admin"))
    assert admin.status_code == 200 and "<code>far</code>" in admin.text
    anonymous = world.client.get(f"/sites/{SITE}/links", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
