"""An LMS course's class list comes to CourseHub (LTI Names and Role Provisioning Services):
an instructor launches from the LMS, the job queue reads the roster page by page with an
NRPS-scoped token, and the class is enrolled; a later sync gives changed roles their new
place and marks those who left, a repeated sync changes nothing, and a sync that fails says
why and keeps the roster.

The LMS is ``tests.lti_platform_standin`` (a real HTTP server speaking NRPS and OAuth 2 client
credentials), its launches built and signed by ``lti1p3platform``.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from coursehub.hub.constants import Role
from coursehub.services.db import make_engine, make_sessionmaker
from coursehub.services.lti import roster
from coursehub.services.models import (
    Account,
    CourseGrader,
    Enrollment,
    LtiContext,
    LtiIdentity,
    LtiPlatform,
    LtiRoster,
    LtiRosterMember,
    Suspension,
)
from coursehub.services.settings import sqlalchemy_url
from tests.course_builder import make_course, run_async
from tests.lti_platform_standin import (
    INSTRUCTOR,
    LEARNER,
    NRPS_SCOPE,
    TEACHING_ASSISTANT,
    Launcher,
    StandinPlatform,
    member,
)
from tests.platform import xsrf_from


@pytest.fixture(scope="module")
def lms() -> Iterator[StandinPlatform]:
    server = StandinPlatform()
    yield server
    server.close()


@pytest.fixture
def registered(platform, lms, make_account, signed_in, database_url):
    """The LMS registered by an administrator, linked to a course of an instructor's, with
    a class of one instructor and four learners in its course ``context``."""
    instructor = make_account(Role.INSTRUCTOR)
    course = make_course(
        database_url, instructor, title=f"Roster {secrets.token_hex(3)}", modules={}
    )
    launcher = Launcher(
        lms, platform.service_url, f"coursehub-{secrets.token_hex(4)}", "deployment-1"
    )
    lms.tool_jwks_url = f"{platform.service_url}/lti/jwks"
    lms.failure.clear()
    admin = signed_in(make_account(Role.ADMIN))
    headers = {"X-XSRFToken": xsrf_from(admin.get(f"{platform.service_url}/lti/platforms"))}
    created = admin.post(
        f"{platform.service_url}/api/lti/platforms",
        json=launcher.registration_form(course.slug),
        headers=headers,
    )
    assert created.status_code == 201, created.text
    context = f"ctx-{secrets.token_hex(4)}"
    tag = secrets.token_hex(3)
    people = {name: f"{name}-{tag}" for name in ("teacher", "s1", "s2", "s3", "s4")}
    lms.rosters[context] = [
        member(people["teacher"], INSTRUCTOR),
        *(member(people[s], LEARNER) for s in ("s1", "s2", "s3", "s4")),
    ]
    return launcher, course, instructor, context, people


def roster_row(db: Callable[[], Session], launcher: Launcher, context: str) -> LtiRoster | None:
    with db() as session:
        return session.scalar(
            select(LtiRoster)
            .join(LtiContext, LtiContext.id == LtiRoster.lti_context_id)
            .join(LtiPlatform, LtiPlatform.id == LtiContext.platform_id)
            .where(LtiPlatform.client_id == launcher.client_id, LtiContext.context_id == context)
        )


def wait_for_sync(
    db: Callable[[], Session], launcher: Launcher, context: str, after: Any = None
) -> LtiRoster:
    """The roster once the worker finished a sync attempted after ``after``."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        row = roster_row(db, launcher, context)
        if (
            row is not None
            and row.state in ("done", "failed")
            and row.last_attempt_at is not None
            and (after is None or row.last_attempt_at > after)
        ):
            return row
        time.sleep(0.3)
    raise AssertionError(f"no roster sync finished: {roster_row(db, launcher, context)}")


def account_of(db: Callable[[], Session], launcher: Launcher, subject: str) -> Account | None:
    with db() as session:
        return session.scalar(
            select(Account)
            .join(LtiIdentity, LtiIdentity.account_id == Account.id)
            .join(LtiPlatform, LtiPlatform.id == LtiIdentity.platform_id)
            .where(LtiPlatform.client_id == launcher.client_id, LtiIdentity.subject == subject)
        )


def places(db: Callable[[], Session], course_id: int, account_id: int) -> tuple[bool, bool]:
    """(enrolled as a student, a grader) in the course."""
    with db() as session:
        enrolled = session.scalar(
            select(Enrollment.id).where(
                Enrollment.account_id == account_id, Enrollment.course_id == course_id
            )
        )
        grader = session.scalar(
            select(CourseGrader.id).where(
                CourseGrader.account_id == account_id, CourseGrader.course_id == course_id
            )
        )
        return enrolled is not None, grader is not None


def member_row(db: Callable[[], Session], account_id: int) -> LtiRosterMember:
    with db() as session:
        return session.scalars(
            select(LtiRosterMember).where(LtiRosterMember.account_id == account_id)
        ).one()


