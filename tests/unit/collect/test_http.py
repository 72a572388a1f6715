"""Client address resolution: X-Forwarded-For is believed only from trusted proxies."""

from __future__ import annotations

import ipaddress

import pytest
from starlette.requests import Request

from footfall.collect.http import client_ip

TRUSTED = (ipaddress.ip_network("10.0.0.0/8"),)


def request(peer: str, forwarded: str | None = None) -> Request:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded is not None else []
    return Request({"type": "http", "client": (peer, 5000), "headers": headers})


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        ("203.0.113.9", None, TRUSTED, "203.0.113.9"),
        ("203.0.113.9", "1.2.3.4", TRUSTED, "203.0.113.9"),  # untrusted peer: header ignored
        ("10.0.0.2", "1.2.3.4", (), "10.0.0.2"),  # no trusted proxies configured
        ("10.0.0.2", "1.2.3.4", TRUSTED, "1.2.3.4"),
        ("10.0.0.2", "6.6.6.6, 1.2.3.4, 10.0.0.7", TRUSTED, "1.2.3.4"),  # spoofed left part
        ("10.0.0.2", "10.0.0.9", TRUSTED, "10.0.0.9"),  # all hops trusted: the first one
        ("10.0.0.2", "not-an-ip", TRUSTED, "10.0.0.2"),
        ("10.0.0.2", "", TRUSTED, "10.0.0.2"),
        ("10.0.0.2", "2001:db8::1", TRUSTED, "2001:db8::1"),
    ],
)
def test_client_ip(
    peer: str,
    forwarded: str | None,
    trusted: tuple[ipaddress.IPv4Network, ...],
    expected: str,
) -> None:
    assert client_ip(request(peer, forwarded), trusted) == expected
