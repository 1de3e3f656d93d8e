"""People, as administrators see them: searching and filtering accounts, one person's page,
sign-in history, suspending and reactivating, and bulk enrolment.

A suspended person cannot sign in (``admit`` refuses them at every way in), their sessions
end (the hub's cookies and tokens, their servers stop: ``hub_users.end_sessions``) and the
course service refuses any request of theirs; nothing of theirs is deleted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, delete, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.hub.constants import Role
from coursehub.services.audit import audit_log
from coursehub.services.courses import enrollment
from coursehub.services.errors import Refusal
from coursehub.services.models import (
    Account,
    Assignment,
    Course,
    Enrollment,
    Grade,
    SignIn,
    Submission,
    Suspension,
    utcnow,
)

SUSPENDED_SIGN_IN = (
    "This account is suspended, so it cannot sign in. Ask your administrator if you think "
    "this is a mistake."
)
PAGE_SIZE = 50
MAX_BULK = 5000


class PeopleError(Refusal):
    """An administrator's action on people that cannot be done; the message says why."""


# -- signing in ------------------------------------------------------------------------------


async def admit(
    session: AsyncSession, account: Account, method: str, address: object = None
) -> None:
    """Let ``account`` sign in (refused while suspended) and keep the sign-in in its history,
    with the address the hub saw it come from (``coursehub.hub.auth.sign_in_address``)."""
    if await session.get(Suspension, account.id) is not None:
        raise PeopleError(SUSPENDED_SIGN_IN, 403)
    where = address.strip()[:45] if isinstance(address, str) else ""
    session.add(SignIn(account_id=account.id, method=method, at=utcnow(), address=where))


# -- searching -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PeopleQuery:
    text: str = ""
    role: str = ""
    status: str = ""  # active, suspended
    course_id: int | None = None
    seen: str = ""  # 7d, 30d, never, 30d+ (not in the last 30 days)

    def statement(self, now: datetime) -> Select[tuple[Account, Any]]:
        suspended = exists().where(Suspension.account_id == Account.id)
        query = select(Account, suspended.label("suspended"))
        if self.text:
            like = (
                "%" + self.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            )
            query = query.where(
                or_(
                    Account.username.ilike(like, escape="\\"),
                    Account.email.ilike(like, escape="\\"),
                    Account.name.ilike(like, escape="\\"),
                )
            )
        if self.role:
            try:
                query = query.where(Account.role == Role(self.role))
            except ValueError:
                raise PeopleError(f"{self.role!r} is not a role.", 400, field="role") from None
        if self.status == "suspended":
            query = query.where(suspended)
        elif self.status == "active":
            query = query.where(~suspended)
        if self.course_id is not None:
            query = query.where(
                exists().where(
                    Enrollment.account_id == Account.id, Enrollment.course_id == self.course_id
                )
            )
        if self.seen in ("7d", "30d"):
            query = query.where(Account.last_login_at >= now - timedelta(days=int(self.seen[:-1])))
        elif self.seen == "30d+":
            query = query.where(Account.last_login_at < now - timedelta(days=30))
        elif self.seen == "never":
            query = query.where(Account.last_login_at.is_(None))
        return query


async def search(
    session: AsyncSession, query: PeopleQuery, page: int = 1
) -> tuple[list[tuple[Account, bool]], int]:
    statement = query.statement(utcnow())
    total = await session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    rows = await session.execute(
        statement.order_by(Account.username).offset((max(page, 1) - 1) * PAGE_SIZE).limit(PAGE_SIZE)
    )
    return [(account, bool(suspended)) for account, suspended in rows], total


# -- one person ------------------------------------------------------------------------------


@dataclass
class PersonView:
    account: Account
    suspension: Suspension | None
    teaching: list[Course] = field(default_factory=list)
    enrolments: list[Enrollment] = field(default_factory=list)
    grades: list[dict[str, Any]] = field(default_factory=list)
    sign_ins: list[SignIn] = field(default_factory=list)


async def person(session: AsyncSession, account: Account) -> PersonView:
    view = PersonView(account=account, suspension=await session.get(Suspension, account.id))
    view.teaching = list(
        await session.scalars(
            select(Course).where(Course.instructor_id == account.id).order_by(Course.title)
        )
    )
    view.enrolments = list(
        await session.scalars(
            select(Enrollment)
            .where(Enrollment.account_id == account.id)
            .order_by(Enrollment.enrolled_at.desc())
        )
    )
    rows = await session.execute(
        select(
            Course.title,
            func.count(Submission.id),
            func.avg(Grade.final_score),
        )
        .select_from(Submission)
        .join(Grade, Grade.submission_id == Submission.id)
        .join(Assignment, Assignment.id == Submission.assignment_id)
        .join(Course, Course.id == Assignment.course_id)
        .where(Submission.account_id == account.id)
        .group_by(Course.title)
        .order_by(Course.title)
    )
    view.grades = [
        {"course": title, "graded": count, "average": None if avg is None else round(float(avg), 2)}
        for title, count, avg in rows
    ]
    view.sign_ins = list(
        await session.scalars(
            select(SignIn)
            .where(SignIn.account_id == account.id)
            .order_by(SignIn.at.desc())
            .limit(50)
        )
    )
    return view


