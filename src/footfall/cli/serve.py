"""`footfall serve`: run the HTTP server (collectors, writer, API) with uvicorn, by role."""

from __future__ import annotations

import logging
import os
import sys
from typing import Annotated, Any

import typer
import uvicorn
from rich.console import Console

from footfall.asgi import ROLE_ENV, RoleError, check_role, create_app
from footfall.cli.init import initialize
from footfall.collect.script import TrackerScriptMissing
from footfall.settings import Settings

console = Console(stderr=True)


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    role: Annotated[
        str, typer.Option(help="all (embedded), collector or api (scale-out).")
    ] = "all",
    workers: Annotated[int, typer.Option(help="Server processes (scale-out roles only).")] = 1,
) -> None:
    """Serve collection, the API and the dashboard; SIGTERM drains queued events first."""
    settings: Settings = ctx.obj.settings if ctx.obj is not None else Settings.load()
    if workers != 1 and role == "all":
        raise typer.BadParameter(
            "the embedded stores take one process: use --workers with --role collector or api",
            param_hint="--workers",
        )
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)  # migrations report through `init`
    try:
        check_role(role, settings)
    except RoleError as exc:
        console.print(f"[red]error:[/red] {exc}")
        sys.exit(2)
    # The same idempotent set-up as `footfall init`: a fresh data dir just works, and the first
    # admin from FOOTFALL_ADMIN_USER/PASSWORD is created on first start.
    report = initialize(settings)
    settings = report.settings
    url = f"http://{host}:{port}"
    if report.generated_password:
        console.print(
            f"Created the first admin: log in at {settings.base_url} as [bold]{report.admin}"
            f"[/bold] with password [bold]{report.generated_password}[/bold] (shown only now)."
        )
    target: Any = "footfall.asgi:app_factory"
    if workers > 1:
        # Each uvicorn worker process builds its own app from the environment.
        os.environ[ROLE_ENV] = role
        os.environ["FOOTFALL_DATA_DIR"] = str(settings.data_dir)
    else:
        try:
            target = create_app(settings, role=role)
        except (RoleError, TrackerScriptMissing) as exc:
            console.print(f"[red]error:[/red] {exc}")
            sys.exit(2)
    console.print(
        f"[bold]Footfall[/bold] on [link={url}]{url}[/link] — dashboard at {url}/sites, "
        f"API docs at {url}/docs, tracker at {url}/js/script.js"
    )
    uvicorn.run(
        target,
        factory=workers > 1,
        workers=workers,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level=settings.log_level.lower(),
        lifespan="on",
        timeout_graceful_shutdown=8,
        server_header=False,
        # Footfall resolves the client address itself, trusting X-Forwarded-For only from
        # FOOTFALL_TRUSTED_PROXIES; uvicorn's own rewrite would trust any local peer.
        proxy_headers=False,
    )
