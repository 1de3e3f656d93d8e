"""The whole course lifecycle in one browser story, as the Courses issue tells it.

An instructor creates a course, a module, a notebook lesson whose notebook they publish from
their own JupyterLab, and a video lesson; reorders the lessons and publishes the course. A
student finds the course by a word that appears only inside the lesson notebook, enrolls,
opens the lesson and moves its widget, sees their progress change, opens the lesson in
JupyterLab, watches the video and so completes the course. Everything runs for real: hub,
proxy, course service, lesson server, both people's JupyterLab servers, Chromium.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from pathlib import Path

import nbformat
import pytest
from sqlalchemy import select

from coursehub.hub.constants import Role
from coursehub.services.models import Course, CourseStatus, Enrollment, Lesson, Module
from tests.player_data import sign_in
from tests.test_lab_extension import Hub, add_account, put_notebook, sign_in_as

VIDEO = Path(__file__).parent / "media" / "lesson-clip.webm"
# Set to a folder to keep the story's screenshots (the README's come from here).
SCREENSHOTS = os.environ.get("COURSEHUB_SCREENSHOT_DIR")


def umbrella_notebook(hidden_word: str) -> dict:
    """A lesson with a live widget; ``hidden_word`` appears nowhere but in this notebook."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell(f"# Rain and umbrellas\n\nToday's word: *{hidden_word}*."),
        nbformat.v4.new_code_cell(
            "import ipywidgets as widgets\n"
            "rain = widgets.IntSlider(value=3, min=0, max=10, description='Rainy days')\n"
            "answer = widgets.HTML()\n"
            "def show(change=None):\n"
            "    answer.value = f'<b>Umbrellas needed: {rain.value * 2}</b>'\n"
            "rain.observe(show, 'value')\n"
            "show()\n"
            "display(rain, answer)"
        ),
        nbformat.v4.new_markdown_cell("That is all for today."),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    return json.loads(nbformat.writes(nb))


