"""Channel rules (DESIGN.md section 2): every channel, and which rule wins when several match."""

from __future__ import annotations

import pytest

from footfall.enrich.channels import CHANNELS, DIRECT_SOURCE, channel_for, source_for
from footfall.enrich.referrers import ReferrerInfo, classify_referrer
from footfall.enrich.utm import extract_campaign


def channel(referrer: str = "", query: str = "", email_link: bool = False) -> str:
    info = classify_referrer(referrer) if referrer else None
    return channel_for(info, extract_campaign(query), email_link)


def source(referrer: str = "", query: str = "") -> str:
    info = classify_referrer(referrer) if referrer else None
    return source_for(info, extract_campaign(query))


@pytest.mark.parametrize(
    ("referrer", "query", "email_link", "expected"),
    [
        # Direct
        ("", "", False, "Direct"),
        # Referral
        ("https://blog.example.org/post", "", False, "Referral"),
        ("https://chatgpt.com/", "", False, "Referral"),
        ("", "utm_source=partner", False, "Referral"),
        ("", "ref=someblog", False, "Referral"),
        ("", "utm_campaign=spring", False, "Referral"),
        # Organic Search
        ("https://www.google.com/", "", False, "Organic Search"),
        ("https://duckduckgo.com/", "", False, "Organic Search"),
        ("", "utm_medium=organic", False, "Organic Search"),
        ("", "utm_source=bing", False, "Organic Search"),
        # Organic Social
        ("https://t.co/x", "", False, "Organic Social"),
        ("", "utm_medium=social", False, "Organic Social"),
        ("", "utm_medium=sm&utm_source=partner", False, "Organic Social"),
        ("", "utm_source=fb", False, "Organic Social"),
        ("https://l.facebook.com/", "fbclid=abc", False, "Organic Social"),
        # Email
        ("", "utm_medium=email", False, "Email"),
        ("", "utm_medium=E-Mail", False, "Email"),
        ("", "utm_source=newsletter", False, "Email"),
        ("https://mail.google.com/", "", False, "Email"),
        ("", "", True, "Email"),
        # Paid Search
        ("", "gclid=abc", False, "Paid Search"),
        ("", "msclkid=abc", False, "Paid Search"),
        ("https://www.google.com/", "utm_medium=cpc", False, "Paid Search"),
        ("", "utm_medium=ppc&utm_source=bing", False, "Paid Search"),
        ("", "utm_medium=paidsearch", False, "Paid Search"),
        ("", "utm_medium=display", False, "Paid Search"),
        # Paid Social
        ("", "fbclid=abc&utm_medium=paid", False, "Paid Social"),
        ("", "ttclid=abc&utm_medium=cpc", False, "Paid Social"),
        ("", "li_fat_id=abc&utm_medium=cpm", False, "Paid Social"),
        ("https://l.facebook.com/", "utm_medium=cpc", False, "Paid Social"),
        ("", "utm_source=instagram&utm_medium=paid", False, "Paid Social"),
        ("", "utm_medium=paid_social", False, "Paid Social"),
        ("", "utm_medium=social-paid", False, "Paid Social"),
    ],
)
def test_channel_rules(referrer: str, query: str, email_link: bool, expected: str) -> None:
    assert channel(referrer, query, email_link) == expected


@pytest.mark.parametrize(
    ("referrer", "query", "email_link", "expected"),
    [
        # Paid wins over everything.
        ("https://mail.google.com/", "gclid=abc", True, "Paid Search"),
        ("https://t.co/x", "utm_medium=cpc&utm_source=newsletter", False, "Paid Social"),
        # Email wins over social and search.
        ("https://t.co/x", "utm_medium=email", False, "Email"),
        ("https://www.google.com/", "", True, "Email"),
        # Social wins over search.
        ("https://www.google.com/", "utm_medium=social", False, "Organic Social"),
        # Search wins over referral.
        ("https://blog.example.org/", "utm_medium=organic", False, "Organic Search"),
    ],
)
def test_rule_precedence(referrer: str, query: str, email_link: bool, expected: str) -> None:
    assert channel(referrer, query, email_link) == expected


def test_every_channel_is_reachable_and_named_as_in_the_api() -> None:
    assert set(CHANNELS) == {
        "Direct",
        "Organic Search",
        "Paid Search",
        "Organic Social",
        "Paid Social",
        "Email",
        "Referral",
    }


@pytest.mark.parametrize(
    ("referrer", "query", "expected"),
    [
        ("", "", DIRECT_SOURCE),
        ("https://www.google.com/", "", "Google"),
        ("https://www.google.com/", "utm_source=newsletter", "Google"),
        ("", "utm_source=fb", "Facebook"),
        ("", "utm_source=Spring-Partner", "Spring-Partner"),
        ("", "ref=producthunt", "Product Hunt"),
        ("", "ref=someblog", "someblog"),
        ("https://blog.example.org/x", "", "blog.example.org"),
        ("https://blog.example.org/x", "utm_source=partner", "partner"),
    ],
)
def test_source(referrer: str, query: str, expected: str) -> None:
    assert source(referrer, query) == expected


def test_unknown_referrer_object_without_source_is_direct() -> None:
    empty = ReferrerInfo(source="", medium="")
    assert channel_for(empty, extract_campaign(""), False) == "Direct"
