"""Page URLs: hostname, pathname and query of the page an event was sent from.

The hostname is kept as sent, lower-cased, without port or final dot ("www." stays: it is part
of what the site owner sees; `strip_www` removes it where sites are matched). The pathname is
percent-decoded for reading ("/caf%C3%A9" is "/café"), "/" when empty, and cut to 2,000
characters. With hash routing the fragment is part of the page ("/#/settings"), and a query
written inside the fragment ("/#/page?utm_source=x") counts as the page's query too.
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import unquote, urlsplit

__all__ = ["MAX_PATH_LENGTH", "split_page_url", "strip_www"]

MAX_PATH_LENGTH = 2000
_CACHED_URL_LENGTH = 2048
_MAX_HOST_LENGTH = 253


def strip_www(hostname: str) -> str:
    """The hostname without a leading "www.", for matching a page or referrer to a site."""
    return hostname[4:] if hostname.startswith("www.") else hostname


def _hostname(netloc: str) -> str:
    host = netloc.rpartition("@")[2]
    # A bracketed IPv6 literal holds colons of its own; elsewhere a colon starts the port.
    host = host[1:].partition("]")[0] if host.startswith("[") else host.partition(":")[0]
    host = host.strip().rstrip(".").lower()
    return host if len(host) <= _MAX_HOST_LENGTH else ""


def split_page_url(url: str, hash_routing: bool = False) -> tuple[str, str, str]:
    """(hostname, pathname, query) of a page URL; never raises.

    A string without scheme and host is read as a path; an unparseable one gives ("", "/", "").
    """
    # Pages repeat, so answers are cached, but only for URLs short enough to keep as keys.
    if len(url) <= _CACHED_URL_LENGTH:
        return _split_cached(url, hash_routing)
    return _split(url, hash_routing)


def _split(url: str, hash_routing: bool) -> tuple[str, str, str]:
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return "", "/", ""
    path = parts.path
    query = parts.query
    if hash_routing and parts.fragment:
        fragment, _, fragment_query = parts.fragment.partition("?")
        path = f"{path or '/'}#{fragment}"
        if fragment_query:
            query = f"{query}&{fragment_query}" if query else fragment_query
    pathname = unquote(path, errors="replace")[:MAX_PATH_LENGTH] or "/"
    if not pathname.startswith("/"):
        pathname = "/" + pathname[: MAX_PATH_LENGTH - 1]
    return _hostname(parts.netloc), pathname, query


_split_cached = lru_cache(maxsize=10_000)(_split)
