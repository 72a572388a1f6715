"""Channel and source of a visit, from its referrer, its campaign tags and how it arrived.

The channel rules (DESIGN.md section 2) apply in order and the first match wins:

1. Paid: utm_medium is cpc, ppc, cpm, cpv, cpa, display, banner, retargeting, remarketing or
   starts or ends with "paid"; or a search ad click id (gclid, gbraid, wbraid, dclid, msclkid,
   yclid) is present. A paid visit is Paid Social when a social ad click id (fbclid, ttclid,
   li_fat_id...) comes with the paid medium, when the referrer or tagged source is a social
   network, or when the medium names social ("paid_social"); otherwise Paid Search (search ad
   click ids, search referrers and sources, and any other paid medium, as cpc traffic mostly is).
   Social networks append their click ids to every outbound link, so fbclid alone is not paid.
2. Email: utm_medium or the tagged source is email, e-mail, e_mail, mail or newsletter; the
   referrer is a webmail host; or the visit came through a tracked email link or open pixel.
3. Organic Social: a social referrer or tagged source, or utm_medium social, social-network,
   social-media, social_network, social_media or sm.
4. Organic Search: a search engine referrer or tagged source, or utm_medium organic.
5. Referral: any other external referrer, or any campaign tag (a tagged link is not Direct).
6. Direct: none of the above.
"""

from __future__ import annotations

import re

from footfall.enrich.referrers import ReferrerInfo, classify_tag
from footfall.enrich.utm import SEARCH_CLICK_IDS, SOCIAL_CLICK_IDS, Campaign

__all__ = [
    "CHANNELS",
    "DIRECT",
    "DIRECT_SOURCE",
    "EMAIL",
    "ORGANIC_SEARCH",
    "ORGANIC_SOCIAL",
    "PAID_SEARCH",
    "PAID_SOCIAL",
    "REFERRAL",
    "channel_for",
    "source_for",
]

DIRECT = "Direct"
ORGANIC_SEARCH = "Organic Search"
PAID_SEARCH = "Paid Search"
ORGANIC_SOCIAL = "Organic Social"
PAID_SOCIAL = "Paid Social"
EMAIL = "Email"
REFERRAL = "Referral"
CHANNELS = (DIRECT, ORGANIC_SEARCH, PAID_SEARCH, ORGANIC_SOCIAL, PAID_SOCIAL, EMAIL, REFERRAL)
DIRECT_SOURCE = "Direct / None"

_PAID_MEDIUM = re.compile(
    r"cpc|ppc|cpm|cpv|cpa|display|banner|retargeting|remarketing|paid.*|.*[-_ ]paid"
)
_EMAIL_WORDS = frozenset({"email", "e-mail", "e_mail", "mail", "newsletter"})
_SOCIAL_MEDIUMS = frozenset(
    {"social", "social-network", "social-media", "social_network", "social_media", "sm"}
)


def _tag_medium(campaign: Campaign) -> str:
    source = campaign.tagged_source
    info = classify_tag(source) if source else None
    return info.medium if info is not None else ""


def _paid_channel(referrer_medium: str, tag_medium: str, campaign: Campaign) -> str:
    medium = campaign.utm_medium.lower()
    if campaign.click_id_kind in SOCIAL_CLICK_IDS:
        return PAID_SOCIAL
    if campaign.click_id_kind in SEARCH_CLICK_IDS:
        return PAID_SEARCH
    if "social" in (referrer_medium, tag_medium) or "social" in medium:
        return PAID_SOCIAL
    return PAID_SEARCH


def _is_paid(campaign: Campaign) -> bool:
    if campaign.click_id_kind in SEARCH_CLICK_IDS:
        return True
    return bool(_PAID_MEDIUM.fullmatch(campaign.utm_medium.lower()))


def channel_for(referrer: ReferrerInfo | None, campaign: Campaign, is_email_link: bool) -> str:
    """The visit's channel, one of CHANNELS (rules in the module docstring).

    `referrer` is None when the visit has no external referrer (none sent, or a self-referral).
    """
    referrer_medium = referrer.medium if referrer is not None and referrer.known else ""
    tag_medium = _tag_medium(campaign)
    if _is_paid(campaign):
        return _paid_channel(referrer_medium, tag_medium, campaign)
    medium = campaign.utm_medium.lower()
    if (
        is_email_link
        or medium in _EMAIL_WORDS
        or campaign.tagged_source.lower() in _EMAIL_WORDS
        or "email" in (referrer_medium, tag_medium)
    ):
        return EMAIL
    if "social" in (referrer_medium, tag_medium) or medium in _SOCIAL_MEDIUMS:
        return ORGANIC_SOCIAL
    if "search" in (referrer_medium, tag_medium) or medium == "organic":
        return ORGANIC_SEARCH
    if (referrer is not None and referrer.source) or campaign.is_tagged:
        return REFERRAL
    return DIRECT


def source_for(referrer: ReferrerInfo | None, campaign: Campaign) -> str:
    """The visit's source (API.md `visit:source`).

    A known referrer's canonical name, else the canonical name of the tagged source (utm_source
    or ref: "fb" is Facebook), else the tagged source as written, else the referrer host, else
    "Direct / None".
    """
    if referrer is not None and referrer.known:
        return referrer.source
    tagged = campaign.tagged_source
    if tagged:
        info = classify_tag(tagged)
        return info.source if info is not None else tagged
    if referrer is not None and referrer.source:
        return referrer.source
    return DIRECT_SOURCE
