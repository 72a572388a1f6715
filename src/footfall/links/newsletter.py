"""LetterURL: tracked links, open pixels and whole HTML e-mails for one campaign.

Signing recipient tokens needs only the instance secret, so `pixel()` and `token()` work with no
server. `link()` registers each distinct target once per campaign through the links API (asking
the server to reuse an existing link to the same target), then signs locally; `rewrite()` runs a
real HTML parser over the message and changes only the `href` of `<a>` tags whose target is
http(s), keeping every other byte as it was.
"""

from __future__ import annotations

import html
import json
import os
import urllib.error
import urllib.request
from html.parser import HTMLParser
from urllib.parse import quote

from footfall.links.tokens import TokenSigner

TOKEN_ENV = "FOOTFALL_API_TOKEN"


class LetterURLError(RuntimeError):
    """The links API refused to register a target, or could not be reached."""


class LetterURL:
    """URLs for one campaign: `link`, `pixel`, and `rewrite` for whole messages."""

    def __init__(
        self,
        base_url: str,
        secret: str,
        campaign: str,
        api_token: str | None = None,
        *,
        timeout_s: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.campaign = campaign
        self._signer = TokenSigner(secret)
        self._api_token = api_token if api_token is not None else os.environ.get(TOKEN_ENV)
        self._timeout_s = timeout_s
        self._codes: dict[str, str] = {}  # target URL -> link code, registered once each

    def token(self, recipient: str) -> str:
        """The signed recipient token `<recipient>.<signature>`."""
        return self._signer.sign(recipient)

    def pixel(self, recipient: str | None = None) -> str:
        """The open pixel URL, per recipient when one is given."""
        code = quote(self.campaign, safe="")
        if recipient is None:
            return f"{self.base_url}/r/{code}.gif"
        return f"{self.base_url}/r/{code}/{self.token(recipient)}.gif"

    def link(self, url: str, recipient: str | None = None) -> str:
        """The tracked URL of `url` (registered with the server on first use), per recipient."""
        code = self._codes.get(url)
        if code is None:
            code = self._register(url)
            self._codes[url] = code
        if recipient is None:
            return f"{self.base_url}/u/{code}"
        return f"{self.base_url}/u/{code}/{self.token(recipient)}"

    def rewrite(self, message: str, recipient: str | None = None) -> str:
        """The HTML message with every http(s) `<a href>` tracked and the open pixel appended.

        mailto:, tel:, in-page anchors and relative links stay as they are, as does everything
        but the rewritten attributes.
        """
        finder = _AnchorFinder(self.base_url)
        finder.feed(message)
        finder.close()
        pieces: list[str] = []
        position = 0
        for start, length, attrs in finder.anchors:
            new_attrs = [
                (name, self.link(value.strip(), recipient) if name == "href" and value else value)
                for name, value in attrs
            ]
            pieces.extend((message[position:start], _start_tag("a", new_attrs)))
            position = start + length
        pieces.append(message[position:])
        rewritten = "".join(pieces)
        pixel = (
            f'<img src="{html.escape(self.pixel(recipient))}" width="1" height="1" alt="" '
            'style="border:0;width:1px;height:1px">'
        )
        body_end = _body_end(rewritten)
        if body_end is None:
            return rewritten + pixel
        return rewritten[:body_end] + pixel + rewritten[body_end:]

    def _register(self, url: str) -> str:
        if not self._api_token:
            raise LetterURLError(f"registering links needs an API token (or ${TOKEN_ENV})")
        body = json.dumps({"url": url, "campaign": self.campaign, "reuse": True}).encode()
        request = urllib.request.Request(
            f"{self.base_url}/api/v1/links",
            data=body,
            method="POST",
            headers={
                "Authorization": f"Bearer {self._api_token}",
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout_s) as response:
                answer = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")[:500]
            raise LetterURLError(f"registering {url!r} failed ({exc.code}): {detail}") from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise LetterURLError(f"registering {url!r} failed: {exc}") from exc
        return str(answer["code"])


def _start_tag(tag: str, attrs: list[tuple[str, str | None]]) -> str:
    parts = [tag]
    for name, value in attrs:
        parts.append(name if value is None else f'{name}="{html.escape(value, quote=True)}"')
    return "<" + " ".join(parts) + ">"


def _is_web_target(href: str) -> bool:
    scheme = href.strip().partition(":")[0].lower()
    return scheme in {"http", "https"} and "//" in href[:10]


class _AnchorFinder(HTMLParser):
    """Finds `<a>` start tags with http(s) targets: (offset, length, attributes) each."""

    def __init__(self, base_url: str) -> None:
        super().__init__(convert_charrefs=True)
        self._tracked_prefix = f"{base_url}/u/"
        self.anchors: list[tuple[int, int, list[tuple[str, str | None]]]] = []
        self._line_starts = [0]
        self._text = ""
        self.body_end: int | None = None  # offset of the last </body> tag

    def feed(self, data: str) -> None:
        """Parse `data` (one whole message)."""
        self._text += data
        self._line_starts = [0]
        for index, char in enumerate(self._text):
            if char == "\n":
                self._line_starts.append(index + 1)
        super().feed(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Record anchors whose href is an http(s) URL not already tracked."""
        if tag != "a":
            return
        href = dict(attrs).get("href")
        if not href or not _is_web_target(href):
            return
        if self._tracked_prefix and href.startswith(self._tracked_prefix):
            return
        raw = self.get_starttag_text() or ""
        line, column = self.getpos()
        self.anchors.append((self._line_starts[line - 1] + column, len(raw), attrs))

    def handle_endtag(self, tag: str) -> None:
        """Remember where the body ends (the pixel goes just before it)."""
        if tag == "body":
            line, column = self.getpos()
            self.body_end = self._line_starts[line - 1] + column


def _body_end(message: str) -> int | None:
    """The offset of the last `</body>` tag, found by the parser, or None."""
    finder = _AnchorFinder("")
    finder.feed(message)
    finder.close()
    return finder.body_end
