"""The `footfall` command: init (idempotent), migrate, user create, site create, clear errors."""

from __future__ import annotations

import os
import pty
import re
import select as io_select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner, Result

import footfall
from footfall.accounts.passwords import verify_password
from footfall.cli import app
from footfall.meta.db import make_engine, session_scope
from footfall.meta.migrate import head_revision
from footfall.meta.models import Site, User

PASSWORD_LINE = re.compile(r"Log in as (\S+) with password (\S+)")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def env() -> dict[str, str | None]:
    """An environment without the caller's FOOTFALL_* settings."""
    return {name: None for name in os.environ if name.startswith("FOOTFALL_")}


def run(data_dir: Path, env: dict[str, str | None], *args: str) -> Result:
    return CliRunner().invoke(app, ["--data-dir", str(data_dir), *args], env=env)


@pytest.fixture
def initialized(data_dir: Path, env: dict[str, str | None]) -> Path:
    result = run(data_dir, env, "init")
    assert result.exit_code == 0, result.output
    return data_dir


@pytest.fixture
def meta(initialized: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{initialized / 'footfall.sqlite3'}")
    yield engine
    engine.dispose()


def assert_one_line_error(result: Result, fragment: str) -> None:
    assert result.exit_code == 1, result.output
    assert fragment in result.stderr
    assert result.stderr.startswith("error: ")
    assert result.stderr.strip().count("\n") == 0
    assert "Traceback" not in result.output


def test_init_creates_everything_once_and_shows_the_password_once(
    data_dir: Path, env: dict[str, str | None]
) -> None:
    first = run(data_dir, env, "init")
    assert first.exit_code == 0, first.output
    match = PASSWORD_LINE.search(first.stdout)
    assert match is not None, first.stdout
    username, password = match.groups()
    assert username == "admin" and len(password) >= 20
    assert "http://127.0.0.1:8000" in first.stdout
    assert (data_dir / "secret_key").is_file()
    assert (data_dir / "events.duckdb").is_file()

    engine = make_engine(f"sqlite:///{data_dir / 'footfall.sqlite3'}")
    try:
        with session_scope(engine) as session:
            users = list(session.scalars(select(User)))
            sites = list(session.scalars(select(Site.domain)))
        assert [(u.username, u.role) for u in users] == [("admin", "admin")]
        assert verify_password(users[0].password_hash, password)[0]
        assert sites == ["localhost"]
        secret = (data_dir / "secret_key").read_text()

        second = run(data_dir, env, "init")
        assert second.exit_code == 0, second.output
        assert "nothing to change" in second.stdout
        assert password not in second.output
        assert PASSWORD_LINE.search(second.stdout) is None
        with session_scope(engine) as session:
            assert len(list(session.scalars(select(User)))) == 1
            assert list(session.scalars(select(Site.domain))) == ["localhost"]
        assert (data_dir / "secret_key").read_text() == secret
    finally:
        engine.dispose()


def test_init_takes_the_admin_from_the_environment(
    data_dir: Path, env: dict[str, str | None]
) -> None:
    env |= {"FOOTFALL_ADMIN_USER": "root", "FOOTFALL_ADMIN_PASSWORD": "from the environment"}
    result = run(data_dir, env, "init")
    assert result.exit_code == 0, result.output
    assert "from the environment" not in result.output
    assert PASSWORD_LINE.search(result.stdout) is None
    assert "created admin user root" in result.stdout
    engine = make_engine(f"sqlite:///{data_dir / 'footfall.sqlite3'}")
    try:
        with session_scope(engine) as session:
            user = session.scalars(select(User)).one()
        assert user.username == "root" and user.role == "admin"
        assert verify_password(user.password_hash, "from the environment")[0]
    finally:
        engine.dispose()


def test_init_rejects_a_short_admin_password(data_dir: Path, env: dict[str, str | None]) -> None:
    env |= {"FOOTFALL_ADMIN_USER": "root", "FOOTFALL_ADMIN_PASSWORD": "short"}
    assert_one_line_error(run(data_dir, env, "init"), "at least 10 characters")


def test_migrate_reports_the_revision(data_dir: Path, env: dict[str, str | None]) -> None:
    first = run(data_dir, env, "migrate")
    assert first.exit_code == 0, first.output
    assert f"migrated from empty to revision {head_revision()}" in first.stdout
    again = run(data_dir, env, "migrate")
    assert again.exit_code == 0, again.output
    assert f"already at revision {head_revision()}" in again.stdout


def test_user_create(initialized: Path, env: dict[str, str | None], meta: Engine) -> None:
    result = run(
        initialized,
        env,
        *("user", "create", "--username", "ana", "--password", "ana's password"),
        *("--role", "analyst", "--email", "ana@example.com"),
    )
    assert result.exit_code == 0, result.output
    assert "created user ana (role analyst" in result.stdout
    assert "ana's password" not in result.output
    with session_scope(meta) as session:
        user = session.scalars(select(User).where(User.username == "ana")).one()
    assert (user.role, user.email) == ("analyst", "ana@example.com")
    assert verify_password(user.password_hash, "ana's password")[0]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--username", "admin", "--password", "0123456789"], "user admin already exists"),
        (["--username", "bob", "--password", "short"], "at least 10 characters"),
        (["--username", "b o b", "--password", "0123456789"], "username must be"),
        (["--username", "bob"], "give --password"),
    ],
)
def test_user_create_errors(
    initialized: Path, env: dict[str, str | None], args: list[str], fragment: str
) -> None:
    assert_one_line_error(
        run(initialized, env, "user", "create", "--role", "viewer", *args), fragment
    )


