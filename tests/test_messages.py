"""Direct messages: people who share a course write to each other. A student writes to the
instructor, who sees an unread conversation, opens it (read) and answers; students write to
each other only where the course allows it; nobody reads anyone else's conversation; empty,
oversized and too many messages are refused; whatever people type renders harmlessly."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import delete, select

from coursehub.hub.constants import Role
from coursehub.services.community.handlers.messages import SEND_LIMIT, SEND_WINDOW_S
from coursehub.services.models import (
    Account,
    CourseGrader,
    DirectMessage,
    Enrollment,
    Notification,
)
from tests.course_builder import BuiltCourse, enroll, make_course, unique_word
from tests.platform import REPO
from tests.teaching_client import Session, open_session
from tests.test_notification_stream import listening, next_event
from tests.xss_corpus import XSS_CORPUS, assert_harmless

API = "/api/messages"


@dataclass
class School:
    """A course with its instructor, a grader (a student account, as teaching assistants
    often are) and two students; another course with its own instructor and student; and
    an administrator. ``as_(person)`` is that person's signed-in client."""

    course: BuiltCourse
    people: dict[str, Account]
    open_as: Callable[[Account], Session]
    sessions: dict[int, Session] = field(default_factory=dict)

    def __getattr__(self, role: str) -> Account:
        try:
            return self.people[role]
        except KeyError:
            raise AttributeError(role) from None

    def as_(self, person: Account) -> Session:
        if person.id not in self.sessions:
            self.sessions[person.id] = self.open_as(person)
        return self.sessions[person.id]


def make_school(platform, signed_in, make_account, db, database_url) -> School:  # type: ignore[no-untyped-def]
    people = {
        "instructor": make_account(Role.INSTRUCTOR),
        "grader": make_account(Role.STUDENT),
        "student": make_account(Role.STUDENT),
        "classmate": make_account(Role.STUDENT),
        "other_instructor": make_account(Role.INSTRUCTOR),
        "outsider": make_account(Role.STUDENT),
        "admin": make_account(Role.ADMIN),
    }
    course = make_course(
        database_url, people["instructor"], title=f"Messaging {unique_word()}", modules={}
    )
    elsewhere = make_course(
        database_url, people["other_instructor"], title=f"Elsewhere {unique_word()}", modules={}
    )
    enroll(db, people["student"], course)
    enroll(db, people["classmate"], course)
    enroll(db, people["outsider"], elsewhere)
    with db() as session:
        session.add(CourseGrader(course_id=course.id, account_id=people["grader"].id))
        session.commit()
    return School(course, people, lambda person: open_session(platform, signed_in, person))


@pytest.fixture
def school(platform, signed_in, make_account, db, database_url) -> School:  # type: ignore[no-untyped-def]
    return make_school(platform, signed_in, make_account, db, database_url)


def write(sender: Session, to: Account, body: str) -> httpx.Response:
    return sender.call("POST", f"{API}/conversations", json={"account_id": to.id, "body": body})


def started(sender: Session, to: Account, body: str) -> int:
    answer = write(sender, to, body)
    assert answer.status_code == 201, answer.text
    return answer.json()["conversation_id"]


def listed(person: Session) -> dict[str, Any]:
    answer = person.get(f"{API}/conversations")
    assert answer.status_code == 200, answer.text
    return answer.json()


def allow_students(school: School, allowed: bool = True) -> None:
    answer = school.as_(school.instructor).call(
        "PATCH", f"{API}/courses/{school.course.slug}", json={"students_may_message": allowed}
    )
    assert answer.status_code == 200, answer.text


# -- the story ------------------------------------------------------------------------------


