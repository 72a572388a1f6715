"""Links and campaigns in the metadata database: create, change, list, archive.

Callers pass a Session (one unit of work) and invalidate the process's LinkDirectory after a
commit, so the redirect hot path sees the change at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from footfall.links.codes import check_custom_code, generate_code
from footfall.links.targets import check_target, normalize_host, with_utm
from footfall.meta.link_models import Campaign, Link, LinkPolicy
from footfall.meta.models import utcnow

# Generated codes collide about once in 10**10 draws; a few retries make failure impossible
# in practice while a broken generator still fails loudly instead of looping.
_CODE_ATTEMPTS = 8
MAX_TAGS = 20
MAX_TAG_LENGTH = 50
MAX_NAME_LENGTH = 200
O7_PLATFORMS = ("Android", "IPhone", "WindowsPhone")


class CodeTaken(ValueError):
    """A custom code that another link or campaign already uses."""


def allowed_target_hosts(session: Session, site_id: int) -> list[str]:
    """The site's allow-list of target hosts (empty: any valid target)."""
    policy = session.get(LinkPolicy, site_id)
    return list(policy.allowed_hosts) if policy is not None else []


def set_allowed_target_hosts(session: Session, site_id: int, hosts: Iterable[str]) -> list[str]:
    """Replace the site's allow-list; entries are host names or `*.domain` patterns."""
    cleaned: list[str] = []
    for entry in hosts:
        text = entry.strip().lower()
        wildcard = text.startswith("*.")
        host = normalize_host(text[2:] if wildcard else text)
        cleaned.append(f"*.{host}" if wildcard else host)
    policy = session.get(LinkPolicy, site_id)
    if policy is None:
        policy = LinkPolicy(site_id=site_id, allowed_hosts=cleaned)
        session.add(policy)
    else:
        policy.allowed_hosts = cleaned
    session.flush()
    return cleaned


def check_name(name: str | None) -> str | None:
    """A display name stripped, None when empty; raises ValueError when too long."""
    text = (name or "").strip()
    if len(text) > MAX_NAME_LENGTH:
        raise ValueError(f"name must be at most {MAX_NAME_LENGTH} characters")
    return text or None


def check_tags(tags: Iterable[str]) -> list[str]:
    """Tags stripped and de-duplicated in order; raises ValueError past the limits."""
    cleaned: list[str] = []
    for tag in tags:
        text = tag.strip()
        if not text:
            continue
        if len(text) > MAX_TAG_LENGTH:
            raise ValueError(f"a tag must be at most {MAX_TAG_LENGTH} characters")
        if text not in cleaned:
            cleaned.append(text)
    if len(cleaned) > MAX_TAGS:
        raise ValueError(f"a link may have at most {MAX_TAGS} tags")
    return cleaned


def checked_target(
    session: Session, site_id: int, url: object, utm: Mapping[str, str] | None = None
) -> str:
    """The normalized target for a link of this site, UTM parameters appended; TargetError."""
    hosts = allowed_target_hosts(session, site_id)
    target = check_target(url, hosts)
    if utm:
        target = check_target(with_utm(target, utm), hosts)
    return target


def _code_in_use(session: Session, code: str) -> bool:
    link = session.scalar(select(Link.id).where(Link.code == code))
    campaign = session.scalar(select(Campaign.id).where(Campaign.code == code))
    return link is not None or campaign is not None


def _insert_with_code(session: Session, row: Link | Campaign, code: str | None) -> None:
    if code is not None:
        row.code = check_custom_code(code)
        if _code_in_use(session, row.code):
            raise CodeTaken(f"code {row.code!r} is already taken")
        _flush_new(session, row)
        return
    for _ in range(_CODE_ATTEMPTS):
        row.code = generate_code()
        if _code_in_use(session, row.code):
            continue
        try:
            _flush_new(session, row)
        except CodeTaken:
            continue
        return
    raise RuntimeError("could not find a free code; the code generator is broken")


def _flush_new(session: Session, row: Link | Campaign) -> None:
    # A savepoint, so that losing a race for a code leaves the outer transaction usable.
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError as exc:
        raise CodeTaken(f"code {row.code!r} is already taken") from exc


