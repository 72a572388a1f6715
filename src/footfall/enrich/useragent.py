"""User-Agent parsing: browser, OS and device class from a User-Agent header, cached.

Names follow what people expect to read in a report, the same on every platform: a browser's
mobile build has the desktop name ("Chrome Mobile iOS" and "Chrome Mobile" are "Chrome",
"Mobile Safari" is "Safari", "Edge Mobile" is "Edge", "Opera Mobile" is "Opera"); in-app web
views are "Android WebView" and "iOS WebView"; Internet Explorer is spelled out. Operating
systems are "Windows", "macOS", "iOS", "iPadOS" (an iPad on version 13 or later), "Android",
"Linux" (any distribution), "Chrome OS", "Windows Phone"... Versions are "major.minor" (or just
"major" when the browser sends no minor). The device class is derived here, not by the parser:
"Tablet", "Mobile", "Desktop", or "" when nothing in the header is recognisable. An iPad asking
for the desktop site sends a Macintosh header and is counted as a macOS desktop: the header
holds nothing else to go on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from ua_parser import Domain, load_lazy_builtins

# Imported by name, not through ua_parser's "best available" choice, so that a missing Rust
# backend fails loudly here instead of silently parsing a hundred times slower.
from ua_parser.regex import Resolver as _RustResolver

__all__ = ["UserAgentInfo", "parse_user_agent", "platform_of"]

# Longer headers exist only as attacks or junk; parsing cost and cache memory stay bounded.
MAX_PARSED_LENGTH = 1024
_CACHE_SIZE = 10_000


@dataclass(frozen=True, slots=True)
class UserAgentInfo:
    """What a User-Agent header says about the browser, its OS and the device class."""

    browser: str = ""
    browser_version: str = ""
    os: str = ""
    os_version: str = ""
    device: str = ""
    is_spider: bool = False  # the parser's own crawler verdict (device family "Spider")


_BROWSER_NAMES = {
    "Chrome Mobile": "Chrome",
    "Chrome Mobile iOS": "Chrome",
    "Chrome Frame": "Chrome",
    "Chrome Mobile WebView": "Android WebView",
    "Mobile Safari": "Safari",
    "Mobile Safari UI/WKWebView": "iOS WebView",
    "Firefox Mobile": "Firefox",
    "Firefox iOS": "Firefox",
    "Firefox Focus": "Firefox",
    "Edge Mobile": "Edge",
    "Opera Mobile": "Opera",
    "Opera Touch": "Opera",
    "IE": "Internet Explorer",
    "IE Mobile": "Internet Explorer",
    "Amazon Silk": "Silk",
    "DuckDuckGo Mobile": "DuckDuckGo",
    "Yandex Browser": "Yandex Browser",
    "UC Browser": "UC Browser",
    "Other": "",
}

_DISTRIBUTIONS = frozenset(
    {
        "Linux",
        "Ubuntu",
        "Kubuntu",
        "Xubuntu",
        "Lubuntu",
        "Debian",
        "Fedora",
        "Red Hat",
        "CentOS",
        "Linux Mint",
        "Mint",
        "Arch Linux",
        "openSUSE",
        "SUSE",
        "Gentoo",
        "Mandriva",
        "Slackware",
        "Manjaro",
        "elementary OS",
        "Pop!_OS",
    }
)

_OS_NAMES = {"Mac OS X": "macOS", "Mac OS": "macOS", "Other": ""}

_DESKTOP_OSES = frozenset(
    {"Windows", "macOS", "Linux", "Chrome OS", "FreeBSD", "OpenBSD", "NetBSD", "Solaris"}
)

# "Tablet PC" is a touch-screen Windows laptop, not a tablet.
_TABLET = re.compile(r"Tablet(?! PC)|PlayBook|Kindle")
# "Mobi" is the token browsers are asked to send on phones; the rest predate that advice.
_MOBILE = re.compile(r"Mobi|iPhone|iPod|Windows Phone|BlackBerry|BB10|Opera Mini|Symbian|J2ME")
_TV = re.compile(r"SmartTV|Smart-TV|SMART-TV|GoogleTV|Google TV|Android ?TV|BRAVIA|AFT[A-Z]|\bTV\b")


@lru_cache(maxsize=1)
def _resolver() -> _RustResolver:
    return _RustResolver(load_lazy_builtins())


def _version(major: str | None, minor: str | None) -> str:
    if not major:
        return ""
    return f"{major}.{minor}" if minor else major


def _os_name(family: str, major: str | None, ua: str) -> str:
    if family in _DISTRIBUTIONS:
        return "Linux"
    if family == "iOS" and "iPad" in ua and major and major.isdigit() and int(major) >= 13:
        return "iPadOS"
    return _OS_NAMES.get(family, family)


def _device_class(ua: str, os_name: str) -> str:
    if "iPad" in ua:
        return "Tablet"
    if _MOBILE.search(ua):
        return "Mobile"
    if os_name == "Android":
        # Android browsers leave "Mobile" out on tablets (Kindle Fire included) and TVs only.
        return "Desktop" if _TV.search(ua) else "Tablet"
    if _TABLET.search(ua):
        return "Tablet"
    return "Desktop" if os_name in _DESKTOP_OSES else ""


def parse_user_agent(ua: str) -> UserAgentInfo:
    """Parse a User-Agent header into canonical browser, OS and device class (never raises)."""
    # Cut before the cache, so that the cache's keys stay small whatever clients send.
    return _parse(ua[:MAX_PARSED_LENGTH])


@lru_cache(maxsize=_CACHE_SIZE)
def _parse(text: str) -> UserAgentInfo:
    result = _resolver()(text, Domain.ALL)
    browser = version = os_name = os_version = ""
    if result.user_agent is not None:
        family = result.user_agent.family
        browser = _BROWSER_NAMES.get(family, family)
        if browser:
            version = _version(result.user_agent.major, result.user_agent.minor)
    if result.os is not None:
        os_name = _os_name(result.os.family, result.os.major, text)
        if os_name and os_name != "Linux":
            os_version = _version(result.os.major, result.os.minor)
    spider = result.device is not None and result.device.family == "Spider"
    return UserAgentInfo(
        browser=browser,
        browser_version=version,
        os=os_name,
        os_version=os_version,
        device=_device_class(text, os_name),
        is_spider=spider,
    )


_PLATFORMS = {
    "Windows Phone": "WindowsPhone",
    "iPadOS": "iPad",
    "Android": "Android",
    "Windows": "Windows",
    "macOS": "macOS",
    "Linux": "Linux",
    "Chrome OS": "Linux",
}


def platform_of(ua: str) -> str:
    """The platform of a tracked-link click: Android, iPhone, iPad, WindowsPhone, Windows,
    macOS, Linux or other."""
    info = parse_user_agent(ua)
    if info.os == "iOS":
        return "iPad" if info.device == "Tablet" else "iPhone"
    return _PLATFORMS.get(info.os, "other")
