"""Referrer classification: a referrer URL or host to a canonical source name and its medium.

The list is data (data/referrers.json), not code. A host matches an entry by itself or through
any parent domain ("l.facebook.com" is Facebook), after lower-casing and stripping "www."; an
entry ending in ".*" matches any top-level domain, one label ("google.de") or two with a usual
second-level label ("google.co.uk", "google.com.au"). The most specific host wins, so
"mail.google.com" is Gmail (email) while "google.com" is Google (search). An unknown host is
its own source with no medium.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

__all__ = ["MEDIUMS", "ReferrerInfo", "classify_referrer", "classify_tag", "referrer_host"]

MEDIUMS = ("search", "social", "email")
_GROUP_MEDIUM = {"search": "search", "social": "social", "email": "email", "other": ""}

# Labels that sit between a brand and a country code ("google.co.uk", "yandex.com.tr").
_SECOND_LEVEL = frozenset(
    {"co", "com", "net", "org", "ac", "edu", "gov", "gob", "ne", "or", "go", "web", "nom", "biz"}
)
_CACHE_SIZE = 10_000
_MAX_HOST_LENGTH = 253


@dataclass(frozen=True, slots=True)
class ReferrerInfo:
    """Where a visit came from: `source` is canonical when `known`, else the bare host."""

    source: str
    medium: str  # "search", "social", "email" or ""
    host: str = ""
    known: bool = False


@dataclass(frozen=True, slots=True)
class _Table:
    exact: dict[str, tuple[str, str]]
    wildcard: dict[str, tuple[str, str]]  # "google" for the entry "google.*"
    aliases: dict[str, tuple[str, str]]


def _build(data: dict[str, Any]) -> _Table:
    exact: dict[str, tuple[str, str]] = {}
    wildcard: dict[str, tuple[str, str]] = {}
    aliases: dict[str, tuple[str, str]] = {}
    for group, medium in _GROUP_MEDIUM.items():
        for name, entry in data[group].items():
            target = (name, medium)
            for host in entry["hosts"]:
                if host.endswith(".*"):
                    wildcard[host[:-2]] = target
                else:
                    exact[host] = target
            for alias in entry["aliases"]:
                aliases[alias] = target
    return _Table(exact, wildcard, aliases)


@lru_cache(maxsize=1)
def _table() -> _Table:
    text = resources.files("footfall.enrich").joinpath("data/referrers.json").read_text()
    return _build(json.loads(text))


def referrer_host(url_or_host: str) -> str:
    """The lower-case host of a referrer URL or bare host, without port, "www." or final dot.

    Android app referrers (`android-app://com.slack/`) give their package name. Returns ""
    when there is no usable host.
    """
    text = url_or_host.strip()
    if not text:
        return ""
    if "://" not in text and not text.startswith("//"):
        text = "//" + text
    try:
        host = urlsplit(text).hostname or ""
    except ValueError:
        return ""
    host = host.rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    return host if len(host) <= _MAX_HOST_LENGTH else ""


def _lookup(host: str, table: _Table) -> tuple[str, str] | None:
    labels = host.split(".")
    count = len(labels)
    for start in range(count):
        found = table.exact.get(".".join(labels[start:]))
        if found is not None:
            return found
        for suffix in (1, 2):
            if count - start <= suffix:
                break
            if suffix == 2 and labels[-2] not in _SECOND_LEVEL:
                continue
            found = table.wildcard.get(".".join(labels[start : count - suffix]))
            if found is not None:
                return found
    return None


@lru_cache(maxsize=_CACHE_SIZE)
def _classify_host(host: str) -> ReferrerInfo:
    found = _lookup(host, _table()) if host else None
    if found is None:
        return ReferrerInfo(source=host, medium="", host=host, known=False)
    return ReferrerInfo(source=found[0], medium=found[1], host=host, known=True)


def classify_referrer(url_or_host: str) -> ReferrerInfo:
    """Classify a referrer URL or host: canonical source and medium, or the host itself.

    Never raises; an empty or unparseable input gives an empty source.
    """
    return _classify_host(referrer_host(url_or_host))


def classify_tag(value: str) -> ReferrerInfo | None:
    """Classify a utm_source / ref value ("fb", "google", "news.ycombinator.com").

    Returns None when the value names no known source.
    """
    text = value.strip().lower()
    if not text:
        return None
    found = _table().aliases.get(text)
    if found is not None:
        return ReferrerInfo(source=found[0], medium=found[1], known=True)
    if "." in text and " " not in text:
        info = classify_referrer(text)
        if info.known:
            return info
    return None
