"""Metadata (sites, users, API keys, salts) in SQLite or PostgreSQL, with Alembic migrations."""

from footfall.meta.db import make_engine, session_scope
from footfall.meta.migrate import SchemaNotCurrentError, current_revision, ensure_current, upgrade
from footfall.meta.models import ApiKey, Base, Role, Salt, Scope, Site, User
from footfall.meta.salts import SaltKeeper
from footfall.meta.sites import (
    SiteDirectory,
    SiteInfo,
    create_site,
    get_site,
    list_sites,
    normalize_domain,
)

__all__ = [
    "ApiKey",
    "Base",
    "Role",
    "Salt",
    "SaltKeeper",
    "SchemaNotCurrentError",
    "Scope",
    "Site",
    "SiteDirectory",
    "SiteInfo",
    "User",
    "create_site",
    "current_revision",
    "ensure_current",
    "get_site",
    "list_sites",
    "make_engine",
    "normalize_domain",
    "session_scope",
    "upgrade",
]
