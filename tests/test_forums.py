"""Course forums as students and staff use them through the API: threads and replies as a
tree, markdown with code and math, unread markers, editing and deleting, @mentions and reply
notifications, search, moderation and reports, who may do what, limits on size and pace,
stored XSS, and a 500-post thread read a page at a time with one query."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis.asyncio as aioredis
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from coursehub.hub.constants import Role
from coursehub.services.community import forums
from coursehub.services.content.markdown import to_safe_html
from coursehub.services.models import (
    Account,
    Course,
    CourseGrader,
    CourseStatus,
    ForumPost,
    ForumThread,
    LessonKind,
    Notification,
)
from coursehub.services.rate_limits import RateLimited, check_rate
from coursehub.services.settings import sqlalchemy_url
from tests.course_builder import (
    BuiltCourse,
    LessonPlan,
    enroll,
    make_course,
    run_async,
    unique_word,
)
from tests.platform import free_port
from tests.teaching_client import Session, open_session
from tests.xss_corpus import XSS_CORPUS, assert_harmless

ROLES = ("teacher", "author", "classmate", "grader", "outsider")


@dataclass
class ForumRoom:
    """A course with a lesson, its instructor, two enrolled students, an assigned grader and
    someone signed in who is not in the course; each signs in when first used."""

    course: BuiltCourse
    accounts: dict[str, Account]
    open_as: Callable[[Account], Session]
    sessions: dict[str, Session] = field(default_factory=dict)

    def __getattr__(self, role: str) -> Session:
        if role not in ROLES:
            raise AttributeError(role)
        if role not in self.sessions:
            self.sessions[role] = self.open_as(self.accounts[role])
        return self.sessions[role]

    @property
    def api(self) -> str:
        return f"/api/courses/{self.course.slug}/forums"

    @property
    def lesson_id(self) -> int:
        return self.course.lesson_ids[0]

    def start(
        self, who: Session, title: str = "How do I start?", body: str = "Hello.", lesson: int = 0
    ) -> dict[str, Any]:
        forum = f"lessons/{lesson}" if lesson else "general"
        made = who.call("POST", f"{self.api}/{forum}/threads", json={"title": title, "body": body})
        assert made.status_code == 201, made.text
        return made.json()

    def reply(self, who: Session, thread_id: int, body: str, parent_id: int | None = None) -> dict:
        payload: dict[str, Any] = {"body": body}
        if parent_id is not None:
            payload["parent_id"] = parent_id
        made = who.call("POST", f"{self.api}/threads/{thread_id}/posts", json=payload)
        assert made.status_code == 201, made.text
        return made.json()

    def thread(self, who: Session, thread_id: int, **params: Any) -> dict[str, Any]:
        found = who.get(f"{self.api}/threads/{thread_id}", params=params)
        assert found.status_code == 200, found.text
        return found.json()

    def threads(self, who: Session, forum: str = "general") -> list[dict[str, Any]]:
        found = who.get(f"{self.api}/{forum}/threads")
        assert found.status_code == 200, found.text
        return found.json()["threads"]


def make_room(platform, signed_in, make_account, db, database_url) -> ForumRoom:  # type: ignore[no-untyped-def]
    """The forum room from the test's fixtures (other test modules build it this way too)."""
    teacher = make_account(Role.INSTRUCTOR)
    course = make_course(
        database_url,
        teacher,
        title=f"Discussed {unique_word()}",
        modules={"Week 1": [LessonPlan("Loops"), LessonPlan("Reading", kind=LessonKind.TEXT)]},
    )
    people = {
        "teacher": teacher,
        "author": make_account(Role.STUDENT),
        "classmate": make_account(Role.STUDENT),
        "grader": make_account(Role.STUDENT),
        "outsider": make_account(Role.STUDENT),
    }
    enroll(db, people["author"], course)
    enroll(db, people["classmate"], course)
    with db() as session:
        session.add(CourseGrader(course_id=course.id, account_id=people["grader"].id))
        session.commit()
    return ForumRoom(course, people, lambda account: open_session(platform, signed_in, account))


@pytest.fixture
def room(platform, signed_in, make_account, db, database_url) -> ForumRoom:  # type: ignore[no-untyped-def]
    return make_room(platform, signed_in, make_account, db, database_url)


