"""The rules of ``assessment.grading_queue`` on the database: an attempt needs a person when
a cell waits for one, when its flags are unreviewed since it was graded, or when its grading
failed; each student's latest attempt counts, older ones only when asked for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest

from coursehub.hub.constants import Role
from coursehub.services.assessment.grading_queue import course_queue
from coursehub.services.models import (
    Account,
    Assignment,
    AuditEntry,
    Grade,
    Submission,
    SubmissionStatus,
    utcnow,
)
from tests.service_data import course_with


def assignment_in(db, course) -> Assignment:
    with db() as session:
        assignment = Assignment(
            course_id=course.id,
            title="Cells",
            source_notebook={},
            student_notebook={},
            source_sha256="0" * 64,
            max_score=10,
        )
        session.add(assignment)
        session.commit()
        return assignment


def attempt(db, assignment, student, number, *, status=SubmissionStatus.GRADED, **grade):
    """An attempt of ``student``; with ``grade`` fields, its grade too."""
    with db() as session:
        submission = Submission(
            assignment_id=assignment.id,
            account_id=student.id,
            attempt=number,
            sha256="0" * 64,
            notebook=b"{}",
            size=2,
            status=status,
        )
        session.add(submission)
        session.flush()
        if grade:
            session.add(Grade(submission_id=submission.id, outcome="graded", **grade))
        session.commit()
        return submission


@dataclass
class Marked:
    """A course whose assignment has one attempt of each kind, and whose queue we read."""

    assignment: Assignment
    people: dict[str, Account]
    course: object


@pytest.fixture
def marked(db, make_account) -> Marked:
    people = {
        name: make_account()
        for name in ("waits", "flagged", "reviewed", "failed", "moved_on", "fine")
    }
    course = course_with(db, make_account(Role.INSTRUCTOR), students=people.values())
    a = assignment_in(db, course)
    graded_at = utcnow() - timedelta(hours=1)
    attempt(db, a, people["waits"], 1, needs_manual=True, flags=["x"], graded_at=graded_at)
    attempt(db, a, people["flagged"], 1, flags=["output_tampered"], graded_at=graded_at)
    reviewed = attempt(db, a, people["reviewed"], 1, flags=["x"], graded_at=graded_at)
    with db() as session:  # reviewed after it was graded: the audit log's entry says so
        session.add(
            AuditEntry(
                actor_name="grader",
                action="grade.flags_reviewed",
                target_kind="submission",
                target_id=str(reviewed.id),
            )
        )
        session.commit()
    attempt(db, a, people["failed"], 1, status=SubmissionStatus.FAILED)
    attempt(db, a, people["moved_on"], 1, needs_manual=True)
    attempt(db, a, people["moved_on"], 2, score=10, final_score=10)
    attempt(db, a, people["fine"], 1, score=7, final_score=7)
    return Marked(a, people, course)


async def test_the_queue_holds_latest_attempts_that_wait_are_flagged_or_failed(marked, sessions):
    async with sessions() as session:
        entries, counts = await course_queue(session, marked.course)
    people = marked.people
    by_student = {e.account_id: e for e in entries}
    assert set(by_student) == {people["waits"].id, people["flagged"].id, people["failed"].id}
    assert by_student[people["waits"].id].reasons == ("needs_manual", "flagged")
    assert by_student[people["flagged"].id].reasons == ("flagged",)
    failed = by_student[people["failed"].id]
    assert (
        failed.reasons == ("failed",) and failed.final_score is None and failed.status == "FAILED"
    )
    assert all(e.latest and e.max_score == 10 for e in entries)
    assert counts == {
        marked.assignment.id: {"needs_manual": 1, "flagged": 2, "failed": 1, "older": 1},
    }


async def test_older_attempts_come_after_the_latest_ones_when_asked_for(marked, sessions):
    async with sessions() as session:
        entries, counts = await course_queue(session, marked.course, all_attempts=True)
    older = entries[-1]
    assert [e.latest for e in entries] == [True, True, True, False]
    assert older.account_id == marked.people["moved_on"].id and older.attempt == 1
    assert older.reasons == ("needs_manual",)
    assert older.to_json()["reasons"] == ["needs_manual"]
    assert counts[marked.assignment.id]["older"] == 1


async def test_a_course_with_nothing_to_grade_has_an_empty_queue(db, make_account, sessions):
    course = course_with(db, make_account(Role.INSTRUCTOR))
    async with sessions() as session:
        assert await course_queue(session, course) == ([], {})
