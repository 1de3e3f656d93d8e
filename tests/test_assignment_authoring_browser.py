"""Assignments made and handed in entirely in Chromium.

An instructor uploads an nbgrader source notebook with a data file on the course's
assignments page, sees what the student version leaves out, releases and dates the
assignment, and gives one student (picked by name) an extension; a bad source gets a
sentence saying what is wrong and nothing is made. A student submits from the assignments
page and watches the attempt go from queued to its grade without leaving it; a file that
is not a notebook and an attempt past the limit are refused beside the form."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from coursehub.hub.constants import Role
from coursehub.services.models import Assignment, AssignmentExtension, AssignmentFile
from tests.assignment_data import answered, source_bytes, source_notebook
from tests.conftest import PASSWORD
from tests.course_builder import enroll, make_course, unique_word
from tests.grading_room import GRADING_TIMEOUT, IPYNB
from tests.teaching_client import open_session

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True, scope="module")
def patient_expectations():  # type: ignore[no-untyped-def]
    """Wait as long as the pages' own timeout: the machine is shared."""
    expect.set_options(timeout=20_000)
    yield
    expect.set_options(timeout=None)


@pytest.fixture
def classroom(make_account, db, database_url):  # type: ignore[no-untyped-def]
    """A course with its instructor and two enrolled students."""
    instructor = make_account(Role.INSTRUCTOR)
    course = make_course(database_url, instructor, title=f"Assigned {unique_word()}", modules={})
    students = [make_account(Role.STUDENT), make_account(Role.STUDENT)]
    for student in students:
        enroll(db, student, course)
    return instructor, course, students


def person(browser, platform, account) -> Page:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id="UTC")
    context.set_default_timeout(20_000)
    page = context.new_page()
    # Signed in once the hub lets go of the form; where it lands is not this test's subject.
    page.goto(f"{platform.url}/hub/login")
    page.locator("#username_input").fill(account.email)
    page.locator("#password_input").fill(PASSWORD)
    page.locator("#login_submit").click()
    page.wait_for_url(lambda url: "/hub/login" not in url, wait_until="commit")
    return page