def notifications_about(db, account: Account, thread_id: int) -> list[Notification]:  # type: ignore[no-untyped-def]
    with db() as session:
        rows = session.scalars(
            select(Notification)
            .where(
                Notification.account_id == account.id,
                Notification.kind.in_(["forum_reply", "forum_mention"]),
                Notification.payload["thread_id"].as_integer() == thread_id,
            )
            .order_by(Notification.id)
        )
        return list(rows)


# -- threads, replies and reading ---------------------------------------------------------------


def test_a_student_asks_and_replies_nest_under_what_they_answer(room):
    body = "My loop:\n\n```python\nfor i in range(3):\n    print(i < 2)\n```\n\nWhy is $x_1 < 2$?"
    thread = room.start(room.author, "Why does my loop stop?", body)
    first = room.reply(room.teacher, thread["id"], "Because `range(3)` stops at 2.")
    nested = room.reply(room.author, thread["id"], "Thank you!", parent_id=first["id"])
    later = room.reply(room.classmate, thread["id"], "Same question here.")

    shown = room.thread(room.classmate, thread["id"])
    order = [(post["id"], post["depth"]) for post in shown["posts"]]
    opening = shown["posts"][0]
    assert order == [(opening["id"], 0), (first["id"], 1), (nested["id"], 2), (later["id"], 1)]
    assert nested["parent_id"] == first["id"]
    assert '<pre><code class="language-python">' in opening["html"]
    assert "print(i &lt; 2)" in opening["html"]
    assert "<msub><mi>x</mi><mn>1</mn></msub><mo>&lt;</mo><mn>2</mn>" in opening["html"]
    assert shown["thread"]["title"] == "Why does my loop stop?"
    assert opening["author"]["username"] == room.accounts["author"].username
    assert opening["body"] is None, "someone else's markdown is sent only to its author"
    assert room.thread(room.author, thread["id"])["posts"][0]["body"] == body


def test_replies_deeper_than_the_cap_stay_at_the_deepest_indentation(room):
    thread = room.start(room.author)
    parent = None
    for level in range(forums.MAX_DEPTH + 2):
        parent = room.reply(room.author, thread["id"], f"level {level}", parent_id=parent)["id"]
    depths = [post["depth"] for post in room.thread(room.author, thread["id"])["posts"]]
    assert depths == [0, *range(1, forums.MAX_DEPTH + 1), forums.MAX_DEPTH, forums.MAX_DEPTH]


def test_unread_markers_count_what_others_wrote_since_one_last_read(room):
    thread = room.start(room.author, "Unread test")
    listed = room.threads(room.classmate)[0]
    assert listed["id"] == thread["id"] and listed["unread"] == 1 and listed["posts"] == 1
    assert room.threads(room.author)[0]["unread"] == 0, "one's own posts are read"
    index = room.classmate.get(room.api).json()["forums"]
    assert index[0]["lesson_id"] is None and index[0]["unread_threads"] == 1

    seen = room.thread(room.classmate, thread["id"])
    assert seen["posts"][0]["is_new"] is True
    assert room.threads(room.classmate)[0]["unread"] == 0
    assert room.thread(room.classmate, thread["id"])["posts"][0]["is_new"] is False

    room.reply(room.author, thread["id"], "One more thing")
    room.reply(room.author, thread["id"], "And another")
    assert room.threads(room.classmate)[0]["unread"] == 2
    assert room.classmate.get(room.api).json()["forums"][0]["unread_threads"] == 1
    posts = room.thread(room.classmate, thread["id"])["posts"]
    assert [post["is_new"] for post in posts] == [False, True, True]


def test_lesson_forums_hold_their_own_threads(room):
    in_lesson = room.start(room.author, "About loops", lesson=room.lesson_id)
    in_general = room.start(room.author, "About the course")
    assert [t["id"] for t in room.threads(room.classmate, f"lessons/{room.lesson_id}")] == [
        in_lesson["id"]
    ]
    assert [t["id"] for t in room.threads(room.classmate)] == [in_general["id"]]
    forums_listed = room.classmate.get(room.api).json()["forums"]
    assert [(f["title"], f["threads"]) for f in forums_listed] == [
        ("General discussion", 1),
        ("Loops", 1),
        ("Reading", 0),
    ]
    elsewhere = room.author.call(
        "POST", f"{room.api}/lessons/999999/threads", json={"title": "x", "body": "y"}
    )
    assert elsewhere.status_code == 404 and "no such lesson" in elsewhere.json()["error"]


