"""Custom properties: the limits every stored event respects and how values become text.

At most 30 pairs are kept, in the order given. A pair is dropped when its key is empty or
longer than 300 characters (a cut key would name a different property), when the key repeats
an earlier one, or when its value is null, empty, not finite, or not a string, number or
boolean. Values longer than 2,000 characters are cut to 2,000 (the start of a long value is
still useful). Booleans become "true"/"false"; whole numbers drop a trailing ".0" (12.0 is "12");
other numbers are written as Python writes them (12.5 is "12.5").
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["MAX_KEY_LENGTH", "MAX_PROPS", "MAX_VALUE_LENGTH", "limit_props", "prop_value"]

MAX_PROPS = 30
MAX_KEY_LENGTH = 300
MAX_VALUE_LENGTH = 2000
# Whole floats beyond this are written in exponent form: their digits are not exact anyway.
_LARGEST_PLAIN_FLOAT = 1e15


def prop_value(value: object) -> str | None:
    """A property value as stored text, or None when the value is not storable."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int):
        try:
            text = str(value)
        except ValueError:  # beyond Python's integer-to-text digit limit
            return None
    elif isinstance(value, float):
        if not math.isfinite(value):
            return None
        whole = value.is_integer() and abs(value) < _LARGEST_PLAIN_FLOAT
        text = str(int(value)) if whole else repr(value)
    else:
        return None
    return text[:MAX_VALUE_LENGTH] or None


def limit_props(keys: Sequence[str], values: Sequence[object]) -> tuple[list[str], list[str]]:
    """Apply the property limits (module docstring) to parallel keys and values."""
    kept_keys: list[str] = []
    kept_values: list[str] = []
    seen: set[str] = set()
    for key, value in zip(keys, values, strict=False):
        if len(kept_keys) == MAX_PROPS:
            break
        if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH or key in seen:
            continue
        text = prop_value(value)
        if text is None:
            continue
        seen.add(key)
        kept_keys.append(key)
        kept_values.append(text)
    return kept_keys, kept_values
