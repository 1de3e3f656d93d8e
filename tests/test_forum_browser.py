"""Announcements and forums in Chromium: a student's open course page shows a new
announcement without a reload; a student starts a thread on the page, the instructor answers
on the page, the student sees the answer; and the stored-XSS corpus, in titles, posts,
announcements and search, never runs (no dialog ever opens)."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest

from coursehub.hub.constants import Role
from coursehub.services.community import forums
from tests.course_builder import enroll
from tests.player_data import sign_in
from tests.teaching_client import Session
from tests.test_forums import ForumRoom, make_room
from tests.xss_corpus import XSS_CORPUS

pytestmark = pytest.mark.browser


@pytest.fixture
def room(platform, signed_in, make_account, db, database_url) -> ForumRoom:  # type: ignore[no-untyped-def]
    return make_room(platform, signed_in, make_account, db, database_url)


def browser_of(browser, platform, account):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    page = context.new_page()
    dialogs: list[str] = []

    def refuse(dialog) -> None:  # type: ignore[no-untyped-def]
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", refuse)
    sign_in(page, platform, account.email)
    return context, page, dialogs


def test_a_new_announcement_appears_on_the_students_open_course_page(platform, browser, room):
    from playwright.sync_api import expect

    context, page, dialogs = browser_of(browser, platform, room.accounts["author"])
    try:
        page.goto(f"{platform.service_url}/courses/{room.course.slug}")
        section = page.locator("#course_announcements")
        expect(section).to_contain_text("No announcements yet")
        page.evaluate("window.stillTheSamePage = true")
        # The bell has read the notifications so far; its stream sends anything newer.
        expect(page.locator("#notification_bell")).to_have_attribute("data-ready", "true")

        posted = room.teacher.call(
            "POST",
            f"/api/courses/{room.course.slug}/announcements",
            json={"title": "Quiz moved to Friday", "body": "Bring **a pencil**."},
        )
        assert posted.status_code == 201, posted.text

        newest = section.locator(".course-announcement").first
        expect(newest).to_contain_text("Quiz moved to Friday", timeout=15_000)
        expect(newest.locator("strong")).to_have_text("a pencil")
        assert page.evaluate("window.stillTheSamePage") is True, "the page was reloaded"
        assert dialogs == []
    finally:
        context.close()


def test_a_student_asks_on_the_page_and_sees_the_instructors_answer(platform, browser, room):
    from playwright.sync_api import expect

    student, page, _ = browser_of(browser, platform, room.accounts["author"])
    teacher, teacher_page, _ = browser_of(browser, platform, room.accounts["teacher"])
    try:
        page.goto(f"{platform.service_url}/courses/{room.course.slug}")
        page.locator("#forums_link").click()
        page.locator(".forum-item", has_text="General discussion").click()
        page.get_by_label("Title").fill("How do I print without a newline?")
        page.get_by_label("Your question or idea").fill("I tried:\n\n```python\nprint('a')\n```")
        page.get_by_role("button", name="Post thread").click()
        expect(page.locator("#thread_title")).to_have_text("How do I print without a newline?")
        expect(page.locator(".forum-post pre code")).to_contain_text("print('a')")
        thread_url = page.url.split("?")[0]

        teacher_page.goto(thread_url)
        teacher_page.locator(".forum-post").first.get_by_role("button", name="Reply").click()
        teacher_page.locator(".post-slot textarea").fill("Use `print('a', end='')`.")
        teacher_page.locator(".post-slot").get_by_role("button", name="Post reply").click()
        answer = teacher_page.locator(".forum-post").nth(1)
        expect(answer).to_contain_text("print('a', end='')")
        expect(answer).to_have_attribute("style", re.compile(r"margin-left: 1\.5rem"))

        page.goto(f"{platform.service_url}/courses/{room.course.slug}/forums/general")
        expect(page.locator(".thread-item .thread-unread")).to_have_text("1 new")
        page.locator(".thread-link").click()
        reply = page.locator(".forum-post").nth(1)
        expect(reply).to_contain_text("print('a', end='')")
        expect(reply.locator(".badge", has_text="New")).to_be_visible()
        expect(reply).to_contain_text(room.accounts["teacher"].username)
        # Their answer is someone else's: they may report it, not edit it.
        expect(reply.get_by_role("button", name="Report")).to_be_visible()
        expect(reply.get_by_role("button", name="Edit")).to_have_count(0)

        # The student adds a formula to their question: the edit box starts from their markdown.
        question = page.locator(".forum-post").first
        question.get_by_role("button", name="Edit").click()
        box = question.locator(".post-slot textarea")
        expect(box).to_have_value("I tried:\n\n```python\nprint('a')\n```")
        box.fill("I tried `print('a')`; is the cost $O(n^2)$?")
        question.locator(".post-slot").get_by_role("button", name="Save").click()
        expect(page.locator(".forum-post").first.locator("math msup")).to_have_count(1)
        expect(page.locator(".forum-post").first).to_contain_text("edited")
    finally:
        student.close()
        teacher.close()


def test_the_xss_corpus_never_runs_in_the_browser(platform, browser, room, make_account, db):
    writers: list[Session] = []
    thread_ids: list[int] = []
    for index, (_name, payload) in enumerate(XSS_CORPUS):
        if index % forums.POST_LIMIT == 0:
            student = make_account(Role.STUDENT)
            enroll(db, student, room.course)
            writers.append(room.open_as(student))
        thread_ids.append(room.start(writers[-1], payload[:200], payload)["id"])
        room.teacher.call(
            "POST",
            f"/api/courses/{room.course.slug}/announcements",
            json={"title": payload[:200], "body": payload},
        ).raise_for_status()
    thread = thread_ids[0]
    for _name, payload in XSS_CORPUS[:8]:
        room.reply(room.classmate, thread, payload)

    context, page, dialogs = browser_of(browser, platform, room.accounts["author"])
    base = f"{platform.service_url}/courses/{room.course.slug}"
    try:
        pages = [
            base,
            f"{base}/announcements",
            f"{base}/forums",
            f"{base}/forums/general",
            f"{base}/forums/search?q=alert",
            f"{base}/forums/search?q=click",
            f"{base}/forums/search?q=" + quote("<img src=x onerror=alert(1)> script"),
            *[f"{base}/forums/threads/{thread_id}" for thread_id in thread_ids],
        ]
        for url in pages:
            page.goto(url)
            page.wait_for_load_state("networkidle" if url == base else "load")
            problems = page.evaluate(
                """() => [...document.querySelectorAll(
                      '.forum-post-body *, .announcement-body *, .search-snippet *')]
                    .filter(el => [...el.attributes].some(a => a.name.startsWith('on')
                       || /^\\s*(javascript|data|vbscript):/i.test(a.value))
                       || ['SCRIPT', 'IFRAME', 'SVG', 'STYLE', 'OBJECT', 'EMBED', 'MGLYPH',
                           'MACTION', 'SEMANTICS', 'ANNOTATION', 'ANNOTATION-XML']
                          .includes(el.tagName.toUpperCase()))
                    .map(el => el.outerHTML)"""
            )
            assert problems == [], (url, problems)
        # The posts' images that fail to load fire their error events: still nothing runs.
        page.wait_for_timeout(1000)
        assert dialogs == [], dialogs
        page.goto(f"{base}/forums/threads/{thread}")
        assert page.locator(".forum-post").count() == 9
    finally:
        context.close()
