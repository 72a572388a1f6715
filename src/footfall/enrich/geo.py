"""IP address to country, from data shipped inside the installed `geoip2fast` package.

No download at run time: the package carries its data file (IPv4 and IPv6 country ranges),
loaded once, lazily, on the first lookup (about 0.1 s). Private, reserved and otherwise
non-global addresses and strings that are not addresses give an empty location; lookups never
raise. Region and city stay empty: the shipped data has countries only.

Data licence and attribution (to be shown in the docs): the country data in geoip2fast 1.2.2
is built from MaxMind's GeoLite2 Country database of 2024-06-18. "This product includes GeoLite2
data created by MaxMind, available from https://www.maxmind.com." GeoLite2 is distributed under
MaxMind's GeoLite2 End User License Agreement; geoip2fast's own code is MIT-licensed.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import re
import threading
from dataclasses import dataclass
from typing import Any

__all__ = ["Location", "locate"]

_DATA_FILE = "geoip2fast-ipv6.dat.gz"  # IPv4 + IPv6 countries, without the ASN tables


@dataclass(frozen=True, slots=True)
class Location:
    """Where an address is: ISO 3166-1 alpha-2 country, region and city ("" when unknown)."""

    country: str = ""
    region: str = ""
    city: str = ""


NOWHERE = Location()

_lock = threading.Lock()
_reader: Any = None


def _load() -> Any:
    # The package sets PYTHONWARNINGS=ignore in os.environ when imported, which every process
    # started afterwards would inherit; put the environment back as it was.
    before = os.environ.get("PYTHONWARNINGS")
    try:
        from geoip2fast import GeoIP2Fast

        return GeoIP2Fast(geoip2fast_data_file=_DATA_FILE)
    finally:
        if before is None:
            os.environ.pop("PYTHONWARNINGS", None)
        else:
            os.environ["PYTHONWARNINGS"] = before


def _geoip() -> Any:
    global _reader
    if _reader is None:
        with _lock:
            if _reader is None:
                _reader = _load()
    return _reader


# Dotted-quad IPv4, the common case, goes straight to the data, which itself answers no country
# for every private and reserved IPv4 range (checked against ipaddress.is_global); the rest
# (IPv6, mapped IPv4, junk) goes through the slower ipaddress module first.
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")


def _public_address(text: str) -> str | None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return str(address) if address.is_global else None


@functools.lru_cache(maxsize=1 << 16)
def locate(ip: str) -> Location:
    """The country of a public IP address; an empty Location for anything else.

    Cached: a visitor sends several events from one address, and a lookup costs microseconds.
    """
    text = ip.strip()
    if not _IPV4.fullmatch(text):
        public = _public_address(text)
        if public is None:
            return NOWHERE
        text = public
    code = _geoip().lookup(text).country_code
    if isinstance(code, str) and len(code) == 2 and code.isascii() and code.isalpha():
        return Location(country=code.upper())
    return NOWHERE
