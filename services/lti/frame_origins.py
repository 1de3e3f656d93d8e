"""Which LMS pages may show CourseHub in their iframe: ``frame-ancestors`` for the pages an LTI
launch leads to.

Every CourseHub page answers ``frame-ancestors 'self'``. The pages an LTI launch opens (the
course page, the lesson player and its lesson frame, an assignment's and a quiz's pages, the
Deep Linking picker, the passback log) also name the origins of the registered LMSs, and
nothing else (never ``*``): a platform's issuer, its OIDC authorisation URL, and the LMS
addresses its *signed* launches name (``tool_platform.url``, ``launch_presentation.return_url``:
Canvas's issuer is not the school's Canvas address). A launch's ``Origin`` header is never
trusted: anyone holding their own id_token could post it from another site.

The origins live in Redis (a sorted set by last launch), remembered by every validated launch,
so a page's answer costs one Redis read and no database session; an origin no launch named for
``KEEP_DAYS`` drops out.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from redis.asyncio import Redis

from coursehub.services.lti.pylti1p3_adapters import PlatformSnapshot

KEY = "coursehub:lti:frame-origins"
KEEP_DAYS = 30
CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
# The addresses (under the service prefix) an LTI launch leads to, and the pages reached from
# them inside the LMS's iframe (launch_people's targets; the lesson frame inside the player).
FRAMED_PATH = re.compile(
    r"/(?:courses/[^/]+/?"
    r"|courses/[^/]+/assignments"
    r"|courses/[^/]+/(?:assignments|quizzes)/\d+(?:/.*)?"
    r"|learn/[\w-]+/\d+(?:/|/frame)?"
    r"|lti/(?:login|launch|deep-link/[\w-]+|courses/[^/]+/passback))"
)
_ORIGIN = re.compile(r"https?://[a-z0-9.-]+(?::\d{1,5})?|https?://\[[0-9a-f:.]+\](?::\d{1,5})?")


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of an http(s) URL, or None (nothing else goes into a CSP)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return None
    host = parts.hostname.lower()
    host = f"[{host}]" if ":" in host else host
    origin = f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")
    return origin if _ORIGIN.fullmatch(origin) else None


def _origins(urls: Iterable[Any]) -> list[str]:
    found = (origin_of(url) for url in urls if isinstance(url, str))
    return sorted({origin for origin in found if origin is not None})


def of_platform(platform: PlatformSnapshot) -> list[str]:
    """The origins a registration names: its issuer and its OIDC authorisation URL."""
    return _origins([platform.issuer, platform.auth_login_url])


def of_launch(platform: PlatformSnapshot, claims: dict[str, Any]) -> list[str]:
    """The registration's origins and those the platform's signed launch names."""
    tool_platform = claims.get(f"{CLAIM}tool_platform") or {}
    presentation = claims.get(f"{CLAIM}launch_presentation") or {}
    named = [
        tool_platform.get("url") if isinstance(tool_platform, dict) else None,
        presentation.get("return_url") if isinstance(presentation, dict) else None,
    ]
    return _origins([platform.issuer, platform.auth_login_url, *named])


def frame_ancestors(origins: Iterable[str]) -> str:
    """The ``frame-ancestors`` sources: CourseHub itself and these LMS origins."""
    return " ".join(["'self'", *sorted(set(origins))])


def is_framed_path(path: str) -> bool:
    """Whether a path under the service prefix is one an LTI launch leads to."""
    return FRAMED_PATH.fullmatch(path) is not None


async def remember(redis: Redis, origins: Iterable[str]) -> None:
    """A validated launch names these LMS origins: pages it leads to may be framed by them."""
    now = time.time()
    scored = {origin: now for origin in origins if _ORIGIN.fullmatch(origin)}
    if scored:
        await redis.zadd(KEY, scored)  # type: ignore[arg-type]
        await redis.zremrangebyscore(KEY, "-inf", now - KEEP_DAYS * 86400)


async def allowed(redis: Redis) -> list[str]:
    """The LMS origins launches named in the last ``KEEP_DAYS`` days."""
    since = time.time() - KEEP_DAYS * 86400
    found = await redis.zrangebyscore(KEY, since, "+inf")
    origins = (o.decode() if isinstance(o, bytes) else str(o) for o in found)
    return sorted(o for o in origins if _ORIGIN.fullmatch(o))
