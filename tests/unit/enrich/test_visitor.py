"""Cookieless visitor, user and session hashes: stable, keyed, separated, never zero."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from footfall.enrich.visitor import session_hash, user_hash, visitor_hash, visitor_hashes

SALT = b"s" * 32
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


def test_stable() -> None:
    assert visitor_hash(SALT, 1, "203.0.113.7", UA) == visitor_hash(SALT, 1, "203.0.113.7", UA)
    assert user_hash(SALT, 1, "u1") == user_hash(SALT, 1, "u1")
    assert session_hash(SALT, 1, "s1") == session_hash(SALT, 1, "s1")


def test_salt_site_ip_and_agent_each_change_the_visitor() -> None:
    base = visitor_hash(SALT, 1, "203.0.113.7", UA)
    assert visitor_hash(b"t" * 32, 1, "203.0.113.7", UA) != base
    assert visitor_hash(SALT, 2, "203.0.113.7", UA) != base
    assert visitor_hash(SALT, 1, "203.0.113.8", UA) != base
    assert visitor_hash(SALT, 1, "203.0.113.7", UA + " ") != base


def test_fields_are_unambiguously_separated() -> None:
    assert visitor_hash(SALT, 1, "1.2.3.4", "5") != visitor_hash(SALT, 1, "1.2.3.", "45")
    assert visitor_hash(SALT, 1, "ab", "") != visitor_hash(SALT, 1, "a", "b")
    assert visitor_hash(SALT, 1, "", "ab") != visitor_hash(SALT, 1, "ab", "")


def test_kinds_never_collide_on_the_same_input() -> None:
    assert user_hash(SALT, 1, "x") != session_hash(SALT, 1, "x")
    assert user_hash(SALT, 1, "x") != visitor_hash(SALT, 1, "x", "")


def test_long_secrets_count_in_full() -> None:
    long_a = b"k" * 100 + b"a"
    long_b = b"k" * 100 + b"b"
    assert user_hash(long_a, 1, "u") != user_hash(long_b, 1, "u")


def test_empty_key_is_refused() -> None:
    with pytest.raises(ValueError):
        visitor_hash(b"", 1, "1.2.3.4", UA)


@given(
    salt=st.binary(min_size=1, max_size=100),
    site_id=st.integers(min_value=-(2**63), max_value=2**63 - 1),
    ip=st.text(max_size=40),
    ua=st.text(max_size=200),
)
def test_ranges(salt: bytes, site_id: int, ip: str, ua: str) -> None:
    assert 0 < visitor_hash(salt, site_id, ip, ua) < 2**64
    assert 0 < user_hash(salt, site_id, ua) < 2**64
    assert 0 < session_hash(salt, site_id, ua) < 2**63


def test_lone_surrogates_do_not_raise() -> None:
    assert user_hash(SALT, 1, "\ud800") != user_hash(SALT, 1, "\ud801")


def test_cached_pair_is_todays_and_yesterdays_hash_and_follows_the_salts() -> None:
    yesterday = b"y" * 32
    pair = visitor_hashes(SALT, yesterday, 1, "203.0.113.7", UA)
    assert pair == (
        visitor_hash(SALT, 1, "203.0.113.7", UA),
        visitor_hash(yesterday, 1, "203.0.113.7", UA),
    )
    assert visitor_hashes(SALT, yesterday, 1, "203.0.113.7", UA) == pair
    # A new day's salts (the key of the cache) give new ids, never the cached ones.
    tomorrow = visitor_hashes(b"t" * 32, SALT, 1, "203.0.113.7", UA)
    assert tomorrow == (visitor_hash(b"t" * 32, 1, "203.0.113.7", UA), pair[0])
    assert visitor_hashes(SALT, None, 2, "203.0.113.7", UA) == (
        visitor_hash(SALT, 2, "203.0.113.7", UA),
        None,
    )
