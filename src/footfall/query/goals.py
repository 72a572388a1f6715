"""Goals as the query engine sees them: a custom event name or a page path with wildcards."""

from __future__ import annotations

from dataclasses import dataclass

_REGEX_SPECIAL = frozenset(".^$*+?()[]{}|\\")


@dataclass(frozen=True)
class GoalSpec:
    """One goal of a site; exactly one of `event_name` and `page_path` is set."""

    event_name: str | None = None
    page_path: str | None = None
    revenue_currency: str | None = None

    @property
    def label(self) -> str:
        """How reports name the goal."""
        return self.event_name if self.event_name is not None else f"Visit {self.page_path}"


def page_regex(pattern: str) -> str:
    """An anchored RE2/Python regex for a page path pattern.

    `*` matches within one path segment (no `/`), `**` matches anything; every other character
    matches itself.
    """
    parts: list[str] = ["^"]
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if pattern.startswith("**", index):
            parts.append(".*")
            index += 2
            continue
        if char == "*":
            parts.append("[^/]*")
        elif char in _REGEX_SPECIAL:
            parts.append("\\" + char)
        else:
            parts.append(char)
        index += 1
    parts.append("$")
    return "".join(parts)