# -- editing and deleting ------------------------------------------------------------------------


def test_people_edit_and_delete_their_own_posts_and_replies_keep_a_stub(room):
    thread = room.start(room.author, "Editing", "First draft")
    opening = room.thread(room.author, thread["id"])["posts"][0]["id"]
    # The edit box starts from the post's markdown, which only its author is sent.
    own = room.author.get(f"{room.api}/posts/{opening}").json()
    assert own["mine"] is True and own["body"] == "First draft"
    theirs = room.classmate.get(f"{room.api}/posts/{opening}").json()
    assert theirs["mine"] is False and theirs["body"] is None and "First draft" in theirs["html"]
    assert room.outsider.get(f"{room.api}/posts/{opening}").status_code in (403, 404)
    edited = room.author.call("PATCH", f"{room.api}/posts/{opening}", json={"body": "**Better**"})
    assert edited.status_code == 200 and "<strong>Better</strong>" in edited.json()["html"]
    assert edited.json()["edited_at"] is not None

    answer = room.reply(room.classmate, thread["id"], "An answer")
    not_mine = room.author.call("PATCH", f"{room.api}/posts/{answer['id']}", json={"body": "x"})
    assert not_mine.status_code == 403
    assert room.author.call("DELETE", f"{room.api}/posts/{answer['id']}").status_code == 403

    follow_up = room.reply(room.author, thread["id"], "Follow-up", parent_id=answer["id"])
    gone = room.classmate.call("DELETE", f"{room.api}/posts/{answer['id']}")
    assert gone.status_code == 200 and gone.json() == {"deleted": "stub"}
    posts = room.thread(room.author, thread["id"])["posts"]
    stub = next(post for post in posts if post["id"] == answer["id"])
    assert stub["state"] == "deleted" and stub["html"] == "" and stub["author"] is None
    assert posts[-1]["id"] == follow_up["id"] and posts[-1]["depth"] == 2

    # Once its last reply goes, the stub has nothing to hold and goes too.
    assert room.author.call("DELETE", f"{room.api}/posts/{follow_up['id']}").json() == {
        "deleted": "post"
    }
    assert [post["id"] for post in room.thread(room.author, thread["id"])["posts"]] == [opening]

    alone = room.start(room.author, "Never mind")
    alone_post = room.thread(room.author, alone["id"])["posts"][0]["id"]
    assert room.author.call("DELETE", f"{room.api}/posts/{alone_post}").json() == {
        "deleted": "thread"
    }
    assert room.author.get(f"{room.api}/threads/{alone['id']}").status_code == 404


def test_only_the_author_renames_a_thread(room):
    thread = room.start(room.author, "Old title")
    renamed = room.author.call("PATCH", f"{room.api}/threads/{thread['id']}", json={"title": "New"})
    assert renamed.status_code == 200 and renamed.json()["title"] == "New"
    for other in (room.classmate, room.teacher):
        refused = other.call("PATCH", f"{room.api}/threads/{thread['id']}", json={"title": "X"})
        assert refused.status_code == 403


# -- notifications ------------------------------------------------------------------------------


def test_replies_notify_the_thread_and_parent_authors_and_mentions_notify_members(room, db):
    accounts = room.accounts
    thread = room.start(room.author, "Who can help?", f"Maybe @{accounts['grader'].username}?")
    mention = notifications_about(db, accounts["grader"], thread["id"])
    assert [n.kind for n in mention] == ["forum_mention"]
    assert mention[0].payload["title"].endswith("mentioned you in “Who can help?”.")
    assert mention[0].payload["url"].startswith("/services/coursehub/courses/")

    answer = room.reply(room.classmate, thread["id"], "I can!")
    to_author = notifications_about(db, accounts["author"], thread["id"])
    assert [(n.kind, n.payload["post_id"]) for n in to_author] == [("forum_reply", answer["id"])]
    assert notifications_about(db, accounts["classmate"], thread["id"]) == []

    room.reply(
        room.teacher,
        thread["id"],
        f"Good. @{accounts['classmate'].username} @{accounts['outsider'].username} "
        f"@{accounts['teacher'].username} `@{accounts['grader'].username}`",
        parent_id=answer["id"],
    )
    kinds = {
        role: [n.kind for n in notifications_about(db, accounts[role], thread["id"])]
        for role in ROLES
    }
    assert kinds == {
        "author": ["forum_reply", "forum_reply"],  # the thread's author, twice
        "classmate": ["forum_reply"],  # the parent's author, not again for the mention
        "grader": ["forum_mention"],  # a mention in code is no mention
        "teacher": [],  # never the writer
        "outsider": [],  # cannot read the forum
    }
    url = notifications_about(db, accounts["classmate"], thread["id"])[0].payload["url"]
    page = room.classmate.http.get(f"{room.classmate.base.rsplit('/services', 1)[0]}{url}")
    assert page.status_code == 200 and "Good." in page.text


