"""`footfall import access-log`: exact counts, resuming at the offset, following rotation."""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner, Result

from footfall.cli import app as cli_app
from footfall.cli.importer import open_importer
from footfall.events import decode_raw
from footfall.importer import LogImporter
from footfall.queue import open_queue
from tests.support.accesslog import generate
from tests.support.app import BROWSER_UA, rows, running_app, settings_for, wait_rows

BOT_UA = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
START = datetime(2026, 3, 14, 9, 26, 53, tzinfo=UTC)


def _run(data_dir: Path, *args: str) -> Result:
    env: dict[str, str | None] = {name: None for name in os.environ if name.startswith("FOOTFALL_")}
    return CliRunner().invoke(cli_app, ["--data-dir", str(data_dir), *args], env=env)


def _prepare(data_dir: Path) -> None:
    """A data dir with example.com, a campaign `news` and a link `spring`."""
    for args in (
        ("init",),
        ("site", "create", "--domain", "example.com"),
        ("campaign", "create", "--name", "News", "--site", "example.com", "--code", "news"),
        (
            "links",
            "create",
            "--url",
            "https://example.com/landing",
            "--site",
            "example.com",
            "--code",
            "spring",
        ),  # fmt: skip
    ):
        result = _run(data_dir, *args)
        assert result.exit_code == 0, result.output


