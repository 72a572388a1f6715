"""What API routes depend on: the process's long-lived services, reached through FastAPI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.engine import Engine

from footfall.meta.sites import SiteDirectory
from footfall.settings import Settings
from footfall.store.base import EventStore


@dataclass(frozen=True)
class Services:
    """Opened once per process by `footfall.asgi.create_app`; routes read them, never reopen."""

    settings: Settings
    engine: Engine  # metadata database (users, sites, keys, ...)
    sites: SiteDirectory  # in-process site snapshot; call sites.invalidate() after site writes
    store: EventStore  # event store (reads only from API routes; the writer owns inserts)


def get_services(request: Request) -> Services:
    """FastAPI dependency: the services of the app serving this request."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
