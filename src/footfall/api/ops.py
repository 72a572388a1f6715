"""Operations endpoints: /healthz (process up), /readyz (store, queue, writer), /metrics."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Protocol

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from footfall.metrics import QUEUE_BYTES
from footfall.queue.base import Producer
from footfall.settings import Settings
from footfall.store.base import EventStore

log = logging.getLogger(__name__)


class WriterState(Protocol):
    """What readiness needs to know of the writer."""

    def is_alive(self) -> bool: ...

    @property
    def last_error(self) -> str | None: ...


@dataclass
class Health:
    """The parts whose state decides readiness."""

    store: EventStore
    producer: Producer
    writer: WriterState
    settings: Settings

    def problems(self) -> list[str]:
        """Why this process should not take traffic now; empty when ready."""
        problems: list[str] = []
        try:
            self.store.execute("SELECT 1")
        except Exception as exc:  # any store failure means not ready; the reason is reported
            problems.append(f"event store: {exc}")
        if not self.writer.is_alive():
            problems.append(f"writer stopped: {self.writer.last_error or 'not running'}")
        depth = self.producer.depth_bytes()
        if depth >= self.settings.spool_max_bytes:
            problems.append(f"queue full: {depth} bytes held")
        return problems


def ops_routes(health: Health) -> list[Route]:
    """Routes for probes and scraping (no auth: they reveal no data; bind /metrics privately)."""

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(request: Request) -> Response:
        problems = await asyncio.to_thread(health.problems)
        if problems:
            return JSONResponse({"status": "unavailable", "problems": problems}, status_code=503)
        return JSONResponse({"status": "ready"})

    async def metrics(request: Request) -> Response:
        QUEUE_BYTES.set(health.producer.depth_bytes())
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return [
        Route("/healthz", healthz, methods=["GET", "HEAD"]),
        Route("/readyz", readyz, methods=["GET", "HEAD"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