def test_hidden_threads_notify_only_staff_and_edits_notify_new_mentions_only(room, db):
    accounts = room.accounts
    thread = room.start(room.author, "Mentions later", "Nothing yet")
    opening = room.thread(room.author, thread["id"])["posts"][0]["id"]
    room.author.call(
        "PATCH",
        f"{room.api}/posts/{opening}",
        json={"body": f"Now @{accounts['classmate'].username}"},
    ).raise_for_status()
    room.author.call(
        "PATCH",
        f"{room.api}/posts/{opening}",
        json={"body": f"Still @{accounts['classmate'].username}, edited"},
    ).raise_for_status()
    assert len(notifications_about(db, accounts["classmate"], thread["id"])) == 1

    room.grader.call(
        "PATCH", f"{room.api}/threads/{thread['id']}", json={"is_hidden": True}
    ).raise_for_status()
    room.reply(
        room.teacher,
        thread["id"],
        f"@{accounts['classmate'].username} @{accounts['grader'].username} see this",
    )
    assert len(notifications_about(db, accounts["classmate"], thread["id"])) == 1
    assert notifications_about(db, accounts["author"], thread["id"]) == []
    assert [n.kind for n in notifications_about(db, accounts["grader"], thread["id"])] == [
        "forum_mention"
    ]


def test_reading_a_thread_marks_its_reply_and_mention_notifications_read(room, db):
    accounts = room.accounts
    thread = room.start(room.author, "Read me", "Hello")
    other = room.start(room.author, "Another one", "Hello again")
    room.reply(room.classmate, thread["id"], f"Here, and @{accounts['grader'].username} too")
    room.reply(room.classmate, other["id"], "There")

    def unread(role: str, thread_id: int) -> list[str]:
        found = notifications_about(db, accounts[role], thread_id)
        return [n.kind for n in found if n.read_at is None]

    assert unread("author", thread["id"]) == ["forum_reply"]
    assert unread("grader", thread["id"]) == ["forum_mention"]
    page = room.author.get(f"/courses/{room.course.slug}/forums/threads/{thread['id']}")
    assert page.status_code == 200
    assert unread("author", thread["id"]) == []
    assert unread("author", other["id"]) == ["forum_reply"], "another thread's stays unread"
    assert unread("grader", thread["id"]) == ["forum_mention"], "someone else's stays unread"
    room.thread(room.grader, thread["id"])  # the JSON API shows the posts too
    assert unread("grader", thread["id"]) == []


# -- moderation and reports ---------------------------------------------------------------------


def test_staff_pin_lock_and_hide_and_students_see_the_effect(room):
    first = room.start(room.author, "First")
    second = room.start(room.author, "Second")
    thread_api = f"{room.api}/threads/{first['id']}"
    assert room.grader.call("PATCH", thread_api, json={"is_pinned": True}).status_code == 200
    assert [t["id"] for t in room.threads(room.classmate)] == [first["id"], second["id"]]

    assert room.teacher.call("PATCH", thread_api, json={"is_locked": True}).status_code == 200
    locked = room.classmate.call("POST", f"{thread_api}/posts", json={"body": "Me too"})
    assert locked.status_code == 409 and "locked" in locked.json()["error"]
    room.reply(room.teacher, first["id"], "Staff may still answer.")

    lone = room.reply(room.teacher, second["id"], "A lone answer to hide")
    answered = room.reply(room.teacher, second["id"], "An answered answer to hide")
    under = room.reply(room.author, second["id"], "Under it", parent_id=answered["id"])
    for post in (lone, answered):
        hidden = room.grader.call(
            "PATCH", f"{room.api}/posts/{post['id']}", json={"is_hidden": True}
        )
        assert hidden.status_code == 200 and hidden.json()["is_hidden"] is True
    seen = room.thread(room.classmate, second["id"])["posts"]
    assert [(post["id"], post["state"]) for post in seen[1:]] == [
        (answered["id"], "hidden-stub"),
        (under["id"], "visible"),
    ]
    assert seen[1]["html"] == "" and seen[1]["author"] is None
    staff_view = room.thread(room.grader, second["id"])["posts"]
    assert staff_view[1]["state"] == "hidden" and "A lone answer" in staff_view[1]["html"]
    refused = room.classmate.call(
        "POST",
        f"{room.api}/threads/{second['id']}/posts",
        json={"body": "x", "parent_id": lone["id"]},
    )
    assert refused.status_code == 404

    assert room.teacher.call("PATCH", thread_api, json={"is_hidden": True}).status_code == 200
    assert [t["id"] for t in room.threads(room.classmate)] == [second["id"]]
    assert room.classmate.get(thread_api).status_code == 404
    assert room.thread(room.grader, first["id"])["thread"]["is_hidden"] is True

    assert room.teacher.call("DELETE", thread_api).status_code == 204
    assert room.grader.get(thread_api).status_code == 404