def test_an_instructor_creates_releases_dates_and_extends_an_assignment_in_the_page(
    platform, browser, classroom, db, tmp_path
):
    instructor, course, (late_student, other_student) = classroom
    (tmp_path / "add.ipynb").write_bytes(source_bytes())
    (tmp_path / "numbers.csv").write_text("a,b\n1,2\n")
    page = person(browser, platform, instructor)
    page.goto(f"{platform.service_url}/courses/{course.slug}/assignments")

    form = page.locator("#new_assignment")
    form.get_by_label("Title").fill("Adding numbers")
    form.get_by_label("Source notebook (.ipynb)").set_input_files(tmp_path / "add.ipynb")
    form.get_by_label("Data files the notebook reads (optional)").set_input_files(
        tmp_path / "numbers.csv"
    )
    form.get_by_label("In the folder (beside the notebook)").fill("data")
    form.get_by_role("button", name="Check and create").click()

    expect(page).to_have_url(re.compile(r"/assignments/\d+/edit\?created=1$"))
    expect(page.locator("#created_note")).to_contain_text("passed nbgrader's checks")
    expect(page.locator("#release_state")).to_contain_text("Draft")
    assignment_id = int(re.search(r"/assignments/(\d+)/edit", page.url).group(1))
    # What the student version leaves out, and the student version itself.
    stripped = page.locator("#stripped")
    expect(stripped).to_contain_text("answer")
    expect(stripped).to_contain_text("the solution (1 line)")
    expect(stripped).to_contain_text("hidden tests (1 line)")
    expect(page.locator("#points")).to_contain_text("2")
    frame = page.frame_locator("#student_version")
    expect(frame.locator("body")).to_contain_text("YOUR CODE HERE")
    expect(frame.locator("body")).not_to_contain_text("hidden-check-xyzzy")
    expect(frame.locator("body")).not_to_contain_text("return a + b")

    # Release now, due on 15 January 2030 at 17:00 with a cut-off a day later.
    settings = page.locator("#settings_form")
    settings.get_by_label("Release now").check()
    settings.get_by_label("Due date (your time zone)").fill("2030-01-15T17:00")
    settings.get_by_label("Cut-off (your time zone)").fill("2030-01-16T17:00")
    settings.get_by_label("Attempts per student").fill("3")
    settings.get_by_label("Late penalty (%)").fill("10")
    settings.get_by_label("Per", exact=True).select_option("DAY")
    settings.get_by_role("button", name="Save settings").click()
    expect(page.locator("#done_note")).to_contain_text("settings are saved")
    expect(page.locator("#release_state")).to_contain_text("Released")
    expect(settings.get_by_label("Due date (your time zone)")).to_have_value("2030-01-15T17:00")

    # One student gets their own dates, picked by name from the roster.
    extension = page.locator("#extension_form")
    extension.get_by_label("Student").select_option(
        label=f"{late_student.name} ({late_student.email})"
    )
    extension.get_by_label("Their due date").fill("2030-01-20T17:00")
    extension.get_by_label("Reason (optional)").fill("Doctor's note")
    extension.get_by_role("button", name="Give this extension").click()
    expect(page.locator("#done_note")).to_contain_text("extension is saved")
    row = page.locator(f'#extensions tr.extension[data-account-id="{late_student.id}"]')
    expect(row).to_contain_text(late_student.name)
    expect(row).to_contain_text("Doctor's note")
    expect(page.locator("#extensions tr.extension")).to_have_count(1)

    with db() as session:
        made = session.get_one(Assignment, assignment_id)
        assert made.title == "Adding numbers" and made.course_id == course.id
        assert made.released_at is not None and made.released_at <= datetime.now(UTC)
        assert made.due_at == datetime(2030, 1, 15, 17, tzinfo=UTC)
        assert made.cutoff_at == datetime(2030, 1, 16, 17, tzinfo=UTC)
        assert (made.max_attempts, made.late_penalty_percent) == (3, 10)
        granted = session.scalars(
            select(AssignmentExtension).where(AssignmentExtension.assignment_id == assignment_id)
        ).all()
        assert [(g.account_id, g.due_at) for g in granted] == [
            (late_student.id, datetime(2030, 1, 20, 17, tzinfo=UTC))
        ]
        files = session.scalars(
            select(AssignmentFile.path).where(AssignmentFile.assignment_id == assignment_id)
        ).all()
        assert files == ["data/numbers.csv"]

    # The students see it released, each with the dates that apply to them.
    for student, due, cutoff, extended in (
        (late_student, "2030-01-20T17:00:00+00:00", "2030-01-20T17:00:00+00:00", True),
        (other_student, "2030-01-15T17:00:00+00:00", "2030-01-16T17:00:00+00:00", False),
    ):
        theirs = person(browser, platform, student)
        theirs.goto(f"{platform.service_url}/courses/{course.slug}/assignments")
        card = theirs.locator(f'section.assignment[data-assignment-id="{assignment_id}"]')
        expect(card).to_contain_text("Adding numbers")
        dates = card.locator("time")
        expect(dates.nth(0)).to_have_attribute("datetime", due)
        expect(dates.nth(1)).to_have_attribute("datetime", cutoff)
        if extended:
            expect(card).to_contain_text("(your extension)")
        else:
            expect(card).not_to_contain_text("(your extension)")
        theirs.context.close()
    page.context.close()