def test_user_create_with_an_unknown_role_is_a_usage_error(
    initialized: Path, env: dict[str, str | None]
) -> None:
    result = run(
        initialized,
        env,
        "user",
        "create",
        "--username",
        "x1",
        "--password",
        "0123456789",
        "--role",
        "owner",
    )
    assert result.exit_code == 2
    assert "owner" in result.stderr and "Traceback" not in result.output


def test_site_create(initialized: Path, env: dict[str, str | None], meta: Engine) -> None:
    result = run(
        initialized,
        env,
        "site",
        "create",
        "--domain",
        "www.Example.com",
        "--name",
        "Example",
        "--timezone",
        "Europe/Berlin",
    )
    assert result.exit_code == 0, result.output
    assert "created site example.com" in result.stdout
    with session_scope(meta) as session:
        site = session.scalars(select(Site).where(Site.domain == "example.com")).one()
    assert (site.name, site.timezone) == ("Example", "Europe/Berlin")

    again = run(initialized, env, "site", "create", "--domain", "example.com")
    assert_one_line_error(again, "site example.com already exists")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--domain", "example.org", "--timezone", "Mars/Base"], "unknown time zone 'Mars/Base'"),
        (["--domain", "https://example.org/"], "not a domain"),
    ],
)
def test_site_create_errors(
    initialized: Path, env: dict[str, str | None], args: list[str], fragment: str
) -> None:
    assert_one_line_error(run(initialized, env, "site", "create", *args), fragment)


def test_commands_on_an_unmigrated_database_say_how_to_fix_it(
    data_dir: Path, env: dict[str, str | None]
) -> None:
    result = run(data_dir, env, "site", "create", "--domain", "example.org")
    assert_one_line_error(result, "run `footfall migrate`")


def test_a_bad_setting_is_one_line(data_dir: Path, env: dict[str, str | None]) -> None:
    env["FOOTFALL_RETENTION_MONTHS"] = "soon"
    assert_one_line_error(run(data_dir, env, "migrate"), "FOOTFALL_RETENTION_MONTHS")


def test_console_entry_point_runs(data_dir: Path) -> None:
    source = str(Path(footfall.__file__).parents[1])
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOOTFALL_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [source, env.get("PYTHONPATH")]))
    env["FOOTFALL_DATA_DIR"] = str(data_dir)
    command = [sys.executable, "-c", "from footfall.cli import main; main()"]
    result = subprocess.run(
        [*command, "migrate"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert head_revision() in result.stdout
    assert (data_dir / "footfall.sqlite3").is_file()

    failed = subprocess.run(
        [*command, "site", "create", "--domain", "bad domain"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert failed.returncode == 1
    assert failed.stderr.startswith("error: ") and "Traceback" not in failed.stderr


def _read_until(fd: int, marker: bytes, seen: bytearray, deadline: float) -> None:
    while marker not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"never saw {marker!r}; got {bytes(seen)!r}"
        ready, _, _ = io_select.select([fd], [], [], remaining)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the child closed the terminal
                chunk = b""
            assert chunk, f"terminal closed before {marker!r}; got {bytes(seen)!r}"
            seen += chunk


def test_user_create_asks_for_the_password_on_a_terminal_without_echo(
    initialized: Path, meta: Engine
) -> None:
    source = str(Path(footfall.__file__).parents[1])
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOOTFALL_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [source, env.get("PYTHONPATH")]))
    master, slave = pty.openpty()
    child = subprocess.Popen(
        [sys.executable, "-c", "from footfall.cli import main; main()", "--data-dir",
         str(initialized), "user", "create", "--username", "tty-user", "--role", "viewer"],
        stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True,
    )  # fmt: skip
    os.close(slave)
    seen = bytearray()
    deadline = time.monotonic() + 60
    try:
        # The space after the colon comes from getpass once echo is off and input flushed.
        _read_until(master, b"Password: ", seen, deadline)
        os.write(master, b"typed on a tty\n")
        _read_until(master, b"confirmation: ", seen, deadline)
        os.write(master, b"typed on a tty\n")
        _read_until(master, b"created user tty-user", seen, deadline)
        assert child.wait(timeout=60) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        os.close(master)
    assert b"typed on a tty" not in seen
    with session_scope(meta) as session:
        user = session.scalars(select(User).where(User.username == "tty-user")).one()
    assert verify_password(user.password_hash, "typed on a tty")[0]
