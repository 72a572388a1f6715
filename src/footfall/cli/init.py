"""`footfall init`: data folder, secret key, schemas, default site and first admin; idempotent."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.orm import Session

from footfall.accounts.users import count_users, create_user
from footfall.meta.db import make_engine, session_scope
from footfall.meta.migrate import current_revision, upgrade
from footfall.meta.models import Role
from footfall.meta.sites import create_site, get_site
from footfall.settings import Settings
from footfall.store import open_event_store

DEFAULT_ADMIN = "admin"


@dataclass
class InitReport:
    """What one `initialize` run changed; empty `changes` means everything was in place."""

    settings: Settings
    changes: list[str] = field(default_factory=list)
    admin: str | None = None
    generated_password: str | None = None


def initialize(settings: Settings) -> InitReport:
    """Bring an instance to a usable state, creating only what is missing.

    Creates the data folder and secret key, migrates the metadata schema, creates the event
    store schema, the default site, and the first admin when no user exists: the one named by
    FOOTFALL_ADMIN_USER/PASSWORD, else `admin` with a random password (returned, never stored).
    """
    report = InitReport(settings)
    if not settings.data_dir.is_dir():
        settings.data_dir.mkdir(parents=True)
        report.changes.append(f"created data folder {settings.data_dir}")
    if not settings.secret_key and not (settings.data_dir / "secret_key").exists():
        report.changes.append("generated the instance secret key")
    settings = report.settings = settings.with_secret()

    before = current_revision(settings.database_url)
    after = upgrade(settings.database_url)
    if before != after:
        report.changes.append(f"metadata schema migrated to revision {after}")
    _open_store(settings)

    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as session:
            if get_site(session, settings.default_site) is None:
                site = create_site(session, settings.default_site)
                report.changes.append(f"created site {site.domain}")
        with session_scope(engine) as session:
            if count_users(session) == 0:
                _create_first_admin(session, settings, report)
    finally:
        engine.dispose()
    return report


def _open_store(settings: Settings) -> None:
    # Opening the store creates its schema when missing; nothing else is needed from it here.
    try:
        store = open_event_store(settings)
    except Exception as exc:
        # Any store failure (locked file, unreachable server) is reported, not a traceback.
        raise OSError(f"cannot open the event store {settings.events_url}: {exc}") from exc
    store.close()


def _create_first_admin(session: Session, settings: Settings, report: InitReport) -> None:
    if settings.admin_user:
        if not settings.admin_password:
            raise ValueError("FOOTFALL_ADMIN_PASSWORD must be set along with FOOTFALL_ADMIN_USER")
        username, password = settings.admin_user, settings.admin_password
    else:
        username, password = DEFAULT_ADMIN, secrets.token_urlsafe(18)
        report.generated_password = password
    create_user(session, username, password, Role.ADMIN.value)
    report.admin = username
    report.changes.append(f"created admin user {username}")


def init(ctx: typer.Context) -> None:
    """Create the data folder, schemas, default site and first admin; safe to run again."""
    report = initialize(ctx.obj.settings)
    console = Console(highlight=False, soft_wrap=True)
    settings = report.settings
    if not report.changes:
        console.print(
            f"Footfall is ready at {escape(settings.base_url)} "
            f"(data in {escape(str(settings.data_dir))}): nothing to change."
        )
        return
    for change in report.changes:
        console.print(f"[green]✓[/green] {escape(change)}")
    console.print(f"Footfall is ready at {escape(settings.base_url)}")
    if report.generated_password is not None:
        console.print(
            f"Log in as [bold]{escape(report.admin or DEFAULT_ADMIN)}[/bold] with password "
            f"[bold]{escape(report.generated_password)}[/bold]  (shown only this once)"
        )