def test_a_student_writes_to_the_instructor_who_reads_and_answers(school, db):
    student, teacher = school.as_(school.student), school.as_(school.instructor)
    assert listed(teacher)["unread_total"] == 0

    conversation = started(student, school.instructor, "Is **question 2** about `sorted()`?")
    again = started(student, school.instructor, "Also: what about $x^2$?")
    assert again == conversation, "a pair of people has one conversation"

    inbox = listed(teacher)
    assert inbox["unread_total"] == 2
    [item] = inbox["conversations"]
    assert item["id"] == conversation and item["unread"] == 2
    assert item["other"]["account_id"] == school.student.id
    assert item["preview"] == "Also: what about $x^2$?"
    with db() as session:
        notes = list(
            session.scalars(
                select(Notification)
                .where(Notification.account_id == school.instructor.id)
                .order_by(Notification.id)
            )
        )
    assert [n.kind for n in notes] == ["direct_message", "direct_message"]
    payload = notes[0].payload
    assert payload["conversation_id"] == conversation
    assert payload["url"] == f"/services/coursehub/messages/{conversation}"
    assert payload["title"] == f"{school.student.name} sent you a message"
    assert payload["preview"] == "Is question 2 about sorted()?"

    opened = teacher.get(f"{API}/conversations/{conversation}")
    assert opened.status_code == 200
    thread = opened.json()["messages"]
    assert [m["body"] for m in thread] == [
        "Is **question 2** about `sorted()`?",
        "Also: what about $x^2$?",
    ]
    assert "<strong>question 2</strong>" in thread[0]["html"]
    assert "<code>sorted()</code>" in thread[0]["html"]
    assert not any(m["mine"] for m in thread)
    assert listed(teacher)["unread_total"] == 0
    with db() as session:
        unread_notes = session.scalars(
            select(Notification).where(
                Notification.account_id == school.instructor.id, Notification.read_at.is_(None)
            )
        ).all()
    assert unread_notes == [], "opening the conversation marks its notifications read too"

    reply = teacher.call(
        "POST", f"{API}/conversations/{conversation}/messages", json={"body": "Yes, it is."}
    )
    assert reply.status_code == 201 and reply.json()["mine"] is True
    mine = listed(student)
    assert mine["unread_total"] == 1
    assert mine["conversations"][0]["other"]["account_id"] == school.instructor.id
    assert mine["conversations"][0]["preview"] == "Yes, it is."


def test_the_messages_page_lists_conversations_and_opening_one_marks_it_read(school):
    student, teacher = school.as_(school.student), school.as_(school.instructor)
    conversation = started(student, school.instructor, "Hello from the student")

    listing = teacher.get("/messages")
    assert listing.status_code == 200
    assert 'id="nav_messages"' in listing.text
    assert f'data-conversation-id="{conversation}"' in listing.text
    assert 'id="unread_total" class="badge text-bg-danger">1<' in listing.text
    assert "Hello from the student" in listing.text

    page = teacher.get(f"/messages/{conversation}")
    assert page.status_code == 200
    assert "<p>Hello from the student</p>" in page.text
    assert 'id="unread_total" class="badge text-bg-secondary">0<' in page.text
    assert listed(teacher)["conversations"][0]["unread"] == 0


def test_opening_a_conversation_marks_only_its_notifications_read(school, db):
    """The instructor's notifications of the conversation they open are marked read, and the
    answer says which (for the bell); not the student's of it, not those of the instructor's
    other conversation, not another kind that names the same number."""
    student, teacher = school.as_(school.student), school.as_(school.instructor)
    opened = started(student, school.instructor, "About question 2")
    started(student, school.instructor, "And question 3")
    elsewhere = started(school.as_(school.grader), school.instructor, "The marking scheme")
    answer = teacher.call("POST", f"{API}/conversations/{opened}/messages", json={"body": "Yes"})
    assert answer.status_code == 201
    with db() as session:
        session.add(
            Notification(
                account_id=school.instructor.id,
                kind="forum_reply",
                payload={"title": "A reply", "conversation_id": opened, "post_id": opened},
            )
        )
        session.commit()

    def unread() -> dict[int, list[tuple[str, int | None]]]:
        with db() as session:
            rows = session.scalars(
                select(Notification)
                .where(
                    Notification.account_id.in_([school.instructor.id, school.student.id]),
                    Notification.read_at.is_(None),
                )
                .order_by(Notification.id)
            )
            found: dict[int, list[tuple[str, int | None]]] = {}
            for row in rows:
                pair = (row.kind, row.payload.get("conversation_id"))
                found.setdefault(row.account_id, []).append(pair)
            return found

    def ids_of(account: Account, conversation: int) -> list[int]:
        with db() as session:
            return list(
                session.scalars(
                    select(Notification.id)
                    .where(
                        Notification.account_id == account.id,
                        Notification.kind == "direct_message",
                        Notification.payload["conversation_id"].as_integer() == conversation,
                    )
                    .order_by(Notification.id)
                )
            )

    assert unread() == {
        school.instructor.id: [
            ("direct_message", opened),
            ("direct_message", opened),
            ("direct_message", elsewhere),
            ("forum_reply", opened),
        ],
        school.student.id: [("direct_message", opened)],
    }
    expected = ids_of(school.instructor, opened)
    assert len(expected) == 2

    first = teacher.get(f"{API}/conversations/{opened}")
    assert first.status_code == 200
    assert first.json()["marked_read"] == 2
    assert first.json()["notifications_read"] == expected
    assert unread() == {
        school.instructor.id: [("direct_message", elsewhere), ("forum_reply", opened)],
        school.student.id: [("direct_message", opened)],
    }
    again = teacher.get(f"{API}/conversations/{opened}").json()
    assert again["marked_read"] == 0 and again["notifications_read"] == []

    # Opening the page does the same; the student's notification goes when they read it.
    assert teacher.get(f"/messages/{elsewhere}").status_code == 200
    theirs = student.get(f"{API}/conversations/{opened}").json()
    assert theirs["notifications_read"] == ids_of(school.student, opened)
    assert unread() == {school.instructor.id: [("forum_reply", opened)]}


