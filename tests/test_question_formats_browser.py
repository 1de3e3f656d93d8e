"""An instructor brings a Moodle quiz into CourseHub in Chromium: on the quiz builder they
choose the exported file, read the preview (what will come in, what is skipped and why),
import it, and the quiz shows the questions; the imported image is served to them."""

from __future__ import annotations

import re

import pytest

from coursehub.hub.constants import Role
from tests.course_builder import make_course, unique_word
from tests.player_data import sign_in
from tests.question_files_data import FILES
from tests.teaching_client import open_session

pytestmark = pytest.mark.browser


def test_preview_then_import_puts_the_questions_on_the_quiz(  # type: ignore[no-untyped-def]
    platform, page, signed_in, make_account, database_url
):
    from playwright.sync_api import expect

    instructor = make_account(Role.INSTRUCTOR)
    course = make_course(database_url, instructor, title=f"Circuits {unique_word()}", modules={})
    teacher = open_session(platform, signed_in, instructor)
    quiz = teacher.call(
        "POST", f"/api/courses/{course.slug}/quizzes", json={"title": "Week 2 check"}
    ).json()

    sign_in(page, platform, instructor.email)
    page.goto(f"{platform.service_url}/courses/{course.slug}/quizzes/{quiz['id']}/edit")
    expect(page.locator("#slots")).not_to_contain_text("Ohm's law")

    page.locator("#import_file").set_input_files(str(FILES / "moodle_every_type.xml"))
    page.locator("#import_preview").click()
    expect(page.locator("#import_status")).to_have_text("Moodle XML: 6 understood, 2 skipped.")
    understood = page.locator("#import_questions li")
    expect(understood).to_have_count(6)
    expect(understood.first).to_contain_text("Ohm's law")
    expect(understood.nth(3)).to_contain_text("earned 50% in Moodle")
    skipped = page.locator("#import_skipped li")
    expect(skipped).to_have_count(2)
    expect(skipped.first).to_contain_text("matching questions have no CourseHub counterpart")
    expect(skipped.nth(1)).to_contain_text("Broken statement")
    # Nothing is stored by a preview.
    assert teacher.get(f"/api/courses/{course.slug}/quiz-bank").json()["questions"] == []

    page.locator("#import_confirm").click()
    slots = page.locator("#slots > li")
    expect(slots).to_have_count(6)
    expect(slots.first).to_contain_text("Multiple choice (one answer): Ohm's law")
    expect(slots.nth(5)).to_contain_text("Essay: Explain a fuse")
    expect(page.locator("#max_score")).to_have_text("14")  # 2 + 3 + 1 + 1 + 2 + 5

    bank = teacher.get(f"/api/courses/{course.slug}/quiz-bank").json()["questions"]
    prompt = next(q["prompt"] for q in bank if q["title"] == "Ohm's law")
    media = re.search(r"/services/coursehub/media/\d+", prompt)
    assert media is not None
    picture = page.request.get(f"{platform.url}{media.group(0)}")
    assert picture.ok and picture.headers["content-type"] == "image/png"
