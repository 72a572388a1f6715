"""Tracked links on the hot path: `/u/` redirects, the `/r/` open pixel and o7tracker `/track/`.

Nothing here reads a database: links and campaigns come from an in-process directory, recipient
tokens are checked by signature alone, and the click or open is queued like any other event.
Like `POST /api/event` (collect.fast), these answer as bare ASGI ahead of routing and the
middleware stack, which is most of the cost of a redirect. A full queue does not stop a redirect
or a pixel (the event is lost, counted and logged): a reader must always get through.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from functools import lru_cache
from typing import Protocol
from urllib.parse import parse_qsl, urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from footfall.collect.collector import Accepted, Client, Collector
from footfall.collect.http import IPNetwork, error_body, resolve_client_ip
from footfall.enrich.useragent import platform_of
from footfall.events import Kind
from footfall.links.classify import is_machine
from footfall.links.tokens import TokenSigner, with_attribution
from footfall.metrics import EVENTS_ACCEPTED, EVENTS_REJECTED, REQUEST_SECONDS
from footfall.queue.base import QueueError

log = logging.getLogger(__name__)

# The smallest transparent 1x1 GIF browsers and mail clients all display: 43 bytes.
PIXEL_GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
# o7tracker spells iPhone "IPhone"; stored platforms use the names of enrich.platform_of.
_PLATFORM_NAMES = {
    name.lower(): name
    for name in ("Android", "iPhone", "iPad", "WindowsPhone", "Windows", "macOS", "Linux")
}

NOT_FOUND_PAGE = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Link not found</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:15vh auto;padding:0 1rem;
color:#222}h1{font-size:1.4rem}p{color:#555;line-height:1.5}</style></head>
<body><h1>This link does not exist</h1>
<p>The link you followed is unknown or has been retired. Check that it was copied
completely, or ask whoever sent it for a new one.</p></body></html>
"""
_TRACK_NOT_FOUND = error_body("campaign_not_found", "no campaign with this id")

Headers = list[tuple[bytes, bytes]]
Answer = tuple[int, Headers, bytes]

_NO_STORE: Headers = [
    (b"cache-control", b"no-store, max-age=0"),
    (b"x-content-type-options", b"nosniff"),
]
_REDIRECT: Headers = [*_NO_STORE, (b"content-length", b"0")]
_PIXEL: Headers = [
    *_NO_STORE,
    (b"content-type", b"image/gif"),
    (b"content-length", str(len(PIXEL_GIF)).encode()),
]
_PIXEL_UNKNOWN: Headers = [*_PIXEL, (b"x-footfall-dropped", b"unknown_campaign")]
_LINK_NOT_FOUND: Headers = [
    *_NO_STORE,
    (b"content-type", b"text/html; charset=utf-8"),
    (b"content-length", str(len(NOT_FOUND_PAGE)).encode()),
]
_JSON_NOT_FOUND: Headers = [
    *_NO_STORE,
    (b"content-type", b"application/json"),
    (b"content-length", str(len(_TRACK_NOT_FOUND)).encode()),
]


class LinkLike(Protocol):
    """A link as the directory holds it."""

    @property
    def id(self) -> int: ...
    @property
    def site_id(self) -> int: ...
    @property
    def campaign_id(self) -> int | None: ...
    @property
    def url(self) -> str: ...


class CampaignLike(Protocol):
    """A campaign as the directory holds it."""

    @property
    def id(self) -> int: ...
    @property
    def site_id(self) -> int: ...
    @property
    def redirect_url(self) -> str | None: ...


class LinkLookup(Protocol):
    """In-process link directory: lookups never touch the database after warm-up."""

    def link(self, code: str) -> LinkLike | None: ...
    def campaign(self, code: str) -> CampaignLike | None: ...
    def campaign_by_id(self, campaign_id: int) -> CampaignLike | None: ...


class _Request:
    """What the handlers need from an ASGI scope, read in one pass over the headers."""

    __slots__ = ("method", "path", "query", "client", "referrer")

    def __init__(self, scope: Scope, trusted: Sequence[IPNetwork]) -> None:
        forwarded = user_agent = ""
        referrer: str | None = None
        for name, value in scope["headers"]:
            if name == b"user-agent":
                user_agent = value.decode("latin-1")
            elif name == b"x-forwarded-for":
                forwarded = value.decode("latin-1")
            elif name == b"referer":
                referrer = value.decode("latin-1")
        peer = scope["client"][0] if scope.get("client") else ""
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        self.query: bytes = scope.get("query_string", b"")
        self.client = Client(resolve_client_ip(peer, forwarded, trusted), user_agent)
        self.referrer = referrer


