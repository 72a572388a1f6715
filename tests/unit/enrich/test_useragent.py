"""Browser, OS, device class and link platform from real User-Agent headers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from footfall.enrich.useragent import UserAgentInfo, parse_user_agent, platform_of
from tests.unit.enrich.agents import BROWSERS


@pytest.mark.parametrize(
    ("ua", "browser", "version", "os", "os_version", "device", "platform"), BROWSERS
)
def test_real_browsers_parse_to_canonical_names(
    ua: str, browser: str, version: str, os: str, os_version: str, device: str, platform: str
) -> None:
    info = parse_user_agent(ua)
    assert (info.browser, info.browser_version) == (browser, version)
    assert (info.os, info.os_version) == (os, os_version)
    assert info.device == device
    assert platform_of(ua) == platform


def test_table_covers_every_device_class_and_main_browser() -> None:
    assert len(BROWSERS) >= 30
    assert {row[5] for row in BROWSERS} == {"Desktop", "Mobile", "Tablet"}
    browsers = {row[1] for row in BROWSERS}
    assert {"Chrome", "Safari", "Firefox", "Edge", "Opera", "Samsung Internet"} <= browsers


@pytest.mark.parametrize("ua", ["", "garbage", "Mozilla/5.0", "\x00\xff"])
def test_unrecognisable_headers_give_empty_fields(ua: str) -> None:
    info = parse_user_agent(ua)
    assert info.device == ""
    assert info.os == ""
    assert platform_of(ua) == "other"


def test_googlebot_is_flagged_as_spider_by_the_parser() -> None:
    info = parse_user_agent(
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    )
    assert info.is_spider


def test_browsers_are_not_spiders() -> None:
    assert not any(parse_user_agent(row[0]).is_spider for row in BROWSERS)


def test_windows_tablet_pc_is_a_desktop() -> None:
    ua = "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0; Tablet PC 2.0)"
    assert parse_user_agent(ua).device == "Desktop"


def test_results_are_cached() -> None:
    ua = BROWSERS[0][0]
    assert parse_user_agent(ua) is parse_user_agent(ua)


def test_the_fast_rust_resolver_is_in_use() -> None:
    from ua_parser.regex import Resolver

    from footfall.enrich import useragent

    assert isinstance(useragent._resolver(), Resolver)


@given(st.text(max_size=2000))
def test_never_raises(ua: str) -> None:
    assert isinstance(parse_user_agent(ua), UserAgentInfo)
    assert platform_of(ua) in {
        "Android",
        "iPhone",
        "iPad",
        "WindowsPhone",
        "Windows",
        "macOS",
        "Linux",
        "other",
    }
