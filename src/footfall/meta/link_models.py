"""Metadata tables of tracked links: campaigns, links and each site's allowed target hosts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.ext.mutable import MutableList
from sqlalchemy.orm import Mapped, mapped_column

from footfall.meta.models import Base, UTCDateTime, utcnow


class Campaign(Base):
    """An e-mail campaign (open pixel, grouped links) or an o7tracker-style redirect campaign.

    A redirect campaign has a `redirect_url` that `/track/{id}` sends clicks to, and the
    platforms it targets; both kinds share ids, codes and stats.
    """

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    redirect_url: Mapped[str | None] = mapped_column(Text)
    platforms: Mapped[list[str]] = mapped_column(MutableList.as_mutable(JSON()), default=list)
    sends: Mapped[int | None] = mapped_column(Integer)  # messages sent, when the sender says
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"Campaign(id={self.id!r}, code={self.code!r}, name={self.name!r})"


class Link(Base):
    """A tracked short link: `/u/{code}` redirects to `url`."""

    __tablename__ = "links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="SET NULL"), index=True
    )
    name: Mapped[str | None] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(MutableList.as_mutable(JSON()), default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    # Set instead of deleting a link that has clicks: the code stops redirecting and is never
    # given out again, and its stats stay readable.
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return f"Link(id={self.id!r}, code={self.code!r})"


class LinkPolicy(Base):
    """A site's allow-list of hosts its links may point to (empty: any valid target)."""

    __tablename__ = "link_policies"

    site_id: Mapped[int] = mapped_column(
        ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True
    )
    allowed_hosts: Mapped[list[str]] = mapped_column(MutableList.as_mutable(JSON()), default=list)
