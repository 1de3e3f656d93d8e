"""A validated launch becomes a CourseHub person in a course: found or created by the
platform's ``sub`` (never by email alone), given the place its LTI roles map to (Learner: a
student; Instructor or teaching assistant: a grader of the course, its own instructor
staying its instructor), enrolled, and sent to the launch's target. The caller commits; a
refusal leaves nothing behind."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.accounts.accounts import (
    AccountError,
    find_by_email,
    normalise_email,
    unique_username,
)
from coursehub.services.courses import course_staff, enrollment
from coursehub.services.lti.launch import ValidLaunch, refusal
from coursehub.services.lti.platforms import LtiError
from coursehub.services.models import (
    Account,
    Assignment,
    Course,
    LtiIdentity,
    LtiPlatform,
    Suspension,
    utcnow,
)

MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership"
LEARNER = {f"{MEMBERSHIP}#Learner", "Learner"}
STAFF = {
    f"{MEMBERSHIP}#Instructor",
    f"{MEMBERSHIP}/Instructor#TeachingAssistant",
    "Instructor",
    "TeachingAssistant",
}
TARGETS = ("lesson", "assignment", "quiz")


@dataclass(frozen=True)
class LaunchPlace:
    account: Account
    course: Course
    staff: bool
    target: str  # a path under the service prefix


def place_for_roles(roles: list[str]) -> str:
    """``staff``, ``student`` or ``""`` (no role CourseHub knows) for the launch's roles."""
    if any(role in STAFF for role in roles):
        return "staff"
    if any(role in LEARNER for role in roles):
        return "student"
    return ""


async def _course(session: AsyncSession, platform: LtiPlatform, launch: ValidLaunch) -> Course:
    slug = launch.custom.get("course", "").strip()
    if slug:
        course = await enrollment.course_by_slug(session, slug)
        if course is None:
            raise refusal(f"the link names the course {slug!r}, which CourseHub does not have", 404)
        return course
    course = await session.get(Course, platform.course_id) if platform.course_id else None
    if course is None:
        raise refusal(
            "this LMS is linked to no CourseHub course and the link names none "
            "(a custom parameter course=<course address>)",
            404,
        )
    return course


async def _person(session: AsyncSession, platform: LtiPlatform, launch: ValidLaunch) -> Account:
    subject = str(launch.claims.get("sub", ""))[:255]
    identity = await session.scalar(
        select(LtiIdentity).where(
            LtiIdentity.platform_id == platform.id, LtiIdentity.subject == subject
        )
    )
    if identity is not None:
        identity.last_launch_at = utcnow()
        account = await session.get(Account, identity.account_id)
        assert account is not None
        return account
    claims = launch.claims
    name = str(
        claims.get("name")
        or " ".join(str(claims.get(part, "")) for part in ("given_name", "family_name"))
    ).strip()[:200]
    email: str | None = None
    try:
        email = normalise_email(str(claims.get("email", ""))) if claims.get("email") else None
    except AccountError:
        email = None
    # An address another account holds stays theirs: a platform's sub links, an email does not.
    if email is not None and await find_by_email(session, email) is not None:
        email = None
    seed = email or f"{(name or 'lti-user').replace(' ', '.')}@lti"
    account = Account(
        username=await unique_username(session, seed), email=email, name=name or "LTI user"
    )
    session.add(account)
    await session.flush()
    session.add(
        LtiIdentity(
            platform_id=platform.id,
            subject=subject,
            account_id=account.id,
            last_launch_at=utcnow(),
        )
    )
    return account


async def _target(session: AsyncSession, course: Course, launch: ValidLaunch) -> str:
    custom = launch.custom
    for kind in TARGETS:
        value = custom.get(kind, "").strip()
        if not (value.isdigit() and len(value) < 10):
            continue
        if kind == "assignment":
            # A student works on an assignment from its lesson in the player (fetch, open in
            # JupyterLab, submit); one in no lesson is on the course's assignments page.
            lesson_id = await session.scalar(
                select(Assignment.lesson_id).where(
                    Assignment.id == int(value), Assignment.course_id == course.id
                )
            )
            if lesson_id is not None:
                return f"/learn/{course.slug}/{lesson_id}"
            return f"/courses/{course.slug}/assignments"
        return {
            "lesson": f"/learn/{course.slug}/{value}",
            "quiz": f"/courses/{course.slug}/quizzes/{value}",
        }[kind]
    return f"/courses/{course.slug}"


async def place(session: AsyncSession, platform: LtiPlatform, launch: ValidLaunch) -> LaunchPlace:
    """The launch's person, placed in its course (the caller commits and signs them in)."""
    if launch.deployment_id not in platform.deployment_ids:
        raise refusal("the deployment id is not registered for this platform", 401)
    role = place_for_roles(launch.roles)
    if not role:
        raise refusal(
            "the launch gives you no role CourseHub knows (Learner, Instructor or Teaching "
            "assistant)",
            403,
        )
    course = await _course(session, platform, launch)
    account = await _person(session, platform, launch)
    if await session.get(Suspension, account.id) is not None:
        raise LtiError(
            "Your CourseHub account is suspended; ask your administrator (or the support "
            "address) why.",
            403,
        )
    if role == "student":
        await enrollment.enroll(session, account, course, paid_for=True)
    elif account.id != course.instructor_id:
        await course_staff.add_grader(session, course, account.username, course.instructor)
    return LaunchPlace(account, course, role == "staff", await _target(session, course, launch))
