"""Pronouns: the pronouns a person gives in their profile appear next to their name where
they appear (forum posts, direct messages, course staff lists); nothing is shown for those who
gave none."""

from __future__ import annotations

import re

from coursehub.hub.constants import Role
from coursehub.services.models import Conversation, CourseGrader, ForumPost, ForumThread, Profile
from tests.service_data import course_with


def give_pronouns(db, account, pronouns: str) -> None:
    with db() as session:
        session.add(
            Profile(
                account_id=account.id,
                bio="",
                pronouns=pronouns,
                time_zone="UTC",
                language="en",
            )
        )
        session.commit()


def pronouns_shown(html: str) -> list[str]:
    return re.findall(r'class="[^"]*person-pronouns">\(([^)]*)\)</small>', html)


def test_pronouns_appear_beside_names_in_forums_messages_and_staff_lists(
    platform, make_account, signed_in, db
):
    teacher, grader = make_account(Role.INSTRUCTOR), make_account(Role.INSTRUCTOR)
    student, classmate = make_account(), make_account()
    course = course_with(db, teacher, students=[student, classmate])
    give_pronouns(db, teacher, "she/her")
    give_pronouns(db, student, "they/them")
    with db() as session:
        session.add(CourseGrader(course_id=course.id, account_id=grader.id))
        thread = ForumThread(course_id=course.id, author_id=student.id, title="Loops")
        session.add(thread)
        session.flush()
        session.add(ForumPost(thread_id=thread.id, author_id=student.id, body="Why for?"))
        session.add(ForumPost(thread_id=thread.id, author_id=classmate.id, body="Because."))
        first, second = sorted((teacher.id, student.id))
        conversation = Conversation(first_account_id=first, second_account_id=second)
        session.add(conversation)
        session.commit()
    service = platform.service_url

    reader = signed_in(classmate)
    posts = reader.get(f"{service}/courses/{course.slug}/forums/threads/{thread.id}")
    assert posts.status_code == 200, posts.text[-1000:]
    # The student's post carries theirs; the classmate, who gave none, shows none.
    assert pronouns_shown(posts.text) == ["they/them"]
    assert re.search(rf"{student.name}</strong></a> <small[^>]*>\(they/them\)", posts.text)

    messages = signed_in(teacher).get(f"{service}/messages/{conversation.id}")
    assert messages.status_code == 200, messages.text[-1000:]
    assert pronouns_shown(messages.text) == ["they/them"]

    staff = signed_in(teacher).get(f"{service}/courses/{course.slug}/staff")
    assert staff.status_code == 200, staff.text[-1000:]
    assert pronouns_shown(staff.text) == ["she/her"]
    assert grader.username in staff.text
