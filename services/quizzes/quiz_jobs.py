"""The quiz domain's worker task: ``grade_quiz_answer`` grades one code answer.

``coursehub worker`` hosts it next to ``grade_submission`` (same queue, same sandbox
pool): the student's code goes into the answer cell of the question's nbgrader notebook,
the grading engine (``coursehub.graders.autograde.grade``) runs it in the bubblewrap sandbox,
and the share of the test cell's points earned, times the question's points, is the answer's
score. The score is stored once (only an answer still awaiting the worker takes it, so a job
that runs twice after a crash changes nothing more), the attempt's score follows, and the
student gets a ``quiz_graded`` notification (``notifications.add``) and news on Redis.
Platform faults are retried; after the last run the answer is FAILED and staff can grade it by hand.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import procrastinate
from procrastinate import JobContext, RetryStrategy
from sqlalchemy import update

from coursehub.services.assessment.grading_jobs import MAX_RUNS, grade_in_sandbox
from coursehub.services.assessment.submissions import GRADING_QUEUE
from coursehub.services.certificates import issuing
from coursehub.services.jobs.context import WorkerContext
from coursehub.services.models import AnswerState, Quiz, QuizAnswer, QuizQuestion, utcnow
from coursehub.services.notebook_runs.run_queue import NOTEBOOK_RUNS_QUEUE
from coursehub.services.notifications import notifications
from coursehub.services.quizzes import calculated_questions, quiz_passback
from coursehub.services.quizzes.quiz_attempts import (
    QUIZ_GRADE_TASK,
    answers_of,
    lock_attempt,
    recompute_score,
)
from coursehub.services.quizzes.quiz_grading import notify_graded
from coursehub.services.quizzes.quiz_questions import CODE_ANSWER_ID
from coursehub.services.quizzes.quiz_scoring import points_for

log = logging.getLogger("coursehub.worker")


def code_submission(source_notebook: dict[str, Any], code: str) -> bytes:
    """The question's student notebook with the student's code in its answer cell."""
    import nbformat

    from coursehub.graders.assignment_notebooks import read_source, student_version

    student = student_version(read_source(json.dumps(source_notebook).encode()))
    for cell in student.cells:
        if cell.get("id") == CODE_ANSWER_ID:
            cell.source = code
    return nbformat.writes(student).encode()


def feedback_json(result: Any) -> dict[str, Any]:
    """What the student sees of a grading: the outcome and the visible tests' feedback
    (the engine never puts hidden tests in it)."""
    return {
        "outcome": result.outcome,
        "message": result.message or "",
        "score": float(result.score or 0),
        "max_score": float(result.max_score or 0),
        "cells": [
            {
                "grade_id": cell.grade_id,
                "score": cell.score,
                "max_points": cell.max_points,
                "feedback": cell.feedback,
            }
            for cell in result.cells
            if cell.max_points
        ],
    }


@dataclass
class QuizGrader:
    """The ``grade_quiz_answer`` task's steps, on the worker's context."""

    context: WorkerContext

    async def grade(self, context: JobContext, answer_id: int) -> None:
        async with self.context.sessions() as session:
            answer = await session.get(QuizAnswer, answer_id)
            if answer is None or answer.state is not AnswerState.AWAITING_WORKER:
                log.info("Quiz answer %s needs no grading (gone or graded)", answer_id)
                return
            spec, code = answer.question["spec"], str(answer.response or "")
        if (context.job.attempts or 0) >= MAX_RUNS:
            await self.fail(answer_id)
            return
        try:
            submitted = code_submission(spec["notebook"], code)
            result = await grade_in_sandbox(self.context, spec["notebook"], submitted)
        except Exception as error:
            runs = (context.job.attempts or 0) + 1
            log.warning(
                "Grading quiz answer %s failed (run %d of %d): %s", answer_id, runs, MAX_RUNS, error
            )
            if runs >= MAX_RUNS:
                await self.fail(answer_id)
            raise
        await self.store(answer_id, result)

    async def fail(self, answer_id: int) -> None:
        async with self.context.sessions() as session:
            await session.execute(
                update(QuizAnswer)
                .where(QuizAnswer.id == answer_id, QuizAnswer.state == AnswerState.AWAITING_WORKER)
                .values(
                    state=AnswerState.FAILED,
                    feedback={
                        "outcome": "failed",
                        "message": "Grading failed because of a fault on CourseHub's side; "
                        "your instructor will grade this answer.",
                        "cells": [],
                    },
                )
            )
            await session.commit()

    async def store(self, answer_id: int, result: Any) -> None:
        async with self.context.sessions() as session:
            answer = await session.get_one(QuizAnswer, answer_id)
            attempt = await lock_attempt(session, answer.attempt_id)
            share = (result.score or 0) / result.max_score if result.max_score else 0.0
            stored = await session.scalar(
                update(QuizAnswer)
                .where(QuizAnswer.id == answer_id, QuizAnswer.state == AnswerState.AWAITING_WORKER)
                .values(
                    state=AnswerState.SCORED,
                    score=points_for(share, answer.points),
                    feedback=feedback_json(result),
                    graded_at=utcnow(),
                )
                .returning(QuizAnswer.id)
            )
            if stored is None:
                return
            answers = await answers_of(session, attempt)
            for each in answers:
                await session.refresh(each)
            recompute_score(attempt, answers)
            quiz = await session.get_one(Quiz, attempt.quiz_id)
            graded = next(a for a in answers if a.id == answer_id)
            await notify_graded(session, quiz, attempt, graded)
            # The attempt's score is now known: the course's certificate rule, checked again.
            await issuing.check_after_quiz(session, attempt)
            await quiz_passback.defer_lti_passback(session, attempt)
            await session.commit()
        made = notifications.committed(session)
        if made:
            await notifications.announce(self.context.redis, made)


async def make_variants(context: WorkerContext, question_id: int) -> int:
    """Top up a calculated question's free variants (``make_quiz_variants``); how many."""
    async with context.sessions() as session:
        question = await session.get(QuizQuestion, question_id)
        if question is None:
            return 0
        made = await calculated_questions.make_variants(session, question)
        await session.commit()
    if made:
        log.info("Made %d variant(s) of calculated question %s", made, question_id)
    return made


def tasks(context: WorkerContext) -> procrastinate.Blueprint:
    """The quiz domain's tasks, for ``coursehub worker`` to host."""
    blueprint = procrastinate.Blueprint()
    grader = QuizGrader(context)

    @blueprint.task(
        name=QUIZ_GRADE_TASK,
        queue=GRADING_QUEUE,
        pass_context=True,
        retry=RetryStrategy(max_attempts=MAX_RUNS - 1, wait=5),
    )
    async def grade_quiz_answer(job: JobContext, answer_id: int) -> None:
        await grader.grade(job, answer_id)

    @blueprint.task(name=calculated_questions.MAKE_VARIANTS_TASK, queue=NOTEBOOK_RUNS_QUEUE)
    async def make_quiz_variants(question_id: int) -> None:
        await make_variants(context, question_id)

    return blueprint
