"""LTI client-side postMessage storage (1EdTech "LTI Client Side postMessages", Platform
Storage): when a browser keeps CourseHub's cookies out of the LMS's iframe, a platform that
names a storage frame (``lti_storage_target`` in its login initiation) keeps the launch's
state and nonce for CourseHub instead of a state cookie.

The login page inside the frame stores them there with ``lti.put_data``; the launch that comes
back without the state cookie is kept here (``keep_pending``) while the page inside the frame
reads them back with ``lti.get_data`` (replies count only from the origin of the platform's
OIDC authorisation URL) and hands them to ``/lti/launch/storage``, which validates the launch
exactly as strictly as with a cookie (the nonce stays single-use in Redis).

The hub's sign-in still needs a cookie, so the learner continues in a new window: the frame
holds a continuation ticket (single-use, a few minutes) that it gives only to the CourseHub
window it opened (``postMessage`` between CourseHub's own origin), never in an address, so
that nobody can sign someone else's browser in with a link.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from redis.asyncio import Redis

PARAM = "lti_storage_target"
# "_parent" (the LMS's window itself) or the name of a frame of it.
TARGET = re.compile(r"^(_parent|[A-Za-z0-9_.-]{1,100})$")
PENDING_SECONDS = 300
CONTINUATION_SECONDS = 300
_PENDING = "coursehub:lti:pending-launch:"
_CONTINUATION = "coursehub:lti:continuation:"


def storage_target(value: str) -> str:
    """The platform's storage target when it names one CourseHub can post to, else ''."""
    return value if TARGET.match(value or "") else ""


def platform_origin(auth_login_url: str) -> str:
    """The origin whose replies CourseHub believes: the platform's OIDC authorisation URL's."""
    parts = urlsplit(auth_login_url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def state_key(state: str) -> str:
    """The key the state is kept under in the platform's storage."""
    return f"state_{state}"


def nonce_key(nonce: str) -> str:
    """The key the nonce is kept under in the platform's storage."""
    return f"nonce_{nonce}"


async def keep_pending(redis: Redis, state: str, id_token: str) -> None:
    """A launch that came back without its state cookie, kept while the frame asks the
    platform's storage for the state."""
    await redis.set(f"{_PENDING}{_digest(state)}", id_token, ex=PENDING_SECONDS)


async def take_pending(redis: Redis, state: str) -> str | None:
    """The id_token of the pending launch with this state, once (None: unknown or taken)."""
    if not state or len(state) > 200:
        return None
    value = await redis.getdel(f"{_PENDING}{_digest(state)}")
    return value.decode() if isinstance(value, bytes) else value


@dataclass(frozen=True)
class Continuation:
    account_id: int
    next_url: str


async def issue_continuation(redis: Redis, account_id: int, next_url: str) -> str:
    """A ticket that signs ``account_id`` in to the hub in a new window and opens ``next_url``."""
    ticket = secrets.token_urlsafe(32)
    payload = json.dumps({"account_id": account_id, "next_url": next_url})
    await redis.set(f"{_CONTINUATION}{_digest(ticket)}", payload, ex=CONTINUATION_SECONDS)
    return ticket


async def redeem_continuation(redis: Redis, ticket: str) -> Continuation | None:
    """What the ticket was for, once; None for an unknown, used or expired ticket."""
    if not ticket or len(ticket) > 100:
        return None
    raw = await redis.getdel(f"{_CONTINUATION}{_digest(ticket)}")
    if raw is None:
        return None
    payload = json.loads(raw)
    return Continuation(int(payload["account_id"]), str(payload["next_url"]))


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
