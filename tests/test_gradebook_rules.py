"""The rules of ``assessment.gradebook`` on their own: what a cell counts, how a student's row
totals and weighs, what status a student sees, and that both CSV exports keep people's text
from being read as a spreadsheet formula."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from coursehub.hub.constants import Role
from coursehub.services.assessment import gradebook
from coursehub.services.assessment.assignments import AssignmentError
from coursehub.services.assessment.grade_categories import Weight
from coursehub.services.assessment.gradebook import Access, Column, Gradebook, GradeCell, StudentRow
from coursehub.services.errors import Refusal
from coursehub.services.models import (
    Assignment,
    AssignmentExtension,
    Course,
    CourseStatus,
    FeedbackRelease,
    Grade,
    Submission,
    SubmissionStatus,
)
from tests.service_data import course_with

NOW = datetime.now(UTC)


def column(kind: str, id: int, title: str, max_score: float, category_id=None, due_at=None):
    return Column(kind, id, title, max_score, category_id, due_at)


def cell(final: float | None, score: float | None = None, awaiting: bool = False) -> GradeCell:
    return GradeCell(final, final if score is None else score, 0.0, 1, awaiting)


def test_late_points_are_what_the_penalty_took_and_nothing_when_ungraded():
    assert GradeCell(7.5, 10.0, 25.0, 1, False).late_points == 2.5
    assert GradeCell(None, 10.0, 0.0, 1, True).late_points == 0.0
    assert GradeCell(10.0, 10.0, 0.0, 1, False).late_points == 0.0


def test_a_column_key_names_its_kind_and_id():
    assert column("quiz", 7, "Q", 5).key == "quiz-7"
    assert column("assignment", 7, "A", 5).key == "assignment-7"


def test_a_students_total_counts_only_scores_that_count():
    row = StudentRow(1, "ada", "Ada", "ada@example.org")
    row.cells = {"assignment-1": cell(3.25), "quiz-2": cell(None, awaiting=True), "quiz-3": cell(1)}
    assert row.total() == 4.25
    assert row.to_json()["cells"]["quiz-2"]["awaiting_grading"] is True


def test_an_ungraded_cell_becomes_awaiting_and_a_graded_one_keeps_its_score():
    assert gradebook._awaiting(None) == GradeCell(None, None, 0.0, None, True)
    kept = gradebook._awaiting(cell(4))
    assert kept.awaiting and kept.final_score == 4


@pytest.mark.parametrize(
    ("cell_", "due_at", "status"),
    [
        (None, NOW - timedelta(days=1), "missing"),
        (None, NOW + timedelta(days=1), "not_submitted"),
        (None, None, "not_submitted"),
        (GradeCell(None, None, 0.0, 1, True), None, "awaiting"),
        (GradeCell(2, 2, 0.0, 1, True), None, "partly_graded"),
        (GradeCell(2, 2, 0.0, 1, False), None, "graded"),
    ],
    ids=["past due", "not yet due", "no due date", "awaiting", "partly graded", "graded"],
)
def test_a_students_status_on_an_assessment(cell_, due_at, status):
    assert gradebook._status(cell_, due_at) == status


def book(categories: list[Weight]) -> Gradebook:
    course = Course(slug="alg", title="=Algebra")
    columns = [
        column("assignment", 1, "Homework", 10, category_id=5),
        column("quiz", 2, "Check", 5),
    ]
    row = StudentRow(1, "-ada", "@Ada", "ada@example.org")
    row.cells = {"assignment-1": cell(8), "quiz-2": cell(None, awaiting=True)}
    if categories:
        gradebook._weigh(row, columns, categories)
    return Gradebook(course, columns, categories, [row])


WEIGHTS = [Weight(5, "Homework", 60), Weight(None, "Other", 40)]


def test_an_uncategorised_column_falls_in_other_and_unweighted_books_have_one_group():
    weighted = book(WEIGHTS)
    assert weighted.category_of(weighted.columns[1]).name == "Other"
    assert [(c.name, [x.key for x in cols]) for c, cols in weighted.groups()] == [
        ("Homework", ["assignment-1"]),
        ("Other", ["quiz-2"]),
    ]
    plain = book([])
    assert plain.category_of(plain.columns[0]) is None
    assert plain.groups() == [(None, plain.columns)]
    assert plain.max_total == 15


def test_weighing_a_row_counts_only_graded_items():
    row = book(WEIGHTS).students[0]
    percents = {score.category.name: score.percent for score in row.categories}
    assert percents == {"Homework": 80.0, "Other": None}
    assert row.weighted_percent == 80.0


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_text_a_spreadsheet_would_run_is_quoted(text):
    assert gradebook._safe(text) == "'" + text


def test_plain_text_is_left_alone():
    assert gradebook._safe("Ada Lovelace") == "Ada Lovelace"
    assert gradebook._safe("") == ""


def rows_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_the_plain_csv_has_a_score_per_assessment_then_the_totals():
    header, row = rows_of(gradebook.plain_csv(book([])))
    assert header == ["username", "name", "email", "Homework", "Check (quiz)", "total", "max total"]
    assert row == ["'-ada", "'@Ada", "ada@example.org", "8", "", "8", "15"]


def test_the_plain_csv_of_a_weighted_course_adds_each_category_and_the_weighted_total():
    header, row = rows_of(gradebook.plain_csv(book(WEIGHTS)))
    assert header[5:] == [
        "Homework % (weight 60 %)",
        "Other % (weight 40 %)",
        "total",
        "max total",
        "weighted %",
    ]
    assert row[5:] == ["80", "", "8", "15", "80"]


def test_the_canvas_csv_names_columns_by_id_and_starts_with_points_possible():
    header, possible, row = rows_of(gradebook.canvas_csv(book(WEIGHTS)))
    assert header == [
        "Student",
        "ID",
        "SIS User ID",
        "SIS Login ID",
        "Section",
        "Homework (1)",
        "Check (quiz 2)",
        "Homework Current Score",
        "Other Current Score",
        "Current Score",
    ]
    assert possible == ["Points Possible", "", "", "", "", "10", "5", *["(read only)"] * 3]
    assert row == ["'@Ada", "", "'-ada", "ada@example.org", "'=Algebra", "8", "", "80", "", "80"]


def test_the_canvas_csv_uses_the_username_when_a_student_has_no_name():
    plain = book([])
    plain.students[0].name = ""
    _, _, row = rows_of(gradebook.canvas_csv(plain))
    assert row[0] == "'-ada"


# -- on the database -------------------------------------------------------------------------


def assignment_of(db, course, *, released_ago: timedelta | None = timedelta(days=1)):
    with db() as session:
        assignment = Assignment(
            course_id=course.id,
            title="Photosynthesis",
            source_notebook={},
            student_notebook={},
            source_sha256="0" * 64,
            max_score=10,
            released_at=None if released_ago is None else datetime.now(UTC) - released_ago,
        )
        session.add(assignment)
        session.commit()
        return assignment


def attempt_at(db, assignment, student, number, **grade):
    with db() as session:
        submission = Submission(
            assignment_id=assignment.id,
            account_id=student.id,
            attempt=number,
            sha256="0" * 64,
            notebook=b"{}",
            size=2,
            status=SubmissionStatus.GRADED if grade else SubmissionStatus.QUEUED,
        )
        session.add(submission)
        session.flush()
        if grade:
            session.add(Grade(submission_id=submission.id, outcome="graded", **grade))
        session.commit()
        return submission


async def test_each_student_counts_their_best_attempt_of_released_assignments(
    db, make_account, sessions
):
    best, waiting, absent = make_account(), make_account(), make_account()
    course = course_with(db, make_account(Role.INSTRUCTOR), students=[best, waiting, absent])
    released = assignment_of(db, course)
    assignment_of(db, course, released_ago=timedelta(days=-1))  # not released yet
    attempt_at(db, released, best, 1, score=6, final_score=6, cells=[])
    attempt_at(db, released, best, 2, score=8, final_score=4, late_penalty_percent=50, cells=[])
    attempt_at(db, released, waiting, 1)  # not graded yet
    async with sessions() as session:
        book = await gradebook.course_gradebook(session, course)
    assert [c.key for c in book.columns] == [f"assignment-{released.id}"]
    rows = {row.account_id: row for row in book.students}
    assert set(rows) == {best.id, waiting.id, absent.id}
    counted = rows[best.id].cells[f"assignment-{released.id}"]
    assert (counted.final_score, counted.attempt, counted.awaiting) == (6, 1, False)
    pending = rows[waiting.id].cells[f"assignment-{released.id}"]
    assert pending.final_score is None and pending.awaiting
    assert rows[absent.id].cells == {} and rows[absent.id].total() == 0


async def test_a_student_sees_peoples_grading_only_once_feedback_is_released(
    db, make_account, sessions
):
    student = make_account()
    course = course_with(db, make_account(Role.INSTRUCTOR), students=[student])
    assignment = assignment_of(db, course)
    cells = [{"grade_id": "auto", "score": 2}, {"grade_id": "essay", "score": None}]
    attempt_at(db, assignment, student, 1, score=9, final_score=9, cells=cells)
    key = f"assignment-{assignment.id}"

    async def seen(student_view: bool) -> GradeCell:
        async with sessions() as session:
            book = await gradebook.course_gradebook(
                session, course, only_account=student.id, student_view=student_view
            )
        (row,) = book.students
        return row.cells[key]

    staff_sees, student_sees = await seen(False), await seen(True)
    assert (staff_sees.final_score, staff_sees.awaiting) == (9, False)
    assert (student_sees.final_score, student_sees.awaiting) == (2, True)
    with db() as session:
        session.add(FeedbackRelease(assignment_id=assignment.id))
        session.commit()
    assert (await seen(True)).final_score == 9


async def test_who_may_see_a_courses_grades(db, make_account, sessions):
    instructor, grader, student = make_account(Role.INSTRUCTOR), make_account(), make_account()
    admin, stranger = make_account(Role.ADMIN), make_account()
    course = course_with(db, instructor, graders=[grader], students=[student], title="Ecology")
    draft = course_with(db, instructor, graders=[grader], status=CourseStatus.DRAFT)
    async with sessions() as session:
        for account, slug, access in [
            (instructor, course.slug, Access.MANAGE),
            (admin, course.slug, Access.MANAGE),
            (grader, course.slug, Access.READ),
            (grader, draft.slug, Access.READ),  # graders grade drafts too
            (student, course.slug, Access.OWN),
        ]:
            assert (await gradebook.gradebook_access(session, account, slug))[1] is access
        with pytest.raises(AssignmentError, match="enroll in the course first") as refused:
            await gradebook.gradebook_access(session, stranger, course.slug)
        assert refused.value.status == 403
        for slug in (draft.slug, "no-such-course"):
            with pytest.raises(Refusal) as missing:
                await gradebook.gradebook_access(session, stranger, slug)
            assert missing.value.status == 404


async def test_a_students_grade_page_uses_their_own_due_date(db, make_account, sessions):
    extended, other = make_account(), make_account()
    course = course_with(db, make_account(Role.INSTRUCTOR), students=[extended, other])
    assignment = assignment_of(db, course)
    past = datetime.now(UTC) - timedelta(hours=1)
    with db() as session:
        session.get(Assignment, assignment.id).due_at = past
        session.add(
            AssignmentExtension(
                assignment_id=assignment.id,
                account_id=extended.id,
                due_at=datetime.now(UTC) + timedelta(days=2),
            )
        )
        session.commit()
    async with sessions() as session:
        theirs = await gradebook.student_grades(session, course, extended)
        others = await gradebook.student_grades(session, course, other)
    (item,) = theirs.items
    assert (item.extended, item.status, item.attempts) == (True, "not_submitted", [])
    assert item.due_at > datetime.now(UTC)
    (missing,) = others.items
    assert (missing.extended, missing.status) == (False, "missing")
    assert missing.due_at == past
