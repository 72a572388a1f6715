"""`footfall serve` refuses what the embedded stores cannot do, with a clear message."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support.server import FOOTFALL


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workers", "2"], "--role collector or api"),
        (["--role", "collector"], "shared queue"),
        (["--role", "api"], "shared queue"),
        (["--role", "everything"], "choose one of all, collector, api"),
    ],
)
def test_serve_refuses_roles_the_embedded_stores_cannot_serve(
    tmp_path: Path, args: list[str], message: str
) -> None:
    env = {**os.environ, "FOOTFALL_DATA_DIR": str(tmp_path / "data")}
    result = subprocess.run(
        [FOOTFALL, "serve", "--port", "1", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert message in " ".join((result.stderr + result.stdout).split())
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "data").exists()  # refused before anything was created
