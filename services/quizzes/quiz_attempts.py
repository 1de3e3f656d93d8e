"""Students' quiz attempts: starting one (drawing its questions), saving answers, submitting,
and closing attempts whose time ran out. The caller commits.

The server keeps the time. An attempt's ``deadline_at`` is fixed when it starts: the start
plus the quiz's time limit, or the quiz's due date if that comes first. Answers saved after
it are refused (409). An attempt found past its deadline, on its next read, its submit or
any listing of attempts, is closed then, as of its deadline, and scored with the answers
saved before it: closing the browser does not stop the clock.

Submitting scores the objective questions at once (``coursehub.services.quizzes.quiz_scoring``),
leaves essays to staff, and queues each answered code question for the grading worker
(``grade_quiz_answer``, ``quizzes.quiz_jobs``) in the same transaction. Submitting
twice is one submission: the second sees the first and changes nothing.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.assessment.submissions import GRADING_QUEUE
from coursehub.services.certificates import issuing
from coursehub.services.content.markdown import to_safe_html
from coursehub.services.jobs.queue import defer
from coursehub.services.models import (
    Account,
    AnswerPolicy,
    AnswerState,
    QuestionKind,
    Quiz,
    QuizAnswer,
    QuizAttempt,
    QuizQuestion,
    QuizQuestionVariant,
    utcnow,
)
from coursehub.services.notebook_runs.run_queue import NOTEBOOK_RUNS_QUEUE
from coursehub.services.quizzes import calculated_questions, quiz_passback
from coursehub.services.quizzes.quiz_questions import QuizError, snapshot, student_question
from coursehub.services.quizzes.quiz_scoring import correct_answer, points_for, score_response
from coursehub.services.quizzes.quizzes import slots_of

QUIZ_GRADE_TASK = "grade_quiz_answer"
MAX_TEXT_ANSWER = 50_000
MAX_FILL_IN = 1_000
_random = secrets.SystemRandom()


# -- starting ------------------------------------------------------------------------------------


async def _lock_student(session: AsyncSession, quiz_id: int, account_id: int) -> None:
    # One start at a time per student and quiz until this transaction ends. The key is the
    # negated quiz id, so it never meets an assignment submit's (assignment id, account id).
    await session.execute(
        text("SELECT pg_advisory_xact_lock(:a, :b)"), {"a": -quiz_id, "b": account_id}
    )


async def _draw(session: AsyncSession, quiz: Quiz) -> list[tuple[QuizQuestion, float]]:
    """The questions of one attempt, slot by slot, with their points; a question appears at
    most once even when a draw's tag is also on a fixed question."""
    slots = await slots_of(session, quiz)
    taken = {question.id for _, question in slots if question is not None}
    drawn: list[tuple[QuizQuestion, float]] = []
    for slot, question in slots:
        if question is not None:
            drawn.append((question, slot.points if slot.points is not None else question.points))
            continue
        pool = [
            candidate
            for candidate in await session.scalars(
                select(QuizQuestion).where(
                    QuizQuestion.course_id == quiz.course_id,
                    QuizQuestion.tags.contains([slot.draw_tag]),
                )
            )
            if candidate.id not in taken
        ]
        if len(pool) < slot.draw_count:
            raise QuizError(
                f"This quiz cannot start: it draws {slot.draw_count} question(s) tagged "
                f"'{slot.draw_tag}' but the bank has {len(pool)} more. Tell your instructor.",
                409,
            )
        for chosen in _random.sample(pool, slot.draw_count):
            taken.add(chosen.id)
            drawn.append((chosen, slot.points or chosen.points))
    if not drawn:
        raise QuizError("This quiz has no questions yet; come back when it does.", 409)
    return drawn


def _copy(question: QuizQuestion) -> dict[str, Any]:
    copy = snapshot(question)
    if copy["spec"].get("shuffle"):
        choices = list(copy["spec"]["choices"])
        _random.shuffle(choices)
        copy["spec"] = {**copy["spec"], "choices": choices}
    return copy


