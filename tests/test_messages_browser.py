"""A message round trip in Chromium: a student writes to the instructor from the Messages
page; the instructor's open Messages page shows the new conversation with an unread count
at once; the instructor opens it (the count goes back to zero) and answers; the student's
open conversation shows the answer at once, and stays at zero unread. Nothing the student
typed runs as script.

And the bell: a student's bell counts a new message's notification until they open its
conversation; a message arriving in the open conversation is read at once, so the bell, never
reloaded, does not keep counting it; one in another conversation it keeps counting."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select, update

from coursehub.services.models import DirectMessage, Notification
from tests.player_data import sign_in
from tests.test_messages import API, make_school, started

pytestmark = pytest.mark.browser

QUESTION = (
    "Is **question 2** about `sorted()`? Here is my try:\n\n"
    "```python\nprint(sorted([3, 1]))\n```\n\n"
    "<img src=x onerror=\"alert('xss')\"> [a link](javascript:alert(1)) and $x^2$"
)
ANSWER = "Yes: *sorted* returns a new list."


@pytest.fixture(autouse=True, scope="module")
def patient_expectations():  # type: ignore[no-untyped-def]
    """Wait as long as the pages' own timeout: the machine is shared."""
    expect.set_options(timeout=20_000)
    yield
    expect.set_options(timeout=None)


def person(browser, platform, account, dialogs: list[str]) -> Page:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_in(page, platform, account.email)
    return page


def test_a_student_and_the_instructor_exchange_messages_live(
    platform, browser, signed_in, make_account, db, database_url
):
    school = make_school(platform, signed_in, make_account, db, database_url)
    site = platform.service_url
    dialogs: list[str] = []

    teacher = person(browser, platform, school.instructor, dialogs)
    teacher.goto(f"{site}/courses")
    teacher.locator("#nav_messages").click()
    expect(teacher.locator("#unread_total")).to_have_text("0")
    expect(teacher.locator("#no_conversations")).to_be_visible()

    learner = person(browser, platform, school.student, dialogs)
    learner.goto(f"{site}/messages")
    learner.get_by_label("To", exact=True).select_option(value=str(school.instructor.id))
    learner.get_by_label("Message (markdown)").fill(QUESTION)
    learner.get_by_role("button", name="Send").click()
    learner.wait_for_url(re.compile(r"/messages/\d+$"))
    conversation = int(learner.url.rsplit("/", 1)[1])
    expect(learner.locator("#message_list li.message")).to_have_count(1)
    expect(learner.locator("#message_list .message-html pre code")).to_contain_text(
        "sorted([3, 1])"
    )

    # The instructor's open page, never reloaded, hears of it.
    item = teacher.locator(f'#conversation_list [data-conversation-id="{conversation}"]')
    expect(item.locator(".unread-count")).to_have_text("1")
    expect(item.locator(".conversation-preview")).to_contain_text("Is question 2 about sorted()?")
    expect(teacher.locator("#unread_total")).to_have_text("1")

    item.locator(".conversation-link").click()
    teacher.wait_for_url(re.compile(rf"/messages/{conversation}$"))
    expect(teacher.locator("#unread_total")).to_have_text("0")
    expect(teacher.locator("#message_list .message-html strong")).to_have_text("question 2")
    expect(teacher.locator("#message_list .message-html math msup")).to_have_count(1)
    expect(teacher.locator(f'[data-conversation-id="{conversation}"] .unread-count')).to_be_hidden()

    teacher.get_by_label(re.compile("Your reply")).fill(ANSWER)
    teacher.get_by_role("button", name="Send").click()
    expect(teacher.locator("#message_list li.message.mine")).to_have_count(1)

    # The student's open conversation shows the answer without a reload, already read.
    answer = learner.locator("#message_list li.message").nth(1)
    expect(answer.locator(".message-html em")).to_have_text("sorted")
    expect(answer.locator(".message-author")).to_have_text(school.instructor.name)
    expect(learner.locator("#unread_total")).to_have_text("0")
    expect(teacher.locator("#unread_total")).to_have_text("0")
    with db() as session:
        unread = session.scalars(
            select(DirectMessage.id).where(
                DirectMessage.conversation_id == conversation, DirectMessage.read_at.is_(None)
            )
        ).all()
    assert unread == [], "both messages were seen on open pages"

    assert dialogs == [], f"script from a message ran: {dialogs}"
    assert learner.evaluate("document.querySelector('#message_list img[onerror]')") is None
    for page in (teacher, learner):
        page.context.close()


