"""Short codes for links and campaigns: generated from an unambiguous alphabet, or custom."""

from __future__ import annotations

import re
import secrets

# No 0/o, 1/l/i: codes are read aloud, typed from print and shown in small fonts.
ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
GENERATED_LENGTH = 7  # 31**7, about 2.7e10 codes: collisions are rare and retried on insert
MAX_CODE_LENGTH = 64

# Custom codes: letters, digits, "-" and "_", starting with a letter or digit. Nothing that a
# path, a file name or a URL parser could read as more than one segment.
_CUSTOM = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")

# Words a short code may not be: they read as parts of the instance itself.
RESERVED_CODES = frozenset({"api", "admin", "docs", "js", "r", "u", "track", "static", "healthz"})


def generate_code(length: int = GENERATED_LENGTH) -> str:
    """A random code of `length` characters from ALPHABET (cryptographically random)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def check_custom_code(code: str) -> str:
    """Return `code` when it is acceptable as a custom code, else raise ValueError saying why."""
    if not isinstance(code, str) or not code:
        raise ValueError("code must be a non-empty string")
    if len(code) > MAX_CODE_LENGTH:
        raise ValueError(f"code must be at most {MAX_CODE_LENGTH} characters")
    if not _CUSTOM.fullmatch(code):
        raise ValueError(
            "code may contain only letters, digits, '-' and '_', and must start with a "
            "letter or digit"
        )
    if code.lower() in RESERVED_CODES:
        raise ValueError(f"code {code!r} is reserved")
    return code


def is_valid_code(code: str) -> bool:
    """True when `code` could name a link or campaign (generated or custom)."""
    return bool(_CUSTOM.fullmatch(code)) and len(code) <= MAX_CODE_LENGTH
