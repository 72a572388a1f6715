"""Recipient tokens: round trip, tamper detection, one URL path segment."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from footfall.links.tokens import (
    MAX_RECIPIENT_LENGTH,
    Attribution,
    TokenSigner,
    check_recipient,
    split_attribution,
    with_attribution,
)

SIGNER = TokenSigner("instance secret")
recipients = st.text(
    st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=MAX_RECIPIENT_LENGTH
)


@settings(deadline=None)  # no timing assertions: a loaded machine must not fail it
@given(recipients)
def test_round_trip(recipient: str) -> None:
    token = SIGNER.sign(recipient)
    assert SIGNER.verify(token) == recipient
    # One path segment of plain ASCII: no slash, query, fragment or space to split it.
    assert token.isascii()
    assert not set(token) & set("/?# \\")


@settings(deadline=None)  # no timing assertions: a loaded machine must not fail it
@given(recipients, st.data())
def test_any_changed_character_is_detected(recipient: str, data: st.DataObject) -> None:
    token = SIGNER.sign(recipient)
    index = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(st.sampled_from("aZ09-_.%@x"))
    tampered = token[:index] + replacement + token[index + 1 :]
    if tampered != token:
        verified = SIGNER.verify(tampered)
        # Changing the encoding of the same recipient is harmless; naming another is not.
        assert verified is None or verified == recipient


@settings(deadline=None)  # no timing assertions: a loaded machine must not fail it
@given(recipients, recipients)
def test_a_signature_does_not_transfer(first: str, second: str) -> None:
    if first != second:
        forged = SIGNER.sign(second).rsplit(".", 1)[0] + "." + SIGNER.signature(first)
        assert SIGNER.verify(forged) is None


def test_other_secret_rejects() -> None:
    token = TokenSigner("another secret").sign("alice@example.com")
    assert SIGNER.verify(token) is None
    assert SIGNER.verify(SIGNER.sign("alice@example.com")) == "alice@example.com"


@pytest.mark.parametrize(
    "token",
    ["", ".", "alice", "alice.", ".abc", "alice.short", "%ff%fe.AAAAAAAAAAAAAAAA", "a." + "A" * 17],
)
def test_malformed_tokens_name_nobody(token: str) -> None:
    assert SIGNER.verify(token) is None


def test_recipient_limits() -> None:
    with pytest.raises(ValueError):
        check_recipient("")
    with pytest.raises(ValueError):
        check_recipient("x" * (MAX_RECIPIENT_LENGTH + 1))
    with pytest.raises(ValueError):
        check_recipient("a\nb")
    with pytest.raises(ValueError):
        TokenSigner("")


# --- the attribution parameter of a redirect ------------------------------------------------

ids = st.integers(min_value=1, max_value=2**53)
targets = st.sampled_from(
    [
        "https://shop.example/",
        "https://shop.example/landing",
        "https://shop.example/p?a=1&b=two",
        "https://shop.example/p?a=1#section",
        "https://shop.example/app#/route?x=1",
        "https://shop.example/p?",
    ]
)


@settings(deadline=None)
@given(ids, st.integers(min_value=0, max_value=2**31), st.one_of(st.none(), recipients), targets)
def test_attribution_round_trip_through_a_target(
    link: int, campaign: int, recipient: str | None, target: str
) -> None:
    value = SIGNER.attribution(7, link, campaign, recipient)
    landed = with_attribution(target, value)
    assert landed.isascii()
    # The target's own parts are kept; only the parameter is added, before any fragment.
    stripped, found = split_attribution(landed)
    assert found == value
    assert stripped == target.rstrip("?")
    assert landed.split("#")[0].endswith("ffl=" + value)
    assert SIGNER.read_attribution(7, found) == Attribution(link, campaign, recipient)


@settings(deadline=None)
@given(ids, recipients, st.data())
def test_tampered_or_foreign_attribution_names_nothing(
    link: int, recipient: str, data: st.DataObject
) -> None:
    value = SIGNER.attribution(7, link, 3, recipient)
    assert SIGNER.read_attribution(8, value) is None  # another site's page
    assert TokenSigner("another secret").read_attribution(7, value) is None
    index = data.draw(st.integers(min_value=0, max_value=len(value) - 1))
    replacement = data.draw(st.sampled_from("0123456789abcXYZ-_.%"))
    changed = value[:index] + replacement + value[index + 1 :]
    if changed != value:
        assert SIGNER.read_attribution(7, changed) is None


def test_attribution_is_not_a_recipient_token() -> None:
    # Different keys: one kind of signature is never accepted as the other.
    value = SIGNER.attribution(7, 1, 2, None)
    assert SIGNER.verify(value) is None
    assert SIGNER.read_attribution(7, SIGNER.sign("1.2.")) is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://a.example/?ffl=1.0..sig", ("https://a.example/", "1.0..sig")),
        ("https://a.example/?x=1&ffl=v&y=2#h", ("https://a.example/?x=1&y=2#h", "v")),
        ("https://a.example/?ffl=v&y=2", ("https://a.example/?y=2", "v")),
        ("https://a.example/?affl=1", ("https://a.example/?affl=1", None)),
        ("https://a.example/#ffl=1", ("https://a.example/#ffl=1", None)),
        ("https://a.example/p", ("https://a.example/p", None)),
    ],
)
def test_split_attribution(url: str, expected: tuple[str, str | None]) -> None:
    assert split_attribution(url) == expected
