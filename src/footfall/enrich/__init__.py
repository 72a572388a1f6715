"""Enrichment: pure, table-driven functions turning request facts into report dimensions.

The bottom layer: collectors (hot path) and the pipeline both import it, and it imports nothing
of Footfall's. Parsing that costs is cached per input.
"""

from footfall.enrich.bots import is_bot
from footfall.enrich.channels import CHANNELS, DIRECT_SOURCE, channel_for, source_for
from footfall.enrich.geo import Location, locate
from footfall.enrich.props import limit_props, prop_value
from footfall.enrich.referrers import ReferrerInfo, classify_referrer, classify_tag, referrer_host
from footfall.enrich.urls import split_page_url, strip_www
from footfall.enrich.useragent import UserAgentInfo, parse_user_agent, platform_of
from footfall.enrich.utm import Campaign, extract_campaign
from footfall.enrich.visitor import session_hash, user_hash, visitor_hash, visitor_hashes

__all__ = [
    "CHANNELS",
    "DIRECT_SOURCE",
    "Campaign",
    "Location",
    "ReferrerInfo",
    "UserAgentInfo",
    "channel_for",
    "classify_referrer",
    "classify_tag",
    "extract_campaign",
    "is_bot",
    "limit_props",
    "locate",
    "parse_user_agent",
    "platform_of",
    "prop_value",
    "referrer_host",
    "session_hash",
    "source_for",
    "split_page_url",
    "strip_www",
    "user_hash",
    "visitor_hash",
    "visitor_hashes",
]
