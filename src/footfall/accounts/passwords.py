"""Password hashing with argon2id: hash, verify (upgrading old parameters), and strength rules."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_LENGTH = 10
# Hashing megabytes of "password" would only burn CPU; nobody types more than this.
MAX_PASSWORD_LENGTH = 1024

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters


def validate_password(password: str) -> None:
    """Raise ValueError with a clear message unless `password` is acceptable.

    Acceptable: 10 to 1024 characters, and not one of the 30,000 most common passwords.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password must be at least {MIN_PASSWORD_LENGTH} characters long")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValueError(f"password must be at most {MAX_PASSWORD_LENGTH} characters long")
    if password.lower() in _common_passwords():
        raise ValueError("this password is one of the most common ones: choose another")


@cache
def _common_passwords() -> frozenset[str]:
    # zxcvbn ships a frequency list of leaked passwords (lower-case); loaded on first use only.
    from zxcvbn.frequency_lists import FREQUENCY_LISTS  # type: ignore[import-untyped]

    return frozenset(FREQUENCY_LISTS["passwords"])


def hash_password(password: str) -> str:
    """The argon2id hash of `password` (PHC string format, salt included)."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> tuple[bool, str | None]:
    """Check `password` against a stored hash in constant time.

    Returns (matches, new_hash): new_hash is set when the password matched but the hash was made
    with weaker parameters than today's, and should replace the stored one. Pass None as the
    hash for an unknown user: the check then costs the same and fails.
    """
    if password_hash is None or len(password) > MAX_PASSWORD_LENGTH:
        _verify(_dummy_hash(), password[:MAX_PASSWORD_LENGTH])
        return False, None
    if not _verify(password_hash, password):
        return False, None
    if _hasher.check_needs_rehash(password_hash):
        return True, _hasher.hash(password)
    return True, None


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _dummy_hash() -> str:
    # Checked against when the user does not exist, so that case costs as much as a wrong password.
    return _hasher.hash("footfall: no such user")
