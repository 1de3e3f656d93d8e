"""Each person's email choice per kind of notification (the kinds and their defaults are
declared in ``kinds``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.errors import Refusal
from coursehub.services.models import EmailChoice, NotificationPreference, utcnow
from coursehub.services.notifications.kinds import BY_NAME, KINDS

CHOICES = {choice.value.lower(): choice for choice in EmailChoice}


class PreferenceError(Refusal):
    """Settings that cannot be saved; the message says what to send instead."""


async def choices_of(session: AsyncSession, account_id: int) -> dict[str, EmailChoice]:
    """Every known kind's email choice for ``account_id`` (their own, else the default)."""
    rows = await session.scalars(
        select(NotificationPreference).where(NotificationPreference.account_id == account_id)
    )
    chosen = {row.kind: row.email for row in rows}
    return {kind.name: chosen.get(kind.name, kind.default) for kind in KINDS}


def settings_json(choices: dict[str, EmailChoice]) -> dict[str, Any]:
    return {
        "kinds": [
            {
                "kind": kind.name,
                "label": kind.label,
                "email": choices[kind.name].value.lower(),
                "default": kind.default.value.lower(),
            }
            for kind in KINDS
        ],
        "choices": sorted(CHOICES),
    }


def parse_choices(raw: Any) -> dict[str, EmailChoice]:
    """``{"<kind>": "off" | "email" | "digest"}`` as choices, or a ``PreferenceError``."""
    if not isinstance(raw, dict):
        raise PreferenceError(
            'Send "email" as an object of notification kinds and choices, such as '
            '{"email": {"announcement": "digest"}}.'
        )
    parsed: dict[str, EmailChoice] = {}
    for kind, value in raw.items():
        if kind not in BY_NAME:
            raise PreferenceError(
                f"CourseHub has no notification kind {str(kind)[:60]!r}; use one of "
                f"{', '.join(BY_NAME)}."
            )
        choice = CHOICES.get(str(value).lower()) if isinstance(value, str) else None
        if choice is None:
            raise PreferenceError(f"Choose off, email or digest for {kind}.")
        parsed[kind] = choice
    return parsed


async def save_choices(
    session: AsyncSession, account_id: int, choices: dict[str, EmailChoice]
) -> None:
    """Keep ``account_id``'s choices (only the kinds given change)."""
    for kind, choice in choices.items():
        await session.execute(
            insert(NotificationPreference)
            .values(account_id=account_id, kind=kind, email=choice, updated_at=utcnow())
            .on_conflict_do_update(
                index_elements=["account_id", "kind"],
                set_={"email": choice, "updated_at": utcnow()},
            )
        )
