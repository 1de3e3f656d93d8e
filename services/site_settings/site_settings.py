"""Reading and changing site settings.

Values live in ``site_settings`` (only the keys an administrator changed); the uploaded logo
in ``site_images`` (``site_logo``), of which the settings carry the version. Each process keeps
the whole set in memory beside the version it read from Redis (``VERSION_KEY``); a change
bumps that version before and after its commit, so the next request of every process reloads
exactly when something changed. Without Redis every read goes to the database.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.audit import audit_log
from coursehub.services.errors import Refusal
from coursehub.services.models import Account, SiteImage, SiteSetting, utcnow
from coursehub.services.settings import MB, Settings
from coursehub.services.site_settings.definitions import BY_KEY, DEFINITIONS

log = logging.getLogger(__name__)
VERSION_KEY = "coursehub:site-settings:version"


@dataclass(frozen=True)
class SiteSettings:
    platform_name: str = "CourseHub"
    # The uploaded logo's checksum, shortened ("": none, CourseHub's own mark); pages put it
    # in the logo's address, so a new logo is a new address (site_logo).
    logo_version: str = ""
    registration: str = "open"
    allowed_domains: tuple[str, ...] = ()
    max_notebook_mb: int | None = None
    max_thumbnail_mb: int | None = None
    max_video_mb: int | None = None
    lesson_kernels_per_person: int | None = None
    server_memory_mb: int | None = None
    server_cpus: int | None = None
    course_approval: bool = False
    support_email: str = ""

    def value(self, key: str) -> Any:
        value = getattr(self, key)
        return list(value) if isinstance(value, tuple) else value

    def applied_to(self, settings: Settings) -> Settings:
        """The process's settings with the limits an administrator set in their place."""
        changes: dict[str, int] = {}
        for key, field in (
            ("max_notebook_mb", "max_notebook_bytes"),
            ("max_thumbnail_mb", "max_thumbnail_bytes"),
            ("max_video_mb", "max_video_bytes"),
        ):
            if getattr(self, key) is not None:
                changes[field] = getattr(self, key) * MB
        if self.lesson_kernels_per_person is not None:
            changes["lesson_kernels_per_person"] = self.lesson_kernels_per_person
        return dataclasses.replace(settings, **changes) if changes else settings


def from_rows(rows: dict[str, Any], logo_version: str = "") -> SiteSettings:
    values: dict[str, Any] = {"logo_version": logo_version}
    for key, raw in rows.items():
        if key not in BY_KEY:
            continue  # a setting a newer CourseHub wrote, or an older one dropped
        values[key] = tuple(raw) if isinstance(raw, list) else raw
    return SiteSettings(**values)


LOGO = "logo"


async def load(session: AsyncSession) -> SiteSettings:
    rows = await session.execute(select(SiteSetting.key, SiteSetting.value))
    logo = await session.scalar(select(SiteImage.sha256).where(SiteImage.name == LOGO))
    return from_rows({key: value for key, value in rows}, logo[:16] if logo else "")


class SiteSettingsCache:
    """This process's copy and the version it belongs to."""

    def __init__(self) -> None:
        self.version: bytes | None = None
        self.value: SiteSettings | None = None

    async def current(self, sessions: Any, redis: Redis | None) -> SiteSettings:
        version: bytes | None = None
        try:
            version = await redis.get(VERSION_KEY) if redis is not None else None
            known = redis is not None
        except RedisError:
            known = False
        if known and self.value is not None and version == self.version:
            return self.value
        async with sessions() as session:
            value = await load(session)
        if known:
            self.version, self.value = version, value
        return value


async def bump_version(redis: Redis) -> None:
    await redis.incr(VERSION_KEY)


async def change(
    session: AsyncSession,
    redis: Redis,
    actor: Account,
    raw: dict[str, Any],
) -> dict[str, tuple[Any, Any]]:
    """Apply the settings given (unknown keys refused); what changed, as (before, after).

    Every value is read before anything is written, so one bad value changes nothing. The
    caller commits, then calls ``bump_version`` again (this bumps it before the commit too,
    so a Redis that is away refuses the change instead of leaving processes stale)."""
    unknown = sorted(set(raw) - set(BY_KEY))
    if unknown:
        raise Refusal(f"There is no site setting named {unknown[0]!r}.", 400, field=unknown[0])
    wanted = {key: BY_KEY[key].read(value) for key, value in raw.items()}
    before = await load(session)
    registration = wanted.get("registration", before.registration)
    domains = wanted.get("allowed_domains", list(before.allowed_domains))
    if registration == "domains" and not domains:
        raise Refusal(
            "Registration by domain needs at least one allowed domain.",
            400,
            field="allowed_domains",
        )
    changed: dict[str, tuple[Any, Any]] = {}
    for key, value in wanted.items():
        old = before.value(key)
        if old == value:
            continue
        changed[key] = (old, value)
        await session.execute(
            insert(SiteSetting)
            .values(key=key, value=value, updated_by_id=actor.id, updated_at=utcnow())
            .on_conflict_do_update(
                index_elements=[SiteSetting.key],
                set_={"value": value, "updated_by_id": actor.id, "updated_at": utcnow()},
            )
        )
        audit_log.record(session, actor, "settings.change", ("site_setting", key), old, value)
    if changed:
        try:
            await bump_version(redis)
        except RedisError:
            raise Refusal(
                "CourseHub cannot tell its processes about the change (Redis is not answering); "
                "nothing was changed. Try again in a minute.",
                503,
            ) from None
    return changed


def defaults() -> dict[str, Any]:
    return {definition.key: definition.default for definition in DEFINITIONS}


def registration_refusal(site: SiteSettings, email: str) -> Refusal | None:
    """Why ``email`` may not register on this platform now, or None."""
    name = site.platform_name
    if site.registration == "closed":
        return Refusal(
            f"Registration on {name} is closed; ask an administrator for an account.",
            403,
            field="email",
        )
    if site.registration == "invitation":
        return Refusal(
            f"{name} is by invitation only: an administrator adds you, and you get an email "
            "with a link to choose your password.",
            403,
            field="email",
        )
    if site.registration == "domains":
        domain = email.strip().rpartition("@")[2].lower()
        if domain not in site.allowed_domains:
            allowed = ", ".join(site.allowed_domains)
            return Refusal(
                f"Only email addresses at {allowed} can register on {name}; use one of those.",
                403,
                field="email",
            )
    return None
