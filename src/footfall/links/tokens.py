"""Recipient tokens `<recipient>.<signature>`: per-recipient URLs with no database row each.

The recipient is percent-encoded so that the token is one URL path segment; the signature is an
HMAC-SHA256 of the recipient under a key derived from the instance secret, truncated to 16
URL-safe base64 characters (96 bits). Anyone with the secret (the server, the newsletter
helper) signs locally; a token whose signature does not match names no recipient.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import quote, unquote

SIGNATURE_LENGTH = 16
MAX_RECIPIENT_LENGTH = 254  # the longest e-mail address; ids and hashes are shorter
# Characters left as they are in the token: unreserved ones and "@", common in addresses.
_SAFE = "@"
_KEY_CONTEXT = b"footfall recipient token v1\x00"


class TokenSigner:
    """Signs and verifies recipient tokens with one instance secret."""

    def __init__(self, secret: str | bytes) -> None:
        raw = secret.encode() if isinstance(secret, str) else secret
        if not raw:
            raise ValueError("a recipient token needs a non-empty secret")
        # A key of its own, so the instance secret itself never signs anything users see.
        key = hmac.new(raw, _KEY_CONTEXT, hashlib.sha256).digest()
        # Keyed once; each signature copies this state (half the cost of a new HMAC).
        self._keyed = hmac.new(key, digestmod=hashlib.sha256)

    def signature(self, recipient: str) -> str:
        """The truncated URL-safe signature of `recipient`."""
        mac = self._keyed.copy()
        mac.update(recipient.encode("utf-8"))
        return base64.urlsafe_b64encode(mac.digest()).decode("ascii")[:SIGNATURE_LENGTH]

    def sign(self, recipient: str) -> str:
        """The token for `recipient`; raises ValueError for an empty or overlong recipient."""
        check_recipient(recipient)
        return f"{quote(recipient, safe=_SAFE)}.{self.signature(recipient)}"

    def verify(self, token: str) -> str | None:
        """The recipient a token names, or None when it is malformed or its signature is wrong."""
        encoded, dot, signature = token.rpartition(".")
        if not dot or not encoded or len(signature) != SIGNATURE_LENGTH:
            return None
        try:
            recipient = unquote(encoded, errors="strict")
        except UnicodeDecodeError:
            return None
        if not recipient or len(recipient) > MAX_RECIPIENT_LENGTH:
            return None
        expected = self.signature(recipient)
        if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
            return None
        return recipient


def check_recipient(recipient: str) -> str:
    """Return `recipient` when it can be put in a token, else raise ValueError."""
    if not isinstance(recipient, str) or not recipient:
        raise ValueError("recipient must be a non-empty string")
    if len(recipient) > MAX_RECIPIENT_LENGTH:
        raise ValueError(f"recipient must be at most {MAX_RECIPIENT_LENGTH} characters")
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in recipient):
        raise ValueError("recipient must not contain control characters")
    try:
        recipient.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("recipient must be valid Unicode text") from exc
    return recipient
