"""Generated access logs in the combined format, with the counts an import must report.

Shared by the import test and the import benchmarks (bench/import.py, bench/scale.py).
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.support.agents import BROWSERS

BOT = "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"
PAGES = ["/", "/pricing", "/blog/launch", "/docs/install?x=1", "/about", "/signup"]
ASSETS = ["/css/site.css", "/js/app.js", "/img/logo.png", "/favicon.ico"]


# First octets of special-purpose IPv4 blocks (private, loopback, shared, documentation,
# multicast, reserved): never a visitor's public address.
_SPECIAL_FIRST_OCTETS = frozenset({0, 10, 100, 127, 169, 172, 192, 198, 203, *range(224, 256)})
_PUBLIC_FIRST_OCTETS = [octet for octet in range(1, 224) if octet not in _SPECIAL_FIRST_OCTETS]
# A visitor's requests: mostly pages and their assets, some missing pages and tracked links.
_REQUESTS = ["page"] * 13 + ["asset"] * 4 + ["error", "click"]


def _public_address(rng: random.Random) -> str:
    octets = (rng.randrange(256), rng.randrange(256), rng.randrange(1, 255))
    return f"{rng.choice(_PUBLIC_FIRST_OCTETS)}.{octets[0]}.{octets[1]}.{octets[2]}"


def generate(path: Path, lines: int, *, distinct: bool = False) -> Counter[str]:
    """Write `lines` log lines; returns the counts the importer must report.

    As a server logs them: about 200 visitors at a time, each from its own public address and
    browser (one in twenty a crawler), making 1 to 30 requests (15 on average) interleaved
    with the others'. With `distinct`, every line comes from a new address: the worst case for
    the per-visitor caches (address location, visitor hash).
    """
    rng = random.Random(7)
    expected: Counter[str] = Counter()
    start = datetime(2026, 5, 1, tzinfo=UTC)
    active: list[list[Any]] = []  # [address, agent, requests left]
    with path.open("w") as handle:
        for n in range(lines):
            when = (start + timedelta(seconds=n // 50)).strftime("%d/%b/%Y:%H:%M:%S +0000")
            while len(active) < 200:
                agent = BOT if rng.random() < 0.05 else rng.choice(BROWSERS)
                active.append([_public_address(rng), agent, rng.randint(1, 30)])
            slot = rng.randrange(len(active))
            visitor = active[slot]
            ip, agent = (_public_address(rng), visitor[1]) if distinct else visitor[:2]
            visitor[2] -= 1
            if visitor[2] == 0:
                active[slot] = active[-1]
                active.pop()
            request, status = rng.choice(_REQUESTS), 200
            if request == "page":
                target = rng.choice(PAGES)
                kind = "bots" if agent == BOT else "pageviews"
            elif request == "asset":
                target, kind = rng.choice(ASSETS), "assets"
            elif request == "error":
                target, kind, status = "/missing", "errors", 404
            else:
                target, kind, status = "/u/bench", "clicks", 302
            expected[kind] += 1
            handle.write(
                f'{ip} - - [{when}] "GET {target} HTTP/1.1" {status} 1024 '
                f'"https://www.google.com/" "{agent}"\n'
            )
    expected["lines"] = lines
    return expected
