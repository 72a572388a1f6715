"""Documentation stays complete: every setting and CLI command is described in docs/."""

from __future__ import annotations

from pathlib import Path

import typer.main

from footfall.cli import app
from footfall.settings import SETTINGS

DOCS = Path(__file__).resolve().parents[3] / "docs"


def test_every_setting_is_documented() -> None:
    text = (DOCS / "settings.md").read_text()
    missing = [spec.env for spec in SETTINGS if f"`{spec.env}`" not in text]
    assert missing == []


def _commands(group: typer.Typer, prefix: str = "") -> list[str]:
    names: list[str] = []
    command = typer.main.get_command(group)
    for name, sub in getattr(command, "commands", {}).items():
        full = f"{prefix}{name}"
        if getattr(sub, "commands", None):
            names.extend(f"{full} {child}" for child in sub.commands)
        else:
            names.append(full)
    return names


def test_every_cli_command_is_documented() -> None:
    text = (DOCS / "cli.md").read_text()
    commands = _commands(app)
    assert {"serve", "init", "demo", "migrate", "user create", "site create"} <= set(commands)
    missing = [name for name in commands if f"footfall {name}" not in text]
    assert missing == []