def test_code_blocks_and_math_survive_and_previews_are_plain_text(school):
    student, teacher = school.as_(school.student), school.as_(school.instructor)
    body = "My loop:\n\n```python\nfor i in range(3):\n    print(i < 2)\n```\n\nand $a<b$"
    conversation = started(student, school.instructor, body)
    [message] = teacher.get(f"{API}/conversations/{conversation}").json()["messages"]
    assert '<pre><code class="language-python">for i in range(3):' in message["html"]
    assert "print(i &lt; 2)" in message["html"]
    assert "<mi>a</mi><mo>&lt;</mo><mi>b</mi>" in message["html"]
    preview = listed(teacher)["conversations"][0]["preview"]
    assert preview == "My loop: for i in range(3): print(i < 2) and $a<b$"


# -- who may write to whom ------------------------------------------------------------------

WHO_MAY_WRITE = [
    ("student", "instructor", 201),
    ("instructor", "student", 201),
    ("student", "grader", 201),
    ("grader", "classmate", 201),
    ("grader", "instructor", 201),
    ("admin", "outsider", 201),
    ("student", "classmate", 403),
    ("student", "outsider", 403),
    ("instructor", "outsider", 403),
    ("outsider", "instructor", 403),
    ("other_instructor", "instructor", 403),
    ("student", "student", 403),
]


@pytest.mark.parametrize(
    ("sender", "recipient", "status"),
    WHO_MAY_WRITE,
    ids=[f"{s}-to-{r}" for s, r, _ in WHO_MAY_WRITE],
)
def test_who_may_write_to_whom(school, sender, recipient, status):
    answer = write(school.as_(getattr(school, sender)), getattr(school, recipient), "Hello")
    assert answer.status_code == status, answer.text
    if status == 403:
        assert "share a course" in answer.json()["error"]


def test_students_write_to_each_other_only_where_the_course_allows_it(school):
    student = school.as_(school.student)
    contacts = {c["account_id"] for c in student.get(f"{API}/contacts").json()["contacts"]}
    assert contacts == {school.instructor.id, school.grader.id}
    assert write(student, school.classmate, "Study group?").status_code == 403

    allow_students(school)
    contacts = {c["account_id"] for c in student.get(f"{API}/contacts").json()["contacts"]}
    assert contacts == {school.instructor.id, school.grader.id, school.classmate.id}
    conversation = started(student, school.classmate, "Study group?")
    assert write(student, school.outsider, "And you?").status_code == 403

    allow_students(school, False)
    answer = student.call(
        "POST", f"{API}/conversations/{conversation}/messages", json={"body": "Still there?"}
    )
    assert answer.status_code == 403
    assert "no longer write" in answer.json()["error"]
    assert len(student.get(f"{API}/conversations/{conversation}").json()["messages"]) == 1


def test_only_the_instructor_and_administrators_decide_whether_students_may_write(school):
    slug = school.course.slug
    for person in (school.student, school.grader, school.other_instructor):
        answer = school.as_(person).call(
            "PATCH", f"{API}/courses/{slug}", json={"students_may_message": True}
        )
        assert answer.status_code == 403, (person.username, answer.text)
        assert "instructor and administrators" in answer.json()["error"]
    teacher = school.as_(school.instructor)
    assert teacher.get(f"{API}/courses/{slug}").json()["students_may_message"] is False
    bad = teacher.call("PATCH", f"{API}/courses/{slug}", json={"students_may_message": "yes"})
    assert bad.status_code == 400
    assert teacher.call("PATCH", f"{API}/courses/no-such-{slug}", json={}).status_code == 404
    assert f'data-slug="{slug}"' in teacher.get("/messages").text
    admin = school.as_(school.admin)
    made = admin.call("PATCH", f"{API}/courses/{slug}", json={"students_may_message": True})
    assert made.status_code == 200 and made.json()["students_may_message"] is True
    assert f'data-slug="{slug}"' not in school.as_(school.student).get("/messages").text


