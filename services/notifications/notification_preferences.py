"""Each person's email choice per kind of notification, with the defaults CourseHub uses
until they choose.

Every notification is kept in the app (the record, with read/unread). Besides that a kind
sends one email at once (EMAIL), goes into the daily digest (DIGEST) or sends no email
(OFF). The defaults: what needs action soon, or comes from a person, comes at once
(feedback released, assignments released or due within 24 hours, announcements, mentions,
direct messages); what people mostly see while they are on CourseHub anyway goes into the
digest (automatic grades, quiz grades, new lesson versions, forum replies); joining a
course, which people do themselves, sends none. Kinds CourseHub does not know send none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.models import EmailChoice, NotificationPreference, utcnow


@dataclass(frozen=True)
class Kind:
    name: str
    label: str  # what the settings page calls it
    default: EmailChoice


KINDS: tuple[Kind, ...] = (
    Kind("announcement", "Announcements from your instructors", EmailChoice.EMAIL),
    Kind("assignment_released", "A new assignment is released", EmailChoice.EMAIL),
    Kind(
        "assignment_due_soon",
        "An assignment you have not submitted is due within 24 hours",
        EmailChoice.EMAIL,
    ),
    Kind("feedback_released", "Feedback on your work is released", EmailChoice.EMAIL),
    Kind("submission_graded", "A submitted assignment is graded automatically", EmailChoice.DIGEST),
    Kind("quiz_graded", "A quiz answer is graded", EmailChoice.DIGEST),
    Kind("lesson_published", "A lesson of your course is published or updated", EmailChoice.DIGEST),
    Kind("direct_message", "Someone sends you a direct message", EmailChoice.EMAIL),
    Kind("forum_mention", "Someone mentions you in a forum", EmailChoice.EMAIL),
    Kind("forum_reply", "Someone replies in a forum thread you take part in", EmailChoice.DIGEST),
    Kind("enrolled", "You are enrolled in a course", EmailChoice.OFF),
)
BY_NAME = {kind.name: kind for kind in KINDS}
CHOICES = {choice.value.lower(): choice for choice in EmailChoice}


class PreferenceError(ValueError):
    """Settings that cannot be saved; the message says what to send instead."""


def default_for(kind: str) -> EmailChoice:
    known = BY_NAME.get(kind)
    return known.default if known else EmailChoice.OFF


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
