"""Goals: the conversions of each site (custom event names or page path patterns).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the goals table."""
    op.create_table(
        "goals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("event_name", sa.String(length=120), nullable=True),
        sa.Column("page_path", sa.String(length=500), nullable=True),
        sa.Column("revenue_currency", sa.String(length=3), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(event_name IS NULL) <> (page_path IS NULL)",
            name=op.f("ck_goals_event_name_or_page_path"),
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_goals_site_id_sites"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_goals")),
    )
    op.create_index(op.f("ix_goals_site_id"), "goals", ["site_id"])


def downgrade() -> None:
    """Drop the goals table."""
    op.drop_index(op.f("ix_goals_site_id"), table_name="goals")
    op.drop_table("goals")