def test_students_report_posts_and_staff_resolve_the_queue(room):
    thread = room.start(room.author, "Reported", "Something rude")
    post_id = room.thread(room.author, thread["id"])["posts"][0]["id"]
    report_api = f"{room.api}/posts/{post_id}/reports"

    assert room.author.call("POST", report_api, json={"reason": "mine"}).status_code == 400
    assert room.classmate.call("POST", report_api, json={"reason": " "}).status_code == 400
    made = room.classmate.call("POST", report_api, json={"reason": "It is rude"})
    assert made.status_code == 201, made.text
    again = room.classmate.call("POST", report_api, json={"reason": "Really rude"})
    assert again.status_code == 409 and "already" in again.json()["error"]
    assert room.teacher.call("POST", report_api, json={"reason": "Staff agree"}).status_code == 201

    assert room.classmate.get(f"{room.api}/reports").status_code == 403
    queue = room.grader.get(f"{room.api}/reports").json()["reports"]
    assert [r["reason"] for r in queue] == ["It is rude", "Staff agree"]
    assert queue[0]["post"]["thread_title"] == "Reported" and queue[0]["post"]["state"] == "visible"

    resolve = f"{room.api}/reports/{queue[0]['id']}/resolve"
    assert room.classmate.call("POST", resolve, json={"action": "hide"}).status_code == 403
    assert room.grader.call("POST", resolve, json={"action": "ban"}).status_code == 400
    done = room.grader.call("POST", resolve, json={"action": "hide"})
    assert done.status_code == 200 and done.json() == {
        "resolution": "hidden",
        "resolved_reports": 2,
    }
    assert room.grader.get(f"{room.api}/reports").json()["reports"] == []
    assert room.grader.call("POST", resolve, json={"action": "dismiss"}).status_code == 409
    assert room.classmate.get(f"{room.api}/threads/{thread['id']}").json()["posts"] == []
    resolved = room.teacher.get(f"{room.api}/reports", params={"resolved": "1"}).json()["reports"]
    assert {r["resolution"] for r in resolved} == {"hidden"}

    reports_page = room.grader.get(f"/courses/{room.course.slug}/forums/reports")
    assert reports_page.status_code == 200 and "No open reports" in reports_page.text


# -- search -------------------------------------------------------------------------------------


