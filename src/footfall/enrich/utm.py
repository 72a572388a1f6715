"""Campaign tags of a landing URL: utm_* parameters, ref/source, and ad click ids.

Parameter names are matched case-insensitively and the first occurrence wins. Values are
stripped and cut to 300 characters. `ref` and `source` (in that order, used by many sites and
directories) are kept apart as `ref_source`: they name a source but are not utm_source, so the
utm_source column only ever holds what was sent as utm_source.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qsl

__all__ = ["SEARCH_CLICK_IDS", "SOCIAL_CLICK_IDS", "Campaign", "extract_campaign"]

MAX_VALUE_LENGTH = 300
# Longer query strings are cut before parsing: tags sit in the first few hundred bytes.
_MAX_QUERY_LENGTH = 2048

# Click ids appended by ad platforms to the landing URL, reported by parameter name.
SEARCH_CLICK_IDS = frozenset({"gclid", "gbraid", "wbraid", "dclid", "msclkid", "yclid"})
SOCIAL_CLICK_IDS = frozenset(
    {"fbclid", "ttclid", "li_fat_id", "twclid", "sccid", "epik", "rdt_cid"}
)
_CLICK_ID_ORDER = (
    "gclid",
    "gbraid",
    "wbraid",
    "dclid",
    "msclkid",
    "yclid",
    "fbclid",
    "ttclid",
    "li_fat_id",
    "twclid",
    "sccid",
    "epik",
    "rdt_cid",
)


@dataclass(frozen=True, slots=True)
class Campaign:
    """Tags of one landing URL; "" where absent."""

    utm_source: str = ""
    utm_medium: str = ""
    utm_campaign: str = ""
    utm_content: str = ""
    utm_term: str = ""
    click_id_kind: str = ""  # the click id parameter present, e.g. "gclid"; "" for none
    ref_source: str = ""  # `ref` or `source` parameter, a source named without utm_source

    @property
    def tagged_source(self) -> str:
        """utm_source, else ref/source: the source the link's author named."""
        return self.utm_source or self.ref_source

    @property
    def is_tagged(self) -> bool:
        """Whether the URL carries any campaign tag (a utm_* value or ref/source)."""
        return bool(
            self.utm_source
            or self.utm_medium
            or self.utm_campaign
            or self.utm_content
            or self.utm_term
            or self.ref_source
        )


NO_CAMPAIGN = Campaign()


def _query_part(url_query: str) -> str:
    text = url_query.partition("#")[0]
    if "?" in text:
        text = text.partition("?")[2]
    return text[:_MAX_QUERY_LENGTH]


def extract_campaign(url_query: str) -> Campaign:
    """Read campaign tags from a query string (a leading "?" or a whole URL is accepted).

    Never raises.
    """
    # Landing queries repeat, so answers are cached, keyed by the already-cut query.
    return _extract(_query_part(url_query))


@lru_cache(maxsize=10_000)
def _extract(query: str) -> Campaign:
    if not query:
        return NO_CAMPAIGN
    values: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=False, errors="replace"):
        name = key.strip().lower()
        if name in values:
            continue
        cleaned = value.strip()[:MAX_VALUE_LENGTH]
        if cleaned:
            values[name] = cleaned
    if not values:
        return NO_CAMPAIGN
    click_id = next((name for name in _CLICK_ID_ORDER if name in values), "")
    return Campaign(
        utm_source=values.get("utm_source", ""),
        utm_medium=values.get("utm_medium", ""),
        utm_campaign=values.get("utm_campaign", ""),
        utm_content=values.get("utm_content", ""),
        utm_term=values.get("utm_term", ""),
        click_id_kind=click_id,
        ref_source=values.get("ref", "") or values.get("source", ""),
    )
