"""The ClickHouse events URL gets bounded driver timeouts unless it sets its own."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from clickhouse_driver import Client  # type: ignore[import-untyped]

from footfall.store.clickhouse import DEFAULT_TIMEOUTS, with_default_timeouts


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


def test_missing_timeouts_are_added() -> None:
    url = with_default_timeouts("clickhouse://ch:9000/footfall")
    assert query_of(url) == DEFAULT_TIMEOUTS
    connection = Client.from_url(url).connection
    assert connection.send_receive_timeout == 60  # not the driver's 300 s
    assert connection.connect_timeout == 5


def test_timeouts_and_other_options_in_the_url_are_kept() -> None:
    url = with_default_timeouts(
        "clickhouse://u:p@ch:9000/footfall?send_receive_timeout=10&compression=lz4"
    )
    parts = urlsplit(url)
    assert (parts.netloc, parts.path) == ("u:p@ch:9000", "/footfall")
    assert query_of(url) == {
        "send_receive_timeout": "10",
        "compression": "lz4",
        "connect_timeout": "5",
        "sync_request_timeout": "5",
    }
