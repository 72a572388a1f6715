"""Password logins (API authentication, dashboard, HTTP Basic): throttled, constant-time checks."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, update

from footfall.accounts.passwords import verify_password
from footfall.accounts.throttle import LoginThrottler
from footfall.accounts.users import get_user
from footfall.meta.db import session_scope
from footfall.meta.models import User


@dataclass(frozen=True, slots=True)
class LoggedIn:
    """The user a login proved to be, as plain values (no session-bound row)."""

    user_id: int
    username: str
    role: str


class LockedOut(Exception):
    """Too many failed logins from this IP or for this username: wait `retry_after` seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"too many failed logins; try again in {retry_after:.0f} s")
        self.retry_after = retry_after


def check_login(
    engine: Engine, throttler: LoginThrottler, ip: str, username: str, password: str
) -> LoggedIn | None:
    """The user whose username and password these are, or None; raises LockedOut when locked.

    Unknown users, wrong passwords and disabled users cost the same argon2 check and look alike.
    A lockout is refused before the password is even checked, so guessing gains nothing.
    """
    wait = throttler.retry_after(ip, username)
    if wait > 0:
        raise LockedOut(wait)
    with session_scope(engine) as session:
        user = get_user(session, username)
        matches, new_hash = verify_password(user.password_hash if user else None, password)
        if user is None or not matches or user.disabled:
            found = None
        else:
            found = LoggedIn(user.id, user.username, user.role)
            if new_hash is not None:
                session.execute(
                    update(User).where(User.id == user.id).values(password_hash=new_hash)
                )
    if found is None:
        throttler.failed(ip, username)
        return None
    throttler.succeeded(ip, username)
    return found
