"""create_app(settings, role): the ASGI application, wiring stores, queue, writer, routes by role.

Embedded mode (`--role all`) runs collectors, the writer and the API in this one process, since
DuckDB allows one writing process. Scale-out splits it: `--role collector` (collection only,
appending to Redis), `--role api` (API and dashboard over ClickHouse) and `footfall worker`.
The collection routes come first and are plain Starlette; the FastAPI application (documented
API, /docs, /openapi.json) is mounted behind them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from footfall.accounts.keys import ApiKeyVerifier, announce_key_changes, forget_api_keys
from footfall.api import create_api
from footfall.api.deps import Services
from footfall.api.ops import Health, ops_routes
from footfall.collect.collector import Collector
from footfall.collect.fast import ApiEventFastPath
from footfall.collect.links import LinkFastPath
from footfall.collect.ratelimit import CollectLimits
from footfall.collect.routes import CollectConfig, collection_routes
from footfall.collect.script import TrackerScript
from footfall.enrich.geo import use_city_database
from footfall.links.directory import LinkDirectory
from footfall.links.tokens import TokenSigner
from footfall.meta.db import make_engine
from footfall.meta.migrate import upgrade
from footfall.meta.salts import SaltKeeper
from footfall.meta.sites import SiteDirectory
from footfall.metrics import REQUEST_SECONDS
from footfall.pipeline.offload import EnrichmentProcess, OffloadedLoader
from footfall.pipeline.steps import Enricher
from footfall.pipeline.writer import BatchLoader, InlineLoader, Writer
from footfall.queue import Producer, QueueError, open_queue
from footfall.queue.base import AsyncProducer
from footfall.queue.broadcast import (
    API_KEYS,
    InvalidationBus,
    SharedLinkDirectory,
    SharedSiteDirectory,
)
from footfall.queue.redis import RedisProducer, RedisQueueConfig
from footfall.settings import Settings, url_scheme
from footfall.store import DuckDBEventStore, SessionStore, open_event_store

log = logging.getLogger("footfall")

ROLES = ("all", "collector", "api")
ROLE_ENV = "FOOTFALL_SERVE_ROLE"
_SHARED_QUEUES = ("redis", "rediss")
# Visitors whose open visit the sessionizer remembers (~350 bytes each). Far above the visitors
# active within one session timeout on an instance of this size; beyond it the longest idle go.
SESSION_MAX_VISITORS = 200_000


class RoleError(ValueError):
    """A role that cannot run with these settings."""


def check_role(role: str, settings: Settings | None = None) -> None:
    """Raise RoleError when `role` cannot run with these settings (before anything is opened).

    The scale-out roles run apart from the writer, so they need a shared queue (Redis), and
    the api role reads an event store that worker processes write (ClickHouse).
    """
    if role not in ROLES:
        raise RoleError(f"--role {role}: choose one of {', '.join(ROLES)}")
    if role == "all":
        return
    settings = settings or Settings.load()
    if url_scheme(settings.queue_url) not in _SHARED_QUEUES:
        raise RoleError(
            f"--role {role} runs apart from the writer and needs a shared queue "
            "(FOOTFALL_QUEUE_URL=redis://host:6379/0); the embedded spool serves only --role all"
        )
    if role == "api" and url_scheme(settings.events_url) == "duckdb":
        raise RoleError(
            "--role api reads the event store that `footfall worker` processes write and needs "
            "FOOTFALL_EVENTS_URL=clickhouse://...; the embedded DuckDB serves only --role all"
        )


@dataclass
class _Parts:
    """What the roles share: metadata, the hot-path caches and what to close at shutdown."""

    settings: Settings
    engine: Engine
    sites: SiteDirectory
    links: LinkDirectory
    starters: list[Callable[[], None]] = field(default_factory=list)
    closers: list[Callable[[], None]] = field(default_factory=list)
    # Run first at shutdown, on the event loop: what belongs to it (async connections).
    async_closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


def create_app(settings: Settings | None = None, role: str = "all") -> Starlette:
    """Build the application for `role`; opens stores now and starts the writer at startup.

    all: collection, writer and API in one process (embedded). collector: collection routes
    and probes, appending to Redis, no event store. api: API and dashboard over the shared
    event store, no collection routes. The scale-out roles share cache invalidations through
    Redis pub/sub.
    """
    settings = (settings or Settings.load()).with_secret()
    check_role(role, settings)
    engine = make_engine(settings.database_url)
    upgrade(settings.database_url)
    if role == "all":
        parts = _Parts(settings, engine, SiteDirectory(engine), LinkDirectory(engine))
    else:
        bus = InvalidationBus(settings.queue_url)
        parts = _Parts(
            settings, engine, SharedSiteDirectory(engine, bus), SharedLinkDirectory(engine, bus)
        )
        # A key revoked (or a user disabled) in any process is refused by all of them at once.
        announce_key_changes(engine, bus.share(API_KEYS, lambda: forget_api_keys(engine)))
        parts.starters.append(bus.start)
        parts.closers.append(bus.close)
    routes: list[BaseRoute] = []
    hot_paths: list[Middleware] = []
    store: SessionStore | None = None
    writer: Writer | None = None
    if role == "all":
        store = open_event_store(settings)
        writer = _embedded(parts, store, routes, hot_paths)
        routes.append(_api_mount(parts, store))
    elif role == "collector":
        _collector(parts, routes, hot_paths)
    else:
        store = open_event_store(settings)
        parts.closers.append(store.close)
        routes.extend(_probes(lambda: _store_problems(store)))
        routes.append(_api_mount(parts, store))
    parts.closers.append(engine.dispose)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        for start in parts.starters:
            start()
        log.info(
            "footfall serving %s as %s (events: %s)", settings.base_url, role, settings.events_url
        )
        try:
            yield
        finally:
            for aclose in parts.async_closers:
                await aclose()
            for close in parts.closers:
                close()

    # Pages, scripts, styles and API answers go out gzipped to clients that take it (the
    # dashboard's 118 KB become 34 KB); event streams and the hot paths are left alone.
    middleware = [Middleware(RequestTimer), Middleware(GZipMiddleware, minimum_size=1024)]
    app = FootfallApp(routes=routes, lifespan=lifespan, hot_paths=hot_paths, middleware=middleware)
    app.state.settings = settings
    app.state.store = store
    app.state.writer = writer
    app.state.sites = parts.sites
    app.state.links = parts.links
    app.state.engine = engine
    app.state.role = role
    return app


def _api_mount(parts: _Parts, store: SessionStore) -> Mount:
    """The FastAPI application (API, dashboard, docs) over `store`."""
    api = create_api(Services(parts.settings, parts.engine, parts.sites, store))
    api.state.links = parts.links  # the links API invalidates the redirect cache after writes
    return Mount("/", app=api)


def _embedded(
    parts: _Parts, store: SessionStore, routes: list[BaseRoute], hot_paths: list[Middleware]
) -> Writer:
    """--role all: collection and the writer over the spool (or any queue) in this process."""
    settings = parts.settings
    producer, consumer = open_queue(settings)
    writer = Writer(
        consumer,
        store,
        _batch_loader(settings, store),
        batch_size=settings.batch_size,
        flush_interval=settings.flush_interval,
        checkpoint_interval=settings.checkpoint_interval,
        session_timeout_s=settings.session_timeout,
        retention_months=settings.retention_months,
    )
    collector_routes, collector_paths = _collection(parts, producer)
    health = Health(store=store, producer=producer, writer=writer, settings=settings)
    routes.extend([*collector_routes, *ops_routes(health)])
    hot_paths.extend(collector_paths)
    parts.starters.append(writer.start)

    def close() -> None:
        writer.stop(timeout=10.0)
        producer.close()
        consumer.close()
        store.close()

    parts.closers.append(close)
    return writer


def _collector(parts: _Parts, routes: list[BaseRoute], hot_paths: list[Middleware]) -> None:
    """--role collector: collection routes and probes; records go to Redis, workers store them."""
    producer = RedisProducer(RedisQueueConfig.from_url(parts.settings.queue_url))
    collector_routes, collector_paths = _collection(parts, producer)
    routes.extend([*collector_routes, *_probes(lambda: _queue_problems(producer))])
    hot_paths.extend(collector_paths)
    parts.closers.append(producer.close)


def _collection(parts: _Parts, producer: Producer) -> tuple[list[BaseRoute], list[Middleware]]:
    """The collection routes and the hot paths ahead of them, appending to `producer`."""
    settings, engine = parts.settings, parts.engine
    use_city_database(settings.geoip_city_path)
    if isinstance(producer, AsyncProducer):
        parts.async_closers.append(producer.aclose)
    collector = Collector(
        sites=parts.sites,
        salts=SaltKeeper(engine),
        producer=producer,
        secret_key=settings.secret_key.encode(),
        clock_ms=lambda: time.time_ns() // 1_000_000,
    )
    limits = CollectLimits.in_process(settings.rate_limit_ip, settings.rate_limit_site)
    config = CollectConfig(
        trusted_proxies=settings.trusted_proxies,
        max_body_bytes=settings.max_body_bytes,
        max_batch_bytes=settings.max_batch_bytes,
        default_site=settings.default_site,
        limits=limits,
    )
    keys = ApiKeyVerifier(engine, ttl_s=settings.key_cache_ttl)
    routes = collection_routes(collector, keys, config, TrackerScript())
    hot_paths = [
        Middleware(
            ApiEventFastPath,
            collector=collector,
            trusted_proxies=settings.trusted_proxies,
            max_body_bytes=settings.max_body_bytes,
            limits=limits,
        ),
        Middleware(
            LinkFastPath,
            collector=collector,
            directory=parts.links,
            signer=TokenSigner(settings.secret_key),
            trusted_proxies=settings.trusted_proxies,
        ),
    ]
    return list(routes), hot_paths


def _queue_problems(producer: RedisProducer) -> list[str]:
    try:
        producer.depth()
    except QueueError as exc:
        return [f"queue: {exc}"]
    return []


def _store_problems(store: SessionStore) -> list[str]:
    try:
        store.execute("SELECT 1")
    except Exception as exc:  # any store failure means not ready; the reason is reported
        return [f"event store: {exc}"]
    return []


def _probes(problems: Callable[[], list[str]]) -> list[BaseRoute]:
    """/healthz, /readyz and /metrics of the scale-out roles (readiness from `problems`)."""

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(request: Request) -> Response:
        found = await asyncio.to_thread(problems)
        if found:
            return JSONResponse({"status": "unavailable", "problems": found}, status_code=503)
        return JSONResponse({"status": "ready"})

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return [
        Route("/healthz", healthz, methods=["GET", "HEAD"]),
        Route("/readyz", readyz, methods=["GET", "HEAD"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]


def _batch_loader(settings: Settings, store: SessionStore) -> BatchLoader:
    """Enrich in a child process for DuckDB (the server's GIL stays with the collectors)."""
    secret = settings.secret_key.encode()
    if isinstance(store, DuckDBEventStore):

        def open_sessions() -> list[tuple[int, int, int, int]]:
            since = datetime.now(UTC) - timedelta(seconds=settings.session_timeout)
            return store.recent_sessions(since)

        process = EnrichmentProcess(
            secret_key=secret,
            session_timeout_s=settings.session_timeout,
            max_visitors=SESSION_MAX_VISITORS,
            work_dir=settings.data_dir / "batches",
            recent_sessions=open_sessions,
        )
        return OffloadedLoader(store, process)
    enricher = Enricher(
        secret_key=secret,
        session_timeout_s=settings.session_timeout,
        max_visitors=SESSION_MAX_VISITORS,
    )
    return InlineLoader(store, enricher)


class FootfallApp(Starlette):
    """The application; its hot paths answer ahead of Starlette's own middleware stack.

    `/api/event`, `/u/`, `/r/` and `/track/` are answered by bare ASGI handlers that check the
    path first and pass everything else on; placing them outermost spares every pageview and
    redirect the error and exception middleware layers (they handle their own errors).
    """

    def __init__(self, *, hot_paths: list[Middleware], **kwargs: Any) -> None:
        self._hot_paths = hot_paths
        super().__init__(**kwargs)

    def build_middleware_stack(self) -> ASGIApp:
        """Starlette's stack, wrapped by the hot paths (the first listed is outermost)."""
        app = super().build_middleware_stack()
        for cls, args, kwargs in reversed(self._hot_paths):
            app = cls(app, *args, **kwargs)
        return app


class RequestTimer:
    """Records request latency per route group in a Prometheus histogram (pure ASGI, cheap)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            REQUEST_SECONDS.labels(_route_group(scope["path"])).observe(
                time.perf_counter() - started
            )


def _route_group(path: str) -> str:
    """A bounded label set: never the raw path (that would let clients create metrics)."""
    if path == "/api/event":
        return "event"
    if path.startswith("/api/v1/events") or path == "/api/v1/conversions" or path == "/analytics":
        return "server_events"
    if path.startswith("/js/"):
        return "script"
    if path in {"/healthz", "/readyz", "/metrics"}:
        return "ops"
    return "api"


def app_factory() -> Starlette:
    """Entry point for `uvicorn --factory footfall.asgi:app_factory` (settings from env; the
    role from FOOTFALL_SERVE_ROLE, which `footfall serve --workers N` sets for its children)."""
    return create_app(role=os.environ.get(ROLE_ENV, "all"))
