"""Human or machine: the rules that classify each tracked click and e-mail open.

At collection time (per request, cached): a HEAD request, a known bot, link previewer or mail
scanner agent, or an Apple Mail Privacy Protection prefetch is a machine; mail providers' image
proxies (Gmail, Yahoo, Outlook) are human opens. At report time (footfall.links.stats): clicks
of one recipient on several links within `burst_seconds` are a scanner's. The patterns live in
data/machine.json and are documented in docs/links.md.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from footfall.enrich.bots import is_bot
from footfall.enrich.useragent import MAX_PARSED_LENGTH
from footfall.events import Kind


def _alternation(patterns: list[str]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns) or "(?!)")


@dataclass(frozen=True)
class MachineRules:
    """Compiled rules (see data/machine.json)."""

    human_open_proxies: re.Pattern[str]
    machine_opens: re.Pattern[str]
    machine_agents: re.Pattern[str]
    burst_seconds: float

    @classmethod
    def from_json(cls, text: str) -> MachineRules:
        """Parse a rules file."""
        data: dict[str, Any] = json.loads(text)
        return cls(
            human_open_proxies=_alternation(data["human_open_proxies"]["patterns"]),
            machine_opens=_alternation(data["machine_opens"]["patterns"]),
            machine_agents=_alternation(data["machine_agents"]["patterns"]),
            burst_seconds=float(data["scanner_burst"]["seconds"]),
        )


@lru_cache(maxsize=1)
def default_rules() -> MachineRules:
    """The rules shipped in footfall/links/data/machine.json."""
    text = resources.files("footfall.links").joinpath("data/machine.json").read_text()
    return MachineRules.from_json(text)


def is_machine(kind: str, method: str, user_agent: str) -> bool:
    """True when this click or open (kind) was made by software rather than a person."""
    if method == "HEAD":
        return True
    return _is_machine_agent(kind, user_agent.strip()[:MAX_PARSED_LENGTH])


@lru_cache(maxsize=10_000)
def _is_machine_agent(kind: str, user_agent: str) -> bool:
    rules = default_rules()
    lowered = user_agent.lower()
    if kind == Kind.OPEN:
        if rules.machine_opens.search(lowered):
            return True
        if rules.human_open_proxies.search(lowered):
            return False
    if rules.machine_agents.search(lowered):
        return True
    return is_bot(user_agent)
