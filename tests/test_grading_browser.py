"""Grading by people in Chromium: the instructor makes a colleague a grader on the staff page;
a student's essay is graded by the worker and waits for a person; the grader opens the
queue and the essay question, ticks a rubric item, inserts a reusable comment and saves,
regrades with a live progress bar and releases the feedback; the student then sees the
score and the comment, which they did not see before."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from coursehub.hub.constants import Role
from tests.grading_data import ESSAY, SHOW_WORK
from tests.grading_room import GradingRoom, grade_of, make_room, wait_until_graded
from tests.player_data import sign_in

pytestmark = pytest.mark.browser

COMMENT = "Nice use of an example."
SHOWS_HTML = (
    "from IPython.display import HTML, display\n"
    "display(HTML('<b>bold</b><script>window.pwned = 1</script>'))"
)


@pytest.fixture(autouse=True, scope="module")
def patient_expectations():  # type: ignore[no-untyped-def]
    """Wait as long as the pages' own timeout: the machine is shared."""
    expect.set_options(timeout=20_000)
    yield
    expect.set_options(timeout=None)


def person(browser, platform, account) -> Page:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    page = context.new_page()
    sign_in(page, platform, account.email)
    return page


def prepare_rubric_and_comments(room: GradingRoom) -> None:
    """What the instructor set up for graders: the essay's rubric and a reusable comment."""
    for label, points in (("Explains commutativity", 2), ("Gives an example", 1)):
        made = room.teacher.call(
            "POST", f"{room.one}/rubric", json={"grade_id": ESSAY, "label": label, "points": points}
        )
        assert made.status_code == 201, made.text
    banked = room.teacher.call("POST", f"{room.api}/grading/comments", json={"text": COMMENT})
    assert banked.status_code == 201, banked.text


def test_a_grader_grades_an_essay_and_the_student_sees_it_once_released(
    platform, browser, signed_in, make_account, db, database_url
):
    room = make_room(platform, signed_in, make_account, db, database_url, students=1)
    room.new_assignment()
    student = room.students[0]
    attempt = room.submit(student, show_work=SHOWS_HTML)
    colleague = make_account(Role.STUDENT)
    prepare_rubric_and_comments(room)
    site = platform.service_url

    teacher = person(browser, platform, room.teacher.account)
    teacher.goto(f"{site}/courses/{room.course.slug}/staff")
    teacher.get_by_label("Username").fill(colleague.username)
    teacher.get_by_role("button", name="Add grader").click()
    expect(teacher.locator("#staff_done")).to_contain_text(f"{colleague.username} can now grade")
    expect(teacher.locator(f'#graders [data-username="{colleague.username}"]')).to_be_visible()

    wait_until_graded(db, [attempt])
    assert grade_of(db, attempt).needs_manual

    grader = person(browser, platform, colleague)
    grader.goto(f"{site}/courses/{room.course.slug}/grading")
    row = grader.locator(f'#queue tr[data-submission-id="{attempt}"]')
    expect(row).to_contain_text("needs a person")
    grader.locator(f'#assignment_counts [data-assignment-id="{room.assignment_id}"]').get_by_role(
        "link", name=ESSAY, exact=True
    ).click()
    expect(grader.get_by_role("heading", level=1)).to_contain_text(ESSAY)
    answer = grader.locator(f'section.answer[data-username="{student.account.username}"]')
    expect(answer.locator(".answer-markdown em").first).to_have_text("a + b")
    answer.get_by_label("Explains commutativity (+2)").check()
    expect(answer.locator("input[name=score]")).to_have_attribute("placeholder", "2 (rubric)")
    answer.locator("select[data-comment-bank]").select_option(value=COMMENT)
    answer.get_by_role("button", name="Insert").click()
    expect(answer.locator("textarea[name=comment]")).to_have_value(COMMENT)
    answer.get_by_role("button", name="Save", exact=True).click()
    expect(answer.locator("[data-answer-status]")).to_contain_text("Saved: 2 / 3")

    # The shown work: its HTML output appears in a sandboxed frame, its script never runs.
    grader.goto(
        f"{site}/courses/{room.course.slug}/grading/assignments/{room.assignment_id}"
        f"/questions/{SHOW_WORK}"
    )
    work = grader.locator(f'section.answer[data-username="{student.account.username}"]')
    expect(work.frame_locator("iframe.answer-outputs").locator("b")).to_have_text("bold")
    assert grader.evaluate("window.pwned") is None
    work.locator("input[name=score]").fill("1")
    work.get_by_role("button", name="Save", exact=True).click()
    expect(work.locator("[data-answer-status]")).to_contain_text("attempt total 5 / 6")

    learner = person(browser, platform, student.account)
    learner.goto(f"{site}/courses/{room.course.slug}/assignments")
    expect(learner.locator(".assignment")).to_contain_text("2.0 / 6.0 (a person grades the rest)")
    expect(learner.locator(".assignment")).not_to_contain_text(COMMENT)

    grader.goto(f"{site}/courses/{room.course.slug}/assignments")
    tools = grader.locator(".grading-tools")
    tools.get_by_label("Why regrade").fill("Checking the test once more.")
    tools.get_by_role("button", name="Regrade all").click()
    expect(tools.locator("[data-run-label]")).to_contain_text("Regrade: 1 of 1 graded. Finished.")
    expect(tools.locator("[data-run-done]")).to_have_attribute("style", re.compile("100%"))
    tools.get_by_role("button", name="Release feedback").click()
    expect(tools.locator("[data-release-status]")).to_have_text(
        "Feedback released; 1 student(s) notified."
    )

    learner.reload()
    expect(learner.locator(".assignment")).to_contain_text("5.0 / 6.0")
    expect(learner.locator(".grader-comments")).to_contain_text(COMMENT)
    assert grade_of(db, attempt).final_score == 5
    for page in (teacher, grader, learner):
        page.context.close()
