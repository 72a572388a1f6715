"""Link targets: the open-redirect corpus, normalization, allow-lists and UTM parameters."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from footfall.links.targets import TargetError, check_target, host_allowed, with_utm
from tests.unit.links.redirect_corpus import BAD_TARGETS, LOOK_ALIKES


def test_the_corpus_is_large_enough() -> None:
    assert len(BAD_TARGETS) + len(LOOK_ALIKES) >= 100
    assert len(set(BAD_TARGETS)) == len(BAD_TARGETS)


@pytest.mark.parametrize("url", BAD_TARGETS)
def test_bad_targets_are_refused(url: str) -> None:
    with pytest.raises(TargetError):
        check_target(url)


@pytest.mark.parametrize("url", LOOK_ALIKES)
def test_look_alikes_never_pass_an_allow_list(url: str) -> None:
    with pytest.raises(TargetError):
        check_target(url, ["example.com", "*.example.com"])


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("https://example.com", "https://example.com/"),
        ("HTTPS://Example.COM/Path?q=1#frag", "https://example.com/Path?q=1#frag"),
        ("http://example.com:8080/a", "http://example.com:8080/a"),
        ("https://127.0.0.1/x", "https://127.0.0.1/x"),
        ("https://[::1]:8443/x", "https://[::1]:8443/x"),
        ("https://bücher.example/ä?q=ü", "https://xn--bcher-kva.example/%C3%A4?q=%C3%BC"),
        ("https://ｅｖｉｌ.com/", "https://evil.com/"),
        ("https://example.com/a%20b?x=%2F", "https://example.com/a%20b?x=%2F"),
        ("  https://example.com/trimmed  ", "https://example.com/trimmed"),
    ],
)
def test_good_targets_are_normalized(given: str, stored: str) -> None:
    assert check_target(given) == stored
    # Normalizing is stable: a stored target checks as itself.
    assert check_target(stored) == stored


def test_allow_list() -> None:
    hosts = ["example.com", "*.shop.example"]
    assert check_target("https://example.com/x", hosts) == "https://example.com/x"
    assert check_target("https://a.b.shop.example/", hosts) == "https://a.b.shop.example/"
    assert check_target("https://shop.example/", hosts) == "https://shop.example/"
    for url in ["https://www.example.com/", "https://evilshop.example/", "https://evil.com/"]:
        with pytest.raises(TargetError):
            check_target(url, hosts)
    assert host_allowed("a.example.com", ["*.EXAMPLE.com."])
    assert not host_allowed("example.com.evil", ["example.com"])


def test_utm_parameters_are_appended_or_replaced() -> None:
    url = with_utm(
        "https://example.com/p?utm_source=old&x=1#f",
        {"utm_source": "newsletter", "utm_medium": "email", "utm_term": ""},
    )
    assert url == "https://example.com/p?x=1&utm_source=newsletter&utm_medium=email#f"
    with pytest.raises(TargetError):
        with_utm("https://example.com/", {"utm_evil": "x"})


_URL_PIECES = st.sampled_from(
    [
        "http",
        "https",
        "HTTPS",
        ":",
        "/",
        "//",
        "\\",
        "@",
        "evil.com",
        "example.com",
        "%2f",
        "%40",
        "?",
        "#",
        ".",
        "[",
        "]",
        "::1",
        "\u0430",
        "\uff45",
        "\r\n",
        " ",
        "8080",
        "javascript",
        "x",
    ]
)


@settings(deadline=None, max_examples=500)
@given(st.lists(_URL_PIECES, max_size=12).map("".join))
def test_whatever_is_accepted_is_a_plain_absolute_web_url(text: str) -> None:
    try:
        stored = check_target(text)
    except TargetError:
        return
    parts = urlsplit(stored)
    assert parts.scheme in {"http", "https"} and stored.startswith(parts.scheme + "://")
    assert parts.hostname and "@" not in parts.netloc and "\\" not in stored
    assert stored.isascii() and stored.isprintable() and " " not in stored
    assert check_target(stored) == stored