def _refuse_start(quiz: Quiz, now: datetime, used: int) -> None:
    if not quiz.published:
        raise QuizError("This quiz is not published yet; it cannot be taken.", 409)
    if quiz.opens_at is not None and now < quiz.opens_at:
        raise QuizError(
            f"This quiz opens at {quiz.opens_at:%Y-%m-%d %H:%M} UTC; come back then.", 409
        )
    if quiz.due_at is not None and now >= quiz.due_at:
        raise QuizError(
            f"This quiz closed at {quiz.due_at:%Y-%m-%d %H:%M} UTC and takes no new attempts.",
            409,
        )
    if quiz.max_attempts is not None and used >= quiz.max_attempts:
        raise QuizError(
            f"You have used all {quiz.max_attempts} attempt(s) of this quiz; your attempts and "
            "scores are listed on the quiz page.",
            409,
        )


async def start_attempt(
    session: AsyncSession, quiz: Quiz, student: Account
) -> tuple[QuizAttempt, bool]:
    """The student's attempt in progress, or a new one with its questions drawn; returns
    (attempt, created)."""
    await _lock_student(session, quiz.id, student.id)
    mine = list(
        await session.scalars(
            select(QuizAttempt)
            .where(QuizAttempt.quiz_id == quiz.id, QuizAttempt.account_id == student.id)
            .order_by(QuizAttempt.attempt)
        )
    )
    for attempt in mine:
        await close_if_expired(session, attempt)
    in_progress = next((a for a in mine if a.submitted_at is None), None)
    if in_progress is not None:
        return in_progress, False
    now = utcnow()
    _refuse_start(quiz, now, len(mine))
    drawn = await _draw(session, quiz)
    deadline = quiz.due_at
    if quiz.time_limit_minutes:
        limit_end = now + timedelta(minutes=quiz.time_limit_minutes)
        deadline = limit_end if deadline is None else min(deadline, limit_end)
    attempt = QuizAttempt(
        quiz_id=quiz.id,
        account_id=student.id,
        attempt=len(mine) + 1,
        started_at=now,
        deadline_at=deadline,
        max_score=round(sum(points for _, points in drawn), 4),
    )
    session.add(attempt)
    await session.flush()
    for position, (question, points) in enumerate(drawn):
        copy, variant = _copy(question), None
        if calculated_questions.is_calculated(question.spec):
            variant = await calculated_questions.variant_for(session, question)
            copy = calculated_questions.variant_copy(copy, variant)
        answer = QuizAnswer(
            attempt_id=attempt.id,
            position=position,
            question_id=question.id,
            kind=question.kind,
            points=points,
            question=copy,
            state=AnswerState.OPEN,
        )
        session.add(answer)
        if variant is not None:
            await _take(session, question, variant, answer)
    await session.flush()
    return attempt, True


async def _take(
    session: AsyncSession,
    question: QuizQuestion,
    variant: QuizQuestionVariant,
    answer: QuizAnswer,
) -> None:
    """The attempt's answer takes its variant (a fallback already taken stays its first
    attempt's), and the question's free variants are topped up in the background."""
    await session.flush()
    if variant.answer_id is None:
        variant.answer_id = answer.id
    await defer(
        session,
        calculated_questions.MAKE_VARIANTS_TASK,
        NOTEBOOK_RUNS_QUEUE,
        question_id=question.id,
    )


# -- reading ---------------------------------------------------------------------------------


async def answers_of(session: AsyncSession, attempt: QuizAttempt) -> list[QuizAnswer]:
    return list(
        await session.scalars(
            select(QuizAnswer)
            .where(QuizAnswer.attempt_id == attempt.id)
            .order_by(QuizAnswer.position)
        )
    )


