"""IP address to country, region and city: DB-IP City Lite, with geoip2fast's countries as fallback.

The expected places were read from the pinned database (frontend/package-lock.json); a new release
of it may move an address, and then these examples are updated with it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import maxminddb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from footfall.enrich.geo import (
    BUNDLED_CITY_DATABASE,
    CITY_FILES,
    Location,
    _location_of,
    city_database_path,
    locate,
    use_city_database,
)
from tests.support.services import require


@pytest.fixture
def city_database() -> Path:
    """The bundled DB-IP City Lite copy: built by `make install`; required with CI=true."""
    present = all((BUNDLED_CITY_DATABASE / name).is_file() for name in CITY_FILES)
    require(present, f"no city database in {BUNDLED_CITY_DATABASE}: run `make frontend`")
    return BUNDLED_CITY_DATABASE


@pytest.fixture
def configured() -> Iterator[None]:
    """Tests that point the lookups elsewhere; the bundled database is in use again afterwards."""
    try:
        yield
    finally:
        use_city_database(None)


@pytest.mark.parametrize(
    ("ip", "location"),
    [
        ("8.8.8.8", Location("US", "California", "Mountain View")),  # Google Public DNS
        (" 8.8.4.4 ", Location("US", "California", "Mountain View")),
        ("81.2.69.142", Location("GB", "England", "London")),
        ("193.99.144.80", Location("DE", "Lower Saxony", "Hanover")),  # heise.de
        ("193.0.6.139", Location("NL", "North Holland", "Amsterdam")),  # RIPE NCC
        ("213.180.204.62", Location("RU", "Moscow", "Moscow")),
        ("200.147.67.142", Location("BR", "Rio de Janeiro", "Rio de Janeiro")),
        ("41.203.18.1", Location("ZA", "Western Cape", "Cape Town")),
        ("133.242.0.3", Location("JP", "Tokyo", "Chiyoda City")),
        ("2001:67c:2e8:22::c100:68b", Location("NL", "North Holland", "Amsterdam")),  # RIPE
        ("2a00:1450:4001:82a::200e", Location("DE", "Hesse", "Frankfurt am Main")),
        ("::ffff:193.0.6.139", Location("NL", "North Holland", "Amsterdam")),  # IPv4-mapped
        ("2002:c100:68b::1", Location("NL", "North Holland", "Amsterdam")),  # 6to4 of the same
    ],
)
def test_public_addresses_have_country_region_and_city(
    city_database: Path, ip: str, location: Location
) -> None:
    assert locate(ip) == location


def test_the_district_after_a_city_name_is_left_out(city_database: Path) -> None:
    with maxminddb.open_database(str(city_database / CITY_FILES[0])) as reader:
        record = reader.get("193.0.6.139")
    assert isinstance(record, dict)
    assert record["city"] == "Amsterdam (Amsterdam-Centrum)"
    assert locate("193.0.6.139").city == "Amsterdam"


@pytest.mark.parametrize(
    "ip",
    [
        "10.1.2.3",
        "172.16.5.4",
        "192.168.0.1",
        "127.0.0.1",
        "100.64.0.1",  # carrier-grade NAT
        "169.254.1.1",  # link-local
        "192.0.2.1",  # documentation
        "198.18.0.1",  # benchmarking
        "203.0.113.7",  # documentation
        "224.0.0.1",  # multicast
        "240.0.0.1",  # reserved
        "0.0.0.0",
        "255.255.255.255",
        "::1",
        "fe80::1",
        "fd00::1",
        "ff02::1",  # multicast
        "2001:db8::1",  # documentation
        "2001::1",  # Teredo: the database places it, but it is no visitor's location
        "::ffff:10.0.0.1",
        "2002:a00:1::1",  # 6to4 of 10.0.0.1
    ],
)
def test_private_and_reserved_addresses_have_no_location(city_database: Path, ip: str) -> None:
    assert locate(ip) == Location()


@pytest.mark.parametrize(
    "ip", ["", "garbage", "8.8", "256.1.1.1", "1.2.3.4.5", "8.8.8.8:443", "[::1]", "01.2.3.4"]
)
def test_invalid_strings_have_no_location(ip: str) -> None:
    assert locate(ip) == Location()


def test_answers_are_cached_per_address(city_database: Path) -> None:
    locate("193.0.6.139")
    hits = locate.cache_info().hits
    assert locate("193.0.6.139") == Location("NL", "North Holland", "Amsterdam")
    assert locate.cache_info().hits == hits + 1


def test_the_bundled_database_is_the_default(city_database: Path) -> None:
    assert city_database_path() == city_database


def test_without_the_city_database_countries_remain_and_one_warning_is_logged(
    city_database: Path, configured: None, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert locate("8.8.8.8").city == "Mountain View"  # cached from the bundled database
    caplog.set_level(logging.WARNING, logger="footfall.enrich.geo")
    assert use_city_database(tmp_path / "missing") is False
    assert city_database_path() is None
    countries = {"8.8.8.8": "US", "193.0.6.139": "NL", "2001:67c:2e8:22::c100:68b": "NL"}
    for ip, country in countries.items():
        assert locate(ip) == Location(country)
    assert locate("10.0.0.1") == Location()
    warnings = [r for r in caplog.records if r.name == "footfall.enrich.geo"]
    assert len(warnings) == 1
    assert str(tmp_path / "missing") in warnings[0].getMessage()
    assert "FOOTFALL_GEOIP_CITY_PATH" in warnings[0].getMessage()
    assert use_city_database("") is True  # back to the bundled copy, cache forgotten
    assert locate("8.8.8.8").city == "Mountain View"


def test_loading_the_fallback_leaves_the_environment_alone(
    configured: None, tmp_path: Path
) -> None:
    before = os.environ.get("PYTHONWARNINGS")
    use_city_database(tmp_path / "missing")
    assert locate("8.8.8.8").country == "US"
    assert os.environ.get("PYTHONWARNINGS") == before


def test_one_file_databases_are_read_for_both_families(
    city_database: Path, configured: None
) -> None:
    ipv4_only = city_database / CITY_FILES[0]
    assert use_city_database(str(ipv4_only)) is True
    assert city_database_path() == ipv4_only
    assert locate("193.0.6.139") == Location("NL", "North Holland", "Amsterdam")
    # An IPv6 address in an IPv4-only file: no location, no exception.
    assert locate("2001:67c:2e8:22::c100:68b") == Location()


def test_a_file_that_is_no_database_counts_as_missing(
    configured: None, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = tmp_path / "city.mmdb"
    broken.write_bytes(b"not a MaxMind DB" * 100)
    caplog.set_level(logging.WARNING, logger="footfall.enrich.geo")
    assert use_city_database(broken) is False
    assert locate("8.8.8.8") == Location("US")
    assert len([r for r in caplog.records if r.name == "footfall.enrich.geo"]) == 1


@pytest.mark.parametrize(
    ("record", "location"),
    [
        (  # the flat layout of the npm package
            {"country_code": "us", "state1": "California", "state2": "", "city": "Berkeley"},
            Location("US", "California", "Berkeley"),
        ),
        (  # GeoIP2 City (DB-IP's own download, MaxMind GeoLite2 City)
            {
                "country": {"iso_code": "DE", "names": {"en": "Germany"}},
                "subdivisions": [{"iso_code": "BY", "names": {"en": "Bavaria", "de": "Bayern"}}],
                "city": {"geoname_id": 2867714, "names": {"en": "Munich", "de": "München"}},
            },
            Location("DE", "Bavaria", "Munich"),
        ),
        ({"country": {"iso_code": "FR"}}, Location("FR")),
        (
            {"country_code": "GB", "state1": "England", "city": "London (South Bank)"},
            Location("GB", "England", "London"),
        ),
        ({"country_code": "ZZ1", "city": "Nowhere"}, Location()),
        ({"country_code": "", "state1": "Somewhere"}, Location()),
        ({"country": "DE", "subdivisions": "x", "city": 3}, Location()),
        ({"country": {"iso_code": "DE"}, "subdivisions": [], "city": {}}, Location("DE")),
        (None, Location()),
        ([1, 2], Location()),
    ],
)
def test_records_of_either_layout_become_locations(record: object, location: Location) -> None:
    assert _location_of(record) == location


def test_names_are_bounded() -> None:
    location = _location_of({"country_code": "US", "state1": "x" * 500, "city": "y" * 500})
    assert (len(location.region), len(location.city)) == (100, 100)


@given(st.one_of(st.text(max_size=60), st.ip_addresses().map(str)))
def test_never_raises_and_answers_a_code_or_nothing(ip: str) -> None:
    location = locate(ip)
    assert location.country == "" or (len(location.country) == 2 and location.country.isupper())
    assert location.country or (location.region, location.city) == ("", "")
