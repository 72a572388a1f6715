"""A tiny web server for the browser tests: test pages that load the tracker, and a recorder.

It plays the role of a website that embeds Footfall: it serves the templates in pages/ at
http://localhost:<port>/ (the tracker tag filled in per test), the built tracker script, small
files to download, and records what the tracker POSTs to /collect when a test points data-api
there instead of at a real Footfall server.
"""

from __future__ import annotations

import html
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

PAGES_DIR = Path(__file__).parent / "pages"
TRACKER_PATH = (
    Path(__file__).resolve().parents[2] / "src" / "footfall" / "collect" / "static" / "script.js"
)
COLLECT_PATH = "/collect"


@dataclass(frozen=True)
class Beacon:
    """One request the tracker sent to the recorder."""

    content_type: str
    payload: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.payload["n"])

    @property
    def url(self) -> str:
        return str(self.payload["u"])


def tracker_tag(src: str, **data: str) -> str:
    """The documented embed tag, `data` becoming data-* attributes (`api="..."` -> data-api)."""
    attributes = "".join(
        f' data-{name.replace("_", "-")}="{html.escape(value)}"' for name, value in data.items()
    )
    return f'<script defer{attributes} src="{html.escape(src)}"></script>'


class PageHost:
    """Serves pages on localhost and records tracker requests; use as a context manager."""

    def __init__(self) -> None:
        self._pages: dict[str, str] = {}
        self._beacons: list[Beacon] = []
        self._arrived = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        # Pages are reached as `localhost`, the hostname a developer's machine would use.
        self.url = f"http://localhost:{self._server.server_address[1]}"
        self.collect_url = self.url + COLLECT_PATH
        self.script_url = self.url + "/js/script.js"

    def __enter__(self) -> PageHost:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def add(self, path: str, template: str, tracker: str) -> str:
        """Serve pages/<template> at `path` with `{{tracker}}` replaced; returns the page URL."""
        text = (PAGES_DIR / template).read_text(encoding="utf-8")
        self._pages[path] = text.replace("{{tracker}}", tracker)
        return self.url + path

    @property
    def beacons(self) -> list[Beacon]:
        """What the recorder received so far, in arrival order."""
        with self._arrived:
            return list(self._beacons)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Beacon]:
        """Block until at least `count` beacons arrived; AssertionError naming what did if not."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self._beacons) >= count, timeout):
                names = [beacon.name for beacon in self._beacons]
                raise AssertionError(f"expected {count} beacons, received {len(names)}: {names}")
            return list(self._beacons)

    def _record(self, beacon: Beacon) -> None:
        with self._arrived:
            self._beacons.append(beacon)
            self._arrived.notify_all()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path in host._pages:
                    self._answer(200, "text/html; charset=utf-8", host._pages[path].encode())
                elif path == "/js/script.js":
                    self._answer(200, "text/javascript", TRACKER_PATH.read_bytes())
                elif path.startswith("/files/"):
                    self._answer(
                        200,
                        "application/octet-stream",
                        b"%PDF-1.4 footfall test file\n",
                        {"Content-Disposition": "attachment"},
                    )
                else:
                    self._answer(404, "text/html", b"<!doctype html><title>Not found</title>")

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.path != COLLECT_PATH:
                    self._answer(404, "text/plain", b"not found")
                    return
                content_type = self.headers.get("Content-Type", "")
                host._record(Beacon(content_type, json.loads(body)))
                self._answer(202, "text/plain", b"ok")

            def _answer(
                self,
                status: int,
                content_type: str,
                body: bytes,
                headers: dict[str, str] | None = None,
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                """Keep the test output clean: failures are reported by the assertions."""

        return Handler
