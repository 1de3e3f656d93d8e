"""Calculated quiz questions, as an instructor writes them and students take them: a small
generator notebook, run with papermill in the sandbox with each attempt's seed, gives every
attempt its own values; each attempt is graded by its own answer (with the question's
tolerance); a generator that raises is refused when the question is saved, naming the cell."""

from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import select

from coursehub.hub.constants import Role
from coursehub.services.models import LessonKind, QuizQuestion, QuizQuestionVariant
from tests.course_builder import LessonPlan, enroll, make_course, unique_word
from tests.teaching_client import open_session
from tests.test_quizzes import QuizRoom

# Papermill runs in the sandbox: a kernel start on a loaded machine takes a while.
SLOW = 240

GENERATOR = """import random
rng = random.Random(seed)
a, b = rng.randint(1000, 9999), rng.randint(10, 99)
{"values": {"a": a, "b": b}, "answer": a / b}
"""

PROMPT = "Divide {a} by {b}; give two decimals."


def calculated(**fields):  # type: ignore[no-untyped-def]
    return {
        "kind": "FILL_IN",
        "prompt": PROMPT,
        "generator": GENERATOR,
        "abs_tol": 0.01,
        "points": 2,
        **fields,
    }


@pytest.fixture
def room(platform, signed_in, make_account, db, database_url) -> QuizRoom:
    """An instructor's course with a quiz lesson, and one enrolled student."""
    instructor = make_account(Role.INSTRUCTOR)
    course = make_course(
        database_url,
        instructor,
        title=f"Calculated {unique_word()}",
        modules={"Week 1": [LessonPlan("Drill", kind=LessonKind.QUIZ)]},
    )
    student = make_account(Role.STUDENT)
    enroll(db, student, course)
    return QuizRoom(
        course,
        instructor,
        open_session(platform, signed_in, instructor),
        open_session(platform, signed_in, student),
        student,
    )


def values_in(prompt_html: str) -> tuple[int, int]:
    found = re.search(r"Divide (\d+) by (\d+)", prompt_html)
    assert found, prompt_html
    return int(found.group(1)), int(found.group(2))


def test_each_attempt_gets_its_own_values_and_is_graded_by_them(
    room, platform, signed_in, make_account, db
):
    made = room.teacher.call("POST", f"{room.api}/quizzes", json={"title": "Division drill"})
    assert made.status_code == 201, made.text
    quiz_id = made.json()["id"]
    added = room.teacher.call(
        "POST",
        f"{room.quiz_api(quiz_id)}/slots",
        json={"question": calculated()},
        timeout=SLOW,
    )
    assert added.status_code == 201, added.text
    question = added.json()["slots"][0]["question"]
    assert question["generator"]["cells"][1]["metadata"]["tags"] == ["answer"]
    published = room.teacher.call(
        "PATCH",
        room.quiz_api(quiz_id),
        json={"published": True, "max_attempts": 2, "show_answers": "AFTER_EACH_ATTEMPT"},
    )
    assert published.status_code == 200, published.text

    classmate = make_account(Role.STUDENT)
    enroll(db, classmate, room.course)
    other = open_session(platform, signed_in, classmate)

    # Two students start: each attempt shows its own numbers, none of the generator.
    mine = room.learner.call("POST", f"{room.quiz_api(quiz_id)}/attempts", timeout=SLOW)
    theirs = other.call("POST", f"{room.quiz_api(quiz_id)}/attempts", timeout=SLOW)
    assert mine.status_code == theirs.status_code == 201, (mine.text, theirs.text)
    my_prompt = mine.json()["answers"][0]["prompt_html"]
    their_prompt = theirs.json()["answers"][0]["prompt_html"]
    assert "{a}" not in my_prompt and "random" not in mine.text and "seed" not in mine.text
    assert values_in(my_prompt) != values_in(their_prompt)

    # Each answers by their own numbers, rounded to two decimals (within the tolerance).
    a, b = values_in(my_prompt)
    my_answer = f"{a / b:.2f}"
    path = f"{room.quiz_api(quiz_id)}/attempts/{mine.json()['id']}"
    mine_done = room.learner.call("POST", f"{path}/submit", json={"answers": {"0": my_answer}})
    assert mine_done.status_code == 200, mine_done.text
    assert mine_done.json()["score"] == 2

    # The classmate gives the first student's answer: wrong for their own values.
    path = f"{room.quiz_api(quiz_id)}/attempts/{theirs.json()['id']}"
    copied = other.call("POST", f"{path}/submit", json={"answers": {"0": my_answer}})
    assert copied.status_code == 200 and copied.json()["score"] == 0

    # Their second attempt has new values again, and their own right answer scores.
    again = other.call("POST", f"{room.quiz_api(quiz_id)}/attempts", timeout=SLOW)
    assert again.status_code == 201, again.text
    c, d = values_in(again.json()["answers"][0]["prompt_html"])
    assert (c, d) != values_in(their_prompt)
    path = f"{room.quiz_api(quiz_id)}/attempts/{again.json()['id']}"
    right = other.call("POST", f"{path}/submit", json={"answers": {"0": f"{c / d:.3f}"}})
    assert right.status_code == 200 and right.json()["score"] == 2

    # Every attempt took a variant of its own, recorded with its seed.
    with db() as session:
        variants = list(
            session.scalars(
                select(QuizQuestionVariant).where(
                    QuizQuestionVariant.question_id == question["id"],
                    QuizQuestionVariant.answer_id.is_not(None),
                )
            )
        )
    assert len(variants) == 3 and len({v.seed for v in variants}) == 3
    assert {(v.values["a"], v.values["b"]) for v in variants} == {
        values_in(my_prompt),
        values_in(their_prompt),
        (c, d),
    }


