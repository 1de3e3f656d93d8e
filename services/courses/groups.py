"""Groups (sections) of a course's students: one group name per enrolment, set by the
course's instructor on its students page, and the course's groups for the analytics filter."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.errors import Refusal
from coursehub.services.models import Account, Course, Enrollment

GROUP_NAME_LENGTH = 60


def clean_group_name(raw: str) -> str | None:
    """The group name as kept (spaces trimmed, None for no group); a long one is refused."""
    name = " ".join(raw.split())
    if len(name) > GROUP_NAME_LENGTH:
        raise Refusal(
            f"Keep the group's name to {GROUP_NAME_LENGTH} characters or fewer.",
            400,
            field="group",
        )
    return name or None


async def set_group(session: AsyncSession, course: Course, username: str, raw: str) -> str | None:
    """Put the course's student ``username`` in the group ``raw`` (blank: in no group)."""
    name = clean_group_name(raw)
    enrollment = await session.scalar(
        select(Enrollment)
        .join(Account, Account.id == Enrollment.account_id)
        .where(Enrollment.course_id == course.id, Account.username == username)
    )
    if enrollment is None:
        raise Refusal("That person is not enrolled in this course.", 404, field="username")
    enrollment.group_name = name
    return name


async def course_groups(session: AsyncSession, course_id: int) -> list[str]:
    """The course's groups that have students, by name."""
    return list(
        await session.scalars(
            select(Enrollment.group_name)
            .where(Enrollment.course_id == course_id, Enrollment.group_name.is_not(None))
            .group_by(Enrollment.group_name)
            .order_by(Enrollment.group_name)
        )
    )