async def lock_attempt(session: AsyncSession, attempt_id: int) -> QuizAttempt:
    """The attempt, locked until the transaction ends and read afresh: a submit, a save and
    a close that race each other run one after the other."""
    return (
        await session.scalars(
            select(QuizAttempt)
            .where(QuizAttempt.id == attempt_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).one()


async def attempt_in_quiz(
    session: AsyncSession, quiz: Quiz, attempt_id: int, *, lock: bool = False
) -> QuizAttempt:
    attempt = await session.scalar(
        select(QuizAttempt).where(QuizAttempt.id == attempt_id, QuizAttempt.quiz_id == quiz.id)
    )
    if attempt is None:
        raise QuizError("This quiz has no such attempt; check the address.", 404)
    return await lock_attempt(session, attempt.id) if lock else attempt


async def attempts_of(
    session: AsyncSession, quiz: Quiz, account_id: int | None = None
) -> list[QuizAttempt]:
    """Attempts at ``quiz`` (one student's, or everyone's), closing those out of time."""
    query = select(QuizAttempt).where(QuizAttempt.quiz_id == quiz.id)
    if account_id is not None:
        query = query.where(QuizAttempt.account_id == account_id)
    found = list(await session.scalars(query.order_by(QuizAttempt.account_id, QuizAttempt.attempt)))
    for attempt in found:
        await close_if_expired(session, attempt)
    return found


def is_expired(attempt: QuizAttempt, now: datetime | None = None) -> bool:
    return (
        attempt.submitted_at is None
        and attempt.deadline_at is not None
        and (now or utcnow()) >= attempt.deadline_at
    )


async def close_if_expired(session: AsyncSession, attempt: QuizAttempt) -> bool:
    """Close an attempt whose time ran out, as of its deadline; True if it was closed now."""
    if not is_expired(attempt):
        return False
    locked = await lock_attempt(session, attempt.id)
    if locked.submitted_at is not None:
        return False
    assert locked.deadline_at is not None
    await _finish(session, locked, locked.deadline_at, timed_out=True)
    return True


# -- answering -----------------------------------------------------------------------------------


def check_response(answer: QuizAnswer, response: Any) -> Any:
    """``response`` if it has the shape this question takes (None clears the answer)."""
    if response is None:
        return None
    kind, spec = answer.kind, answer.question["spec"]
    if kind is QuestionKind.SINGLE_CHOICE:
        ids = {choice["id"] for choice in spec["choices"]}
        if isinstance(response, str) and response in ids:
            return response
        raise QuizError("Choose one of the question's choices.")
    if kind is QuestionKind.MULTIPLE_CHOICE:
        ids = {choice["id"] for choice in spec["choices"]}
        if isinstance(response, list) and all(isinstance(r, str) and r in ids for r in response):
            return sorted(set(response))
        raise QuizError("Send the ids of the choices you pick, as a list.")
    if kind is QuestionKind.TRUE_FALSE:
        if isinstance(response, bool):
            return response
        raise QuizError("Answer true or false.")
    limit = MAX_FILL_IN if kind is QuestionKind.FILL_IN else MAX_TEXT_ANSWER
    if not isinstance(response, str) or len(response) > limit:
        raise QuizError(f"Answer with text of at most {limit} characters.")
    return response


class TimeIsUp(QuizError):
    """An answer came after the attempt's deadline; the attempt is closed (commit that)."""

    def __init__(self, attempt: QuizAttempt) -> None:
        assert attempt.deadline_at is not None
        super().__init__(
            f"The time for this attempt ran out at {attempt.deadline_at:%H:%M:%S} UTC, so "
            "this answer was not saved. The answers saved before then were submitted and "
            "count.",
            409,
        )


def _refuse_late(attempt: QuizAttempt) -> None:
    if attempt.submitted_at is not None:
        if attempt.timed_out:
            raise TimeIsUp(attempt)
        raise QuizError("This attempt is submitted already; its answers cannot change.", 409)


async def save_answers(
    session: AsyncSession, attempt: QuizAttempt, responses: dict[int, Any]
) -> list[QuizAnswer]:
    """Store answers (position → response) of an attempt in progress; the attempt must be
    locked (``attempt_in_quiz(..., lock=True)``). Past the deadline the attempt is closed
    and the answers refused."""
    if await close_if_expired(session, attempt):
        raise TimeIsUp(attempt)
    _refuse_late(attempt)
    answers = {answer.position: answer for answer in await answers_of(session, attempt)}
    now = utcnow()
    for position, response in responses.items():
        answer = answers.get(position)
        if answer is None:
            raise QuizError(f"This attempt has no question {position + 1}.", 404)
        answer.response = check_response(answer, response)
        answer.saved_at = now
    await session.flush()
    return list(answers.values())


async def submit(
    session: AsyncSession, attempt: QuizAttempt, responses: dict[int, Any] | None = None
) -> bool:
    """Submit a locked attempt, saving ``responses`` first; False when it was submitted
    already (a repeated submit) or its time had run out (then it is closed as of its
    deadline, and ``responses`` sent with it are refused: ``TimeIsUp``)."""
    if attempt.submitted_at is not None:
        if attempt.timed_out and responses:
            raise TimeIsUp(attempt)
        return False
    if await close_if_expired(session, attempt):
        if responses:
            raise TimeIsUp(attempt)
        return False
    if responses:
        await save_answers(session, attempt, responses)
    await _finish(session, attempt, utcnow(), timed_out=False)
    return True


# -- scoring -------------------------------------------------------------------------------------


async def defer_code_grading(session: AsyncSession, answer_id: int) -> int:
    """Queue ``grade_quiz_answer(answer_id)`` in this session's transaction."""
    return await defer(session, QUIZ_GRADE_TASK, GRADING_QUEUE, answer_id=answer_id)


async def _finish(
    session: AsyncSession, attempt: QuizAttempt, at: datetime, *, timed_out: bool
) -> None:
    answers = await answers_of(session, attempt)
    for answer in answers:
        verdict = score_response(answer.kind, answer.question["spec"], answer.response)
        if verdict.fraction is not None:
            answer.state = AnswerState.SCORED
            answer.score = points_for(verdict.fraction, answer.points)
            answer.correct = verdict.correct
        elif answer.kind is QuestionKind.ESSAY:
            answer.state = AnswerState.AWAITING_STAFF
        elif not (answer.response or "").strip():
            # Nothing to run: an unanswered code question earns nothing.
            answer.state, answer.score = AnswerState.SCORED, 0.0
        else:
            answer.state = AnswerState.AWAITING_WORKER
            await session.flush()
            answer.job_id = await defer_code_grading(session, answer.id)
    attempt.submitted_at = at
    attempt.timed_out = timed_out
    recompute_score(attempt, answers)
    await session.flush()
    await issuing.check_after_quiz(session, attempt)
    await quiz_passback.defer_lti_passback(session, attempt)


def recompute_score(attempt: QuizAttempt, answers: list[QuizAnswer]) -> None:
    """The attempt's score: the sum of its answers' once every one has its score."""
    if attempt.submitted_at is None or any(a.state is not AnswerState.SCORED for a in answers):
        attempt.score = None
    else:
        attempt.score = round(sum(a.score or 0 for a in answers), 4)


# -- showing -------------------------------------------------------------------------------------

STATE_LABELS = {
    AnswerState.OPEN: "not submitted",
    AnswerState.SCORED: "graded",
    AnswerState.AWAITING_STAFF: "waiting for grading",
    AnswerState.AWAITING_WORKER: "waiting for grading",
    AnswerState.FAILED: "waiting for grading",
}


# What a student's submitted attempt says while the correct answers are not shown.
ANSWERS_LATER = {
    AnswerPolicy.AFTER_EACH_ATTEMPT: "The correct answers are shown once this attempt is over.",
    AnswerPolicy.AFTER_LAST_ATTEMPT: (
        "The correct answers are shown once you have used your last attempt or the quiz is "
        "past its due date."
    ),
    AnswerPolicy.AFTER_DUE_DATE: (
        "The correct answers are shown once the quiz is past its due date."
    ),
    AnswerPolicy.NEVER: "Your instructor does not show this quiz's correct answers.",
}


async def answers_shown(
    session: AsyncSession, quiz: Quiz, attempt: QuizAttempt, now: datetime | None = None
) -> bool:
    """Whether the student of ``attempt`` may see the correct answers and explanations in it
    now, by the quiz's policy (``Quiz.show_answers``). Never while the attempt, or another
    attempt of theirs at the quiz, is in progress: answers seen in one attempt must not
    serve the next."""
    policy = quiz.show_answers
    if attempt.submitted_at is None or policy is AnswerPolicy.NEVER:
        return False
    now = now or utcnow()
    past_due = quiz.due_at is not None and now >= quiz.due_at
    if policy is AnswerPolicy.AFTER_DUE_DATE:
        return past_due
    theirs = list(
        await session.scalars(
            select(QuizAttempt).where(
                QuizAttempt.quiz_id == quiz.id, QuizAttempt.account_id == attempt.account_id
            )
        )
    )
    if any(other.submitted_at is None and not is_expired(other, now) for other in theirs):
        return False
    if policy is AnswerPolicy.AFTER_EACH_ATTEMPT:
        return True
    return past_due or (quiz.max_attempts is not None and len(theirs) >= quiz.max_attempts)


def answer_json(
    answer: QuizAnswer, *, reveal: bool, show_answers: bool | None = None
) -> dict[str, Any]:
    """One question of an attempt with the student's answer; once submitted (``reveal``)
    also the score and any comment, and, where the quiz's policy allows (``show_answers``;
    staff always), the right answer and the explanation."""
    body = {
        "position": answer.position,
        "question_id": answer.question_id,
        **student_question(answer.kind, answer.question, answer.points),
        "response": answer.response,
        "saved_at": answer.saved_at,
        "state": answer.state.value,
    }
    if not reveal:
        return body
    body.update(
        score=answer.score,
        correct=answer.correct,
        status=STATE_LABELS[answer.state],
        comment=answer.comment,
        graded_at=answer.graded_at,
    )
    if reveal if show_answers is None else show_answers:
        body.update(
            correct_answer=correct_answer(answer.kind, answer.question["spec"]),
            explanation_html=to_safe_html(answer.question.get("explanation", "")),
        )
    if answer.feedback is not None:
        body["feedback"] = answer.feedback
    return body


def attempt_json(
    attempt: QuizAttempt,
    answers: list[QuizAnswer] | None = None,
    *,
    quiz: Quiz | None = None,
    show_answers: bool = False,
) -> dict[str, Any]:
    """An attempt, with its answers when given; the correct answers only with
    ``show_answers`` (``answers_shown`` for its student; staff always); with ``quiz``, a
    submitted attempt without them says when they come."""
    now = utcnow()
    body: dict[str, Any] = {
        "id": attempt.id,
        "quiz_id": attempt.quiz_id,
        "account_id": attempt.account_id,
        "attempt": attempt.attempt,
        "started_at": attempt.started_at,
        "deadline_at": attempt.deadline_at,
        "submitted_at": attempt.submitted_at,
        "timed_out": attempt.timed_out,
        "score": attempt.score,
        "max_score": attempt.max_score,
        "server_time": now,
        "seconds_left": (
            max(0.0, (attempt.deadline_at - now).total_seconds())
            if attempt.deadline_at is not None and attempt.submitted_at is None
            else None
        ),
    }
    if answers is not None:
        reveal = attempt.submitted_at is not None
        shown = reveal and show_answers
        body["answers"] = [
            answer_json(answer, reveal=reveal, show_answers=shown) for answer in answers
        ]
        if reveal:
            body["answers_shown"] = shown
            if not shown and quiz is not None:
                body["answers_later"] = ANSWERS_LATER[quiz.show_answers]
    return body
