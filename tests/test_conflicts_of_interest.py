"""Conflicts of interest: teaching and studying one course exclude each other. Its
instructor and graders cannot enroll in it, a student of it cannot be made its grader (each
refusal names the conflict), a grader enrolled all the same (from before the rule) is a
student there and reaches neither classmates' work nor their own grade, and nobody (not even
an administrator who enrolled to try the course) grades their own attempt."""

from __future__ import annotations

import pytest

from coursehub.hub.constants import Role
from coursehub.services.assessment import manual_grading
from coursehub.services.courses import course_staff, enrollment
from coursehub.services.courses.handlers.catalog import course_view
from coursehub.services.courses.membership import Place, membership
from coursehub.services.errors import Refusal
from coursehub.services.models import Account, Assignment, Course, Quiz, QuizAttempt, Submission
from coursehub.services.quizzes import quiz_grading
from coursehub.services.quizzes.quiz_questions import QuizError
from tests.service_data import attempt_of, course_with, quiz_in
from tests.teaching_client import open_session


async def test_the_instructor_and_the_graders_of_a_course_cannot_enroll_in_it(
    db, make_account, sessions
):
    teacher, grader = make_account(Role.INSTRUCTOR), make_account(Role.STUDENT)
    student, admin = make_account(Role.STUDENT), make_account(Role.ADMIN)
    made = course_with(db, teacher, graders=[grader], title="Ecology")
    async with sessions() as session:
        course = await session.get_one(Course, made.id)
        for person, says in [
            (teacher, "You teach Ecology, so you cannot also enroll in it as a student"),
            (grader, "You grade Ecology, so you cannot also enroll in it as a student"),
        ]:
            with pytest.raises(enrollment.EnrollmentError) as refused:
                await enrollment.enroll(session, await session.get_one(Account, person.id), course)
            assert refused.value.status == 409 and says in refused.value.message
        assert "grade your own work" in refused.value.message
        assert (
            await enrollment.enroll(session, await session.get_one(Account, student.id), course)
        ).changed
        # Administrators may enroll to try a course; their own work stays out of their hands.
        assert (
            await enrollment.enroll(session, await session.get_one(Account, admin.id), course)
        ).changed
        await session.rollback()


async def test_a_student_of_the_course_cannot_be_made_its_grader(db, make_account, sessions):
    teacher, student = make_account(Role.INSTRUCTOR), make_account(Role.STUDENT)
    made = course_with(db, teacher, students=[student], title="Ecology")
    async with sessions() as session:
        course = await session.get_one(Course, made.id)
        me = await session.get_one(Account, teacher.id)
        with pytest.raises(Refusal) as refused:
            await course_staff.add_grader(session, course, student.username, me)
        assert refused.value.status == 409
        assert (
            f"{student.username} is enrolled in Ecology as a student, so they cannot grade it"
            in refused.value.message
        )
        assert await course_staff.course_graders(session, course) == []


async def test_a_grader_enrolled_from_before_is_a_student_there_and_cannot_grade_their_own(
    db, make_account, sessions
):
    teacher, both, classmate = (
        make_account(r) for r in (Role.INSTRUCTOR, Role.STUDENT, Role.STUDENT)
    )
    made = course_with(db, teacher, graders=[both], students=[both, classmate])
    quiz = quiz_in(db, made)
    own = attempt_of(db, quiz, both)
    async with sessions() as session:
        course = await session.get_one(Course, made.id)
        place = await membership(session, await session.get_one(Account, both.id), course)
        assert place.place is Place.STUDENT and not place.grades and place.enrolled
        # Even asked directly, the quiz grading refuses their own answer.
        with pytest.raises(QuizError, match="your own attempt") as refused:
            await quiz_grading.grade_answer(
                session,
                await session.get_one(Quiz, quiz.id),
                await session.get_one(QuizAttempt, own.id),
                1,
                await session.get_one(Account, both.id),
                {"score": 4},
            )
        assert refused.value.status == 403


async def test_an_administrator_enrolled_in_a_course_cannot_grade_or_override_their_own_work(
    db, make_account, sessions
):
    teacher, admin = make_account(Role.INSTRUCTOR), make_account(Role.ADMIN)
    made = course_with(db, teacher, students=[admin])
    with db() as session:
        assignment = Assignment(
            course_id=made.id,
            title="Lab 1",
            source_notebook={},
            student_notebook={},
            source_sha256="0" * 64,
            max_score=10,
        )
        session.add(assignment)
        session.flush()
        submission = Submission(
            assignment_id=assignment.id,
            account_id=admin.id,
            attempt=1,
            sha256="0" * 64,
            notebook=b"{}",
            size=2,
        )
        session.add(submission)
        session.commit()
        assignment_id, submission_id = assignment.id, submission.id
    async with sessions() as session:
        me = await session.get_one(Account, admin.id)
        assignment = await session.get_one(Assignment, assignment_id)
        with pytest.raises(Refusal, match="your own submission") as refused:
            await manual_grading.set_override(
                session, assignment, submission_id, {"score": 10, "reason": "Looks fine"}, me
            )
        assert refused.value.status == 403
        teacher_account = await session.get_one(Account, teacher.id)
        locked = await manual_grading.lock_attempt(
            session, assignment, submission_id, teacher_account
        )
        assert locked.id == submission_id  # anyone else on the staff may
        await session.rollback()


def test_the_refusals_are_sentences_on_the_pages_and_in_the_api(
    platform, signed_in, make_account, db
):
    teacher, grader, student = (
        make_account(r) for r in (Role.INSTRUCTOR, Role.STUDENT, Role.STUDENT)
    )
    course = course_with(db, teacher, graders=[grader], students=[student], title="Botany")
    as_grader = open_session(platform, signed_in, grader)
    joined = as_grader.call("POST", f"/api/courses/{course.slug}/enroll")
    assert joined.status_code == 409
    assert "You grade Botany, so you cannot also enroll in it" in joined.json()["error"]
    page = as_grader.call("POST", f"/courses/{course.slug}/enroll")
    assert page.status_code == 409 and "You grade Botany" in page.text

    as_teacher = open_session(platform, signed_in, teacher)
    added = as_teacher.call(
        "POST", f"/api/courses/{course.slug}/graders", json={"username": student.username}
    )
    assert added.status_code == 409
    assert f"{student.username} is enrolled in Botany as a student" in added.json()["error"]


async def test_a_grader_opening_the_course_page_is_told_why_instead_of_offered_enroll(
    db, make_account, sessions
):
    teacher, grader = make_account(Role.INSTRUCTOR), make_account(Role.STUDENT)
    made = course_with(db, teacher, graders=[grader], title="Ecology")
    async with sessions() as session:
        course = await session.get_one(Course, made.id)
        view = await course_view(
            session, await session.get_one(Account, grader.id), course, "/services/coursehub"
        )
    assert not view["viewer"]["can_enroll"]
    assert "You grade Ecology" in view["viewer"]["enroll_refusal"]
