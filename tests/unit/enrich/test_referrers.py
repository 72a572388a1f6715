"""Referrer hosts to canonical sources and mediums, from the curated data file."""

from __future__ import annotations

import json
from importlib import resources

import pytest
from hypothesis import given
from hypothesis import strategies as st

from footfall.enrich.referrers import (
    ReferrerInfo,
    classify_referrer,
    classify_tag,
    referrer_host,
)


@pytest.mark.parametrize(
    ("referrer", "source", "medium"),
    [
        ("https://www.google.com/", "Google", "search"),
        ("https://www.google.co.uk/search?q=shoes", "Google", "search"),
        ("https://google.com.au/", "Google", "search"),
        ("google.de", "Google", "search"),
        ("https://www.bing.com/search?q=x", "Bing", "search"),
        ("https://duckduckgo.com/", "DuckDuckGo", "search"),
        ("https://www.ecosia.org/search", "Ecosia", "search"),
        ("https://search.brave.com/search?q=x", "Brave Search", "search"),
        ("https://www.qwant.com/", "Qwant", "search"),
        ("https://www.startpage.com/do/search", "Startpage", "search"),
        ("https://yandex.ru/search/", "Yandex", "search"),
        ("https://yandex.com.tr/", "Yandex", "search"),
        ("https://www.baidu.com/link?url=x", "Baidu", "search"),
        ("https://m.search.naver.com/", "Naver", "search"),
        ("https://search.yahoo.com/search", "Yahoo", "search"),
        ("https://search.yahoo.co.jp/", "Yahoo", "search"),
        ("android-app://com.google.android.googlequicksearchbox/", "Google", "search"),
        ("https://l.facebook.com/l.php?u=x", "Facebook", "social"),
        ("https://m.facebook.com/", "Facebook", "social"),
        ("https://t.co/abc", "Twitter", "social"),
        ("https://x.com/someone/status/1", "Twitter", "social"),
        ("https://www.linkedin.com/feed/", "LinkedIn", "social"),
        ("https://lnkd.in/abc", "LinkedIn", "social"),
        ("https://old.reddit.com/r/python", "Reddit", "social"),
        ("https://www.youtube.com/watch?v=1", "YouTube", "social"),
        ("https://www.instagram.com/", "Instagram", "social"),
        ("https://www.pinterest.de/pin/1", "Pinterest", "social"),
        ("https://news.ycombinator.com/item?id=1", "Hacker News", "social"),
        ("https://bsky.app/profile/x", "Bluesky", "social"),
        ("https://www.threads.net/@x", "Threads", "social"),
        ("https://mastodon.social/@x", "Mastodon", "social"),
        ("https://fosstodon.org/@x", "Mastodon", "social"),
        ("android-app://com.slack/", "Slack", "social"),
        ("https://mail.google.com/mail/u/0/", "Gmail", "email"),
        ("android-app://com.google.android.gm/", "Gmail", "email"),
        ("https://outlook.live.com/mail/0/", "Outlook", "email"),
        ("https://outlook.office.com/", "Outlook", "email"),
        ("https://mail.yahoo.com/d/folders/1", "Yahoo Mail", "email"),
        ("https://mail.proton.me/u/0/inbox", "Proton Mail", "email"),
        ("https://chatgpt.com/", "ChatGPT", ""),
        ("https://chat.openai.com/", "ChatGPT", ""),
        ("https://www.perplexity.ai/search/x", "Perplexity", ""),
        ("https://claude.ai/chat/x", "Claude", ""),
        ("https://gemini.google.com/app", "Gemini", ""),
        ("https://copilot.microsoft.com/", "Microsoft Copilot", ""),
        ("https://github.com/owner/repo", "GitHub", ""),
        ("https://en.m.wikipedia.org/wiki/X", "Wikipedia", ""),
        ("https://news.google.com/articles/x", "Google News", ""),
    ],
)
def test_known_referrers(referrer: str, source: str, medium: str) -> None:
    info = classify_referrer(referrer)
    assert (info.source, info.medium, info.known) == (source, medium, True)


@pytest.mark.parametrize(
    ("referrer", "source"),
    [
        ("https://www.example.com/page?x=1", "example.com"),
        ("https://blog.example.org/", "blog.example.org"),
        ("https://EXAMPLE.com.:443/", "example.com"),
        # A brand name in the middle of someone else's domain is not that brand.
        ("https://google.evil.com/", "google.evil.com"),
        ("https://notgoogle.com/", "notgoogle.com"),
        ("android-app://com.example.app/", "com.example.app"),
    ],
)
def test_unknown_hosts_are_their_own_source(referrer: str, source: str) -> None:
    info = classify_referrer(referrer)
    assert info == ReferrerInfo(source=source, medium="", host=source, known=False)


@pytest.mark.parametrize("referrer", ["", "   ", "http://[::1", "https://", "://"])
def test_unusable_referrers_give_an_empty_source(referrer: str) -> None:
    assert classify_referrer(referrer).source == ""


def test_most_specific_host_wins_over_a_wildcard_parent() -> None:
    assert classify_referrer("https://mail.google.com/").medium == "email"
    assert classify_referrer("https://google.com/").medium == "search"
    assert classify_referrer("https://scholar.google.de/").source == "Google Scholar"


def test_referrer_host_strips_www_port_and_case() -> None:
    assert referrer_host("https://WWW.Example.COM:8080/x") == "example.com"
    assert referrer_host("example.com/path") == "example.com"
    assert referrer_host("") == ""


@pytest.mark.parametrize(
    ("value", "source", "medium"),
    [
        ("fb", "Facebook", "social"),
        ("Facebook", "Facebook", "social"),
        ("ig", "Instagram", "social"),
        ("google", "Google", "search"),
        ("hn", "Hacker News", "social"),
        ("news.ycombinator.com", "Hacker News", "social"),
        ("chatgpt.com", "ChatGPT", ""),
        ("gmail", "Gmail", "email"),
    ],
)
def test_tags_name_known_sources(value: str, source: str, medium: str) -> None:
    info = classify_tag(value)
    assert info is not None
    assert (info.source, info.medium) == (source, medium)


@pytest.mark.parametrize("value", ["", "newsletter", "my-partner", "partner.example.com"])
def test_unknown_tags_name_nothing(value: str) -> None:
    assert classify_tag(value) is None


def test_data_file_is_well_formed() -> None:
    text = resources.files("footfall.enrich").joinpath("data/referrers.json").read_text()
    data = json.loads(text)
    hosts: list[str] = []
    aliases: list[str] = []
    for group in ("search", "social", "email", "other"):
        for entry in data[group].values():
            hosts.extend(entry["hosts"])
            aliases.extend(entry["aliases"])
    assert len(hosts) >= 300
    assert len(hosts) == len(set(hosts)), "a host is listed twice"
    assert len(aliases) == len(set(aliases)), "an alias is listed twice"
    assert all(h == h.lower() and not h.startswith("www.") for h in hosts)
    assert all(a == a.lower() for a in aliases)


@given(st.text(max_size=300))
def test_never_raises(text: str) -> None:
    assert isinstance(classify_referrer(text), ReferrerInfo)
    classify_tag(text)
