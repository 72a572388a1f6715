"""Parsing access-log lines (combined format and nginx JSON lines) into `LogLine`s.

Parsers return None for a line they cannot read; the caller counts it as malformed. Times are
cached by their text: consecutive lines mostly share the same second, so each distinct
timestamp is converted once.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

import msgspec

FORMATS = ("combined", "nginx-json")

_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
        start=1,
    )
}

# `$remote_addr - $remote_user [$time_local] "$request" $status $bytes "$referer" "$agent"`;
# Apache's and nginx's combined formats agree. Quoted fields carry backslash escapes.
_QUOTED = r'"([^"\\]*(?:\\.[^"\\]*)*)"'  # unrolled: no alternation per character
_COMBINED = re.compile(
    r'(\S+) \S+ \S+ \[([^\]]+)\] "([A-Z]+) (\S+)[^"]*" (\d{3}) \S+'
    rf"(?: {_QUOTED} {_QUOTED})?"
)


@dataclass(frozen=True, slots=True)
class LogLine:
    """One request as the web server logged it."""

    ip: str
    ts_ms: int  # the request's time, epoch milliseconds UTC
    method: str
    target: str  # the request target: path and query string
    status: int
    referrer: str | None
    user_agent: str


Parser = Callable[[str], LogLine | None]


@lru_cache(maxsize=4096)
def common_log_time(text: str) -> int:
    """`10/Oct/2026:13:55:36 -0700` -> epoch milliseconds; ValueError when malformed."""
    try:
        day, month, year = int(text[0:2]), _MONTHS[text[3:6]], int(text[7:11])
        hour, minute, second = int(text[12:14]), int(text[15:17]), int(text[18:20])
        sign = -1 if text[21] == "-" else 1
        offset = int(text[22:24]) * 3600 + int(text[24:26]) * 60
    except (KeyError, IndexError) as exc:
        raise ValueError(f"not a log time: {text!r}") from exc
    seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    return (seconds - sign * offset) * 1000


@lru_cache(maxsize=4096)
def iso_time(text: str) -> int:
    """`2026-10-10T13:55:36+00:00` ($time_iso8601) -> epoch milliseconds; ValueError if not."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"log time without an offset: {text!r}")
    return int(moment.timestamp() * 1000)


def _unquote(field: str | None) -> str | None:
    if not field or field == "-":
        return None
    if "\\" in field:
        field = field.replace('\\"', '"').replace("\\\\", "\\")
    return field


def parse_combined(line: str) -> LogLine | None:
    """A combined-format line (nginx `combined`, Apache `%h %l %u %t "%r" %>s %b ...`)."""
    match = _COMBINED.match(line)
    if match is None:
        return None
    ip, when, method, target, status, referrer, agent = match.groups()
    try:
        ts_ms = common_log_time(when)
    except ValueError:
        return None
    return LogLine(
        ip=ip,
        ts_ms=ts_ms,
        method=method,
        target=target,
        status=int(status),
        referrer=_unquote(referrer),
        user_agent=_unquote(agent) or "",
    )


class _JsonLine(msgspec.Struct, forbid_unknown_fields=False):
    time_iso8601: str
    remote_addr: str
    request_method: str
    request_uri: str
    status: int | str
    http_referer: str | None = None
    http_user_agent: str | None = None


_json_decoder = msgspec.json.Decoder(_JsonLine)


def parse_nginx_json(line: str) -> LogLine | None:
    """One JSON object per line with nginx's variable names (see docs/scaling.md)."""
    try:
        raw = _json_decoder.decode(line)
        return LogLine(
            ip=raw.remote_addr,
            ts_ms=iso_time(raw.time_iso8601),
            method=raw.request_method,
            target=raw.request_uri,
            status=int(raw.status),
            referrer=_unquote(raw.http_referer),
            user_agent=_unquote(raw.http_user_agent) or "",
        )
    except (msgspec.DecodeError, ValueError):
        return None


def parser_for(name: str) -> Parser:
    """The parser of a `--format` name; ValueError for an unknown one."""
    if name == "combined":
        return parse_combined
    if name == "nginx-json":
        return parse_nginx_json
    raise ValueError(f"--format {name}: choose one of {', '.join(FORMATS)}")