class LinkFastPath:
    """ASGI middleware: answers GET/HEAD `/u/`, `/r/` and `/track/`; passes the rest to `app`."""

    def __init__(
        self,
        app: ASGIApp,
        collector: Collector,
        directory: LinkLookup,
        signer: TokenSigner,
        trusted_proxies: Sequence[IPNetwork],
    ) -> None:
        self.app = app
        self._collector = collector
        self._directory = directory
        self._signer = signer
        self._trusted = tuple(trusted_proxies)
        self._accepted = {kind: EVENTS_ACCEPTED.labels(kind.value) for kind in Kind}
        self._latency = REQUEST_SECONDS.labels("links")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if (
            scope["type"] != "http"
            or scope["method"] not in ("GET", "HEAD")
            or not path.startswith(("/u/", "/r/", "/track/"))
        ):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request = _Request(scope, self._trusted)
        if path.startswith("/u/"):
            status, headers, body = await self.redirect(request)
        elif path.startswith("/r/"):
            status, headers, body = await self.pixel(request)
        else:
            status, headers, body = await self.track(request)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send(
            {"type": "http.response.body", "body": b"" if request.method == "HEAD" else body}
        )
        self._latency.observe(time.perf_counter() - started)

    async def redirect(self, request: _Request) -> Answer:
        """GET /u/{code}[/{token}]: 302 to the stored target, recording a click."""
        code, _, token = request.path[3:].partition("/")
        link = self._directory.link(code) if code else None
        if link is None:
            EVENTS_REJECTED.labels("link", "404").inc()
            return 404, _LINK_NOT_FOUND, NOT_FOUND_PAGE
        recipient = self._signer.verify(token) if token else None
        await self._record(
            request,
            kind=Kind.CLICK,
            site_id=link.site_id,
            url=link.url,
            link_id=link.id,
            campaign_id=link.campaign_id,
            recipient=recipient,
            platform=platform_of(request.client.user_agent),
        )
        target = link.url
        if self._lands_on_own_site(link):
            value = self._signer.attribution(
                link.site_id, link.id, link.campaign_id or 0, recipient
            )
            target = with_attribution(target, value)
        return 302, [*_REDIRECT, (b"location", target.encode("latin-1"))], b""

    def _lands_on_own_site(self, link: LinkLike) -> bool:
        # Only the link's own site can read the parameter; other hosts never see it.
        site = self._collector.site(_target_host(link.url))
        return site is not None and site.id == link.site_id

    async def pixel(self, request: _Request) -> Answer:
        """GET /r/{code}[/{token}].gif: the GIF, always; an open when the campaign is known."""
        code, token = _pixel_parts(request.path[3:])
        campaign = self._directory.campaign(code) if code else None
        if campaign is None:
            return 200, _PIXEL_UNKNOWN, PIXEL_GIF
        await self._record(
            request,
            kind=Kind.OPEN,
            site_id=campaign.site_id,
            url="",
            link_id=None,
            campaign_id=campaign.id,
            recipient=self._signer.verify(token) if token else None,
            platform=platform_of(request.client.user_agent),
        )
        return 200, _PIXEL, PIXEL_GIF

    async def track(self, request: _Request) -> Answer:
        """GET /track/{id}[?platform=]: an o7tracker click, 302 to the campaign's redirect_url."""
        raw_id = request.path[len("/track/") :]
        campaign = self._directory.campaign_by_id(int(raw_id)) if raw_id.isdigit() else None
        if campaign is None or not campaign.redirect_url:
            EVENTS_REJECTED.labels("track", "404").inc()
            return 404, _JSON_NOT_FOUND, _TRACK_NOT_FOUND
        query = dict(parse_qsl(request.query.decode("latin-1")))
        given = _PLATFORM_NAMES.get(query.get("platform", "").strip().lower())
        await self._record(
            request,
            kind=Kind.CLICK,
            site_id=campaign.site_id,
            url=campaign.redirect_url,
            link_id=None,
            campaign_id=campaign.id,
            recipient=None,
            platform=given or platform_of(request.client.user_agent),
        )
        location = campaign.redirect_url.encode("latin-1")
        return 302, [*_REDIRECT, (b"location", location)], b""

    async def _record(
        self,
        request: _Request,
        *,
        kind: Kind,
        site_id: int,
        url: str,
        link_id: int | None,
        campaign_id: int | None,
        recipient: str | None,
        platform: str,
    ) -> None:
        event = self._collector.tracked(
            site_id=site_id,
            kind=kind,
            url=url,
            referrer=request.referrer,
            client=request.client,
            link_id=link_id,
            campaign_id=campaign_id,
            recipient=recipient,
            platform=platform,
            is_bot=is_machine(kind, request.method, request.client.user_agent),
        )
        try:
            await self._collector.enqueue(Accepted([event]))
        except QueueError as exc:
            # The reader still gets the target or the pixel; only the count is lost.
            log.warning("queue refused a %s: %s", kind.value, exc)
            EVENTS_REJECTED.labels(kind.value, "503").inc()
            return
        self._accepted[kind].inc()


@lru_cache(maxsize=16_384)
def _target_host(url: str) -> str:
    """The host of a stored target (already normalized: lower case, ASCII, no credentials)."""
    return urlsplit(url).hostname or ""


def _pixel_parts(name: str) -> tuple[str, str | None]:
    """(campaign code, token or None) from `code.gif` or `code/token.gif`; ("", None) else."""
    if not name.endswith(".gif"):
        return "", None
    stem = name[: -len(".gif")]
    code, slash, token = stem.partition("/")
    return code, (token if slash else None)
