"""`POST /api/event` as a bare ASGI endpoint: the busiest route skips routing and middleware.

Every browser pageview lands here, so it reads the body, decodes, runs the collector steps and
answers without Starlette's Request/Response objects or middleware stack (measured: about a third
of the per-request time). Its answers are exactly those of the other collection routes.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from footfall.collect.collector import Accepted, Client, Collector
from footfall.collect.http import CORS_HEADERS, IPNetwork, error_body, resolve_client_ip
from footfall.collect.payloads import BadInput, decode_plausible
from footfall.collect.ratelimit import (
    RATE_LIMITED,
    CollectLimits,
    rate_limited_message,
    retry_after,
)
from footfall.events import DropReason
from footfall.metrics import EVENTS_ACCEPTED, EVENTS_DROPPED, EVENTS_REJECTED, REQUEST_SECONDS
from footfall.queue.base import QueueError

log = logging.getLogger(__name__)

PATH = "/api/event"

_CORS = [(name.lower().encode(), value.encode()) for name, value in CORS_HEADERS.items()]
_TEXT = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"2")]
_JSON = (b"content-type", b"application/json")
_DROPPED = {
    reason: [*_TEXT, *_CORS, (b"x-footfall-dropped", reason.value.encode())]
    for reason in DropReason
}
_ACCEPTED = [*_TEXT, *_CORS]


class _TooLarge(Exception):
    pass


class ApiEventFastPath:
    """ASGI middleware: handles POST /api/event itself, passes everything else to `app`."""

    def __init__(
        self,
        app: ASGIApp,
        collector: Collector,
        trusted_proxies: tuple[IPNetwork, ...],
        max_body_bytes: int,
        limits: CollectLimits | None = None,
    ) -> None:
        self.app = app
        self._collector = collector
        self._trusted = trusted_proxies
        self._limit = max_body_bytes
        self._limits = limits
        self._accepted = EVENTS_ACCEPTED.labels("api_event")
        self._latency = REQUEST_SECONDS.labels("event")
        self._dropped = {reason: EVENTS_DROPPED.labels(reason.value) for reason in DropReason}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status, headers, body = await self._handle(scope, receive)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        if status >= 400:
            EVENTS_REJECTED.labels("api_event", str(status)).inc()
        self._latency.observe(time.perf_counter() - started)

    async def _handle(
        self, scope: Scope, receive: Receive
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        forwarded = user_agent = ""
        for name, value in scope["headers"]:
            if name == b"user-agent":
                user_agent = value.decode("latin-1")
            elif name == b"x-forwarded-for":
                forwarded = value.decode("latin-1")
            elif name == b"content-length" and value.isdigit() and int(value) > self._limit:
                return self._error(413, "body_too_large", self._too_large_message())
        peer = scope["client"][0] if scope.get("client") else ""
        client = Client(resolve_client_ip(peer, forwarded, self._trusted), user_agent)
        # A flooding client is turned away before its body is even read.
        wait = self._limits.ip_wait(client.ip) if self._limits else 0.0
        if wait:
            return self._rate_limited("client", wait)
        try:
            body = await self._read(receive)
            incoming = decode_plausible(body)
        except _TooLarge:
            return self._error(413, "body_too_large", self._too_large_message())
        except BadInput as exc:
            return self._error(400, exc.code, exc.message)
        outcome = self._collector.prepare(incoming, client, drop_bots=True)
        if isinstance(outcome, DropReason):
            self._dropped[outcome].inc()
            return 202, _DROPPED[outcome], b"ok"
        return await self._enqueue(outcome)

    async def _enqueue(self, outcome: Accepted) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        if self._limits is not None:
            wait = self._limits.site_wait([event.site_id for event in outcome.events])
            if wait:
                return self._rate_limited("site", wait)
        try:
            await self._collector.enqueue(outcome)
        except QueueError as exc:
            log.warning("queue refused events on %s: %s", PATH, exc)
            return self._error(
                503,
                "queue_unavailable",
                "events cannot be queued right now; retry later",
                [(b"retry-after", str(exc.retry_after).encode())],
            )
        self._accepted.inc(len(outcome.events))
        return 202, _ACCEPTED, b"ok"

    async def _read(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message: Message = await receive()
            if message["type"] != "http.request":  # the client went away mid-body
                raise BadInput("the request body was not received completely")
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > self._limit:
                raise _TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def _rate_limited(
        self, scope: str, wait: float
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        extra = [(b"retry-after", retry_after(wait).encode())]
        return self._error(429, RATE_LIMITED, rate_limited_message(scope), extra)

    def _too_large_message(self) -> str:
        return f"body is larger than {self._limit} bytes"

    @staticmethod
    def _error(
        status: int, code: str, message: str, extra: list[tuple[bytes, bytes]] | None = None
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        body = error_body(code, message)
        headers = [_JSON, (b"content-length", str(len(body)).encode()), *_CORS, *(extra or [])]
        return status, headers, body
