"""Shared links: unguessable tokens, optional argon2 password, revocation, listing."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from footfall.accounts.passwords import validate_password
from footfall.accounts.shared import (
    check_shared_password,
    create_shared_link,
    live_shared_link,
    revoke_shared_link,
    site_shared_links,
)
from footfall.meta.db import session_scope
from footfall.meta.sites import create_site


def test_shared_link_lifecycle(meta_engine: Engine) -> None:
    with session_scope(meta_engine) as session:
        site_id = create_site(session, "example.com").id
        other_id = create_site(session, "other.com").id
        open_link = create_shared_link(session, site_id, "Public")
        locked = create_shared_link(session, site_id, "Board", password="board members only")
        tokens = {open_link.token, locked.token}
    assert len(tokens) == 2 and all(len(token) >= 43 for token in tokens)
    with session_scope(meta_engine) as session:
        found = live_shared_link(session, locked.token)
        assert found is not None and found.password_hash is not None
        assert "board members" not in found.password_hash
        assert check_shared_password(found, "board members only")
        assert not check_shared_password(found, "board members")
        link = live_shared_link(session, open_link.token)
        assert link is not None and check_shared_password(link, "")
        assert live_shared_link(session, "") is None
        assert not revoke_shared_link(session, other_id, open_link.id)  # not that site's
        assert revoke_shared_link(session, site_id, open_link.id)
    with session_scope(meta_engine) as session:
        assert live_shared_link(session, open_link.token) is None
        assert [link.name for link in site_shared_links(session, site_id)] == ["Board"]
        with pytest.raises(ValueError, match="name"):
            create_shared_link(session, site_id, " ")
        with pytest.raises(ValueError, match="at least 10"):
            create_shared_link(session, site_id, "x", password="short")


def test_common_passwords_are_refused() -> None:
    for common in ("1234567890", "qwertyuiop", "Password123"):
        with pytest.raises(ValueError, match="most common"):
            validate_password(common)
    validate_password("an uncommon passphrase")