def unread_message_notes(db, account) -> dict[int, list[int]]:  # type: ignore[no-untyped-def]
    """The account's unread direct_message notifications: their ids by conversation."""
    with db() as session:
        rows = session.scalars(
            select(Notification)
            .where(
                Notification.account_id == account.id,
                Notification.kind == "direct_message",
                Notification.read_at.is_(None),
            )
            .order_by(Notification.id)
        )
        found: dict[int, list[int]] = {}
        for row in rows:
            found.setdefault(row.payload["conversation_id"], []).append(row.id)
        return found


def test_the_bell_stops_counting_messages_once_their_conversation_is_open(
    platform, browser, signed_in, make_account, db, database_url
):
    school = make_school(platform, signed_in, make_account, db, database_url)
    with db() as session:  # whatever arranging the school told the student is old news
        session.execute(
            update(Notification)
            .where(Notification.account_id == school.student.id)
            .values(read_at=func.now())
        )
        session.commit()
    site = platform.service_url
    dialogs: list[str] = []
    learner = person(browser, platform, school.student, dialogs)
    learner.goto(f"{site}/courses")
    bell = learner.locator("#notification_bell")
    count = learner.locator("#notification_count")
    expect(bell).to_have_attribute("data-ready", "true")
    expect(count).to_be_hidden()

    teacher = school.as_(school.instructor)
    conversation = started(teacher, school.student, "Please see me about question 2.")
    expect(count).to_have_text("1")

    learner.locator("#nav_messages").click()
    learner.wait_for_url(re.compile(r"/messages$"))
    expect(bell).to_have_attribute("data-ready", "true")
    expect(count).to_have_text("1")  # not read yet: only listed
    item = learner.locator(f'#conversation_list [data-conversation-id="{conversation}"]')
    item.locator(".conversation-link").click()
    learner.wait_for_url(re.compile(rf"/messages/{conversation}$"))
    expect(bell).to_have_attribute("data-ready", "true")
    expect(count).to_be_hidden()
    assert unread_message_notes(db, school.student) == {}

    # A message arriving in the open conversation: shown, read, and not left on the bell.
    answer = teacher.call(
        "POST", f"{API}/conversations/{conversation}/messages", json={"body": "At 3 pm?"}
    )
    assert answer.status_code == 201, answer.text
    expect(learner.locator("#message_list li.message")).to_have_count(2)
    expect(bell).to_have_attribute("data-unread", "0")
    expect(count).to_be_hidden()
    with db() as session:
        newest = session.scalar(
            select(func.max(Notification.id)).where(Notification.account_id == school.student.id)
        )
    learner.locator("#notification_bell_button").click()
    shown = learner.locator(f'#notification_items [data-notification-id="{newest}"] a')
    expect(shown).to_contain_text("sent you a message")
    expect(shown).not_to_have_class(re.compile("fw-semibold"))
    learner.locator("#notification_bell_button").click()
    assert unread_message_notes(db, school.student) == {}

    # One in another conversation is not read by this page: the bell keeps counting it.
    elsewhere = started(school.as_(school.grader), school.student, "Your notebook fails.")
    other_item = learner.locator(f'#conversation_list [data-conversation-id="{elsewhere}"]')
    expect(other_item.locator(".unread-count")).to_have_text("1")
    expect(count).to_have_text("1")
    expect(learner.locator("#message_list li.message")).to_have_count(2)
    assert list(unread_message_notes(db, school.student)) == [elsewhere]
    assert dialogs == []
    learner.context.close()
