"""``quizzes.quiz_jobs``: what the worker does with the sandbox's verdict on a code answer.
The answer takes its share of the points once (a job run again after a crash changes
nothing), the student is told (``quiz_graded``, queued for their digest and announced on
Redis once committed), and after the last failed run the answer waits for staff."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

import pytest
import redis.asyncio as aioredis
from sqlalchemy import select

from coursehub.hub.constants import Role
from coursehub.services.jobs.context import WorkerContext
from coursehub.services.models import (
    AnswerState,
    EmailChoice,
    EmailDelivery,
    Notification,
    QuizAnswer,
    QuizAttempt,
)
from coursehub.services.notifications.notifications import CHANNEL
from coursehub.services.quizzes.quiz_jobs import QuizGrader, feedback_json
from tests.service_data import attempt_of, course_with, quiz_in


@dataclass
class Cell:
    grade_id: str
    score: float
    max_points: float
    feedback: str = ""


@dataclass
class Verdict:
    """What the grading engine answers (the fields the worker reads)."""

    score: float
    max_score: float
    outcome: str = "graded"
    message: str = ""
    cells: list[Cell] = field(default_factory=list)


def test_the_student_sees_the_outcome_and_the_tests_that_carry_points():
    verdict = Verdict(
        1.5, 3, cells=[Cell("setup", 0, 0), Cell("tests", 1.5, 3, "2 of 4 checks pass")]
    )
    assert feedback_json(verdict) == {
        "outcome": "graded",
        "message": "",
        "score": 1.5,
        "max_score": 3.0,
        "cells": [
            {"grade_id": "tests", "score": 1.5, "max_points": 3, "feedback": "2 of 4 checks pass"}
        ],
    }


@pytest.fixture
async def worker(sessions, redis_url):  # type: ignore[no-untyped-def]
    client = aioredis.from_url(redis_url)
    yield WorkerContext(sessions, client)
    await client.aclose()


async def test_a_graded_code_answer_is_stored_once_and_the_student_told(db, make_account, worker):
    teacher, student = make_account(Role.INSTRUCTOR), make_account(Role.STUDENT)
    course = course_with(db, teacher, students=[student])
    quiz = quiz_in(db, course)
    attempt = attempt_of(db, quiz, student)
    with db() as session:
        code = session.scalar(
            select(QuizAnswer).where(QuizAnswer.attempt_id == attempt.id, QuizAnswer.position == 2)
        )
        essay = session.scalar(
            select(QuizAnswer).where(QuizAnswer.attempt_id == attempt.id, QuizAnswer.position == 1)
        )
        essay.state, essay.score = AnswerState.SCORED, 4.0  # staff graded the essay already
        session.commit()
    listener = worker.redis.pubsub()
    await listener.subscribe(CHANNEL.format(account_id=student.id))

    grader = QuizGrader(worker)
    await grader.store(code.id, Verdict(score=3, max_score=4))
    await grader.store(code.id, Verdict(score=4, max_score=4))  # a second run: nothing more

    with db() as session:
        stored = session.get_one(QuizAnswer, code.id)
        assert (stored.state, stored.score) == (AnswerState.SCORED, 1.5)  # 3/4 of 2 points
        assert session.get_one(QuizAttempt, attempt.id).score == 6.5
        [told] = session.scalars(select(Notification).where(Notification.account_id == student.id))
        assert told.kind == "quiz_graded" and told.payload["answer_score"] == 1.5
        delivery = session.get(EmailDelivery, told.id)
        assert delivery is not None and delivery.channel is EmailChoice.DIGEST
    message = None
    for _ in range(50):
        message = await listener.get_message(ignore_subscribe_messages=True, timeout=0.1)
        if message:
            break
        await asyncio.sleep(0.05)
    assert message is not None and json.loads(message["data"])["id"] == told.id
    await listener.aclose()


async def test_after_the_last_failed_run_the_answer_waits_for_staff(db, make_account, worker):
    teacher, student = make_account(Role.INSTRUCTOR), make_account(Role.STUDENT)
    attempt = attempt_of(db, quiz_in(db, course_with(db, teacher)), student)
    with db() as session:
        code = session.scalar(
            select(QuizAnswer).where(QuizAnswer.attempt_id == attempt.id, QuizAnswer.position == 2)
        )
    grader = QuizGrader(worker)
    await grader.fail(code.id)
    await grader.store(code.id, Verdict(score=2, max_score=2))  # too late: staff have it
    with db() as session:
        failed = session.get_one(QuizAnswer, code.id)
        assert failed.state is AnswerState.FAILED and failed.score is None
        assert failed.feedback["outcome"] == "failed"
        assert "your instructor will grade this answer" in failed.feedback["message"]
