"""Link targets: only absolute http(s) URLs that every browser reads the same way are stored.

`/u/` redirects only to a stored target, so this check is what stands between a short link and
an open redirect. A target is refused unless it is plainly `http://` or `https://`, a host name
or IP address, an optional port, and a path/query/fragment free of control characters,
whitespace and backslashes (which browsers read as `/`). Credentials (`user@host`) are refused:
they make `https://good.example@evil.example` look like a link to good.example. Host names are
stored in their ASCII (IDNA) form, so a look-alike made of other scripts or full-width
characters is compared and redirected as what it really is.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Iterable, Mapping
from urllib.parse import SplitResult, parse_qsl, quote, urlencode, urlsplit, urlunsplit

MAX_TARGET_LENGTH = 8000
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")

_SCHEME = re.compile(r"(?i)https?://")
_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")
# A last label browsers read as a number makes the whole host an IPv4 address (WHATWG URL).
_NUMERIC_LABEL = re.compile(r"0x[0-9a-f]*|[0-9]+")
# Characters kept as they are in the path, query and fragment; anything else (non-ASCII text)
# is percent-encoded as UTF-8 so that the Location header is plain ASCII.
_URL_SAFE = "!#$%&'()*+,-./:;=?@[]_~"


class TargetError(ValueError):
    """A target URL that may not be stored; the message says why."""


def check_target(url: object, allowed_hosts: Iterable[str] = ()) -> str:
    """Return the normalized target, or raise TargetError.

    `allowed_hosts`, when not empty, lists the hosts a target may point to (`example.com`, or
    `*.example.com` for it and its subdomains), as a site's allow-list.
    """
    if not isinstance(url, str):
        raise TargetError("url must be a string")
    text = url.strip(" ")
    if not text:
        raise TargetError("url must not be empty")
    if len(text) > MAX_TARGET_LENGTH:
        raise TargetError(f"url must be at most {MAX_TARGET_LENGTH} characters")
    _check_characters(text)
    if not _SCHEME.match(text):
        raise TargetError("url must be an absolute http:// or https:// URL")
    try:
        parts = urlsplit(text)
    except ValueError as exc:
        raise TargetError(f"url is not a valid URL: {exc}") from exc
    host = _check_authority(parts)
    port = _port(parts)
    if allowed_hosts and not host_allowed(host, allowed_hosts):
        raise TargetError(f"host {host!r} is not in this site's allowed target hosts")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    normalized = urlunsplit(
        (
            parts.scheme.lower(),
            netloc,
            quote(parts.path, safe=_URL_SAFE) or "/",
            quote(parts.query, safe=_URL_SAFE),
            quote(parts.fragment, safe=_URL_SAFE),
        )
    )
    if len(normalized) > MAX_TARGET_LENGTH:
        raise TargetError(f"url must be at most {MAX_TARGET_LENGTH} characters once encoded")
    return normalized


def _check_characters(text: str) -> None:
    for char in text:
        if char == "\\":
            raise TargetError("url must not contain a backslash")
        if char.isspace() or unicodedata.category(char) in {"Cc", "Cf", "Cs", "Co", "Cn"}:
            raise TargetError("url must not contain whitespace or control characters")


def _check_authority(parts: SplitResult) -> str:
    netloc = parts.netloc
    if not netloc:
        raise TargetError("url must name a host")
    if "@" in netloc:
        raise TargetError("url must not contain credentials (user@host)")
    if "%" in netloc:
        raise TargetError("url host must not be percent-encoded")
    host = parts.hostname or ""
    if not host:
        raise TargetError("url must name a host")
    return normalize_host(host)


def _port(parts: SplitResult) -> int | None:
    try:
        port = parts.port
    except ValueError as exc:
        raise TargetError("url has an invalid port") from exc
    if port is not None and port == 0:
        raise TargetError("url has an invalid port")
    return port


def normalize_host(host: str) -> str:
    """The ASCII, lower-case form of a host name or IP literal; raises TargetError if invalid."""
    host = host.rstrip(".").lower()
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if not host.isascii():
        try:
            # IDNA maps full-width and compatibility characters (NFKC) before encoding.
            host = host.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise TargetError(f"url host {host!r} is not a valid host name") from exc
    labels = host.split(".")
    if len(host) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise TargetError(f"url host {host!r} is not a valid host name")
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        # Numeric forms browsers read as IPv4 (2130706433, 0x7f.1, 127.1) mean something else
        # to every parser; only the dotted quad is accepted.
        raise TargetError(f"url host {host!r} is not a valid host name or IPv4 address")
    return host


def host_allowed(host: str, allowed_hosts: Iterable[str]) -> bool:
    """True when `host` matches an entry (`example.com` or `*.example.com`) of the list."""
    for pattern in allowed_hosts:
        entry = pattern.strip().lower().rstrip(".")
        if entry.startswith("*."):
            base = entry[2:]
            if host == base or host.endswith("." + base):
                return True
        elif host == entry:
            return True
    return False


def with_utm(url: str, utm: Mapping[str, str]) -> str:
    """`url` with the given utm_* parameters set (replacing any of the same name)."""
    given = {key: value for key, value in utm.items() if value}
    unknown = set(given) - set(UTM_KEYS)
    if unknown:
        raise TargetError(f"unknown UTM parameters: {', '.join(sorted(unknown))}")
    if not given:
        return url
    parts = urlsplit(url)
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in given]
    query = urlencode([*kept, *given.items()])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
