"""Password hashing: argon2id format, verification, upgrade of weak hashes, length rule."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from footfall.accounts.passwords import hash_password, validate_password, verify_password


def test_hash_is_argon2id_with_a_salt() -> None:
    first = hash_password("correct horse battery")
    second = hash_password("correct horse battery")
    assert first.startswith("$argon2id$")
    assert first != second  # a fresh salt every time


def test_verify_accepts_the_password_and_rejects_others() -> None:
    stored = hash_password("correct horse battery")
    assert verify_password(stored, "correct horse battery") == (True, None)
    assert verify_password(stored, "correct horse batterY") == (False, None)
    assert verify_password(stored, "") == (False, None)


def test_unknown_user_and_garbage_hash_fail_without_raising() -> None:
    assert verify_password(None, "anything at all") == (False, None)
    assert verify_password("not-a-hash", "anything at all") == (False, None)


def test_weak_hash_is_upgraded_on_successful_login() -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash("old password 1")
    ok, new_hash = verify_password(weak, "old password 1")
    assert ok
    assert new_hash is not None and new_hash.startswith("$argon2id$") and new_hash != weak
    assert verify_password(new_hash, "old password 1") == (True, None)
    assert verify_password(weak, "wrong password") == (False, None)


def test_short_password_is_rejected_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="at least 10 characters"):
        validate_password("123456789")
    validate_password("h7#kq2!mzp")


def test_absurdly_long_password_is_rejected() -> None:
    with pytest.raises(ValueError, match="at most"):
        validate_password("x" * 5000)
    assert verify_password(hash_password("x" * 20), "x" * 5000) == (False, None)