# -- suspending ------------------------------------------------------------------------------


async def _admins_left(session: AsyncSession, without: Account) -> int:
    suspended = exists().where(Suspension.account_id == Account.id)
    return (
        await session.scalar(
            select(func.count())
            .select_from(Account)
            .where(Account.role == Role.ADMIN, Account.id != without.id, ~suspended)
        )
        or 0
    )


async def suspend(
    session: AsyncSession, actor: Account, account: Account, reason: str
) -> Suspension:
    """Suspend ``account``; the caller ends its hub sessions before committing."""
    if not actor.role.at_least(Role.ADMIN):
        raise PeopleError("Only administrators suspend accounts.", 403)
    if account.id == actor.id:
        raise PeopleError("You cannot suspend yourself; ask another administrator.", 409)
    if account.role is Role.ADMIN and await _admins_left(session, account) == 0:
        raise PeopleError("This is the last active administrator; CourseHub needs one.", 409)
    text = (reason or "").strip()
    if not text:
        raise PeopleError("Give a reason: it is kept in the audit log.", 400, field="reason")
    if await session.get(Suspension, account.id, with_for_update=True) is not None:
        raise PeopleError(f"{account.username} is already suspended.", 409)
    suspension = Suspension(account_id=account.id, reason=text[:2000], by_id=actor.id, at=utcnow())
    session.add(suspension)
    audit_log.record(
        session,
        actor,
        "account.suspend",
        account,
        {"suspended": False},
        {"suspended": True},
        reason=text,
    )
    await session.flush()
    return suspension


async def reactivate(
    session: AsyncSession, actor: Account, account: Account, reason: str = ""
) -> None:
    if not actor.role.at_least(Role.ADMIN):
        raise PeopleError("Only administrators reactivate accounts.", 403)
    suspension = await session.get(Suspension, account.id, with_for_update=True)
    if suspension is None:
        raise PeopleError(f"{account.username} is not suspended.", 409)
    await session.delete(suspension)
    await session.flush()
    audit_log.record(
        session,
        actor,
        "account.reactivate",
        account,
        {"suspended": True, "reason": suspension.reason},
        {"suspended": False},
        reason=reason,
    )


# -- bulk enrolment --------------------------------------------------------------------------


async def accounts_named(
    session: AsyncSession, names: list[str]
) -> tuple[list[Account], list[str]]:
    """The accounts whose user names or emails are given, and the names that match none."""
    wanted = [name.strip().lower() for name in names if name.strip()]
    if len(wanted) > MAX_BULK:
        raise PeopleError(f"At most {MAX_BULK} people at once.", 400)
    rows = list(
        await session.scalars(
            select(Account).where(
                or_(func.lower(Account.username).in_(wanted), func.lower(Account.email).in_(wanted))
            )
        )
    )
    found = {a.username.lower() for a in rows} | {(a.email or "").lower() for a in rows}
    return rows, [name for name in wanted if name not in found]


async def bulk_enrol(
    session: AsyncSession, actor: Account, course: Course, people: list[Account], *, enrol: bool
) -> dict[str, list[str]]:
    """Enrol (or unenrol) every one of ``people``; all or nothing. What happened to whom."""
    if not actor.role.at_least(Role.ADMIN):
        raise PeopleError("Only administrators enrol people in bulk.", 403)
    done: list[str] = []
    unchanged: list[str] = []
    for account in people:
        enrolled = await enrollment.is_enrolled(session, account, course)
        if enrolled == enrol:
            unchanged.append(account.username)
            continue
        if enrol:
            conflict = await enrollment.teaching_conflict(session, account, course)
            if conflict is not None:
                raise PeopleError(
                    f"{account.username} teaches or grades {course.title}, so cannot be enrolled "
                    "in it; nobody was enrolled.",
                    409,
                )
            session.add(Enrollment(account_id=account.id, course_id=course.id))
        else:
            await session.execute(
                delete(Enrollment).where(
                    Enrollment.account_id == account.id, Enrollment.course_id == course.id
                )
            )
        done.append(account.username)
    if done:
        audit_log.record(
            session,
            actor,
            "course.bulk_enrol" if enrol else "course.bulk_unenrol",
            ("course", course.id),
            None,
            {"people": done},
            course_id=course.id,
        )
    await session.flush()
    return {"changed": done, "unchanged": unchanged}