def test_search_finds_titles_and_posts_that_the_reader_may_see(room):
    word = unique_word("zeugma")
    titled = room.start(room.author, f"The {word} question", "Plain text")
    bodied = room.start(room.author, "Other", f"A post about {word} and <b>tags</b>")
    hidden = room.reply(room.classmate, bodied["id"], f"A hidden {word}")
    gone = room.reply(room.classmate, bodied["id"], f"A deleted {word}")
    room.teacher.call("PATCH", f"{room.api}/posts/{hidden['id']}", json={"is_hidden": True})
    room.classmate.call("DELETE", f"{room.api}/posts/{gone['id']}")

    def found(who: Session, query: str = word) -> dict[int, str]:
        answer = who.get(f"{room.api}/search", params={"q": query})
        assert answer.status_code == 200, answer.text
        return {hit["post_id"]: hit["snippet_html"] for hit in answer.json()["results"]}

    for_students = found(room.classmate)
    opening = room.thread(room.author, titled["id"])["posts"][0]["id"]
    bodied_opening = room.thread(room.author, bodied["id"])["posts"][0]["id"]
    assert set(for_students) == {opening, bodied_opening}
    assert f"<mark>{word}</mark>" in for_students[bodied_opening]
    assert "tags" in for_students[bodied_opening] and "<b>" not in for_students[bodied_opening]
    assert set(found(room.grader)) == {opening, bodied_opening, hidden["id"]}
    assert found(room.classmate, f'"{word} question"') == {opening: for_students[opening]}
    assert room.classmate.get(f"{room.api}/search", params={"q": " "}).status_code == 400
    page = room.classmate.get(f"/courses/{room.course.slug}/forums/search", params={"q": word})
    assert page.status_code == 200 and f"The {word} question" in page.text
    assert "A hidden" not in page.text
    for name, payload in XSS_CORPUS[:12]:
        reflected = room.classmate.get(
            f"/courses/{room.course.slug}/forums/search", params={"q": payload[:200]}
        )
        assert reflected.status_code in (200, 400), name
        assert payload[:200] not in reflected.text or "<" not in payload, name


# -- who may do what ----------------------------------------------------------------------------


def every_endpoint(room: ForumRoom, thread_id: int, post_id: int) -> list[tuple[str, str, dict]]:
    api, pages = room.api, f"/courses/{room.course.slug}/forums"
    return [
        ("GET", api, {}),
        ("GET", f"{api}/general/threads", {}),
        ("POST", f"{api}/general/threads", {"title": "t", "body": "b"}),
        ("GET", f"{api}/lessons/{room.lesson_id}/threads", {}),
        ("POST", f"{api}/lessons/{room.lesson_id}/threads", {"title": "t", "body": "b"}),
        ("GET", f"{api}/threads/{thread_id}", {}),
        ("PATCH", f"{api}/threads/{thread_id}", {"is_pinned": True}),
        ("DELETE", f"{api}/threads/{thread_id}", {}),
        ("POST", f"{api}/threads/{thread_id}/posts", {"body": "b"}),
        ("PATCH", f"{api}/posts/{post_id}", {"body": "b"}),
        ("PATCH", f"{api}/posts/{post_id}", {"is_hidden": True}),
        ("DELETE", f"{api}/posts/{post_id}", {}),
        ("POST", f"{api}/posts/{post_id}/reports", {"reason": "r"}),
        ("GET", f"{api}/reports", {}),
        ("POST", f"{api}/reports/1/resolve", {"action": "dismiss"}),
        ("GET", f"{api}/search?q=loop", {}),
        ("GET", pages, {}),
        ("GET", f"{pages}/general", {}),
        ("GET", f"{pages}/lessons/{room.lesson_id}", {}),
        ("GET", f"{pages}/threads/{thread_id}", {}),
        ("GET", f"{pages}/search?q=loop", {}),
        ("GET", f"{pages}/reports", {}),
    ]


def test_people_outside_the_course_get_nothing(room, database_url, make_account, signed_in):
    thread = room.start(room.author, "Private", "Only for the class")
    post_id = room.thread(room.author, thread["id"])["posts"][0]["id"]
    for method, path, body in every_endpoint(room, thread["id"], post_id):
        answer = room.outsider.call(method, path, json=body if method != "GET" else None)
        assert answer.status_code == 403, (method, path, answer.text[:200])
        if path.startswith("/api/"):
            assert "Enroll in the course" in answer.json()["error"], path

    draft_teacher = make_account(Role.INSTRUCTOR)
    draft = make_course(
        database_url, draft_teacher, title="Draft", status=CourseStatus.DRAFT, modules={}
    )
    hidden_api = f"/api/courses/{draft.slug}/forums"
    assert room.outsider.get(hidden_api).status_code == 404
    assert room.outsider.get(f"/courses/{draft.slug}/forums").status_code == 404