def test_a_bad_source_notebook_gets_a_clear_message_and_nothing_is_made(
    platform, browser, classroom, db, tmp_path
):
    instructor, course, _ = classroom
    no_grades = source_notebook()
    no_grades["cells"] = no_grades["cells"][:1]
    twice = source_notebook()
    twice["cells"][2]["metadata"]["nbgrader"]["grade_id"] = "answer"
    cases = {
        "broken.ipynb": (b'{"cells": [', "not valid JSON"),
        "no-grades.ipynb": (json.dumps(no_grades).encode(), "no graded cells"),
        "twice.ipynb": (json.dumps(twice).encode(), "Duplicate grade id: answer"),
    }
    page = person(browser, platform, instructor)
    page.goto(f"{platform.service_url}/courses/{course.slug}/assignments")
    form = page.locator("#new_assignment")
    form.get_by_role("button", name="Check and create").click()
    expect(page.locator("#new_assignment_error")).to_have_text("Give the assignment a title.")
    form.get_by_label("Title").fill("Week 2")
    for name, (content, sentence) in cases.items():
        (tmp_path / name).write_bytes(content)
        form.get_by_label("Source notebook (.ipynb)").set_input_files(tmp_path / name)
        form.get_by_role("button", name="Check and create").click()
        expect(page.locator("#new_assignment_error")).to_contain_text(sentence)
        expect(page.locator("#new_assignment_error")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/assignments$"))
    with db() as session:
        assert (
            session.scalars(select(Assignment).where(Assignment.course_id == course.id)).all() == []
        )
    page.context.close()


def test_a_student_submits_from_the_page_and_watches_the_grade_arrive(
    platform, browser, signed_in, classroom, tmp_path
):
    instructor, course, (student, _) = classroom
    teacher = open_session(platform, signed_in, instructor)
    api = f"/api/courses/{course.slug}/assignments"
    made = teacher.call(
        "POST", api, params={"title": "Adding numbers"}, content=source_bytes(), headers=IPYNB
    )
    assert made.status_code == 201, made.text
    one = f"{api}/{made.json()['id']}"
    released = teacher.call("PATCH", one, json={"release": True, "max_attempts": 1})
    assert released.status_code == 200, released.text
    student_version = teacher.get(f"{one}/notebook").json()
    (tmp_path / "mine.ipynb").write_bytes(answered(student_version))
    (tmp_path / "notes.txt").write_text("not a notebook")

    page = person(browser, platform, student)
    page.goto(f"{platform.service_url}/courses/{course.slug}/assignments")
    page_url = page.url
    card = page.locator("section.assignment")
    notebook_field = card.get_by_label("Your notebook for Adding numbers")

    notebook_field.set_input_files(tmp_path / "notes.txt")
    card.get_by_role("button", name="Submit").click()
    expect(card.locator(".submit-error")).to_contain_text("not a Jupyter notebook")
    expect(card.locator("tr.attempt")).to_have_count(0)

    notebook_field.set_input_files(tmp_path / "mine.ipynb")
    card.get_by_role("button", name="Submit").click()
    attempt = card.locator("tr.attempt")
    expect(attempt).to_have_count(1)
    expect(card.locator(".submit-error")).to_be_hidden()
    expect(card.locator(".submit-status")).to_contain_text("Attempt 1 received")
    expect(attempt.locator(".attempt-status")).to_have_text(re.compile(r"queued|grading|graded"))
    expect(attempt).to_have_attribute("data-graded", "true", timeout=GRADING_TIMEOUT * 1000)
    expect(attempt.locator(".attempt-status")).to_have_text("graded")
    expect(attempt.locator(".attempt-score")).to_contain_text("2 / 2")
    assert page.url == page_url  # never left the page

    # The limit was one attempt: a second is refused beside the form.
    (tmp_path / "again.ipynb").write_bytes(answered(student_version, "    return b + a"))
    notebook_field.set_input_files(tmp_path / "again.ipynb")
    card.get_by_role("button", name="Submit").click()
    expect(card.locator(".submit-error")).to_contain_text("You have used all 1 attempts")
    expect(card.locator("tr.attempt")).to_have_count(1)
    page.context.close()

    # The instructor's edit page now says who a change reaches, and offers a regrade.
    editor = person(browser, platform, instructor)
    editor.goto(
        f"{platform.service_url}/courses/{course.slug}/assignments/{made.json()['id']}/edit"
    )
    notice = editor.locator("#already_submitted")
    expect(notice).to_contain_text("1 student submitted already")
    expect(notice).to_contain_text("1 attempt, 1 graded")
    notice.get_by_label("Why regrade").fill("Fixed a test")
    notice.get_by_role("button", name="Regrade all 1 attempt").click()
    expect(editor.locator("#regrade_status")).to_contain_text("Regrading 1 attempt")
    editor.context.close()
