"""The issue's end-to-end test: a real server, a campaign, 1,000 rewritten e-mails, exact stats.

The message is rewritten with LetterURL (links registered through the API once each), one copy
is sent through a real local SMTP server, then every recipient's links and pixel are followed
with varied user agents according to a fixed plan, and the campaign stats must match the plan.
"""

from __future__ import annotations

import email
import re
import smtplib
import time
from collections import Counter
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message

from footfall.newsletter import LetterURL
from tests.support.server import LiveServer, free_port

pytestmark = pytest.mark.slow

PASSWORD = "newsletter-e2e-password-4411"
RECIPIENTS = 1000
TEMPLATE = """<!doctype html>
<html><head><title>November</title></head><body>
<h1>Our November letter</h1>
<p>Read <a href="https://shop.example/sale?src=letter&amp;x=1">the sale</a>,
the <a href="https://blog.example/post/42">new post</a>, or
<a href="https://shop.example/account">your account</a>.</p>
<p><a href="mailto:help@shop.example">Write to us</a> or <a href="tel:+4930123456">call</a>,
<a href="#top">back to top</a>.</p>
</body></html>
"""
TARGETS = [
    "https://shop.example/sale?src=letter&x=1",
    "https://blog.example/post/42",
    "https://shop.example/account",
]
AGENTS = {
    "iPhone": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
    "Android": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36",
    "Windows": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "macOS": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Safari/605.1.15",
    "iPad": "Mozilla/5.0 (iPad; CPU OS 12_2 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148",
}
PLATFORMS = list(AGENTS)
GMAIL_PROXY = (
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
)
APPLE_PRIVACY_PREFETCH = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"
)
SCANNER = "Mozilla/5.0 (compatible; Barracuda Sentinel (EE))"
# Addresses and the country the bundled geolocation data gives each.
ADDRESSES = [("8.8.8.8", "US"), ("81.169.145.1", "DE"), ("212.58.244.1", "GB"), ("1.1.1.1", "AU")]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = LiveServer(
        tmp_path / "data",
        env={
            "FOOTFALL_ADMIN_USER": "admin",
            "FOOTFALL_ADMIN_PASSWORD": PASSWORD,
            # Readers come from several countries through the loopback "proxy".
            "FOOTFALL_TRUSTED_PROXIES": "127.0.0.0/8",
        },
    )
    live.start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
