"""LetterURL without a server: signing, pixels, and HTML rewriting that keeps the message."""

from __future__ import annotations

import pytest

from footfall.links.tokens import TokenSigner
from footfall.newsletter import LetterURL, LetterURLError

SECRET = "newsletter secret"


def _letter() -> LetterURL:
    letter = LetterURL("https://stats.example/", SECRET, "cmp7", api_token="unused")
    # Targets already registered, so that no server is needed.
    letter._codes.update({"https://example.com/a?x=1&y=2": "lnk1", "http://shop.example": "lnk2"})
    return letter


def test_pixel_and_token_are_signed_locally() -> None:
    letter = LetterURL("https://stats.example", SECRET, "cmp7", api_token="")
    assert letter.pixel() == "https://stats.example/r/cmp7.gif"
    url = letter.pixel(recipient="alice@example.com")
    token = url.removeprefix("https://stats.example/r/cmp7/").removesuffix(".gif")
    assert TokenSigner(SECRET).verify(token) == "alice@example.com"


def test_link_without_token_cannot_register() -> None:
    letter = LetterURL("https://stats.example", SECRET, "cmp7", api_token="")
    with pytest.raises(LetterURLError):
        letter.link("https://example.com/")


def test_rewrite_tracks_web_links_only_and_keeps_everything_else() -> None:
    message = (
        '<html><BODY><p>Hi <A class="x" HREF="https://example.com/a?x=1&amp;y=2">a</A>\n'
        '<a href="mailto:x@y.example">m</a> <a href=\'tel:+49\'>t</a> <a href="#top">top</a>\n'
        '<a href="/relative">r</a> <a data-x href="http://shop.example" >z</a> &eacute;</p>'
        "</body></html>"
    )
    out = _letter().rewrite(message, recipient="bob@example.com")
    token = TokenSigner(SECRET).sign("bob@example.com")
    assert f'href="https://stats.example/u/lnk1/{token}"' in out
    assert f'href="https://stats.example/u/lnk2/{token}"' in out
    for kept in [
        '<a href="mailto:x@y.example">m</a>',
        "<a href='tel:+49'>t</a>",
        '<a href="#top">top</a>',
        '<a href="/relative">r</a>',
        "&eacute;</p>",
        'class="x"',
        "data-x",
    ]:
        assert kept in out
    pixel = f'<img src="https://stats.example/r/cmp7/{token}.gif"'
    assert out.index(pixel) < out.index("</body>")
    assert out.count("https://example.com") == 0


def test_rewrite_is_idempotent_and_appends_a_pixel_without_body() -> None:
    letter = _letter()
    once = letter.rewrite('<p><a href="http://shop.example">z</a></p>')
    assert once.endswith('.gif" width="1" height="1" alt="" style="border:0;width:1px;height:1px">')
    twice = letter.rewrite(once)
    assert twice.count("/u/lnk2") == 1