def test_the_worker_keeps_free_variants_ready_for_the_class(room, db):
    made = room.teacher.call("POST", f"{room.api}/quizzes", json={"title": "Ready in advance"})
    quiz_id = made.json()["id"]
    added = room.teacher.call(
        "POST",
        f"{room.quiz_api(quiz_id)}/slots",
        json={"question": calculated()},
        timeout=SLOW,
    )
    assert added.status_code == 201, added.text
    question_id = added.json()["slots"][0]["question"]["id"]
    deadline = time.monotonic() + 300
    free = 0
    while time.monotonic() < deadline:
        with db() as session:
            free = len(
                list(
                    session.scalars(
                        select(QuizQuestionVariant.id).where(
                            QuizQuestionVariant.question_id == question_id,
                            QuizQuestionVariant.answer_id.is_(None),
                        )
                    )
                )
            )
        if free >= 20:
            break
        time.sleep(2)
    assert free >= 20, f"only {free} variants were made in the background"


def test_a_generator_that_raises_is_refused_naming_the_cell_and_nothing_is_kept(room, db):
    broken = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {},
        "cells": [
            {"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": "seed = 0"},
            {
                "cell_type": "code",
                "metadata": {},
                "source": "values = {}\nratio = 1 / (seed - seed)",
            },
            {"cell_type": "code", "metadata": {"tags": ["answer"]}, "source": "{'answer': ratio}"},
        ],
    }
    refused = room.teacher.call(
        "POST",
        f"{room.api}/quiz-bank",
        json=calculated(generator=broken, prompt="Never saved {a}"),
        timeout=SLOW,
    )
    assert refused.status_code in (400, 422), refused.text
    error = refused.json()["error"]
    assert "ZeroDivisionError" in error and "cell 2 ('values = {}')" in error
    without_answer_cell = {**broken, "cells": broken["cells"][:2]}
    refused = room.teacher.call(
        "POST", f"{room.api}/quiz-bank", json=calculated(generator=without_answer_cell)
    )
    assert refused.status_code == 400 and "'answer'" in refused.json()["error"]
    with db() as session:
        kept = session.scalars(
            select(QuizQuestion).where(QuizQuestion.prompt == "Never saved {a}")
        ).all()
    assert kept == []


# Seed 1 (the one a question is checked with when saved) works; every other seed asks for
# far more memory than the sandbox gives: a MemoryError, or the kernel stopped by its limit.
FRAGILE = """import random
if seed != 1:
    hog = b"x" * (16 << 30)
rng = random.Random(seed)
a, b = rng.randint(1000, 9999), rng.randint(10, 99)
{"values": {"a": a, "b": b}, "answer": a / b}
"""


def test_a_generator_that_fails_at_attempt_time_falls_back_to_a_made_variant(
    room, platform, signed_in, make_account, db
):
    """The generator passed its check when saved, but fails for every other seed (past the
    sandbox's memory): the second student's attempt still starts (no 500), with the variant
    already made, and each attempt is graded by the values it shows."""
    made = room.teacher.call("POST", f"{room.api}/quizzes", json={"title": "Fragile drill"})
    quiz_id = made.json()["id"]
    added = room.teacher.call(
        "POST",
        f"{room.quiz_api(quiz_id)}/slots",
        json={"question": calculated(generator=FRAGILE)},
        timeout=SLOW,
    )
    assert added.status_code == 201, added.text
    published = room.teacher.call("PATCH", room.quiz_api(quiz_id), json={"published": True})
    assert published.status_code == 200, published.text
    classmate = make_account(Role.STUDENT)
    enroll(db, classmate, room.course)
    other = open_session(platform, signed_in, classmate)

    first = room.learner.call("POST", f"{room.quiz_api(quiz_id)}/attempts", timeout=SLOW)
    second = other.call("POST", f"{room.quiz_api(quiz_id)}/attempts", timeout=SLOW)
    assert first.status_code == second.status_code == 201, (first.text, second.text)
    values = values_in(first.json()["answers"][0]["prompt_html"])
    assert values_in(second.json()["answers"][0]["prompt_html"]) == values  # the fallback

    a, b = values
    for learner, attempt in ((room.learner, first), (other, second)):
        path = f"{room.quiz_api(quiz_id)}/attempts/{attempt.json()['id']}"
        done = learner.call("POST", f"{path}/submit", json={"answers": {"0": f"{a / b:.2f}"}})
        assert done.status_code == 200 and done.json()["score"] == 2, done.text
