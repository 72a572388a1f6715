"""Collection endpoints of API.md section 1, as plain Starlette routes (the hot path).

FastAPI's per-request validation costs two thirds of the throughput here (LIBRARIES.md), so these
routes decode with msgspec and are described in the OpenAPI schema by hand (collect/openapi.py).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from footfall.collect.collector import Accepted, Client, Collector
from footfall.collect.http import (
    CORS_HEADERS,
    BodyTooLarge,
    IPNetwork,
    client_ip,
    error,
    json_response,
    read_body,
)
from footfall.collect.payloads import (
    BadInput,
    Incoming,
    decode_batch,
    decode_track_conversion,
    decode_track_event,
    decode_user_analytics,
    track_event_from,
)
from footfall.collect.ratelimit import (
    RATE_LIMITED,
    CollectLimits,
    rate_limited_message,
    retry_after,
)
from footfall.collect.script import TrackerScript
from footfall.events import DropReason
from footfall.metrics import EVENTS_ACCEPTED, EVENTS_DROPPED, EVENTS_REJECTED
from footfall.queue.base import QueueError

log = logging.getLogger(__name__)

BATCH_LIMIT = 10_000
INGEST_SCOPE = "ingest"


class KeyInfoLike(Protocol):
    """A verified API key as the collector sees it."""

    @property
    def scopes(self) -> Sequence[str]: ...
    @property
    def site_id(self) -> int | None: ...


class KeyVerifier(Protocol):
    """Cached API key verification (no database read per request on a warm key)."""

    def verify(self, raw_key: str) -> KeyInfoLike | None: ...


@dataclass(frozen=True)
class CollectConfig:
    """What the routes need besides the collector itself."""

    trusted_proxies: Sequence[IPNetwork]
    max_body_bytes: int
    max_batch_bytes: int
    default_site: str
    # Per-IP and per-site token buckets of the public endpoints; None: not limited.
    limits: CollectLimits | None = None


class _RateLimited(Exception):
    def __init__(self, scope: str, wait: float) -> None:
        super().__init__(rate_limited_message(scope))
        self.wait = wait


class _Unauthorized(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


Handler = Callable[[Request], Awaitable[Response]]


def collection_routes(
    collector: Collector, keys: KeyVerifier, config: CollectConfig, script: TrackerScript
) -> list[Route]:
    """The public collection routes, bound to one collector."""
    endpoints = _Endpoints(collector, keys, config)
    return [
        # POST /api/event is served by collect.fast.ApiEventFastPath ahead of this router
        Route("/api/event", _preflight, methods=["OPTIONS"]),
        Route("/api/v1/events", _guard("v1_events", endpoints.track_event), methods=["POST"]),
        Route(
            "/api/v1/conversions",
            _guard("v1_conversions", endpoints.track_conversion),
            methods=["POST"],
        ),
        Route("/api/v1/events/batch", _guard("v1_batch", endpoints.batch), methods=["POST"]),
        Route("/analytics", _guard("analytics", endpoints.user_analytics), methods=["POST"]),
        Route("/js/script.js", script.endpoint, methods=["GET", "HEAD"]),
    ]


def _dropped_json(reason: DropReason) -> Response:
    return json_response(
        202, {"status": "dropped", "reason": reason.value}, {"X-Footfall-Dropped": reason.value}
    )


async def _preflight(request: Request) -> Response:
    return Response(status_code=204, headers=CORS_HEADERS)


def _guard(endpoint: str, handler: Handler) -> Handler:
    """Map the collector's failure modes to the contract's answers, counting each."""

    async def guarded(request: Request) -> Response:
        try:
            response = await handler(request)
        except BadInput as exc:
            response = error(400, exc.code, exc.message)
        except BodyTooLarge as exc:
            response = error(413, "body_too_large", str(exc))
        except _Unauthorized as exc:
            response = error(exc.status, exc.code, exc.message)
        except _RateLimited as exc:
            response = error(429, RATE_LIMITED, str(exc), {"Retry-After": retry_after(exc.wait)})
        except QueueError as exc:
            log.warning("queue refused events on %s: %s", endpoint, exc)
            response = error(
                503,
                "queue_unavailable",
                "events cannot be queued right now; retry later",
                headers={"Retry-After": str(exc.retry_after)},
            )
        if response.status_code >= 400:
            EVENTS_REJECTED.labels(endpoint, str(response.status_code)).inc()
        return response

    return guarded


class _Endpoints:
    def __init__(self, collector: Collector, keys: KeyVerifier, config: CollectConfig) -> None:
        self._collector = collector
        self._keys = keys
        self._config = config

    async def track_event(self, request: Request) -> Response:
        key = self._optional_key(request)
        client = self._limited_client(request, key)
        body = await read_body(request, self._config.max_body_bytes)
        incoming = decode_track_event(body, self._collector.now_ms())
        accepted = self._accept_server_event(incoming, key, client)
        if isinstance(accepted, DropReason):
            return _dropped_json(accepted)
        self._limit_sites(accepted)
        await self._enqueue("v1_events", accepted)
        event_id = str(uuid.UUID(bytes=accepted.events[0].event_id))
        return json_response(201, {"status": "success", "event_id": event_id})

    async def track_conversion(self, request: Request) -> Response:
        key = self._optional_key(request)
        client = self._limited_client(request, key)
        body = await read_body(request, self._config.max_body_bytes)
        incoming = decode_track_conversion(body, self._collector.now_ms())
        accepted = self._accept_server_event(incoming, key, client)
        if isinstance(accepted, DropReason):
            return _dropped_json(accepted)
        self._limit_sites(accepted)
        await self._enqueue("v1_conversions", accepted)
        conversion_id = str(uuid.UUID(bytes=accepted.events[0].event_id))
        return json_response(201, {"status": "success", "conversion_id": conversion_id})

    async def batch(self, request: Request) -> Response:
        key = self._required_key(request)
        body = await read_body(request, self._config.max_batch_bytes)
        content_type = request.headers.get("content-type", "")
        items = decode_batch(body, "ndjson" in content_type, BATCH_LIMIT)
        now_ms = self._collector.now_ms()
        client = self._client(request)
        accepted: list[Accepted] = []
        rejected: list[dict[str, Any]] = []
        for index, item in enumerate(items):
            try:
                incoming = track_event_from(item, now_ms)
                outcome = self._accept_server_event(incoming, key, client)
            except BadInput as exc:
                rejected.append({"index": index, "error": exc.message})
                continue
            if isinstance(outcome, DropReason):
                rejected.append({"index": index, "error": f"dropped: {outcome.value}"})
            else:
                accepted.append(outcome)
        if accepted:
            await self._enqueue("v1_batch", Accepted([e for a in accepted for e in a.events]))
        return json_response(
            200, {"status": "success", "accepted": len(accepted), "rejected": rejected}
        )

    async def user_analytics(self, request: Request) -> Response:
        client = self._limited_client(request, None)
        query = dict(request.query_params)
        incoming = decode_user_analytics(query, self._config.default_site, self._collector.now_ms())
        accepted = self._accept_server_event(incoming, None, client)
        if isinstance(accepted, DropReason):
            return Response(status_code=204, headers={"X-Footfall-Dropped": accepted.value})
        self._limit_sites(accepted)
        await self._enqueue("analytics", accepted)
        return Response(status_code=204)

    def _accept_server_event(
        self, incoming: Incoming, key: KeyInfoLike | None, client: Client
    ) -> Accepted | DropReason:
        """Server-side APIs: never drop for the User-Agent; unknown sites are the caller's error.

        A site's own exclusions (IP ranges, paths, hostnames) still apply and are reported as a
        drop reason, as on /api/event.
        """
        if incoming.ip is not None and (key is None or INGEST_SCOPE not in key.scopes):
            incoming.ip = None  # only a key with ingest scope may speak for the end user's address
        if key is not None and key.site_id is not None:
            for domain in incoming.domains:
                site = self._collector.site(domain)
                if site is None or site.id != key.site_id:
                    raise BadInput(
                        f"the API key is not valid for site {domain!r}", "site_not_allowed"
                    )
        outcome = self._collector.prepare(incoming, client, drop_bots=False)
        if outcome is DropReason.UNKNOWN_SITE:
            raise BadInput(f"unknown site {', '.join(incoming.domains)!r}", "unknown_site")
        if isinstance(outcome, DropReason):
            EVENTS_DROPPED.labels(outcome.value).inc()
        return outcome

    async def _enqueue(self, endpoint: str, accepted: Accepted) -> None:
        await self._collector.enqueue(accepted)
        EVENTS_ACCEPTED.labels(endpoint).inc(len(accepted.events))

    def _limited_client(self, request: Request, key: KeyInfoLike | None) -> Client:
        """The client, once its per-IP limit allows this request.

        Requests with an ingest-scope key come from servers speaking for many users: those are
        limited per site only.
        """
        client = self._client(request)
        limits = self._config.limits
        if limits is not None and (key is None or INGEST_SCOPE not in key.scopes):
            wait = limits.ip_wait(client.ip)
            if wait:
                raise _RateLimited("client", wait)
        return client

    def _limit_sites(self, accepted: Accepted) -> None:
        limits = self._config.limits
        if limits is not None:
            wait = limits.site_wait([event.site_id for event in accepted.events])
            if wait:
                raise _RateLimited("site", wait)

    def _client(self, request: Request) -> Client:
        return Client(
            ip=client_ip(request, self._config.trusted_proxies),
            user_agent=request.headers.get("user-agent", ""),
        )

    def _optional_key(self, request: Request) -> KeyInfoLike | None:
        header = request.headers.get("authorization")
        if header is None:
            return None
        return self._verify(header)

    def _required_key(self, request: Request) -> KeyInfoLike:
        header = request.headers.get("authorization")
        if header is None:
            raise _Unauthorized(401, "unauthorized", "an API key with ingest scope is required")
        key = self._verify(header)
        if INGEST_SCOPE not in key.scopes:
            raise _Unauthorized(403, "forbidden", "the API key lacks the ingest scope")
        return key

    def _verify(self, header: str) -> KeyInfoLike:
        scheme, _, token = header.partition(" ")
        key = self._keys.verify(token.strip()) if scheme.lower() == "bearer" else None
        if key is None:
            raise _Unauthorized(401, "unauthorized", "invalid or revoked API key")
        return key
