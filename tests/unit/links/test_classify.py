"""Human or machine: the collection-time rules of data/machine.json (bursts: the query path)."""

from __future__ import annotations

import pytest

from footfall.events import Kind
from footfall.links.classify import is_machine

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
APPLE_MPP = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"
)
GMAIL_PROXY = (
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
)
YAHOO_PROXY = "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html"
OUTLOOK = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.12026; Pro)"


@pytest.mark.parametrize("agent", [IPHONE, CHROME])
def test_people_are_human(agent: str) -> None:
    assert not is_machine(Kind.CLICK, "GET", agent)
    assert not is_machine(Kind.OPEN, "GET", agent)


@pytest.mark.parametrize("kind", [Kind.CLICK, Kind.OPEN])
def test_head_requests_are_machines(kind: Kind) -> None:
    assert is_machine(kind, "HEAD", IPHONE)


@pytest.mark.parametrize(
    "agent",
    [
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "facebookexternalhit/1.1",
        "WhatsApp/2.23.20.0",
        "Mozilla/5.0 (compatible; Barracuda Sentinel (EE))",
        "Mozilla/5.0 (compatible; SafeLinks)",
        "curl/8.5.0",
        "",
    ],
)
def test_previewers_scanners_and_tools_are_machines(agent: str) -> None:
    assert is_machine(Kind.CLICK, "GET", agent)


def test_apple_privacy_prefetch_opens_are_machines_but_clicks_from_mac_mail_are_not() -> None:
    assert is_machine(Kind.OPEN, "GET", APPLE_MPP)
    assert not is_machine(Kind.CLICK, "GET", APPLE_MPP)


@pytest.mark.parametrize("agent", [GMAIL_PROXY, YAHOO_PROXY, OUTLOOK])
def test_mail_provider_image_proxies_are_human_opens(agent: str) -> None:
    assert not is_machine(Kind.OPEN, "GET", agent)
    # The same agents following links are link scanners or discovery, not readers.
    assert is_machine(Kind.CLICK, "GET", agent)
