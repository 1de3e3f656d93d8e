"""``community.forum_search``: searching a course's forums finds posts whose words match and
threads whose title does, best first, only what the searcher may read, with snippets whose
text is escaped and whose matches are marked."""

from __future__ import annotations

import pytest

from coursehub.hub.constants import Role
from coursehub.services.community import forum_search, forums
from coursehub.services.community.forums import ForumError, Member
from coursehub.services.models import Account
from tests.service_data import course_with


def test_a_search_is_some_words_of_bounded_length():
    assert forum_search.checked_query("  mitochondria \x00 energy ") == "mitochondria energy"
    for wrong in (None, "   ", "x" * (forum_search.MAX_QUERY + 1)):
        with pytest.raises(ForumError):
            forum_search.checked_query(wrong)


def test_a_snippet_is_escaped_and_only_whole_marker_pairs_become_marks():
    start, stop = forum_search.START, forum_search.STOP
    snippet = f"<b>the {start}cell{stop}</b> and a stray {start}"
    assert str(forum_search.highlighted(snippet)) == (
        f"&lt;b&gt;the <mark>cell</mark>&lt;/b&gt; and a stray {start}"
    )


async def test_students_find_what_they_may_read_and_moderators_find_hidden_posts(
    db, make_account, sessions
):
    teacher, ann = make_account(Role.INSTRUCTOR), make_account(Role.STUDENT)
    course = course_with(db, teacher, students=[ann])
    async with sessions() as session:
        me = await session.get_one(Account, teacher.id)
        her = await session.get_one(Account, ann.id)
        as_teacher, as_ann = Member(me, course, True), Member(her, course, False)
        thread, opening = await forums.start_thread(
            session, as_ann, None, "Photosynthesis question", "How do leaves trap light?"
        )
        hidden, _ = await forums.reply(
            session, as_teacher, thread, None, "Chlorophyll traps photons."
        )
        hidden.is_hidden = True
        await session.flush()

        found = await forum_search.search(session, as_ann, "photosynthesis")
        assert [hit.post_id for hit in found] == [opening.id]  # by the thread's title
        assert await forum_search.search(session, as_ann, "chlorophyll") == []
        [hit] = await forum_search.search(session, as_teacher, "chlorophyll")
        assert hit.post_id == hidden.id and "<mark>Chlorophyll</mark>" in hit.snippet_html
        assert hit.author_username == teacher.username
        await session.rollback()
