"""Metadata table of goals: what counts as a conversion on a site (an event name or page path)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from footfall.meta.models import Base, UTCDateTime, utcnow


class Goal(Base):
    """A site's goal: a custom event name, or a page path pattern (`*` and `**` wildcards)."""

    __tablename__ = "goals"
    __table_args__ = (
        CheckConstraint(
            "(event_name IS NULL) <> (page_path IS NULL)", name="event_name_or_page_path"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    event_name: Mapped[str | None] = mapped_column(String(120))
    page_path: Mapped[str | None] = mapped_column(String(500))
    revenue_currency: Mapped[str | None] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def __repr__(self) -> str:
        return f"Goal(id={self.id!r}, event_name={self.event_name!r}, page={self.page_path!r})"
