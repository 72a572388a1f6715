"""IP address to country from the data shipped in the geoip2fast package."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from footfall.enrich.geo import Location, locate


@pytest.mark.parametrize(
    ("ip", "country"),
    [
        ("8.8.8.8", "US"),  # Google Public DNS
        ("9.9.9.9", "US"),  # Quad9 (registered and announced in the US)
        ("2001:4860:4860::8888", "US"),  # Google Public DNS over IPv6
        ("::ffff:8.8.8.8", "US"),  # IPv4-mapped IPv6
        ("193.99.144.80", "DE"),  # heise.de
        ("81.2.69.142", "GB"),
        ("133.242.0.3", "JP"),
        (" 8.8.4.4 ", "US"),
    ],
)
def test_public_addresses_have_their_country(ip: str, country: str) -> None:
    assert locate(ip) == Location(country=country)


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
        "224.0.0.1",  # multicast
        "0.0.0.0",
        "255.255.255.255",
        "::1",
        "fe80::1",
        "fd00::1",
        "2001:db8::1",  # documentation
        "::ffff:10.0.0.1",
    ],
)
def test_private_and_reserved_addresses_have_no_country(ip: str) -> None:
    assert locate(ip) == Location()


@pytest.mark.parametrize(
    "ip", ["", "garbage", "8.8", "256.1.1.1", "1.2.3.4.5", "8.8.8.8:443", "[::1]", "01.2.3.4"]
)
def test_invalid_strings_have_no_country(ip: str) -> None:
    assert locate(ip) == Location()


def test_loading_the_data_leaves_the_environment_alone() -> None:
    before = os.environ.get("PYTHONWARNINGS")
    locate("8.8.8.8")
    assert os.environ.get("PYTHONWARNINGS") == before


@given(st.one_of(st.text(max_size=60), st.ip_addresses().map(str)))
def test_never_raises_and_answers_a_code_or_nothing(ip: str) -> None:
    country = locate(ip).country
    assert country == "" or (len(country) == 2 and country.isupper())
