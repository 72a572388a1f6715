"""create_app(settings): the ASGI application, wiring stores, queue, writer and routers by role.

Embedded mode (`--role all`) runs collectors, the writer and the API in this one process, since
DuckDB allows one writing process. The collection routes come first and are plain Starlette; the
FastAPI application (documented API, /docs, /openapi.json) is mounted behind them.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from footfall.accounts.keys import ApiKeyVerifier
from footfall.api import create_api
from footfall.api.deps import Services
from footfall.api.ops import Health, ops_routes
from footfall.collect.collector import Collector
from footfall.collect.fast import ApiEventFastPath
from footfall.collect.links import LinkFastPath
from footfall.collect.ratelimit import CollectLimits
from footfall.collect.routes import CollectConfig, collection_routes
from footfall.collect.script import TrackerScript
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
from footfall.queue import open_queue
from footfall.settings import Settings
from footfall.store import DuckDBEventStore, SessionStore, open_event_store

log = logging.getLogger("footfall")

ROLES = ("all", "collector", "api")
# Visitors whose open visit the sessionizer remembers (~350 bytes each). Far above the visitors
# active within one session timeout on an instance of this size; beyond it the longest idle go.
SESSION_MAX_VISITORS = 200_000


class RoleError(ValueError):
    """A role that cannot run with these settings."""


def check_role(role: str) -> None:
    """Raise RoleError when `role` cannot run with these settings (before anything is opened)."""
    if role not in ROLES:
        raise RoleError(f"--role {role}: choose one of {', '.join(ROLES)}")
    if role != "all":
        raise RoleError(
            f"--role {role} runs collectors and API servers apart from the writer, which needs "
            "a shared queue and event store; the embedded spool and DuckDB serve only --role all"
        )


def create_app(settings: Settings | None = None, role: str = "all") -> Starlette:
    """Build the application for `role`; opens stores now and starts the writer at startup."""
    settings = (settings or Settings.load()).with_secret()
    check_role(role)
    engine = make_engine(settings.database_url)
    upgrade(settings.database_url)
    sites = SiteDirectory(engine)
    salts = SaltKeeper(engine)
    keys = ApiKeyVerifier(engine)
    links = LinkDirectory(engine)
    producer, consumer = open_queue(settings)
    store = open_event_store(settings)
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
    collector = Collector(
        sites=sites,
        salts=salts,
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
    health = Health(store=store, producer=producer, writer=writer, settings=settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        writer.start()
        log.info("footfall serving %s (events: %s)", settings.base_url, settings.events_url)
        try:
            yield
        finally:
            writer.stop(timeout=10.0)
            producer.close()
            consumer.close()
            store.close()
            engine.dispose()

    api = create_api(Services(settings, engine, sites, store))
    api.state.links = links  # the links API invalidates the redirect cache after its writes
    routes = [
        *collection_routes(collector, keys, config, TrackerScript()),
        *ops_routes(health),
        Mount("/", app=api),
    ]
    app = FootfallApp(
        routes=routes,
        lifespan=lifespan,
        hot_paths=[
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
                directory=links,
                signer=TokenSigner(settings.secret_key),
                trusted_proxies=settings.trusted_proxies,
            ),
        ],
        middleware=[Middleware(RequestTimer)],
    )
    app.state.settings = settings
    app.state.store = store
    app.state.writer = writer
    app.state.sites = sites
    app.state.links = links
    app.state.engine = engine
    return app


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
    """Entry point for `uvicorn --factory footfall.asgi:app_factory` (settings from env)."""
    return create_app()
