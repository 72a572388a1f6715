"""Bot detection: crawlers, tools, previewers and scanners flagged; real browsers never."""

from __future__ import annotations

from importlib import resources

import pytest
from crawlerdetect import CrawlerDetect
from hypothesis import given
from hypothesis import strategies as st

from footfall.enrich.bots import _crawlerdetect_matches, is_bot, load_patterns
from tests.unit.enrich.agents import BOTS, BROWSERS


@pytest.mark.parametrize("ua", BOTS)
def test_bots_and_tools_are_flagged(ua: str) -> None:
    assert is_bot(ua)


@pytest.mark.parametrize("ua", [row[0] for row in BROWSERS])
def test_real_browsers_are_not_flagged(ua: str) -> None:
    assert not is_bot(ua)


def test_tables_are_large_enough() -> None:
    assert len(BOTS) >= 30
    assert len(BROWSERS) >= 30


@pytest.mark.parametrize(
    "ua",
    [
        # In-app browsers of social apps are people, not previewers.
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Mobile/22B83 Instagram 356.0.0.22.90 (iPhone16,2; iOS 18_1; "
        "en_US; en; scale=3.00; 1179x2556; 660817030)",
        "Mozilla/5.0 (Linux; Android 14; SM-S918B Build/UP1A.231005.007; wv) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Version/4.0 Chrome/131.0.6778.135 Mobile Safari/537.36 "
        "[FB_IAB/FB4A;FBAV/490.0.0.50.81;]",
        # Desktop apps built on Electron are used by people.
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Electron/28.0.0 Safari/537.36",
    ],
)
def test_in_app_browsers_are_people(ua: str) -> None:
    assert not is_bot(ua)


def test_own_pattern_file_is_lower_case_and_compiles() -> None:
    text = resources.files("footfall.enrich").joinpath("data/bots.txt").read_text()
    patterns = [
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    ]
    assert patterns
    assert all(pattern == pattern.lower() for pattern in patterns)
    anchored, anywhere = load_patterns(text)
    assert anchored.match("curl/8.0")
    assert anywhere.search("mozilla/5.0 headlesschrome/120")


def test_load_patterns_skips_comments_and_an_empty_file_matches_nothing() -> None:
    anchored, anywhere = load_patterns("# only a comment\n\n")
    assert anchored.match("anything") is None
    assert anywhere.search("anything") is None
    anchored, anywhere = load_patterns("# tools\n^mytool/\nscanner\n")
    assert anchored.match("mytool/1.0")
    assert anchored.match("x mytool/1.0") is None
    assert anywhere.search("a scanner here")


def test_a_browser_token_cannot_hide_a_bot_in_its_platform_part() -> None:
    ua = (
        "Mozilla/5.0 (Linux; Android 10; MyCrawler) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Mobile Safari/537.36"
    )
    assert is_bot(ua)


_REFERENCE = CrawlerDetect()
_SAMPLES = [row[0] for row in BROWSERS] + [ua for ua in BOTS if ua.strip()]
_WORDS = ["Googlebot", "Yandex", "YandexSearch", "Java/1", "compatible", "Safari/537.36", "bot"]


@pytest.mark.parametrize("ua", _SAMPLES)
def test_crawler_list_matching_agrees_with_crawlerdetect(ua: str) -> None:
    expected = _REFERENCE.is_crawler(ua.strip())
    assert _crawlerdetect_matches(ua.strip().lower()) == expected


@given(
    st.sampled_from(_SAMPLES),
    st.sampled_from(_WORDS),
    st.integers(min_value=0, max_value=400),
    st.text(max_size=20),
)
def test_crawler_list_matching_agrees_with_crawlerdetect_on_variants(
    ua: str, word: str, position: int, noise: str
) -> None:
    variant = (ua[:position] + " " + word + noise + " " + ua[position:]).strip()
    expected = _REFERENCE.is_crawler(variant)
    assert _crawlerdetect_matches(variant.lower()) == expected


def test_lookaround_patterns_are_honoured() -> None:
    # crawlerdetect lists "Yandex(?!Search)": the Yandex search app is a browser.
    assert _crawlerdetect_matches("yandexbot/3.0")
    assert not _crawlerdetect_matches("yandexsearch/24.1")
