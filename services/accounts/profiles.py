"""Profiles: what a person says about themself (name, bio, pronouns, time zone, language,
avatar), and how they are shown wherever they appear (forums, messages, staff lists).

An avatar's type is decided by its first bytes (``content.uploads``), never by its name; it
is kept as an ``Upload`` of purpose ``avatar`` and served to signed-in people only.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import available_timezones

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.accounts.accounts import AccountError, FormProblems
from coursehub.services.content import uploads
from coursehub.services.models import Account, Profile, Upload, utcnow
from coursehub.services.settings import MB, Settings

AVATAR = "avatar"
MAX_AVATAR_BYTES = 2 * MB
MAX_BIO_CHARS = 1_000
MAX_PRONOUNS_CHARS = 40
# The languages CourseHub's pages and emails are written in. Only English until translations
# exist: offering others would be a setting that changes nothing. The profile page shows
# "English (more languages coming)" instead of a choice; the stored value stays, ready.
LANGUAGES = {"en": "English"}
ONLY_ENGLISH = (
    "CourseHub is in English only for now (more languages are coming): leave the language as "
    "English."
)
TIME_ZONES = sorted(available_timezones() - {"localtime", "Factory"})
_TIME_ZONE_SET = frozenset(TIME_ZONES)


@dataclass(frozen=True)
class PersonCard:
    """How one person is shown next to what they wrote."""

    account_id: int
    name: str
    pronouns: str
    avatar_url: str | None


async def profile_of(session: AsyncSession, account: Account) -> Profile:
    """The account's profile; a new (unsaved until flushed) one with defaults if none yet."""
    profile = await session.get(Profile, account.id)
    if profile is None:
        profile = Profile(
            account_id=account.id, bio="", pronouns="", time_zone="UTC", language="en"
        )
        session.add(profile)
    return profile


async def update_profile(
    session: AsyncSession,
    account: Account,
    *,
    name: str,
    bio: str,
    pronouns: str,
    time_zone: str,
    language: str,
) -> Profile:
    """Save a profile form; every wrong field is named at once (``FormProblems``)."""
    problems: dict[str, str] = {}
    name, bio, pronouns = name.strip(), bio.strip(), pronouns.strip()
    if not name:
        problems["name"] = "Tell us your name."
    elif len(name) > 200:
        problems["name"] = "Your name can be at most 200 characters."
    if len(bio) > MAX_BIO_CHARS:
        problems["bio"] = f"Keep your bio to {MAX_BIO_CHARS} characters (it has {len(bio)})."
    if len(pronouns) > MAX_PRONOUNS_CHARS:
        problems["pronouns"] = f"Pronouns can be at most {MAX_PRONOUNS_CHARS} characters."
    if time_zone not in _TIME_ZONE_SET:
        problems["time_zone"] = "Choose a time zone from the list, such as Europe/Berlin."
    if language not in LANGUAGES:
        problems["language"] = ONLY_ENGLISH
    if problems:
        raise FormProblems(problems)
    profile = await profile_of(session, account)
    account.name = name
    profile.bio, profile.pronouns = bio, pronouns
    profile.time_zone, profile.language = time_zone, language
    profile.updated_at = utcnow()
    return profile


def too_large_avatar() -> AccountError:
    return AccountError(
        f"An avatar can be at most {MAX_AVATAR_BYTES / MB:g} MB. Save a smaller picture "
        "(400 x 400 pixels is plenty) and upload it again.",
        status=413,
        field="avatar",
    )


async def set_avatar(
    session: AsyncSession, settings: Settings, account: Account, data: bytes, file_name: str
) -> Path | None:
    """Keep ``data`` as the account's avatar if it is a PNG, JPEG or WebP image of at most
    ``MAX_AVATAR_BYTES``; nothing is kept otherwise. Returns the old avatar's file, for the
    caller to remove once the change is committed."""
    if len(data) > MAX_AVATAR_BYTES:
        raise too_large_avatar()
    try:
        incoming = await uploads.receive_bytes(
            settings.uploads_dir, uploads.THUMBNAIL, MAX_AVATAR_BYTES, data
        )
    except uploads.UploadError as error:
        message = error.message
        if "not a PNG" in message:
            message = (
                "This file is not a PNG, JPEG or WebP image (whatever its name says). Save "
                "your picture in one of those formats and upload it again."
            )
        raise AccountError(message, status=error.status, field="avatar") from None
    upload = await uploads.record(session, incoming, account, file_name)
    upload.purpose = AVATAR
    profile = await profile_of(session, account)
    old = await session.get(Upload, profile.avatar_upload_id) if profile.avatar_upload_id else None
    profile.avatar_upload_id = upload.id
    profile.updated_at = utcnow()
    if old is None:
        return None
    await session.delete(old)
    return settings.uploads_dir / old.storage_name


async def remove_avatar(session: AsyncSession, settings: Settings, account: Account) -> Path | None:
    """Drop the account's avatar; returns its file, to remove once this is committed."""
    profile = await profile_of(session, account)
    if profile.avatar_upload_id is None:
        return None
    old = await session.get(Upload, profile.avatar_upload_id)
    profile.avatar_upload_id = None
    if old is None:
        return None
    await session.delete(old)
    return settings.uploads_dir / old.storage_name


def avatar_url(prefix: str, account_id: int, upload_id: int | None) -> str | None:
    # The upload id in the address: a new avatar is a new address, so caches never mislead.
    return f"{prefix}/people/{account_id}/avatar/{upload_id}" if upload_id else None


async def cards(
    session: AsyncSession, prefix: str, account_ids: Iterable[int]
) -> dict[int, PersonCard]:
    """How each of ``account_ids`` is shown (name, pronouns, avatar), in one query."""
    wanted = {account_id for account_id in account_ids if account_id is not None}
    if not wanted:
        return {}
    rows = await session.execute(
        select(Account.id, Account.name, Profile.pronouns, Profile.avatar_upload_id)
        .outerjoin(Profile, Profile.account_id == Account.id)
        .where(Account.id.in_(wanted))
    )
    return {
        row.id: PersonCard(
            account_id=row.id,
            name=row.name,
            pronouns=row.pronouns or "",
            avatar_url=avatar_url(prefix, row.id, row.avatar_upload_id),
        )
        for row in rows
    }


async def pronouns_of(session: AsyncSession, account_ids: Iterable[int | None]) -> dict[int, str]:
    """The pronouns of those of ``account_ids`` who gave any, for pages that show people
    next to what they did (``_person.html``'s ``pronouns`` macro), in one query."""
    wanted = {account_id for account_id in account_ids if account_id is not None}
    if not wanted:
        return {}
    rows = await session.execute(
        select(Profile.account_id, Profile.pronouns).where(
            Profile.account_id.in_(wanted), Profile.pronouns != ""
        )
    )
    return {row.account_id: row.pronouns for row in rows}


_AVATAR_COLOURS = ("#3b6ea5", "#7a4fa0", "#2f855a", "#b7791f", "#c05621", "#2c7a7b")


def initials_svg(name: str, account_id: int) -> str:
    """A round picture with the name's first letter, for people without an avatar."""
    letter = html.escape((name.strip()[:1] or "?").upper())
    colour = _AVATAR_COLOURS[account_id % len(_AVATAR_COLOURS)]
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 40" width="40" height="40">'
        f'<circle cx="20" cy="20" r="20" fill="{colour}"/>'
        '<text x="20" y="26" font-family="sans-serif" font-size="18" fill="#fff" '
        f'text-anchor="middle">{letter}</text></svg>'
    )
