"""`footfall links create/list` and `footfall campaign create` on a real data dir."""

from __future__ import annotations

import os
from pathlib import Path

from typer.testing import CliRunner, Result

from footfall.cli import app


def _run(data_dir: Path, *args: str) -> Result:
    env: dict[str, str | None] = {name: None for name in os.environ if name.startswith("FOOTFALL_")}
    return CliRunner().invoke(app, ["--data-dir", str(data_dir), *args], env=env)


def test_campaign_and_links_from_the_command_line(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    assert _run(data_dir, "init").exit_code == 0
    campaign = _run(data_dir, "campaign", "create", "--name", "Spring", "--site", "localhost")
    assert campaign.exit_code == 0, campaign.output
    assert "created campaign Spring" in campaign.stdout and "/r/" in campaign.stdout

    created = _run(
        data_dir,
        "links",
        "create",
        "--url",
        "https://example.com/spring",
        "--site",
        "localhost",
        "--campaign",
        "Spring",
        "--code",
        "spring",
    )
    assert created.exit_code == 0, created.output
    assert "/u/spring -> https://example.com/spring" in created.stdout

    listed = _run(data_dir, "links", "list", "--site", "localhost", "--campaign", "Spring")
    assert listed.exit_code == 0, listed.output
    assert "spring" in listed.stdout and "https://example.com/spring" in listed.stdout


def test_mistakes_are_one_line_errors(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    assert _run(data_dir, "init").exit_code == 0
    for args, fragment in [
        (("links", "create", "--url", "javascript:alert(1)", "--site", "localhost"), "http"),
        (("links", "create", "--url", "https://e.com/", "--site", "nope.example"), "no site"),
        (("links", "list", "--site", "localhost", "--campaign", "missing"), "no campaign"),
        (("campaign", "create", "--name", "x", "--site", "localhost", "--code", "a/b"), "code"),
    ]:
        result = _run(data_dir, *args)
        assert result.exit_code == 1, result.output
        assert result.stderr.startswith("error: ") and fragment in result.stderr
        assert "Traceback" not in result.output
