"""The rules of ``assessment.grading_runs`` on their own: which run kinds and attempt choices
are accepted, and what state each attempt of a run is in from its job and its attempt."""

from __future__ import annotations

import pytest

from coursehub.hub.constants import Role
from coursehub.services.assessment import grading_runs
from coursehub.services.assessment.assignments import AssignmentError
from coursehub.services.assessment.grading_runs import item_state, run_kind
from coursehub.services.models import (
    Assignment,
    Grade,
    GradingRunKind,
    Submission,
    SubmissionStatus,
)
from tests.service_data import course_with


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("AUTOGRADE", GradingRunKind.AUTOGRADE),
        ("regrade", GradingRunKind.REGRADE),
        ("Autograde", GradingRunKind.AUTOGRADE),
    ],
)
def test_a_run_kind_is_autograde_or_regrade_in_any_case(value, kind):
    assert run_kind(value) == kind


@pytest.mark.parametrize("value", [None, "", "grade", 1])
def test_any_other_run_kind_is_refused(value):
    with pytest.raises(AssignmentError, match="kind must be AUTOGRADE or REGRADE"):
        run_kind(value)


def test_left_out_attempts_mean_all_of_them():
    assert grading_runs._chosen(None) is None


def test_chosen_attempts_are_sorted_once_each():
    assert grading_runs._chosen([5, 2, 5, 3]) == [2, 3, 5]


@pytest.mark.parametrize("value", [[], "1,2", [1, "2"], [True], [1.0], {"id": 1}])
def test_chosen_attempts_are_a_non_empty_list_of_ids(value):
    with pytest.raises(AssignmentError, match="submission_ids must be a list"):
        grading_runs._chosen(value)


@pytest.mark.parametrize(
    ("job", "status", "graded", "state"),
    [
        ("failed", "QUEUED", False, "failed"),
        ("cancelled", "GRADED", True, "failed"),
        ("aborted", "QUEUED", False, "failed"),
        ("succeeded", "GRADED", True, "done"),
        ("succeeded", "FAILED", False, "failed"),  # the job gave up on a platform fault
        ("succeeded", "FAILED", True, "done"),
        (None, "GRADED", True, "done"),  # procrastinate deleted the finished job
        (None, "FAILED", False, "failed"),
        (None, "QUEUED", False, "pending"),
        ("todo", "QUEUED", False, "pending"),
        ("doing", "GRADING", False, "pending"),
    ],
)
def test_an_attempts_state_in_a_run(job, status, graded, state):
    assert item_state(job, status, graded) == state


def test_each_kind_has_a_default_reason_and_a_nothing_to_do_message():
    for kind in GradingRunKind:
        assert grading_runs.DEFAULT_REASON[kind]
        assert grading_runs.NOTHING_TO_DO[kind]


# -- on the database (nothing committed: no job is left for a worker) ------------------------


def assignment_with_attempts(db, make_account):
    """An assignment with a graded attempt and one imported without a grade."""
    instructor = make_account(Role.INSTRUCTOR)
    graded, imported = make_account(), make_account()
    course = course_with(db, instructor, students=[graded, imported])
    with db() as session:
        assignment = Assignment(
            course_id=course.id,
            title="Kinetics",
            source_notebook={},
            student_notebook={},
            source_sha256="0" * 64,
            max_score=5,
        )
        session.add(assignment)
        session.flush()
        attempts = {}
        for name, student in (("graded", graded), ("imported", imported)):
            attempts[name] = Submission(
                assignment_id=assignment.id,
                account_id=student.id,
                attempt=1,
                sha256="0" * 64,
                notebook=b"{}",
                size=2,
                status=SubmissionStatus.GRADED if name == "graded" else SubmissionStatus.FAILED,
            )
            session.add(attempts[name])
        session.flush()
        session.add(Grade(submission_id=attempts["graded"].id, outcome="graded", cells=[]))
        session.commit()
    return course, assignment, instructor, attempts


async def test_autograde_queues_only_the_attempts_without_a_grade(db, make_account, sessions):
    course, assignment, instructor, attempts = assignment_with_attempts(db, make_account)
    async with sessions() as session:
        run = await grading_runs.start_run(
            session, assignment, instructor, GradingRunKind.AUTOGRADE
        )
        progress = await grading_runs.run_progress(session, run)
        assert (await grading_runs.run_in_course(session, course, run.id)).id == run.id
        await session.rollback()
    assert progress["reason"] == grading_runs.DEFAULT_REASON[GradingRunKind.AUTOGRADE]
    assert progress["started_by"] == instructor.username
    assert progress["attempts"] == [{"submission_id": attempts["imported"].id, "state": "pending"}]
    assert (progress["total"], progress["pending"], progress["finished"]) == (1, 1, False)


async def test_autograde_with_every_attempt_graded_has_nothing_to_do(db, make_account, sessions):
    _, assignment, instructor, attempts = assignment_with_attempts(db, make_account)
    async with sessions() as session:
        with pytest.raises(AssignmentError, match="nothing to autograde") as refused:
            await grading_runs.start_run(
                session,
                assignment,
                instructor,
                GradingRunKind.AUTOGRADE,
                submission_ids=[attempts["graded"].id],
            )
    assert refused.value.status == 409


async def test_attempts_of_another_assignment_are_refused(db, make_account, sessions):
    _, assignment, instructor, _ = assignment_with_attempts(db, make_account)
    _, _, _, elsewhere = assignment_with_attempts(db, make_account)
    async with sessions() as session:
        with pytest.raises(AssignmentError, match="not attempts of this assignment") as refused:
            await grading_runs.start_run(
                session,
                assignment,
                instructor,
                GradingRunKind.REGRADE,
                submission_ids=[elsewhere["graded"].id],
            )
    assert refused.value.status == 404


async def test_an_assignment_without_attempts_has_nothing_to_grade(db, make_account, sessions):
    instructor = make_account(Role.INSTRUCTOR)
    course = course_with(db, instructor)
    with db() as session:
        assignment = Assignment(
            course_id=course.id,
            title="Empty",
            source_notebook={},
            student_notebook={},
            source_sha256="0" * 64,
        )
        session.add(assignment)
        session.commit()
    async with sessions() as session:
        with pytest.raises(AssignmentError, match="no attempts yet") as refused:
            await grading_runs.start_run(session, assignment, instructor, GradingRunKind.REGRADE)
        assert refused.value.status == 409
        with pytest.raises(AssignmentError, match="no such grading run"):
            await grading_runs.run_in_course(session, course, 2**31 - 1)
