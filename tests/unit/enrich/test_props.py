"""Custom property limits and value conversion."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from footfall.enrich.props import (
    MAX_KEY_LENGTH,
    MAX_PROPS,
    MAX_VALUE_LENGTH,
    limit_props,
    prop_value,
)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("plain", "plain"),
        (True, "true"),
        (False, "false"),
        (12, "12"),
        (-3, "-3"),
        (12.0, "12"),
        (12.5, "12.5"),
        (0.1, "0.1"),
        (1e20, "1e+20"),
        (None, None),
        ("", None),
        (math.nan, None),
        (math.inf, None),
        ([1, 2], None),
        ({"a": 1}, None),
    ],
)
def test_values_become_text_the_way_people_expect(value: object, text: str | None) -> None:
    assert prop_value(value) == text


def test_at_most_thirty_pairs_in_order() -> None:
    keys = [f"k{i}" for i in range(40)]
    kept_keys, kept_values = limit_props(keys, list(range(40)))
    assert kept_keys == keys[:MAX_PROPS]
    assert kept_values == [str(i) for i in range(MAX_PROPS)]


def test_long_keys_drop_the_pair_and_long_values_are_cut() -> None:
    keys = ["k" * (MAX_KEY_LENGTH + 1), "k" * MAX_KEY_LENGTH, "long"]
    values = ["a", "b", "v" * (MAX_VALUE_LENGTH + 50)]
    kept_keys, kept_values = limit_props(keys, values)
    assert kept_keys == ["k" * MAX_KEY_LENGTH, "long"]
    assert kept_values == ["b", "v" * MAX_VALUE_LENGTH]


def test_empty_keys_repeated_keys_and_unstorable_values_are_dropped() -> None:
    kept = limit_props(["", "a", "a", "b", "c"], ["x", "1", "2", None, {"n": 1}])
    assert kept == (["a"], ["1"])


def test_dropped_pairs_do_not_use_up_the_limit() -> None:
    keys = ["bad"] * 5 + [f"k{i}" for i in range(MAX_PROPS)]
    values: list[object] = [None] * 5 + ["v"] * MAX_PROPS
    kept_keys, _ = limit_props(keys, values)
    assert len(kept_keys) == MAX_PROPS


prop_values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=2500)
)


@given(
    st.lists(st.tuples(st.text(max_size=400), prop_values), max_size=60),
)
def test_limits_always_hold(pairs: list[tuple[str, object]]) -> None:
    keys = [key for key, _ in pairs]
    values = [value for _, value in pairs]
    kept_keys, kept_values = limit_props(keys, values)
    assert len(kept_keys) == len(kept_values) <= MAX_PROPS
    assert len(set(kept_keys)) == len(kept_keys)
    assert all(0 < len(key) <= MAX_KEY_LENGTH for key in kept_keys)
    assert all(0 < len(value) <= MAX_VALUE_LENGTH for value in kept_values)
    assert all(isinstance(value, str) for value in kept_values)