def smtp() -> Iterator[tuple[Controller, list[EmailMessage]]]:
    received: list[EmailMessage] = []

    class Inbox(Message):
        def handle_message(self, message: Any) -> None:
            received.append(message)

    controller = Controller(Inbox(), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller, received
    finally:
        controller.stop()


class Plan:
    """What each recipient does, and the stats that must follow."""

    def __init__(self) -> None:
        self.human_opens: list[str] = []
        self.machine_opens = 0
        self.human_clicks: Counter[int] = Counter()  # link index -> clicks
        self.human_clickers: dict[int, set[str]] = {0: set(), 1: set(), 2: set()}
        self.platform_clicks: Counter[str] = Counter()
        self.country_clicks: Counter[str] = Counter()
        self.machine_clicks = 0

    def record_open(self, recipient: str, machine: bool) -> None:
        if machine:
            self.machine_opens += 1
        else:
            self.human_opens.append(recipient)

    def record_click(self, recipient: str, link: int, index: int, machine: bool) -> None:
        if machine:
            self.machine_clicks += 1
            return
        self.human_clicks[link] += 1
        self.human_clickers[link].add(recipient)
        self.platform_clicks[PLATFORMS[index % len(PLATFORMS)]] += 1
        self.country_clicks[ADDRESSES[index % len(ADDRESSES)][1]] += 1


def _links_of(message: str) -> list[str]:
    return re.findall(r'href="([^"]+/u/[^"]+)"', message)


def _pixel_of(message: str) -> str:
    found = re.search(r'<img src="([^"]+\.gif)"', message)
    assert found is not None
    return found.group(1)


def _follow(client: httpx.Client, url: str, agent: str, index: int, method: str = "GET") -> None:
    address = ADDRESSES[index % len(ADDRESSES)][0]
    response = client.request(
        method, url, headers={"user-agent": agent, "x-forwarded-for": address}
    )
    assert response.status_code in (200, 302), (url, response.status_code)


def _opens(client: httpx.Client, plan: Plan, index: int, recipient: str, pixel: str) -> None:
    agent = AGENTS[PLATFORMS[index % len(PLATFORMS)]]
    if index % 10 != 0:  # 900 readers open; every 7th opens twice
        for _ in range(2 if index % 7 == 0 else 1):
            _follow(client, pixel, agent, index)
            plan.record_open(recipient, machine=False)
    if index % 25 == 0:  # Gmail's proxy fetches the image: a human open
        _follow(client, pixel, GMAIL_PROXY, index)
        plan.record_open(recipient, machine=False)
    if index % 20 == 0:  # Apple Mail Privacy Protection prefetches: a machine
        _follow(client, pixel, APPLE_PRIVACY_PREFETCH, index)
        plan.record_open(recipient, machine=True)


def _clicks(client: httpx.Client, plan: Plan, index: int, recipient: str, links: list[str]) -> None:
    platform = PLATFORMS[index % len(PLATFORMS)]
    agent = AGENTS[platform]
    if index % 100 == 2:
        # A scanner posing as this reader's browser fetches every link within a second: a
        # reader's own click among them could not be told apart, so this one has none.
        for link in range(3):
            _follow(client, links[link], agent, index)
            plan.record_click(recipient, link, index, machine=True)
    elif index % 3 == 0:  # a third of the readers click one link, some twice (double click)
        link = (index // 3) % 3
        for _ in range(2 if index % 9 == 0 else 1):
            _follow(client, links[link], agent, index)
            plan.record_click(recipient, link, index, machine=False)
    if index % 50 == 1:  # a mail gateway scanner with its own agent fetches every link
        for link in range(3):
            _follow(client, links[link], SCANNER, index)
            plan.record_click(recipient, link, index, machine=True)
    if index % 100 == 5:  # a HEAD request checking the link
        _follow(client, links[0], agent, index, method="HEAD")
        plan.record_click(recipient, 0, index, machine=True)


def _run_plan(client: httpx.Client, messages: dict[str, str]) -> Plan:
    """Open and click as 1,000 readers, scanners and proxies would; returns the expectation."""
    plan = Plan()
    for index, (recipient, message) in enumerate(messages.items()):
        _opens(client, plan, index, recipient, _pixel_of(message))
        _clicks(client, plan, index, recipient, _links_of(message))
    return plan


def _token(server: LiveServer) -> str:
    response = httpx.post(
        f"{server.url}/api/v1/authenticate", json={"username": "admin", "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


def _stats(server: LiveServer, token: str, campaign_id: int, machine: str) -> dict[str, Any]:
    response = httpx.get(
        f"{server.url}/api/v1/campaigns/{campaign_id}/stats?machine={machine}",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_newsletter_campaign_stats_are_exact(
    server: LiveServer, smtp: tuple[Controller, list[EmailMessage]]
) -> None:
    token = _token(server)
    auth = {"Authorization": f"Bearer {token}"}
    created = httpx.post(
        f"{server.url}/api/v1/campaigns",
        json={"name": "November letter", "site": "localhost", "sends": RECIPIENTS},
        headers=auth,
    )
    assert created.status_code == 201, created.text
    campaign = created.json()
    secret = (server.data_dir / "secret_key").read_text().strip()
    letter = LetterURL(server.url, secret, campaign["code"], api_token=token)

    recipients = [f"reader{n:04d}@example.com" for n in range(RECIPIENTS)]
    messages = {
        recipient: letter.rewrite(TEMPLATE, recipient=recipient) for recipient in recipients
    }
    links = httpx.get(
        f"{server.url}/api/v1/links?campaign={campaign['code']}", headers=auth
    ).json()["links"]
    assert sorted(link["url"] for link in links) == sorted(TARGETS)  # registered once each
    first = messages[recipients[0]]
    assert 'href="mailto:help@shop.example"' in first and 'href="#top"' in first

    # One message goes through a real SMTP server and arrives with its tracked links intact.
    controller, received = smtp
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "news@shop.example", recipients[0], "November"
    mail.set_content("Our November letter (HTML only).")
    mail.add_alternative(first, subtype="html")
    with smtplib.SMTP(controller.hostname, controller.port) as client:
        client.send_message(mail)
    assert len(received) == 1
    delivered = email.message_from_string(received[0].as_string())
    html_parts = [p for p in delivered.walk() if p.get_content_type() == "text/html"]
    arrived = html_parts[0].get_payload(decode=True).decode()
    assert _links_of(arrived) == _links_of(first) and len(_links_of(arrived)) == 3

    with httpx.Client(follow_redirects=False, timeout=10) as client:
        plan = _run_plan(client, messages)

    expected_human_clicks = sum(plan.human_clicks.values())
    total = len(plan.human_opens) + plan.machine_opens + expected_human_clicks + plan.machine_clicks
    deadline = time.monotonic() + 20
    everything = _stats(server, token, campaign["id"], "include")
    while everything["opens"] + everything["clicks"] < total and time.monotonic() < deadline:
        time.sleep(0.2)
        everything = _stats(server, token, campaign["id"], "include")
    human = _stats(server, token, campaign["id"], "exclude")

    unique_clickers = set().union(*plan.human_clickers.values())
    assert human["opens"] == len(plan.human_opens)
    assert human["unique_opens"] == len(set(plan.human_opens))
    assert human["machine_opens"] == plan.machine_opens
    assert human["clicks"] == expected_human_clicks
    assert human["unique_clicks"] == len(unique_clickers)
    assert human["machine_clicks"] == plan.machine_clicks
    assert human["click_rate"] == round(100 * len(unique_clickers) / RECIPIENTS, 2)
    assert human["click_to_open_rate"] == round(
        100 * len(unique_clickers) / len(set(plan.human_opens)), 2
    )
    by_url = {item["url"]: item for item in human["links"]}
    for index, target in enumerate(TARGETS):
        assert by_url[target]["clicks"] == plan.human_clicks[index]
        assert by_url[target]["unique_clicks"] == len(plan.human_clickers[index])
    assert human["platforms"] == dict(plan.platform_clicks)
    assert human["countries"] == dict(plan.country_clicks)
    assert everything["opens"] == len(plan.human_opens) + plan.machine_opens
    assert everything["clicks"] == expected_human_clicks + plan.machine_clicks
