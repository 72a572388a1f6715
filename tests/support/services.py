"""Skip-or-fail for external services: outside CI a missing service skips, with CI=true it fails."""

from __future__ import annotations

import os

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def require(available: bool, reason: str) -> None:
    """Skip the test when `available` is false, unless CI=true, where nothing may skip."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)
