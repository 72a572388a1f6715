"""Signed link tokens: recipient tokens and the attribution parameter of a redirect.

Recipient tokens `<recipient>.<signature>` make per-recipient URLs with no database row each.
The recipient is percent-encoded so that the token is one URL path segment; the signature is an
HMAC-SHA256 of the recipient under a key derived from the instance secret, truncated to 16
URL-safe base64 characters (96 bits). Anyone with the secret (the server, the newsletter
helper) signs locally; a token whose signature does not match names no recipient.

The attribution parameter `ffl=<link id>.<campaign id>.<recipient>.<signature>` is what a `/u/`
redirect appends to a target on the link's own site, so that the landing page view carries the
click's link, campaign and recipient into the visit without a cookie. Its signature, under a
key of its own, also covers the site id: a parameter carried to another site is worthless.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import quote, unquote

SIGNATURE_LENGTH = 16
MAX_RECIPIENT_LENGTH = 254  # the longest e-mail address; ids and hashes are shorter
# Characters left as they are in the token: unreserved ones and "@", common in addresses.
_SAFE = "@"
_KEY_CONTEXT = b"footfall recipient token v1\x00"
_ATTRIBUTION_CONTEXT = b"footfall link attribution v1\x00"
ATTRIBUTION_PARAM = "ffl"
_ATTRIBUTION_MARK = ATTRIBUTION_PARAM + "="
_MAX_ATTRIBUTION_LENGTH = 1_000


@dataclass(frozen=True, slots=True)
class Attribution:
    """What a verified attribution parameter says about the click that led to a page view."""

    link_id: int
    campaign_id: int  # 0: the link belongs to no campaign
    recipient: str | None


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
        attribution_key = hmac.new(raw, _ATTRIBUTION_CONTEXT, hashlib.sha256).digest()
        self._attribution = hmac.new(attribution_key, digestmod=hashlib.sha256)

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

    def _attribution_signature(self, site_id: int, body: str) -> str:
        mac = self._attribution.copy()
        mac.update(f"{site_id}\x00{body}".encode())
        return base64.urlsafe_b64encode(mac.digest()).decode("ascii")[:SIGNATURE_LENGTH]

    def attribution(
        self, site_id: int, link_id: int, campaign_id: int, recipient: str | None
    ) -> str:
        """The value of the `ffl` parameter for a click on this link of `site_id`."""
        body = f"{link_id}.{campaign_id}.{quote(recipient or '', safe=_SAFE)}"
        return f"{body}.{self._attribution_signature(site_id, body)}"

    def read_attribution(self, site_id: int, value: str) -> Attribution | None:
        """What a `ffl` value says, or None when it is malformed, tampered or not this site's."""
        body, dot, signature = value.rpartition(".")
        link, _, rest = body.partition(".")
        campaign, _, encoded = rest.partition(".")
        if not dot or len(signature) != SIGNATURE_LENGTH or len(value) > _MAX_ATTRIBUTION_LENGTH:
            return None
        if not (link.isascii() and link.isdigit() and campaign.isascii() and campaign.isdigit()):
            return None
        expected = self._attribution_signature(site_id, body)
        if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
            return None
        recipient = unquote(encoded) if encoded else None
        return Attribution(int(link), int(campaign), recipient)


def with_attribution(url: str, value: str) -> str:
    """`url` with `ffl=value` added to its query (before any fragment)."""
    base, hash_mark, fragment = url.partition("#")
    if "?" not in base:
        joiner = "?"
    elif base.endswith(("?", "&")):
        joiner = ""
    else:
        joiner = "&"
    return f"{base}{joiner}{_ATTRIBUTION_MARK}{value}{hash_mark}{fragment}"


def split_attribution(url: str) -> tuple[str, str | None]:
    """(`url` without any `ffl` parameter, the first `ffl` value or None)."""
    if _ATTRIBUTION_MARK not in url:
        return url, None
    base, hash_mark, fragment = url.partition("#")
    path, question, query = base.partition("?")
    if not question:
        return url, None
    found: str | None = None
    kept: list[str] = []
    for part in query.split("&"):
        if part.startswith(_ATTRIBUTION_MARK):
            if found is None:
                found = part[len(_ATTRIBUTION_MARK) :]
        else:
            kept.append(part)
    if found is None:
        return url, None
    rest = "&".join(kept)
    return f"{path}{'?' if rest else ''}{rest}{hash_mark}{fragment}", found


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