def test_students_cannot_moderate_or_touch_others_posts(room):
    thread = room.start(room.author, "Mine", "My words")
    post_id = room.thread(room.author, thread["id"])["posts"][0]["id"]
    moderator_only = {
        ("PATCH", f"{room.api}/threads/{thread['id']}", "is_pinned"),
        ("PATCH", f"{room.api}/posts/{post_id}", "is_hidden"),
        ("DELETE", f"{room.api}/threads/{thread['id']}", ""),
        ("GET", f"{room.api}/reports", ""),
        ("POST", f"{room.api}/reports/1/resolve", "action"),
        ("GET", f"/courses/{room.course.slug}/forums/reports", ""),
    }
    for who in (room.author, room.classmate):
        for method, path, key in moderator_only:
            body = {key: "dismiss" if key == "action" else True} if key else None
            answer = who.call(method, path, json=body)
            assert answer.status_code == 403, (method, path, answer.text[:200])
    for method, body in (("PATCH", {"body": "changed"}), ("DELETE", None)):
        answer = room.classmate.call(method, f"{room.api}/posts/{post_id}", json=body)
        assert answer.status_code == 403
    assert room.thread(room.author, thread["id"])["posts"][0]["html"] == "<p>My words</p>\n"
    unsigned = room.outsider.http.__class__(timeout=10)
    try:
        answer = unsigned.get(f"{room.outsider.base}{room.api}")
        assert answer.status_code == 401
    finally:
        unsigned.close()


# -- limits -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "body", "words"),
    [
        ("", "text", "title"),
        ("   ", "text", "title"),
        ("x" * 201, "text", "200 characters"),
        ("A title", "", "Write something"),
        ("A title", " \n ", "Write something"),
        ("A title", "x" * 20_001, "20,000 characters"),
        (7, "text", "title"),
        ("A title", ["not", "text"], "Write something"),
    ],
    ids=[
        "empty title",
        "blank title",
        "long title",
        "empty body",
        "blank body",
        "long body",
        "number title",
        "list body",
    ],
)
def test_empty_or_oversized_posts_get_a_clear_400(room, title, body, words):
    answer = room.author.call(
        "POST", f"{room.api}/general/threads", json={"title": title, "body": body}
    )
    assert answer.status_code == 400 and words in answer.json()["error"], answer.text
    thread = room.start(room.author, "x" * 200, "y" * 20_000)
    long_reply = room.author.call(
        "POST", f"{room.api}/threads/{thread['id']}/posts", json={"body": "z" * 20_001}
    )
    assert long_reply.status_code == 400 and "20,000" in long_reply.json()["error"]


def test_posting_is_rate_limited_per_person_with_retry_after(room):
    thread = room.start(room.author, "Busy thread")
    for number in range(forums.POST_LIMIT - 1):
        room.reply(room.author, thread["id"], f"reply {number}")
    too_many = room.author.call(
        "POST", f"{room.api}/threads/{thread['id']}/posts", json={"body": "one more"}
    )
    if too_many.status_code == 201:  # the minute turned over mid-test: fill the new one
        for number in range(forums.POST_LIMIT):
            too_many = room.author.call(
                "POST", f"{room.api}/threads/{thread['id']}/posts", json={"body": f"{number}"}
            )
    assert too_many.status_code == 429, too_many.text
    assert "Too many forum posts" in too_many.json()["error"]
    assert 1 <= int(too_many.headers["Retry-After"]) <= forums.POST_WINDOW_S
    assert (
        room.classmate.call(
            "POST", f"{room.api}/threads/{thread['id']}/posts", json={"body": "I may"}
        ).status_code
        == 201
    )
    assert room.author.get(f"{room.api}/threads/{thread['id']}").status_code == 200


def test_rate_limits_still_hold_in_each_process_while_redis_is_away(caplog):
    away = aioredis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.5)
    key = f"test-away-{random.random()}"

    async def attempts() -> int:
        allowed = 0
        for _ in range(5):
            try:
                await check_rate(away, key, 3, 3600, what="messages")
                allowed += 1
            except RateLimited as limited:
                assert "Too many messages" in limited.message and limited.retry_after >= 1
        await away.aclose()
        return allowed

    assert asyncio.run(attempts()) == 3
    assert "Redis is away" in caplog.text


# -- stored XSS ---------------------------------------------------------------------------------