def create_campaign(
    session: Session,
    *,
    site_id: int,
    name: str,
    code: str | None = None,
    redirect_url: str | None = None,
    platforms: Sequence[str] = (),
    sends: int | None = None,
) -> Campaign:
    """Add a campaign; raises ValueError (TargetError, CodeTaken) for bad input."""
    label = check_name(name)
    if label is None:
        raise ValueError("name must not be empty")
    if sends is not None and sends < 0:
        raise ValueError("sends must not be negative")
    campaign = Campaign(
        name=label,
        site_id=site_id,
        redirect_url=checked_target(session, site_id, redirect_url) if redirect_url else None,
        platforms=check_platforms(platforms),
        sends=sends,
    )
    _insert_with_code(session, campaign, code)
    return campaign


def check_platforms(platforms: Iterable[str]) -> list[str]:
    """o7tracker platform names in their canonical spelling; ValueError for unknown ones."""
    canonical = {name.lower(): name for name in O7_PLATFORMS}
    result: list[str] = []
    for platform in platforms:
        name = canonical.get(str(platform).strip().lower())
        if name is None:
            raise ValueError(f"unknown platform {platform!r}: use {', '.join(O7_PLATFORMS)}")
        if name not in result:
            result.append(name)
    return result


def create_link(
    session: Session,
    *,
    site_id: int,
    url: object,
    campaign_id: int | None = None,
    name: str | None = None,
    code: str | None = None,
    tags: Iterable[str] = (),
    utm: Mapping[str, str] | None = None,
) -> Link:
    """Add a link; raises ValueError (TargetError, CodeTaken) for bad input."""
    link = Link(
        site_id=site_id,
        campaign_id=campaign_id,
        name=check_name(name),
        url=checked_target(session, site_id, url, utm),
        tags=check_tags(tags),
    )
    _insert_with_code(session, link, code)
    return link


def find_link(session: Session, site_id: int, campaign_id: int | None, url: str) -> Link | None:
    """A live link of this site and campaign to exactly this target (for idempotent creation)."""
    query = select(Link).where(Link.site_id == site_id, Link.url == url, Link.archived_at.is_(None))
    query = query.where(
        Link.campaign_id.is_(None) if campaign_id is None else Link.campaign_id == campaign_id
    )
    return session.scalars(query.order_by(Link.id)).first()


def list_links(
    session: Session,
    site_ids: Iterable[int],
    *,
    campaign_id: int | None = None,
    include_archived: bool = False,
) -> list[Link]:
    """Links of the given sites, newest first."""
    query = select(Link).where(Link.site_id.in_(list(site_ids)))
    if campaign_id is not None:
        query = query.where(Link.campaign_id == campaign_id)
    if not include_archived:
        query = query.where(Link.archived_at.is_(None))
    return list(session.scalars(query.order_by(Link.id.desc())))


def campaign_by_name_or_code(session: Session, site_id: int, key: str) -> Campaign | None:
    """The site's campaign whose code or name is `key` (codes first)."""
    by_code = session.scalars(
        select(Campaign).where(Campaign.site_id == site_id, Campaign.code == key)
    ).first()
    if by_code is not None:
        return by_code
    return session.scalars(
        select(Campaign)
        .where(Campaign.site_id == site_id, Campaign.name == key)
        .order_by(Campaign.id)
    ).first()


def archive_link(link: Link) -> None:
    """Stop the link redirecting while keeping it (and its code) for its stats."""
    if link.archived_at is None:
        link.archived_at = utcnow()


def redirect_campaigns(session: Session, platforms: Iterable[str] = ()) -> list[Campaign]:
    """Redirect (o7tracker) campaigns, oldest first; with platforms, those targeting any."""
    wanted = set(check_platforms(platforms))
    rows = session.scalars(
        select(Campaign).where(Campaign.redirect_url.is_not(None)).order_by(Campaign.id)
    )
    return [c for c in rows if not wanted or wanted.intersection(c.platforms)]