@pytest.mark.browser
def test_an_instructor_builds_a_course_and_a_student_learns_it_to_the_end(platform, browser, db):
    from playwright.sync_api import expect

    hidden_word = f"petrichor{secrets.token_hex(3)}"
    title = f"Weather Notebooks {secrets.token_hex(2)}"
    hub = Hub(platform)
    teacher = add_account(db, Role.INSTRUCTOR, "story-teacher")
    student = add_account(db, Role.STUDENT, "story-student")
    instructor_view = browser.new_context(viewport={"width": 1280, "height": 900})
    student_view = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        # -- the instructor builds the course ----------------------------------------------
        page = instructor_view.new_page()
        sign_in(page, platform, teacher.email or "")
        page.goto(f"{platform.service_url}/teach")
        page.get_by_role("link", name="New course", exact=True).click()
        page.get_by_label("Title").fill(title)
        page.get_by_label("Summary").fill("Reading the sky with notebooks")
        page.get_by_role("button", name="Create course").click()
        expect(page.locator("#done_note")).to_contain_text("created as a draft")
        course_page = page.url
        page.get_by_label("New module").fill("Week 1")
        page.get_by_role("button", name="Add module").click()
        module = page.locator("li.teach-module", has_text="Week 1")

        module.get_by_label("New lesson in Week 1").fill("Rain and umbrellas")
        module.get_by_label("Kind").select_option("NOTEBOOK")
        module.get_by_role("button", name="Add lesson").click()
        expect(page.get_by_label("Notebook file")).to_be_visible()
        page.goto(course_page)

        module.get_by_label("New lesson in Week 1").fill("The sky in four seconds")
        module.get_by_label("Kind").select_option("VIDEO")
        module.get_by_role("button", name="Add lesson").click()
        page.get_by_label(re.compile("Upload a video")).set_input_files(VIDEO)
        expect(page.locator("#done_note")).to_have_text("The lesson is saved.", timeout=30_000)
        expect(page.locator("video.teach-video")).to_be_visible()
        page.goto(course_page)

        # The video goes first, with the keyboard.
        page.get_by_role("button", name="Move lesson The sky in four seconds up").press("Enter")
        expect(page.locator("#order_status")).to_contain_text("Saved.")
        lessons = module.locator("li.teach-lesson .lesson-title")
        expect(lessons).to_have_text(["The sky in four seconds", "Rain and umbrellas"])

        # The lesson notebook is written in the instructor's JupyterLab and published there.
        with db() as session:
            course = session.scalar(select(Course).where(Course.title == title))
            notebook_lesson = session.scalar(
                select(Lesson)
                .join(Module)
                .where(Module.course_id == course.id, Lesson.title == "Rain and umbrellas")
            )
        hub.start(teacher.username)
        author = sign_in_as(platform, hub, teacher)
        put_notebook(author, "umbrellas.ipynb", umbrella_notebook(hidden_word))
        page.goto(f"{platform.url}/user/{teacher.username}/lab/tree/umbrellas.ipynb")
        expect(page.get_by_role("heading", name="Rain and umbrellas").first).to_be_visible(
            timeout=90_000
        )
        page.get_by_role("menuitem", name="File", exact=True).click()
        page.get_by_role("menuitem", name="Publish to course…").click()
        dialog = page.locator(".jp-Dialog")
        dialog.get_by_label("Lesson").select_option(str(notebook_lesson.id))
        dialog.get_by_role("button", name="Publish").click()
        # Publishing runs the notebook first (the publish check), in the sandbox.
        expect(page.get_by_text("Published umbrellas.ipynb as version 1")).to_be_visible(
            timeout=180_000
        )

        page.goto(course_page)
        page.get_by_role("button", name="Publish course").click()
        expect(page.locator("#course_status")).to_have_text("Published")
        author.browser.close()
        author.server.close()
        with db() as session:
            assert session.get(Course, course.id).status is CourseStatus.PUBLISHED

        # -- a student finds it by a word inside the notebook, and enrolls ----------------
        learner = student_view.new_page()
        sign_in(learner, platform, student.email or "")
        learner.goto(f"{platform.service_url}/courses")
        learner.locator("#q_input").fill(hidden_word)
        learner.locator("#search_submit").click()
        expect(learner.locator("#catalog .card")).to_have_count(1)
        learner.get_by_role("link", name=title).click()
        learner.locator("#enroll_button").click()
        expect(learner.locator("#enrolled_state")).to_be_visible()
        with db() as session:
            assert session.scalar(
                select(Enrollment).where(
                    Enrollment.account_id == student.id, Enrollment.course_id == course.id
                )
            )

        # -- the notebook lesson, live --------------------------------------------------------
        learner.get_by_role("link", name="Rain and umbrellas").click()
        expect(learner.locator("#course_progress_text")).to_have_text("0")
        frame = learner.frame_locator("#lesson_frame")
        expect(frame.get_by_text("Umbrellas needed: 6")).to_be_visible(timeout=90_000)
        handle = frame.locator(".widget-slider .noUi-handle").first
        handle.focus()
        handle.press("ArrowRight")
        expect(frame.get_by_text("Umbrellas needed: 8")).to_be_visible(timeout=30_000)
        learner.locator("#lesson_end").scroll_into_view_if_needed()
        expect(learner.locator("#lesson_state")).to_be_visible(timeout=20_000)
        expect(learner.locator("#course_progress_text")).to_have_text("50")
        if SCREENSHOTS:
            learner.screenshot(path=str(Path(SCREENSHOTS) / "player.png"))

        # -- Open in JupyterLab: the student's own copy, in their own server ------------------
        with learner.expect_popup(timeout=180_000) as opened:
            learner.locator("#open_in_lab").click()
        lab = opened.value
        lab.wait_for_url(
            re.compile(rf"/user/{student.username}/lab/tree/courses/{course.slug}/.+\.ipynb"),
            timeout=180_000,
        )
        copy = lab.locator(".jp-RenderedMarkdown em", has_text=hidden_word)
        expect(copy.first).to_be_visible(timeout=90_000)
        lab.close()

        # -- the video, watched to the end, completes the course ------------------------------
        learner.locator("#previous_lesson").click()
        video = learner.locator("#lesson_video")
        expect(video).to_be_visible()
        learner.locator("#playback_speed").select_option("2")
        video.evaluate("v => { v.muted = true; return v.play(); }")
        watched = re.compile(r"^(9\d|100)% watched")
        expect(learner.locator("#video_watched")).to_have_text(watched, timeout=30_000)
        expect(learner.locator("#course_progress_text")).to_have_text("100")
        learner.goto(f"{platform.service_url}/dashboard")
        card = learner.locator(".card", has_text=title)
        expect(card.locator(".course-progress")).to_contain_text("100% done")

        # -- the player is usable on a phone -------------------------------------------------
        learner.set_viewport_size({"width": 375, "height": 740})
        learner.goto(
            f"{platform.service_url}/learn/{course.slug}/{notebook_lesson.id}",
            wait_until="domcontentloaded",  # the frame's live notebook has its own wait
        )
        expect(learner.locator("#lesson_title")).to_be_visible()
        phone_frame = learner.frame_locator("#lesson_frame")
        expect(phone_frame.get_by_text("Umbrellas needed")).to_be_visible(timeout=90_000)
        assert learner.evaluate("document.documentElement.scrollWidth") <= 375
        screenshot = Path(SCREENSHOTS or platform.data_dir) / "player-phone.png"
        learner.screenshot(path=str(screenshot), full_page=False)
        assert screenshot.stat().st_size > 10_000
    finally:
        instructor_view.close()
        student_view.close()
        for name in (teacher.username, student.username):
            if hub.http.get(f"/users/{name}").status_code == 200 and hub.server(name):
                hub.stop(name)
        hub.http.close()