def test_the_xss_corpus_is_stored_and_shown_harmlessly(room, make_account, db):
    writers: list[Session] = []
    threads: list[tuple[int, str]] = []
    for index, (_name, payload) in enumerate(XSS_CORPUS):
        if index % forums.POST_LIMIT == 0:
            student = make_account(Role.STUDENT)
            enroll(db, student, room.course)
            writers.append(room.open_as(student))
        made = room.start(writers[-1], payload[:200], payload)
        threads.append((made["id"], payload))

    listing = room.classmate.get(f"/courses/{room.course.slug}/forums/general")
    assert listing.status_code == 200
    for thread_id, payload in threads:
        shown = room.thread(room.classmate, thread_id)
        assert shown["thread"]["title"] == " ".join(payload[:200].replace("\x00", "").split())
        for post in shown["posts"]:
            assert_harmless(post["html"])
        page = room.classmate.get(f"/courses/{room.course.slug}/forums/threads/{thread_id}")
        assert page.status_code == 200
        body = page.text.split('<div class="forum-post-body">', 1)[1].split("</div>", 1)[0]
        assert_harmless(body)
        title = page.text.split('id="thread_title">', 1)[1].split("</h1>", 1)[0]
        assert "<" not in title, title
        if "<" in payload:
            assert payload not in listing.text


# -- a long thread ------------------------------------------------------------------------------


def add_long_thread(db, room: ForumRoom, posts: int) -> int:  # type: ignore[no-untyped-def]
    """A thread with ``posts`` posts in a branching tree, written straight to the database."""
    chooser = random.Random(5)
    people = [
        room.accounts["author"].id,
        room.accounts["classmate"].id,
        room.accounts["teacher"].id,
    ]
    with db() as session:
        thread = ForumThread(course_id=room.course.id, author_id=people[0], title="Long thread")
        session.add(thread)
        session.flush()
        made: list[ForumPost] = []
        for number in range(posts):
            parent = (
                chooser.choice(made[-20:]) if made and number % 3 else (made[0] if made else None)
            )
            body = f"Post {number}: `code` and $x^{number}$ " + "words " * 40
            post = ForumPost(
                thread_id=thread.id,
                parent_id=parent.id if parent else None,
                author_id=people[number % 3],
                depth=min(parent.depth + 1, forums.MAX_DEPTH) if parent else 0,
                body=body,
                body_html=to_safe_html(body),
            )
            session.add(post)
            session.flush()
            made.append(post)
        session.commit()
        return thread.id


async def statements_for_a_page(database_url: str, room: ForumRoom, thread_id: int) -> tuple:
    engine = create_async_engine(sqlalchemy_url(database_url))
    statements: list[str] = []
    event.listen(
        engine.sync_engine, "before_cursor_execute", lambda *args: statements.append(args[2])
    )
    try:
        async with AsyncSession(engine) as session:
            account = await session.get_one(Account, room.accounts["classmate"].id)
            course = await session.get_one(Course, room.course.id)
            thread = await session.get_one(ForumThread, thread_id)
            member = forums.Member(account, course, moderator=False)
            statements.clear()
            page = await forums.thread_page(session, member, thread, 3)
    finally:
        await engine.dispose()
    return page, statements


def test_a_thread_of_500_posts_is_read_a_page_at_a_time_with_one_query(room, db, database_url):
    thread_id = add_long_thread(db, room, 500)
    page, statements = run_async(statements_for_a_page(database_url, room, thread_id))
    assert len(statements) == 1, statements
    assert (page.page, page.pages, page.total, len(page.posts)) == (3, 5, 500, forums.PAGE_SIZE)
    assert [post.position for post in page.posts] == list(range(201, 301))

    pages = [room.thread(room.classmate, thread_id, page=n)["posts"] for n in range(1, 6)]
    seen = [post["id"] for chunk in pages for post in chunk]
    assert len(seen) == len(set(seen)) == 500
    parents = {post["id"]: post["parent_id"] for chunk in pages for post in chunk}
    place = {post_id: index for index, post_id in enumerate(seen)}
    assert all(place[parent] < place[child] for child, parent in parents.items() if parent)

    url = f"/courses/{room.course.slug}/forums/threads/{thread_id}"
    room.classmate.get(url)  # warm
    started = time.perf_counter()
    shown = room.classmate.get(url, params={"page": 5})
    elapsed = time.perf_counter() - started
    assert shown.status_code == 200 and shown.text.count('class="card mb-2 forum-post') == 100
    assert elapsed < 1.0, f"the thread page took {elapsed:.3f} s"
    last = seen[-1]
    assert room.thread(room.classmate, thread_id, post=last)["page"] == 5
    listed = room.threads(room.classmate)[0]
    assert listed["posts"] == 500 and listed["unread"] == 0
