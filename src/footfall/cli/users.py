"""`footfall user ...`: create users from the command line."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from footfall.accounts.passwords import validate_password
from footfall.accounts.users import create_user
from footfall.cli.metadata import metadata_session
from footfall.meta.models import Role
from footfall.settings import Settings


def create(
    ctx: typer.Context,
    username: Annotated[str, typer.Option(help="Login name.")],
    role: Annotated[Role, typer.Option(help="What the user may do.")],
    password: Annotated[
        str | None,
        typer.Option(help="At least 10 characters; asked for (not echoed) when omitted."),
    ] = None,
    email: Annotated[str | None, typer.Option(help="Email address.")] = None,
) -> None:
    """Create a user who can log in to the dashboard and the API."""
    settings: Settings = ctx.obj.settings
    if password is None:
        password = _ask_password()
    with metadata_session(settings) as session:
        user = create_user(session, username, password, role.value, email=email)
    Console(highlight=False, soft_wrap=True).print(
        f"created user {escape(user.username)} (role {user.role}, id {user.id})"
    )


def _ask_password() -> str:
    if not sys.stdin.isatty():
        raise ValueError("give --password: there is no terminal to ask for it on")
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    validate_password(password)
    return password
