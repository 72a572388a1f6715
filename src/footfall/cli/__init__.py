"""The `footfall` command: global options, subcommand registry, and one-line error reporting."""

from __future__ import annotations

import functools
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from footfall import __version__
from footfall.cli import importer, links, sites, users
from footfall.cli.demo import demo
from footfall.cli.export import export
from footfall.cli.init import init
from footfall.cli.migrate import migrate
from footfall.cli.serve import serve
from footfall.cli.worker import worker
from footfall.meta.migrate import SchemaNotCurrentError
from footfall.settings import Settings

P = ParamSpec("P")
R = TypeVar("R")

# Errors a user causes or can fix (bad input, unreachable database, unmigrated schema, a
# folder without permission): reported as one line, never as a traceback.
USER_ERRORS = (ValueError, OSError, SchemaNotCurrentError, SQLAlchemyError)


class CliState:
    """What the global options decided; every command reads it as `ctx.obj`."""

    def __init__(self, data_dir: Path | None = None) -> None:
        self.data_dir = data_dir

    @cached_property
    def settings(self) -> Settings:
        """Settings from the environment, with the command line's options taking precedence."""
        overrides: dict[str, Any] = {}
        if self.data_dir is not None:
            overrides["data_dir"] = str(self.data_dir)
        return Settings.load(overrides)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        lines = str(exc.orig).strip().splitlines()
        return f"metadata database: {lines[0] if lines else type(exc.orig).__name__}"
    if isinstance(exc, SQLAlchemyError):
        return f"metadata database: {exc}"
    return str(exc)


def reports_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Wrap a command so that USER_ERRORS print `error: ...` on stderr and exit with code 1."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except USER_ERRORS as exc:
            Console(stderr=True, highlight=False, soft_wrap=True).print(
                f"[red]error:[/red] {escape(_describe(exc))}"
            )
            raise typer.Exit(1) from exc

    return run


app = typer.Typer(
    name="footfall",
    help="Footfall: self-hosted web, link and email campaign analytics.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"footfall {__version__}")
        raise typer.Exit()


@app.callback()
def _global_options(
    ctx: typer.Context,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Folder for the embedded stores, spool and secret key "
            "(overrides FOOTFALL_DATA_DIR).",
            file_okay=False,
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Settings come from FOOTFALL_* environment variables; options given here override them."""
    ctx.obj = CliState(data_dir)


# In the order of the public contract (API.md section 6).
app.command("serve")(reports_errors(serve))
app.command("init")(reports_errors(init))

user_app = typer.Typer(help="Manage users.", no_args_is_help=True)
user_app.command("create")(reports_errors(users.create))
app.add_typer(user_app, name="user")

site_app = typer.Typer(help="Manage sites.", no_args_is_help=True)
site_app.command("create")(reports_errors(sites.create))
app.add_typer(site_app, name="site")

links_app = typer.Typer(help="Manage tracked links.", no_args_is_help=True)
links_app.command("create")(reports_errors(links.create_link))
links_app.command("list")(reports_errors(links.list_links))
app.add_typer(links_app, name="links")

campaign_app = typer.Typer(help="Manage e-mail campaigns.", no_args_is_help=True)
campaign_app.command("create")(reports_errors(links.create_campaign))
app.add_typer(campaign_app, name="campaign")

app.command("export")(reports_errors(export))
app.command("demo")(reports_errors(demo))
app.command("migrate")(reports_errors(migrate))
app.command("worker")(reports_errors(worker))

import_app = typer.Typer(help="Import events from other sources.", no_args_is_help=True)
import_app.command("access-log")(reports_errors(importer.access_log))
app.add_typer(import_app, name="import")


def main() -> None:
    """Entry point of the `footfall` console script."""
    app(prog_name="footfall")
