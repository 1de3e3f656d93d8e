"""Sign-in tickets: how a browser that just proved who it is to the course service (by
registering, resetting or changing a password) is signed in to the hub without typing again.

A ticket is a single-use secret, kept in Redis by its SHA-256 for two minutes. The service
puts it in a cookie only the hub's welcome page (``/hub/coursehub/welcome``) receives; that
page hands it to the hub's authenticator, which redeems it here through the internal API.
A ticket in a cookie, never in an address, so that nobody can sign someone else's browser in
to their own account with a link.
"""

from __future__ import annotations

import hashlib
import secrets

from redis.asyncio import Redis

LIFETIME_SECONDS = 120
COOKIE = "coursehub-welcome"
WELCOME_PATH = "/hub/coursehub/welcome"


def _key(ticket: str) -> str:
    return f"coursehub:sign-in-ticket:{hashlib.sha256(ticket.encode()).hexdigest()}"


async def issue(redis: Redis, account_id: int) -> str:
    """A new ticket for ``account_id`` (raises Redis's errors when Redis is away)."""
    ticket = secrets.token_urlsafe(32)
    await redis.set(_key(ticket), str(account_id), ex=LIFETIME_SECONDS)
    return ticket


async def redeem(redis: Redis, ticket: str) -> int | None:
    """The account id the ticket was for, once; None for an unknown, used or old ticket."""
    if not ticket or len(ticket) > 100:
        return None
    value = await redis.getdel(_key(ticket))
    return int(value) if value else None
