"""Recipient tokens: round trip, tamper detection, one URL path segment."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from footfall.links.tokens import MAX_RECIPIENT_LENGTH, TokenSigner, check_recipient

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
