"""Goals API: analysts and admins define what counts as a conversion; readers list goals."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from footfall.accounts.audit import record
from footfall.accounts.permissions import Action
from footfall.api.deps import Services, ServicesDep
from footfall.api.errors import ApiError
from footfall.api.security import Principal, require, site_access
from footfall.meta.db import session_scope
from footfall.meta.goal_models import Goal
from footfall.query import GoalSpec

router = APIRouter(prefix="/api/v1/sites/{domain}/goals", tags=["goals"])
Writer = Annotated[Principal, Depends(require(Action.GOALS_WRITE))]
Reader = Annotated[Principal, Depends(require(Action.REPORTS_READ))]
_CURRENCY = re.compile(r"^[A-Z]{3}$")


class NewGoal(BaseModel):
    """Exactly one of `event_name` (a custom event) and `page_path` (`/thanks*`)."""

    event_name: str | None = Field(default=None, min_length=1, max_length=120)
    page_path: str | None = Field(default=None, min_length=1, max_length=500)
    revenue_currency: str | None = Field(default=None, min_length=3, max_length=3)


def goal_json(goal: Goal) -> dict[str, Any]:
    """A goal as the API shows it."""
    spec = GoalSpec(goal.event_name, goal.page_path, goal.revenue_currency)
    return {
        "id": goal.id,
        "event_name": goal.event_name,
        "page_path": goal.page_path,
        "revenue_currency": goal.revenue_currency,
        "display_name": spec.label,
    }


def site_goals(services: Services, site_id: int) -> list[GoalSpec]:
    """The goals of a site, as the query engine takes them."""
    with session_scope(services.engine) as session:
        goals = session.scalars(select(Goal).where(Goal.site_id == site_id).order_by(Goal.id))
        return [GoalSpec(g.event_name, g.page_path, g.revenue_currency) for g in goals]


@router.post("", status_code=201)
def create_goal(
    domain: str, body: NewGoal, services: ServicesDep, writer: Writer
) -> dict[str, Any]:
    """Add a goal: a custom event name, or a page path (`*` within a segment, `**` across)."""
    site = site_access(writer, services, domain, Action.GOALS_WRITE)
    if (body.event_name is None) == (body.page_path is None):
        raise ApiError(400, "invalid_request", "give exactly one of event_name and page_path")
    if body.page_path is not None and not body.page_path.startswith("/"):
        raise ApiError(400, "invalid_request", "page_path starts with /")
    currency = body.revenue_currency.upper() if body.revenue_currency else None
    if currency is not None and not _CURRENCY.match(currency):
        raise ApiError(400, "invalid_request", "revenue_currency is an ISO 4217 code like EUR")
    with session_scope(services.engine) as session:
        duplicate = session.scalars(
            select(Goal).where(
                Goal.site_id == site.id,
                Goal.event_name == body.event_name
                if body.event_name
                else Goal.event_name.is_(None),
                Goal.page_path == body.page_path if body.page_path else Goal.page_path.is_(None),
            )
        ).first()
        if duplicate is not None:
            raise ApiError(409, "conflict", "this goal exists already")
        goal = Goal(
            site_id=site.id,
            event_name=body.event_name,
            page_path=body.page_path,
            revenue_currency=currency,
        )
        session.add(goal)
        session.flush()
        record(
            session, writer.user_id, writer.username, "goal.create", site.domain, goal_json(goal)
        )
        return goal_json(goal)


@router.get("")
def list_goals(domain: str, services: ServicesDep, reader: Reader) -> dict[str, Any]:
    """The site's goals."""
    site = site_access(reader, services, domain, Action.REPORTS_READ)
    with session_scope(services.engine) as session:
        goals = session.scalars(select(Goal).where(Goal.site_id == site.id).order_by(Goal.id))
        return {"goals": [goal_json(goal) for goal in goals]}


@router.delete("/{goal_id}", status_code=204)
def delete_goal(domain: str, goal_id: int, services: ServicesDep, writer: Writer) -> Response:
    """Remove a goal (its past conversions stay as events; reports stop counting them)."""
    site = site_access(writer, services, domain, Action.GOALS_WRITE)
    with session_scope(services.engine) as session:
        goal = session.get(Goal, goal_id)
        if goal is None or goal.site_id != site.id:
            raise ApiError(404, "not_found", f"no goal {goal_id} on {site.domain}")
        record(
            session, writer.user_id, writer.username, "goal.delete", site.domain, goal_json(goal)
        )
        session.delete(goal)
    return Response(status_code=204)
