"""A signed-out visitor in Chromium: a preview notebook lesson opens and renders live (its
widget's icon drawn from CourseHub's own assets, nothing asked of any other site), while a
lesson that is not a preview still asks them to sign in."""

from __future__ import annotations

import json
import re

import httpx
import pytest
from playwright.sync_api import expect

from coursehub.hub.constants import Role
from coursehub.services.models import LessonKind
from tests.player_data import LessonSpec, build_course, notebook

WIDGET_LESSON = notebook(
    "import ipywidgets as widgets\n"
    "button = widgets.Button(description='Count', icon='check')\n"
    "shown = widgets.Label('pressed 0 times')\n"
    "def count(_):\n"
    "    shown.value = f'pressed {int(shown.value.split()[1]) + 1} times'\n"
    "button.on_click(count)\n"
    "widgets.VBox([button, shown])",
    markdown="# Try CourseHub for free\n\nThe area of a circle is $\\pi r^2$.",
)


@pytest.fixture(scope="module")
def lesson_server(platform) -> None:
    response = httpx.get(f"{platform.service_url}/voila/voila/static/voila.js", timeout=60)
    assert response.status_code == 200, response.text[:300]


@pytest.mark.browser
def test_a_signed_out_visitor_opens_a_preview_lesson_and_is_asked_to_sign_in_for_the_rest(
    platform, lesson_server, db, make_account, page
):
    instructor = make_account(Role.INSTRUCTOR)
    course = build_course(
        db,
        instructor,
        [
            LessonSpec("Taster", LessonKind.NOTEBOOK, preview=True, notebook=WIDGET_LESSON),
            LessonSpec("Members only", LessonKind.NOTEBOOK, notebook=notebook("print(1)")),
        ],
    )
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    refused: list[str] = []  # what the pages' policies had to stop (a CDN link, say)
    page.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )

    page.goto(course.url(platform.service_url, "Taster"))
    expect(page.locator("#lesson_title")).to_have_text("Taster")
    expect(page.locator("#no_progress_note")).to_contain_text("sign in and enroll")
    frame = page.frame_locator("#lesson_frame")
    expect(frame.get_by_text("Try CourseHub for free")).to_be_visible(timeout=90_000)
    button = frame.get_by_role("button", name="Count")
    expect(button).to_be_visible(timeout=60_000)
    button.click()  # a widget in the lesson takes the visitor's click
    expect(frame.get_by_text("pressed 1 times")).to_be_visible(timeout=30_000)
    # The icon is Font Awesome from the lesson server's own assets, not from a CDN.
    icon = frame.locator("button i.fa-check").first
    expect(icon).to_be_attached()
    assert "Font Awesome" in icon.evaluate("element => getComputedStyle(element).fontFamily")
    elsewhere = [url for url in asked if not url.startswith((platform.url, "data:", "blob:"))]
    assert elsewhere == [], elsewhere
    assert [text for text in refused if "http" in text] == [], refused
    # Read-only: nothing to mark complete, no notes.
    expect(page.locator("#mark_complete")).to_have_count(0)
    expect(page.locator("#note_form")).to_have_count(0)

    config = frame.locator("#jupyter-config-data")
    kernel_id = json.loads(config.text_content())["kernelId"]
    page.goto(course.url(platform.service_url, "Members only"))
    expect(page).to_have_url(re.compile(r"/hub/login"))
    expect(page.locator("#username_input")).to_be_visible()
    httpx.post(f"{platform.service_url}/voila/voila/api/shutdown/{kernel_id}", timeout=30)
