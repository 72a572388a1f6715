"""What a demo run is asked to generate, and what it reports back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

DEFAULT_CHUNK_EVENTS = 250_000


@dataclass(frozen=True)
class DemoSpec:
    """What to generate: `events` rows for one site over the `days` before `end`."""

    site_id: int
    hostname: str
    events: int
    end: datetime
    days: int = 30
    seed: int = 0
    chunk_events: int = DEFAULT_CHUNK_EVENTS

    def __post_init__(self) -> None:
        if self.events < 0:
            raise ValueError("the number of events must not be negative")
        if not 1 <= self.days <= 3660:
            raise ValueError("days must be between 1 and 3660")
        if self.chunk_events < 1:
            raise ValueError("chunk_events must be positive")
        if self.end.tzinfo is None:
            raise ValueError("end must be timezone-aware")

    @property
    def end_ms(self) -> int:
        """The end of the range in epoch milliseconds."""
        return int(self.end.timestamp() * 1000)

    @property
    def start_ms(self) -> int:
        """The start of the range in epoch milliseconds (`days` whole days before the end)."""
        return self.end_ms - self.days * 86_400_000


@dataclass(frozen=True)
class DemoSummary:
    """What a generation run wrote and how long it took."""

    events: int
    visits: int
    visitors: int
    seconds: float

    @property
    def rate(self) -> float:
        """Events generated and stored per second."""
        return self.events / self.seconds if self.seconds > 0 else float(self.events)