def test_a_student_who_left_the_course_keeps_the_conversation_but_cannot_write(school, db):
    student = school.as_(school.student)
    conversation = started(student, school.instructor, "Before I go")
    with db() as session:
        session.execute(delete(Enrollment).where(Enrollment.account_id == school.student.id))
        session.commit()
    answer = student.call(
        "POST", f"{API}/conversations/{conversation}/messages", json={"body": "One more"}
    )
    assert answer.status_code == 403
    assert write(student, school.instructor, "One more").status_code == 403
    assert student.get(f"{API}/conversations/{conversation}").status_code == 200


# -- nobody reads others' conversations -----------------------------------------------------


@pytest.mark.parametrize(
    "stranger", ["classmate", "grader", "instructor", "admin", "outsider", "other_instructor"]
)
def test_nobody_reads_or_writes_in_a_conversation_that_is_not_theirs(school, stranger):
    allow_students(school)
    texts = {
        started(school.as_(school.student), school.grader, "Between us"): "Between us",
        # Student to student: even the course's instructor may not read it.
        started(school.as_(school.student), school.classmate, "Just us two"): "Just us two",
    }
    intruder = school.as_(getattr(school, stranger))
    others = {number: text for number, text in texts.items() if number not in _own_ids(intruder)}
    assert len(others) == (1 if stranger in ("classmate", "grader") else 2)
    for number, text in others.items():
        for method, path, kwargs in (
            ("GET", f"{API}/conversations/{number}", {}),
            ("POST", f"{API}/conversations/{number}/messages", {"json": {"body": "hi"}}),
            ("GET", f"/messages/{number}", {}),
        ):
            answer = intruder.call(method, path, **kwargs)
            assert answer.status_code == 404, (stranger, method, path, answer.text)
            assert text not in answer.text
        assert text not in intruder.get("/messages").text
        assert f'data-conversation-id="{number}"' not in intruder.get("/messages").text
    for guess in (max(texts) + 1000, 2**31, 10**12):
        assert intruder.get(f"{API}/conversations/{guess}").status_code == 404


def _own_ids(person: Session) -> set[int]:
    return {item["id"] for item in listed(person)["conversations"]}


def test_signed_out_visitors_get_nothing(platform, client):  # type: ignore[no-untyped-def]
    base = platform.service_url
    assert client.get(f"{base}{API}/conversations").status_code in (401, 403)
    assert client.get(f"{base}{API}/conversations/1").status_code in (401, 403)
    assert client.get(f"{base}{API}/contacts").status_code in (401, 403)
    sent = client.post(f"{base}{API}/conversations", json={"account_id": 1, "body": "hi"})
    assert sent.status_code in (401, 403)


def test_writing_to_an_account_that_does_not_exist_looks_like_no_shared_course(school):
    student = school.as_(school.student)
    for recipient in ({"account_id": 2**31 - 2}, {"username": "nobody-by-that-name"}):
        answer = student.call("POST", f"{API}/conversations", json={**recipient, "body": "hi"})
        assert answer.status_code == 403
        assert "share a course" in answer.json()["error"]


# -- bad input and too much of it -----------------------------------------------------------

BAD_BODIES = [
    ("empty", {"body": ""}, "empty"),
    ("only spaces", {"body": "   \n\t "}, "empty"),
    ("too long", {"body": "x" * 10_001}, "10,000"),
    ("not text", {"body": 42}, "as text"),
    ("missing", {}, "as text"),
]


@pytest.mark.parametrize(
    ("body", "says"), [b[1:] for b in BAD_BODIES], ids=[b[0] for b in BAD_BODIES]
)
def test_empty_or_oversized_messages_are_refused_with_a_sentence(school, body, says):
    student = school.as_(school.student)
    answer = student.call(
        "POST", f"{API}/conversations", json={"account_id": school.instructor.id, **body}
    )
    assert answer.status_code == 400 and says in answer.json()["error"]
    conversation = started(student, school.instructor, "x" * 10_000)  # the longest allowed
    answer = student.call("POST", f"{API}/conversations/{conversation}/messages", json=body)
    assert answer.status_code == 400 and says in answer.json()["error"]
    assert listed(school.as_(school.instructor))["conversations"][0]["unread"] == 1