def line(
    target: str,
    *,
    n: int = 0,
    status: int = 200,
    method: str = "GET",
    ua: str = BROWSER_UA,
    referrer: str = "-",
) -> str:
    """One combined-format line; `n` picks the client address and the second."""
    when = (START + timedelta(seconds=n)).astimezone(UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")
    ip = f"203.0.{n // 250}.{n % 250 + 1}"
    return f'{ip} - - [{when}] "{method} {target} HTTP/1.1" {status} 512 "{referrer}" "{ua}"\n'


def mixed_log() -> tuple[str, Counter[str]]:
    """A log of every kind of line, and how many of each the importer must report."""
    lines: list[str] = []
    expected: Counter[str] = Counter()

    def add(kind: str, text: str, times: int = 1) -> None:
        lines.extend([text] * times)
        expected[kind] += times

    pages = ["/", "/about", "/blog/post.html", "/search?q=shoes", "/docs/"]
    for n in range(40):
        status = 304 if n % 10 == 0 else 200
        add("pageviews", line(pages[n % 5], n=n, status=status, referrer="https://news.example/"))
    for target in ("/style.css", "/app.js?v=3", "/logo.PNG", "/robots.txt", "/font.woff2"):
        add("assets", line(target, n=1), times=3)
    add("bots", line("/about", n=2, ua=BOT_UA), times=10)
    add("errors", line("/missing", n=3, status=404), times=4)
    add("errors", line("/u/unknown", n=3, status=404), times=2)
    add("errors", line("/", n=3, status=502), times=2)
    add("other", line("/contact", n=4, method="POST"), times=3)
    add("other", line("/old", n=4, status=301), times=2)
    add("clicks", line("/u/spring", n=5, status=302), times=5)
    add("clicks", line("/u/spring", n=6, status=302, method="HEAD"))
    add("opens", line("/r/news.gif", n=7), times=4)
    add("excluded", line("/r/nothing.gif", n=7))
    add("malformed", "this is not a log line\n", times=2)
    # Interleave the kinds so that batches mix them.
    order = sorted(range(len(lines)), key=lambda i: (i * 7919) % len(lines))
    expected["lines"] = len(lines)
    return "".join(lines[i] for i in order), expected


def _summary_counts(output: str) -> dict[str, int]:
    found = {name: int(value) for value, name in re.findall(r"(\d+) ([a-z]+)(?=[ ,;:]|$)", output)}
    return {key: value for key, value in found.items() if key != "s"}


def test_a_mixed_log_imports_exactly(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    _prepare(data_dir)
    text, expected = mixed_log()
    log = tmp_path / "access.log"
    log.write_text(text)

    result = _run(data_dir, "import", "access-log", str(log), "--site", "example.com")
    assert result.exit_code == 0, result.output
    reported = _summary_counts(result.stderr)
    for name, count in expected.items():
        assert reported[name] == count, (name, result.stderr)

    events = expected["pageviews"] + expected["clicks"] + expected["opens"]
    with running_app(data_dir, sites=()) as (_client, app):
        stored = wait_rows(app, events)
        assert len(stored) == events
        kinds = Counter(row["kind"] for row in stored)
        assert kinds == {"pageview": 40, "click": 6, "open": 4}
        pageviews = [row for row in stored if row["kind"] == "pageview"]
        # The log's time, not the time of the import.
        assert pageviews[0]["ts"] == START.replace(tzinfo=None)
        assert {row["pathname"] for row in pageviews} == {"/", "/about", "/blog/post.html",
                                                          "/search", "/docs/"}  # fmt: skip
        # The user agent and the referrer came from the log.
        assert {row["browser"] for row in pageviews} == {"Chrome"}
        assert all("news.example" in (row["referrer"] or "") for row in pageviews)
        clicks = [row for row in stored if row["kind"] == "click"]
        assert {(row["hostname"], row["pathname"]) for row in clicks} == {
            ("example.com", "/landing")
        }
        assert all(row["link_id"] is not None for row in clicks)
        assert sorted(row["is_bot"] for row in clicks) == [False] * 5 + [True]
        opens = [row for row in stored if row["kind"] == "open"]
        assert all(row["campaign_id"] is not None for row in opens)
        assert "203.0.0.1" not in repr(stored)  # the address is hashed and dropped
        # One visitor per client address, whatever the day of the import.
        assert len({row["visitor_id"] for row in pageviews}) == 40


def test_a_parallel_import_is_as_exact(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    _prepare(data_dir)
    text, expected = mixed_log()
    log = tmp_path / "access.log"
    log.write_text(text * 5)
    with open_importer(settings_for(data_dir), "example.com", jobs=2) as importer:
        importer.chunk_bytes = 4096  # many blocks in flight, queued in log order
        counts = importer.import_file(log)
        assert importer.import_file(log).lines == 0  # the offset is at the end
    for name, count in expected.items():
        assert counts.as_dict()[name] == 5 * count, name
    with running_app(data_dir, sites=()) as (_client, app):
        stored = wait_rows(app, 5 * 50)
        assert Counter(row["kind"] for row in stored) == {"pageview": 200, "click": 30, "open": 20}


def test_a_million_line_log_imports_exactly(tmp_path: Path) -> None:
    """The issue's size: 1,000,000 lines of interleaved visitors, converted by two processes;
    every count matches the generator and the spool holds exactly the events it reported."""
    data_dir = tmp_path / "data"
    _prepare(data_dir)
    link = ("links", "create", "--url", "https://example.com/", "--site", "example.com")
    assert _run(data_dir, *link, "--code", "bench").exit_code == 0  # the log's /u/bench
    log = tmp_path / "access.log"
    expected = generate(log, 1_000_000)
    settings = settings_for(data_dir)
    with open_importer(settings, "example.com", jobs=2) as importer:
        counts = importer.import_file(log)
    reported = counts.as_dict()
    assert {name: reported[name] for name in expected} == dict(expected)
    assert expected["pageviews"] > 600_000 and expected["clicks"] > 50_000
    _, spool = open_queue(settings)
    queued: Counter[str] = Counter()
    try:
        while (batch := spool.fetch(50_000, 0.0)) is not None:
            queued.update(decode_raw(record).kind for record in batch.records)
    finally:
        spool.close()
    assert queued == {"pageview": expected["pageviews"], "click": expected["clicks"]}


def test_nginx_json_lines(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    _prepare(data_dir)
    log = tmp_path / "access.json"
    log.write_text(
        '{"time_iso8601":"2026-03-14T10:00:00+01:00","remote_addr":"198.51.100.7",'
        '"request_method":"GET","request_uri":"/pricing","status":200,'
        f'"http_referer":"","http_user_agent":"{BROWSER_UA}"}}\n'
        '{"time_iso8601":"2026-03-14T10:00:01+01:00","remote_addr":"198.51.100.7",'
        '"request_method":"GET","request_uri":"/pricing.css","status":"200",'
        f'"http_referer":"","http_user_agent":"{BROWSER_UA}"}}\n'
        "not json\n"
    )
    result = _run(
        data_dir, "import", "access-log", str(log), "--site", "example.com", "--format",
        "nginx-json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    reported = _summary_counts(result.stderr)
    assert (reported["pageviews"], reported["assets"], reported["malformed"]) == (1, 1, 1)
    with running_app(data_dir, sites=()) as (_client, app):
        (stored,) = wait_rows(app, 1)
        assert stored["pathname"] == "/pricing"
        assert stored["ts"] == datetime(2026, 3, 14, 9, 0, 0)


def test_a_restart_resumes_at_the_offset(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    _prepare(data_dir)
    log = tmp_path / "access.log"
    first = "".join(line(f"/page-{n}", n=n) for n in range(30))
    # The last line is still being written: it must wait for its newline.
    cut = len(first) - 20
    log.write_text(first[:cut])

    def imported() -> dict[str, int]:
        result = _run(data_dir, "import", "access-log", str(log), "--site", "example.com")
        assert result.exit_code == 0, result.output
        return _summary_counts(result.stderr)

    assert imported()["pageviews"] == 29
    with log.open("a") as handle:
        handle.write(first[cut:])
        handle.write("".join(line(f"/page-{n}", n=n) for n in range(30, 40)))
    assert imported()["pageviews"] == 11
    assert imported()["lines"] == 0

    with running_app(data_dir, sites=()) as (_client, app):
        stored = wait_rows(app, 40)
        paths = Counter(row["pathname"] for row in stored)
        assert paths == Counter({f"/page-{n}": 1 for n in range(40)})
    # A file replaced under the same name (new inode) is read from its beginning.
    log.unlink()
    log.write_text(line("/again", n=1))
    assert imported()["pageviews"] == 1


def _wait(condition: Callable[[], bool], what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_follow_across_rename_rotation_and_truncation(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    _prepare(data_dir)
    log = tmp_path / "access.log"
    log.write_text("".join(line(f"/a-{n}", n=n) for n in range(5)))
    problems: list[BaseException] = []

    def write(path: Path, first: int, count: int) -> None:
        with path.open("a") as handle:
            for n in range(first, first + count):
                handle.write(line(f"/a-{n}", n=n))
                handle.flush()

    def server(importer: LogImporter) -> None:
        """Writes lines and rotates the log twice, waiting for the importer between steps."""
        try:
            _wait(lambda: importer.counts.pageviews == 5, "the first lines")
            write(log, 5, 10)
            _wait(lambda: importer.counts.pageviews == 15, "appended lines")
            # Rename rotation: the server writes a little more to the old file, then reopens.
            log.rename(tmp_path / "access.log.1")
            write(tmp_path / "access.log.1", 15, 3)
            write(log, 18, 7)
            _wait(lambda: importer.counts.pageviews == 25, "lines across the rename")
            assert importer.rotations == 1
            # copytruncate: copied away, then emptied in place.
            shutil.copy(log, tmp_path / "access.log.2")
            with log.open("r+") as handle:
                handle.truncate(0)
            _wait(lambda: importer.truncations == 1, "the truncation")
            write(log, 25, 4)
            _wait(lambda: importer.counts.pageviews == 29, "lines after the truncation")
        except BaseException as exc:  # reported by the test thread
            problems.append(exc)
        finally:
            importer.stop()

    with open_importer(settings_for(data_dir), "example.com") as importer:
        importer.rotation_grace_s = 30
        writer = threading.Thread(target=server, args=(importer,), daemon=True)
        watchdog = threading.Timer(60, importer.stop)
        writer.start()
        watchdog.start()
        try:
            importer.follow([log], poll_s=0.02)
        finally:
            watchdog.cancel()
            writer.join(10)
    assert problems == []
    assert importer.counts.pageviews == 29

    with running_app(data_dir, sites=()) as (_client, app):
        stored = wait_rows(app, 29)
        assert Counter(row["pathname"] for row in stored) == Counter(
            {f"/a-{n}": 1 for n in range(29)}
        )
        assert len(rows(app)) == 29


def test_mistakes_are_one_line_errors(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    _prepare(data_dir)
    log = tmp_path / "access.log"
    log.write_text(line("/"))
    for args, fragment in [
        ((str(log), "--site", "nope.example"), "no site"),
        ((str(log), "--site", "example.com", "--format", "w3c"), "--format w3c"),
        ((str(tmp_path / "missing.log"), "--site", "example.com"), "missing.log"),
    ]:
        result = _run(data_dir, "import", "access-log", *args)
        assert result.exit_code == 1, result.output
        assert result.stderr.startswith("error: ") and fragment in result.stderr, result.stderr
        assert "Traceback" not in result.output
