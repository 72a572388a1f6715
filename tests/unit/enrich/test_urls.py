"""Page URLs split into hostname, pathname and query, hash routing included."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from footfall.enrich.urls import MAX_PATH_LENGTH, split_page_url, strip_www


@pytest.mark.parametrize(
    ("url", "hash_routing", "expected"),
    [
        ("https://example.com/a/b?x=1#top", False, ("example.com", "/a/b", "x=1")),
        ("https://WWW.Example.com:8080/", False, ("www.example.com", "/", "")),
        ("https://example.com", False, ("example.com", "/", "")),
        ("https://example.com/blog/", False, ("example.com", "/blog/", "")),
        ("https://example.com/caf%C3%A9", False, ("example.com", "/café", "")),
        ("https://user:secret@example.com./p", False, ("example.com", "/p", "")),
        ("http://[2001:db8::1]:8080/x", False, ("2001:db8::1", "/x", "")),
        ("https://example.com/#/settings", True, ("example.com", "/#/settings", "")),
        ("https://example.com/#/settings", False, ("example.com", "/", "")),
        (
            "https://example.com/#/page?utm_source=x",
            True,
            ("example.com", "/#/page", "utm_source=x"),
        ),
        ("https://example.com/app?a=1#/p?b=2", True, ("example.com", "/app#/p", "a=1&b=2")),
        ("/relative?q=1", False, ("", "/relative", "q=1")),
        ("", False, ("", "/", "")),
        ("http://[::1/x", False, ("", "/", "")),
    ],
)
def test_split(url: str, hash_routing: bool, expected: tuple[str, str, str]) -> None:
    assert split_page_url(url, hash_routing) == expected


def test_long_paths_are_cut() -> None:
    _, pathname, _ = split_page_url("https://example.com/" + "a" * 5000)
    assert len(pathname) == MAX_PATH_LENGTH


def test_strip_www() -> None:
    assert strip_www("www.example.com") == "example.com"
    assert strip_www("wwwexample.com") == "wwwexample.com"
    assert strip_www("example.com") == "example.com"


@given(st.text(max_size=300), st.booleans())
def test_never_raises_and_path_always_starts_with_a_slash(url: str, hash_routing: bool) -> None:
    hostname, pathname, query = split_page_url(url, hash_routing)
    assert pathname.startswith("/")
    assert len(pathname) <= MAX_PATH_LENGTH
    assert hostname == hostname.lower()
    assert isinstance(query, str)
