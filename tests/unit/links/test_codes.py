"""Short codes: the unambiguous alphabet, randomness and custom code validation."""

from __future__ import annotations

import pytest

from footfall.links.codes import (
    ALPHABET,
    GENERATED_LENGTH,
    check_custom_code,
    generate_code,
    is_valid_code,
)


def test_alphabet_has_no_look_alike_characters() -> None:
    assert not set("0o1li") & set(ALPHABET)
    assert len(set(ALPHABET)) == len(ALPHABET)


def test_generated_codes_use_the_alphabet_and_do_not_repeat() -> None:
    codes = {generate_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(len(code) == GENERATED_LENGTH and set(code) <= set(ALPHABET) for code in codes)
    assert all(is_valid_code(code) for code in codes)


@pytest.mark.parametrize("code", ["spring-sale", "A1", "x_y", "2026", "a" * 64])
def test_good_custom_codes(code: str) -> None:
    assert check_custom_code(code) == code


@pytest.mark.parametrize(
    "code",
    ["", "-lead", "_lead", "a/b", "a.b", "a b", "ä", "%2e", "a" * 65, "api", "Admin", "..", "a?b"],
)
def test_bad_custom_codes(code: str) -> None:
    with pytest.raises(ValueError):
        check_custom_code(code)
