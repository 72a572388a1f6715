"""Serving the tracker script: built at install time, held in memory, gzip precomputed, ETag'd."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

SCRIPT_PATH = Path(__file__).parent / "static" / "script.js"
CACHE_CONTROL = "public, max-age=3600, stale-while-revalidate=86400"


class TrackerScriptMissing(RuntimeError):
    """The tracker was not built (run `make install`, which builds frontend/)."""


class TrackerScript:
    """The minified tracker, read once; answers with 200, or 304 for a matching ETag."""

    def __init__(self, path: Path = SCRIPT_PATH) -> None:
        if not path.is_file():
            raise TrackerScriptMissing(
                f"{path} is missing: build the tracker with `make install` "
                "(npm ci && npm run build in frontend/)"
            )
        self.body = path.read_bytes()
        self.gzipped = gzip.compress(self.body, compresslevel=9, mtime=0)
        self.etag = '"' + hashlib.sha256(self.body).hexdigest()[:20] + '"'

    async def endpoint(self, request: Request) -> Response:
        """GET/HEAD /js/script.js."""
        headers = {
            "ETag": self.etag,
            "Cache-Control": CACHE_CONTROL,
            "Vary": "Accept-Encoding",
            "Access-Control-Allow-Origin": "*",
            "X-Content-Type-Options": "nosniff",
        }
        if self.etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        body = self.body
        if "gzip" in request.headers.get("accept-encoding", ""):
            body = self.gzipped
            headers["Content-Encoding"] = "gzip"
        if request.method == "HEAD":
            headers["Content-Length"] = str(len(body))
            return Response(status_code=200, headers=headers, media_type="text/javascript")
        return Response(body, headers=headers, media_type="text/javascript")
