"""``community.forum_notifications``: who hears of a forum post. A reply tells the thread's
author and the author of the post it answers; an ``@name`` in the text (not in code) tells
that person; never the writer, nobody twice, and only people who can read the forum."""

from __future__ import annotations

from coursehub.hub.constants import Role
from coursehub.services.community import forums
from coursehub.services.community.forum_notifications import (
    mentioned_usernames,
    notify_post,
    readers,
)
from coursehub.services.models import Account, CourseStatus
from tests.service_data import course_with

PREFIX = "/services/coursehub"


def test_mentions_are_names_after_an_at_sign_in_the_text_not_in_code_or_addresses():
    text = (
        "Thanks @Ada.Lovelace and @grace_h! Mail me at someone@uni.edu.\n\n"
        "`@not_in_code` and\n\n```python\n@decorator\ndef f(): ...\n```\n"
    )
    assert mentioned_usernames(text) == {"ada.lovelace", "grace_h"}
    assert mentioned_usernames("") == set()
    assert mentioned_usernames("The end of a sentence, @alan.") == {"alan"}


async def test_only_people_who_can_read_the_forum_are_readers(db, make_account, sessions):
    teacher, grader, student, admin, stranger = (
        make_account(role)
        for role in (Role.INSTRUCTOR, Role.STUDENT, Role.STUDENT, Role.ADMIN, Role.STUDENT)
    )
    course = course_with(db, teacher, graders=[grader], students=[student])
    everyone = {p.id for p in (teacher, grader, student, admin, stranger)}
    staff = {teacher.id, grader.id, admin.id}
    draft = course_with(
        db, teacher, graders=[grader], students=[student], status=CourseStatus.DRAFT
    )
    async with sessions() as session:
        assert await readers(session, course, everyone, staff_only=False) == staff | {student.id}
        # A hidden thread is read by the staff only; a draft course's forums too.
        assert await readers(session, course, everyone, staff_only=True) == staff
        assert await readers(session, draft, everyone, staff_only=False) == staff
        assert await readers(session, course, set(), staff_only=False) == set()


async def test_a_reply_tells_the_thread_and_post_authors_and_a_mention_tells_the_named(
    db, make_account, sessions
):
    """Ada starts a thread, Bob answers it, and Cy replies to Bob mentioning Ada, Dee (a
    classmate), Eve (who is not in the course) and himself: Ada and Bob hear of the reply,
    Dee of the mention; Ada, told of the reply already, is not told again; Eve and Cy hear
    nothing."""
    teacher = make_account(Role.INSTRUCTOR)
    ada, bob, cy, dee, eve = (make_account(Role.STUDENT) for _ in range(5))
    course = course_with(db, teacher, students=[ada, bob, cy, dee])
    async with sessions() as session:
        people = {p.id: await session.get_one(Account, p.id) for p in (ada, bob, cy)}
        as_ada, as_bob, as_cy = (forums.Member(people[p.id], course, False) for p in (ada, bob, cy))
        thread, opening = await forums.start_thread(session, as_ada, None, "Osmosis?", "Why?")
        answer, _ = await forums.reply(session, as_bob, thread, None, "Water moves.")
        names = (bob, ada, dee, eve, cy)
        body = "Agreed, " + " ".join(f"@{p.username}" for p in names)
        post, parent = await forums.reply(session, as_cy, thread, answer.id, body)

        made = await notify_post(session, PREFIX, as_cy, thread, post, parent)

        told = sorted((n.kind, n.account_id) for n in made)
        assert told == sorted(
            [("forum_reply", ada.id), ("forum_reply", bob.id), ("forum_mention", dee.id)]
        )
        reply_note = next(n for n in made if n.account_id == ada.id)
        assert reply_note.payload["title"] == f"{cy.name} replied in “Osmosis?”."
        assert reply_note.payload["url"].startswith(f"{PREFIX}/courses/{course.slug}/")
        assert reply_note.payload["post_id"] == post.id

        # Editing the post to add a name tells only the newly named.
        made = await notify_post(session, PREFIX, as_cy, thread, post, None, text_before=body)
        assert made == []
        before, post.body = post.body, body + f" and @{teacher.username}"
        made = await notify_post(session, PREFIX, as_cy, thread, post, None, text_before=before)
        assert [(n.kind, n.account_id) for n in made] == [("forum_mention", teacher.id)]
        assert opening.id is not None
