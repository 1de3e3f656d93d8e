"""Who may grade a course: its instructor, administrators, and the graders the instructor
assigned. Graders grade (queue, manual scores, rubrics, comments, overrides, grading runs,
everyone's submissions) but never edit the course or its assignments; that stays with
``enrollment.is_staff_of``. A student of the course cannot be made its grader (a conflict of
interest, ``membership``).

Functions take an ``AsyncSession`` and leave committing to the caller; refusals raise
``Refusal`` with a sentence to show and the HTTP status.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.courses.enrollment import is_enrolled, is_staff_of
from coursehub.services.errors import Refusal
from coursehub.services.models import Account, Course, CourseGrader

MANAGERS_ONLY = "Only the course's instructor and administrators can change its graders."


async def course_graders(session: AsyncSession, course: Course) -> list[Account]:
    rows = await session.scalars(
        select(Account)
        .join(CourseGrader, CourseGrader.account_id == Account.id)
        .where(CourseGrader.course_id == course.id)
        .order_by(Account.username)
    )
    return list(rows)


async def add_grader(
    session: AsyncSession, course: Course, username: str, added_by: Account
) -> tuple[Account, bool]:
    """Make the account called ``username`` a grader of ``course``; (account, newly added)."""
    if not is_staff_of(added_by, course):
        raise Refusal(MANAGERS_ONLY, 403)
    name = (username or "").strip()
    if not name:
        raise Refusal("Type the username of the person who should grade this course.")
    account = await session.scalar(select(Account).where(Account.username == name))
    if account is None:
        raise Refusal(
            f"There is no CourseHub account called {name!r}; check the spelling, or ask them "
            "to sign up first.",
            404,
        )
    if account.id == course.instructor_id:
        raise Refusal(f"{name} is the course's instructor and grades it already.", 409)
    if await is_enrolled(session, account, course):
        # Teaching and studying one course exclude each other (``membership``).
        raise Refusal(
            f"{name} is enrolled in {course.title} as a student, so they cannot grade it: they "
            "would grade their own work and see their classmates'. They can leave the course "
            "first, or choose someone who is not a student in it.",
            409,
        )
    added = await session.scalar(
        insert(CourseGrader)
        .values(course_id=course.id, account_id=account.id, added_by_id=added_by.id)
        .on_conflict_do_nothing(index_elements=["course_id", "account_id"])
        .returning(CourseGrader.id)
    )
    return account, added is not None


async def remove_grader(
    session: AsyncSession, course: Course, account_id: int, removed_by: Account
) -> bool:
    """Remove a grader; False when they were not one. Their grading so far stays."""
    if not is_staff_of(removed_by, course):
        raise Refusal(MANAGERS_ONLY, 403)
    removed = await session.scalar(
        delete(CourseGrader)
        .where(CourseGrader.course_id == course.id, CourseGrader.account_id == account_id)
        .returning(CourseGrader.id)
    )
    return removed is not None


def grader_json(account: Account) -> dict[str, Any]:
    return {
        "account_id": account.id,
        "username": account.username,
        "name": account.name,
    }