async def _sync_now(database_url: str, context_pk: int) -> roster.SyncResult | None:
    engine = make_engine(sqlalchemy_url(database_url), pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session:
            return await roster.sync(session, context_pk)
    finally:
        await engine.dispose()


def sync_now(database_url: str, context_pk: int) -> roster.SyncResult | None:
    """What the worker's lti_sync_roster task does, run here."""
    return run_async(_sync_now(database_url, context_pk))


def staff_sync(client: httpx.Client, service_url: str, slug: str) -> httpx.Response:
    page = client.get(f"{service_url}/lti/courses/{slug}/roster")
    assert page.status_code == 200, page.text[:500]
    return client.post(f"{service_url}/lti/courses/{slug}/roster", data={"_xsrf": xsrf_from(page)})


def test_a_launch_enrols_the_lms_class_through_the_job_queue_page_by_page(
    platform, lms, registered, db, make_account, signed_in
):
    launcher, course, instructor, context, people = registered
    # Someone already has the address the LMS gives s3: an email never links an account.
    someone = make_account(Role.STUDENT)
    lms.rosters[context][3]["email"] = someone.email
    tokens_before = len(lms.token_requests)
    pages_before = len(lms.pages_read)

    with httpx.Client(timeout=30) as browser:
        page = launcher.launch(browser, people["teacher"], INSTRUCTOR, context=context)
    assert page.status_code == 200, page.text[:500]
    synced = wait_for_sync(db, launcher, context)

    assert synced.state == "done", synced.last_error
    assert (synced.added, synced.updated, synced.left, synced.failed) == (4, 0, 0, 0)
    # Three pages of two, following the LMS's rel="next" links as written (capitals kept).
    read = lms.pages_read[pages_before:]
    assert read == [
        f"/nrps/{context}/members",
        f"/nrps/{context}/members?Page=2",
        f"/nrps/{context}/members?Page=3",
    ]
    assert NRPS_SCOPE in lms.token_requests[tokens_before]["scope"].split()
    for student in ("s1", "s2", "s3", "s4"):
        account = account_of(db, launcher, people[student])
        assert account is not None and account.name == f"Person {people[student]}"
        assert places(db, course.id, account.id) == (True, False)
    teacher = account_of(db, launcher, people["teacher"])
    assert teacher is not None and places(db, course.id, teacher.id) == (False, True)
    assert account_of(db, launcher, people["s3"]).id != someone.id
    assert places(db, course.id, someone.id) == (False, False)

    # The instructor sees the sync on the course's roster page.
    staff = signed_in(instructor)
    shown = staff.get(f"{platform.service_url}/lti/courses/{course.slug}/roster")
    assert shown.status_code == 200
    assert 'class="roster-added">4<' in shown.text
    assert shown.text.count('data-status="active"') == 5


def test_a_changed_roster_moves_roles_marks_leavers_and_a_repeat_changes_nothing(
    platform, lms, registered, db, database_url, signed_in
):
    launcher, course, instructor, context, people = registered
    with httpx.Client(timeout=30) as browser:
        launcher.launch(browser, people["s1"], LEARNER, context=context)
    first = wait_for_sync(db, launcher, context)
    assert first.state == "done" and first.added == 4  # the launching learner was enrolled

    # The same roster again: nothing changes.
    repeat = sync_now(database_url, first.lti_context_id)
    assert repeat is not None and (repeat.added, repeat.updated, repeat.left) == (0, 0, 0)

    # In the LMS: s1 becomes a teaching assistant, s2 is made inactive, s3 is removed, s5
    # joins, and one entry has no user id.
    s5 = f"s5-{secrets.token_hex(3)}"
    entries = lms.rosters[context]
    entries[1]["roles"] = TEACHING_ASSISTANT
    entries[2]["status"] = "Inactive"
    del entries[3]
    entries.append(member(s5, LEARNER))
    entries.append({"name": "Nobody", "roles": LEARNER})

    # And s4's CourseHub account is suspended: not placed now, but not a leaver either.
    s4 = account_of(db, launcher, people["s4"])
    with db() as session:
        session.add(Suspension(account_id=s4.id, reason="test"))
        session.commit()
    before = roster_row(db, launcher, context).last_attempt_at
    staff = signed_in(instructor)
    answer = staff_sync(staff, platform.service_url, course.slug)
    assert answer.status_code == 200 and "being synced" in answer.text
    second = wait_for_sync(db, launcher, context, after=before)
    assert second.state == "done", second.last_error
    assert (second.added, second.updated, second.left, second.failed) == (1, 1, 2, 2)
    assert "user_id" in second.last_error and "suspended" in second.last_error
    assert member_row(db, s4.id).status == "active"

    s1 = account_of(db, launcher, people["s1"])
    assert places(db, course.id, s1.id) == (False, True)
    for leaver in ("s2", "s3"):
        account = account_of(db, launcher, people[leaver])
        assert account is not None  # the account stays
        assert places(db, course.id, account.id) == (False, False)
        row = member_row(db, account.id)
        assert row.status == "left" and row.left_at is not None
    assert places(db, course.id, account_of(db, launcher, s5).id) == (True, False)
    assert places(db, course.id, account_of(db, launcher, people["s4"]).id) == (True, False)

    # Again: idempotent.
    third = sync_now(database_url, first.lti_context_id)
    assert third is not None and (third.added, third.updated, third.left) == (0, 0, 0)
    assert member_row(db, account_of(db, launcher, people["s3"]).id).status == "left"

    # s3 comes back in the LMS: enrolled again, the same account.
    entries.append(member(people["s3"], LEARNER))
    back = sync_now(database_url, first.lti_context_id)
    assert back is not None and (back.added, back.left) == (1, 0)
    s3 = account_of(db, launcher, people["s3"])
    assert places(db, course.id, s3.id) == (True, False)
    assert member_row(db, s3.id).status == "active"


def test_a_failing_sync_says_why_and_keeps_the_roster(
    platform, lms, registered, db, database_url, signed_in, make_account
):
    launcher, course, instructor, context, people = registered
    with httpx.Client(timeout=30) as browser:
        launcher.launch(browser, people["teacher"], INSTRUCTOR, context=context)
    good = wait_for_sync(db, launcher, context)
    assert good.state == "done"
    enrolled = {
        s: places(db, course.id, account_of(db, launcher, people[s]).id)
        for s in ("s1", "s2", "s3", "s4")
    }
    staff = signed_in(instructor)
    api = f"{platform.service_url}/api/lti/courses/{course.slug}/roster"
    headers = {"X-XSRFToken": xsrf_from(staff.get(f"{platform.service_url}/lti/platforms"))}

    cases = [
        ({"/nrps/": (500, "Down for maintenance")}, "HTTP 500: Down for maintenance"),
        ({"/token": (401, "invalid_client")}, "refused an access token (HTTP 401"),
    ]
    after = good.last_attempt_at
    for failure, reason in cases:
        lms.failure.clear()
        lms.failure.update(failure)
        queued = staff.post(api, headers=headers)
        assert queued.status_code == 202 and queued.json() == {"queued": 1}
        failed = wait_for_sync(db, launcher, context, after=after)
        after = failed.last_attempt_at
        assert failed.state == "failed" and reason in failed.last_error, failed.last_error
        # The counts of the last good sync stay, and so does everyone's place.
        assert (failed.added, failed.left) == (good.added, good.left)
        for s, place in enrolled.items():
            assert places(db, course.id, account_of(db, launcher, people[s]).id) == place
    lms.failure.clear()

    # A roster that suddenly lists nobody is not believed.
    saved = lms.rosters[context]
    lms.rosters[context] = []
    assert sync_now(database_url, good.lti_context_id) is None
    emptied = roster_row(db, launcher, context)
    assert emptied.state == "failed" and "listed nobody" in emptied.last_error
    assert places(db, course.id, account_of(db, launcher, people["s1"]).id) == (True, False)
    lms.rosters[context] = saved

    page = staff.get(f"{platform.service_url}/lti/courses/{course.slug}/roster")
    assert "roster-error" in page.text and "listed nobody" in page.text

    listing = staff.get(api).json()["rosters"]
    assert [r["state"] for r in listing] == ["failed"]
    assert len(listing[0]["members"]) == 5

    # Students and other people see no roster.
    student = signed_in(make_account(Role.STUDENT))
    assert student.get(api).status_code == 404
    roster_page = f"{platform.service_url}/lti/courses/{course.slug}/roster"
    assert student.get(roster_page).status_code == 404


def test_without_a_roster_offered_staff_are_told_how_to_get_one(
    platform, lms, registered, db, signed_in
):
    launcher, course, instructor, context, people = registered
    with httpx.Client(timeout=30) as browser:
        page = launcher.launch(browser, people["teacher"], INSTRUCTOR, context=context, nrps=False)
    assert page.status_code == 200
    assert roster_row(db, launcher, context) is None
    staff = signed_in(instructor)
    answer = staff_sync(staff, platform.service_url, course.slug)
    assert answer.status_code == 409
    assert "has offered its roster yet" in answer.text


async def _queue_twice(database_url: str, context_pk: int) -> tuple[bool, bool, int]:
    engine = make_engine(sqlalchemy_url(database_url), pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session:
            found = await session.get(LtiRoster, context_pk)
            assert found is not None
            first = await roster.queue_sync(session, found)
            second = await roster.queue_sync(session, found)
            waiting = await session.scalar(
                text(
                    "SELECT count(*) FROM procrastinate_jobs WHERE task_name = :task "
                    "AND status = 'todo' AND args->>'roster_context' = :context"
                ),
                {"task": roster.SYNC_TASK, "context": str(context_pk)},
            )
            await session.rollback()  # nothing is left queued by this check
            return first, second, int(waiting)
    finally:
        await engine.dispose()


def test_a_sync_waiting_to_start_is_not_queued_twice(platform, lms, registered, db, database_url):
    launcher, _, _, context, people = registered
    with httpx.Client(timeout=30) as browser:
        launcher.launch(browser, people["teacher"], INSTRUCTOR, context=context)
    synced = wait_for_sync(db, launcher, context)
    first, second, waiting = run_async(_queue_twice(database_url, synced.lti_context_id))
    assert (first, second, waiting) == (True, False, 1)