def test_requests_that_make_no_sense_are_refused(school):
    student = school.as_(school.student)
    conversation = started(student, school.instructor, "hi")
    no_one = student.call("POST", f"{API}/conversations", json={"body": "to whom?"})
    assert no_one.status_code == 400 and "whom" in no_one.json()["error"]
    not_json = student.call("POST", f"{API}/conversations", content=b"{nope")
    assert not_json.status_code == 400
    for query in ("after=soon", "after=-1", f"before={2**40}"):
        answer = student.get(f"{API}/conversations/{conversation}?{query}")
        assert answer.status_code == 400 and "number of a message" in answer.json()["error"]


def test_sending_too_many_messages_in_a_minute_is_refused_for_a_while(school, db):
    student, teacher = school.as_(school.student), school.as_(school.instructor)
    # The limit counts in fixed windows: start the burst where it fits in one.
    left = SEND_WINDOW_S - time.time() % SEND_WINDOW_S
    if left < 20:
        time.sleep(left + 0.2)
    conversation = started(student, school.instructor, "first")
    statuses = [
        student.call(
            "POST", f"{API}/conversations/{conversation}/messages", json={"body": f"n{n}"}
        ).status_code
        for n in range(SEND_LIMIT - 1)
    ]
    assert statuses == [201] * (SEND_LIMIT - 1)
    refused = student.call(
        "POST", f"{API}/conversations/{conversation}/messages", json={"body": "one too many"}
    )
    assert refused.status_code == 429
    assert "Too many messages" in refused.json()["error"]
    assert 1 <= int(refused.headers["Retry-After"]) <= SEND_WINDOW_S
    assert write(student, school.instructor, "via a new start").status_code == 429
    # The instructor is not limited by the student's burst.
    answer = teacher.call(
        "POST", f"{API}/conversations/{conversation}/messages", json={"body": "slow down"}
    )
    assert answer.status_code == 201
    with db() as session:
        bodies = session.scalars(
            select(DirectMessage.body).where(DirectMessage.conversation_id == conversation)
        ).all()
    assert "one too many" not in bodies and len(bodies) == SEND_LIMIT + 1


# -- live and harmless ----------------------------------------------------------------------


def test_the_recipients_open_page_hears_of_a_new_message_at_once(platform, school):
    teacher = school.as_(school.instructor)
    stream = f"{platform.service_url}/api/me/notifications/stream"
    with listening(teacher.http, stream) as events:
        time.sleep(0.5)  # subscribed by now
        conversation = started(school.as_(school.student), school.instructor, "Are you there?")
        event = next_event(events, within=10)
    assert event["kind"] == "direct_message"
    assert event["payload"]["conversation_id"] == conversation
    assert event["payload"]["preview"] == "Are you there?"
    assert event["payload"]["url"].endswith(f"/messages/{conversation}")


def test_whatever_people_write_renders_harmlessly(school, make_account, db):
    """The XSS corpus, sent by three students (the rate limit counts per person)."""
    teacher = school.as_(school.instructor)
    writers = [school.student, school.classmate, make_account(Role.STUDENT)]
    enroll(db, writers[2], school.course)
    chunk = -(-len(XSS_CORPUS) // len(writers))
    for index, writer in enumerate(writers):
        mine = XSS_CORPUS[index * chunk : (index + 1) * chunk]
        sender = school.as_(writer)
        conversation = started(sender, school.instructor, "Here come odd messages")
        for name, text in mine:
            answer = sender.call(
                "POST", f"{API}/conversations/{conversation}/messages", json={"body": text}
            )
            assert answer.status_code == 201, (name, answer.text)
            assert_harmless(answer.json()["html"])
        page = teacher.get(f"/messages/{conversation}").text
        thread = page[page.index('<ol id="message_list"') : page.index('<form id="reply_form"')]
        assert_harmless(thread)
        assert thread.count('class="message card') == len(mine) + 1
        for message in teacher.get(f"{API}/conversations/{conversation}").json()["messages"]:
            assert_harmless(message["html"])
    listing = teacher.get("/messages").text
    assert_harmless(
        listing[listing.index('id="conversation_list"') : listing.index('<div class="col-md-8">')]
    )


def test_the_messages_api_is_in_the_openapi_document():
    document = yaml.safe_load((REPO / "services" / "web" / "openapi.yaml").read_text())
    for path in (
        "/api/messages/conversations",
        "/api/messages/conversations/{conversation_id}",
        "/api/messages/conversations/{conversation_id}/messages",
        "/api/messages/contacts",
        "/api/messages/courses/{slug}",
    ):
        assert path in document["paths"]
