"""The newsletter helper's public import path: `from footfall.newsletter import LetterURL`."""

from __future__ import annotations

from footfall.links.newsletter import LetterURL, LetterURLError

__all__ = ["LetterURL", "LetterURLError"]
