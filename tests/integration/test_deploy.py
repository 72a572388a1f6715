"""deploy/: the compose file's services, nginx's config (pixel answered and logged), the units."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import yaml

from footfall.collect.links import PIXEL_GIF
from footfall.importer.parse import parse_combined
from footfall.importer.records import pixel_parts
from footfall.settings import SETTINGS
from tests.support.server import FOOTFALL, free_port
from tests.support.services import require

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
FOOTFALL_SERVICES = {"collector-1", "collector-2", "worker-1", "worker-2", "api", "importer"}


def test_the_compose_file_runs_every_process_of_the_scaled_out_setup() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == FOOTFALL_SERVICES | {"nginx", "redis", "clickhouse", "postgres"}
    commands = {name: services[name]["command"] for name in FOOTFALL_SERVICES}
    assert sorted(n for n, c in commands.items() if c[:3] == ["serve", "--role", "collector"]) == [
        "collector-1",
        "collector-2",
    ]
    assert sorted(name for name, cmd in commands.items() if cmd[0] == "worker") == [
        "worker-1",
        "worker-2",
    ]
    assert commands["api"][:3] == ["serve", "--role", "api"]
    assert commands["importer"][:3] == ["import", "access-log", "--follow"]
    known = {spec.env for spec in SETTINGS}
    for name in FOOTFALL_SERVICES:
        environment = services[name]["environment"]
        assert environment["FOOTFALL_QUEUE_URL"].startswith("redis://redis:6379/")
        assert environment["FOOTFALL_EVENTS_URL"].startswith("clickhouse://clickhouse:9000/")
        assert environment["FOOTFALL_DATABASE_URL"].startswith("postgresql://")
        assert set(environment) <= known  # no misspelt setting
    # nginx writes the pixel log the importer follows.
    assert "nginx-logs:/var/log/nginx" in services["nginx"]["volumes"]
    assert "/var/log/nginx/footfall-pixel.log" in commands["importer"]


def _local_config(tmp_path: Path, port: int, upstream: int) -> Path:
    """deploy/nginx.conf with its log folder, listen port and upstream hosts made local."""
    text = (DEPLOY / "nginx.conf").read_text()
    text = text.replace("/var/log/nginx/", f"{tmp_path}/")
    text = text.replace("listen 80;", f"listen 127.0.0.1:{port};")
    text = re.sub(r"server (collector-\d|api):8000", f"server 127.0.0.1:{upstream}", text)
    config = tmp_path / "nginx.conf"
    config.write_text(text)
    return config


def test_nginx_answers_the_pixel_itself_and_logs_what_the_importer_reads(tmp_path: Path) -> None:
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else "")
    require(bool(nginx), "nginx is not installed (apt-get install nginx-light)")
    port = free_port()
    config = _local_config(tmp_path, port, free_port())
    globals_ = f"pid {tmp_path}/nginx.pid; daemon off;"
    checked = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(config), "-g", globals_],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    server = subprocess.Popen(
        [nginx, "-p", str(tmp_path), "-c", str(config), "-g", globals_],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                response = httpx.get(
                    f"http://127.0.0.1:{port}/r/news/tok.gif",
                    headers={"user-agent": "Thunderbird/128.0", "referer": "https://mail.example/"},
                )
                break
            except httpx.ConnectError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.05)
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/gif"
        assert response.headers["cache-control"] == "no-store, max-age=0"
        assert response.content == PIXEL_GIF or response.content.startswith(b"GIF89a")
        # Collection paths go to the collectors (none run here: 502 from nginx, not the pixel).
        assert httpx.get(f"http://127.0.0.1:{port}/u/spring").status_code == 502
    finally:
        server.terminate()
        server.wait(10)
    logged = (tmp_path / "footfall-pixel.log").read_text().splitlines()
    assert len(logged) == 1
    parsed = parse_combined(logged[0])
    assert parsed is not None
    assert (parsed.method, parsed.target, parsed.status) == ("GET", "/r/news/tok.gif", 200)
    assert (parsed.user_agent, parsed.referrer) == ("Thunderbird/128.0", "https://mail.example/")
    assert pixel_parts(parsed.target[3:]) == ("news", "tok")


def test_systemd_units_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    require(analyze is not None, "systemd-analyze is not installed")
    assert analyze is not None
    units: list[str] = []
    for unit in sorted((DEPLOY / "systemd").glob("*.service")):
        name = unit.name.replace("@.", "@9101.")  # a template is verified through an instance
        text = unit.read_text().replace("/opt/footfall/bin/footfall", FOOTFALL)
        (tmp_path / name).write_text(text)
        units.append(str(tmp_path / name))
    assert len(units) == 4
    result = subprocess.run(
        [analyze, "verify", "--man=no", *units], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "footfall" not in result.stderr, result.stderr
