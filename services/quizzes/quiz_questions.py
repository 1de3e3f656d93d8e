"""A course's question bank: checking questions of every kind, storing them, and showing them
to staff (everything) or to students (never what decides the score).

Questions come in as JSON objects, from the quiz builder, the API or an imported notebook
(``coursehub.services.quizzes.quiz_notebooks``)::

    {"kind": "SINGLE_CHOICE", "prompt": "markdown", "points": 2, "tags": ["week-1"],
     "explanation": "markdown shown after submitting", "title": "optional",
     ...the kind's own fields...}

The kind's own fields:

- SINGLE_CHOICE, MULTIPLE_CHOICE: ``choices``, a list of ``{"text": "markdown", "correct":
  true|false}`` (ids ``a``, ``b``, … are given unless a choice brings its own ``id``), and
  ``shuffle`` (show choices in a new order in each attempt). One correct choice for
  SINGLE_CHOICE, at least one for MULTIPLE_CHOICE.
- TRUE_FALSE: ``correct``, true or false.
- FILL_IN: ``answers``, a list of accepted answers ``{"mode": "exact" | "case_insensitive" |
  "regex" | "numeric", "value": …, "abs_tol": 0, "rel_tol": 0}`` (tolerances for numeric
  only), and optionally ``display``, the answer shown after submitting.
- ESSAY: optionally ``guidance``, notes for the staff who grade it.
- CODE: ``solution``, the instructor's solution (nbgrader ``### BEGIN SOLUTION`` / ``### END
  SOLUTION`` markers around what students write), and ``tests``, an nbgrader autograder test
  cell (``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS`` around tests students never
  see). The score is the share of the test cell's points earned, times the question's points.
"""

from __future__ import annotations

import json
import string
from typing import Any

import regex
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.content.markdown import to_safe_html
from coursehub.services.jobs.queue import defer
from coursehub.services.models import (
    Account,
    Course,
    QuestionKind,
    QuizQuestion,
    QuizSlot,
    utcnow,
)
from coursehub.services.notebook_runs.run_queue import NOTEBOOK_RUNS_QUEUE
from coursehub.services.quizzes import calculated_questions
from coursehub.services.quizzes.quiz_errors import QuizError
from coursehub.services.quizzes.quiz_scoring import FILL_IN_MODES, parse_number

MAX_TEXT = 20_000
MAX_CHOICES = 26
MAX_TAGS = 20
CODE_ANSWER_ID = "answer"
CODE_TESTS_ID = "tests"


# -- checking fields ---------------------------------------------------------------------------


def text_field(
    fields: dict[str, Any], name: str, *, required: bool = False, limit: int = MAX_TEXT
) -> str:
    value = fields.get(name)
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise QuizError(f"{name} must be text.")
    value = value.strip()
    if required and not value:
        raise QuizError(f"Write the question's {name}; it cannot be empty.")
    if len(value) > limit:
        raise QuizError(f"{name} is longer than {limit} characters; shorten it.")
    return value


def number_field(value: Any, name: str, *, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise QuizError(f"{name} must be a number from {low:g} to {high:g}.")
    if not low <= value <= high:
        raise QuizError(f"{name} must be a number from {low:g} to {high:g}.")
    return float(value)


def clean_tags(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
        raise QuizError('tags must be a list of words, such as ["week-1", "loops"].')
    tags = list(dict.fromkeys(tag.strip().lower() for tag in value if tag.strip()))
    if len(tags) > MAX_TAGS or any(len(tag) > 60 for tag in tags):
        raise QuizError(f"Give at most {MAX_TAGS} tags of at most 60 characters each.")
    return tags


def _choices(fields: dict[str, Any], kind: QuestionKind) -> dict[str, Any]:
    raw = fields.get("choices")
    if not isinstance(raw, list) or not 2 <= len(raw) <= MAX_CHOICES:
        raise QuizError(f"Give the question 2 to {MAX_CHOICES} choices.")
    choices, correct = [], []
    for index, item in enumerate(raw):
        if isinstance(item, str):
            item = {"text": item}
        if not isinstance(item, dict):
            raise QuizError(
                "Each choice must be an object with its text and whether it is correct."
            )
        text = text_field(item, "text", limit=5000)
        if not text:
            raise QuizError(f"Choice {index + 1} has no text; write it or remove the choice.")
        choice_id = str(item.get("id") or string.ascii_lowercase[index])[:20]
        choices.append({"id": choice_id, "text": text})
        if item.get("correct") is True:
            correct.append(choice_id)
    if len({choice["id"] for choice in choices}) != len(choices):
        raise QuizError("Two choices have the same id; give each choice its own.")
    if kind is QuestionKind.SINGLE_CHOICE and len(correct) != 1:
        raise QuizError("Mark exactly one choice as correct: this is a single-answer question.")
    if kind is QuestionKind.MULTIPLE_CHOICE and not correct:
        raise QuizError("Mark at least one choice as correct.")
    return {"choices": choices, "correct": correct, "shuffle": fields.get("shuffle") is True}


def _true_false(fields: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(fields.get("correct"), bool):
        raise QuizError("Say whether the statement is true: correct must be true or false.")
    return {"correct": fields["correct"]}


def _accepted_answer(item: Any, number: int) -> dict[str, Any]:
    where = f"Accepted answer {number}"
    if not isinstance(item, dict):
        raise QuizError(f"{where} must be an object with its mode and value.")
    mode = item.get("mode", "exact")
    if mode not in FILL_IN_MODES:
        raise QuizError(f"{where} has the mode {mode!r}; use one of {', '.join(FILL_IN_MODES)}.")
    value = item.get("value")
    if mode == "numeric":
        number_value = parse_number(str(value)) if isinstance(value, str | int | float) else None
        if isinstance(value, bool) or number_value is None:
            raise QuizError(f"{where} is numeric, so its value must be a number.")
        tolerances = {
            name: number_field(item.get(name) or 0, f"{where}: {name}", low=0, high=1e12)
            for name in ("abs_tol", "rel_tol")
        }
        return {"mode": mode, "value": number_value, **tolerances}
    if not isinstance(value, str) or not value.strip():
        raise QuizError(f"{where} needs its value, the text to accept.")
    if mode == "regex":
        try:
            regex.compile(value)
        except regex.error as error:
            raise QuizError(f"{where} is not a valid regular expression ({error}).") from None
    return {"mode": mode, "value": value.strip() if mode != "regex" else value}


def _calculated(fields: dict[str, Any]) -> dict[str, Any]:
    """A calculated question's spec: its generator notebook and tolerances (its accepted
    answer is each attempt's own; ``calculated_questions``)."""
    generator = calculated_questions.read_generator(fields["generator"])
    tolerances = {
        name: number_field(fields.get(name) or 0, name, low=0, high=1e12)
        for name in ("abs_tol", "rel_tol")
    }
    return {
        "answers": [],
        "display": "",
        "generator": generator,
        "generator_hash": calculated_questions.generator_hash(generator),
        **tolerances,
    }


def _fill_in(fields: dict[str, Any]) -> dict[str, Any]:
    if fields.get("generator"):
        return _calculated(fields)
    raw = fields.get("answers")
    if raw is None and "answer" in fields:
        raw = [{"mode": fields.get("mode", "exact"), "value": fields["answer"]}]
    if not isinstance(raw, list) or not raw or len(raw) > 50:
        raise QuizError("Give the question 1 to 50 accepted answers.")
    answers = [_accepted_answer(item, number) for number, item in enumerate(raw, start=1)]
    return {"answers": answers, "display": text_field(fields, "display", limit=500)}


def _code(fields: dict[str, Any]) -> dict[str, Any]:
    from coursehub.graders.assignment_notebooks import (
        InvalidNotebook,
        read_source,
        student_version,
    )

    solution = text_field(fields, "solution", limit=50_000)
    tests = text_field(fields, "tests", limit=50_000)
    if not solution or not tests:
        raise QuizError("A code question needs its solution and its autograder tests.")
    notebook = code_notebook(solution, tests)
    try:
        source = read_source(json.dumps(notebook).encode())
        student = student_version(source)
    except InvalidNotebook as error:
        raise QuizError(f"The code question's cells are not usable: {error}") from None
    starter = next(c.source for c in student.cells if c.get("id") == CODE_ANSWER_ID)
    return {"solution": solution, "tests": tests, "notebook": notebook, "starter": starter}


def code_notebook(solution: str, tests: str) -> dict[str, Any]:
    """The nbgrader source notebook of a code question: its solution cell and test cell."""

    def cell(cell_id: str, source: str, nbgrader: dict[str, Any]) -> dict[str, Any]:
        return {
            "cell_type": "code",
            "id": cell_id,
            "metadata": {"nbgrader": {"schema_version": 3, "grade_id": cell_id, **nbgrader}},
            "execution_count": None,
            "outputs": [],
            "source": source,
        }

    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        },
        "cells": [
            cell(CODE_ANSWER_ID, solution, {"grade": False, "solution": True, "locked": False}),
            cell(
                CODE_TESTS_ID,
                tests,
                {"grade": True, "solution": False, "locked": True, "points": 1},
            ),
        ],
    }


def check_question(fields: dict[str, Any]) -> dict[str, Any]:
    """The stored form of a question (columns and ``spec``), or QuizError saying what is
    wrong with it."""
    try:
        kind = QuestionKind(str(fields.get("kind", "")).upper())
    except ValueError:
        kinds = ", ".join(k.value for k in QuestionKind)
        raise QuizError(f"kind must be one of {kinds}.") from None
    prompt = text_field(fields, "prompt", required=True)
    spec: dict[str, Any]
    if kind in (QuestionKind.SINGLE_CHOICE, QuestionKind.MULTIPLE_CHOICE):
        spec = _choices(fields, kind)
    elif kind is QuestionKind.TRUE_FALSE:
        spec = _true_false(fields)
    elif kind is QuestionKind.FILL_IN:
        spec = _fill_in(fields)
    elif kind is QuestionKind.ESSAY:
        spec = {"guidance": text_field(fields, "guidance")}
    else:
        spec = _code(fields)
    title = text_field(fields, "title", limit=200) or _title_from(prompt)
    points = fields.get("points", 1)
    return {
        "kind": kind,
        "title": title,
        "prompt": prompt,
        "explanation": text_field(fields, "explanation"),
        "points": number_field(points, "points", low=0.01, high=1000),
        "tags": clean_tags(fields.get("tags")),
        "spec": spec,
    }


def _title_from(prompt: str) -> str:
    line = next((line for line in prompt.splitlines() if line.strip()), "")
    line = line.strip().lstrip("#").strip()
    return line if len(line) <= 80 else line[:79] + "…"


# -- the bank ------------------------------------------------------------------------------------


async def create_question(
    session: AsyncSession, course: Course, author: Account | None, fields: dict[str, Any]
) -> QuizQuestion:
    checked = check_question(fields)
    first = await _check_generator(checked["spec"])
    question = QuizQuestion(
        course_id=course.id, created_by_id=author.id if author else None, **checked
    )
    session.add(question)
    await session.flush()
    await _start_variants(session, question, first)
    return question


async def _check_generator(spec: dict[str, Any]) -> calculated_questions.Variant | None:
    """A calculated question's generator run once (refused with the failing cell named);
    its variant."""
    if not calculated_questions.is_calculated(spec):
        return None
    return await calculated_questions.check_generator(spec)


async def _start_variants(
    session: AsyncSession, question: QuizQuestion, first: calculated_questions.Variant | None
) -> None:
    if first is None:
        return
    calculated_questions.store(session, question, first)
    await session.flush()
    await defer(
        session,
        calculated_questions.MAKE_VARIANTS_TASK,
        NOTEBOOK_RUNS_QUEUE,
        question_id=question.id,
    )


async def update_question(
    session: AsyncSession, question: QuizQuestion, fields: dict[str, Any]
) -> QuizQuestion:
    """Change some fields; the rest stay. Attempts already started keep the question as it
    was when they drew it."""
    merged = {**question_json(question), **fields}
    if "kind" in fields and fields["kind"] != question.kind.value:
        # A new kind brings its own fields; the old kind's answer fields do not carry over.
        merged = {key: merged[key] for key in COMMON_FIELDS if key in merged} | fields
    checked = check_question(merged)
    old_hash = (question.spec or {}).get("generator_hash")
    first = None
    if checked["spec"].get("generator_hash") != old_hash:
        first = await _check_generator(checked["spec"])
    for name, value in checked.items():
        setattr(question, name, value)
    question.updated_at = utcnow()
    await session.flush()
    await _start_variants(session, question, first)
    return question


async def delete_question(session: AsyncSession, question: QuizQuestion) -> None:
    used = await session.scalar(
        select(func.count(QuizSlot.id)).where(QuizSlot.question_id == question.id)
    )
    if used:
        raise QuizError(
            "This question is in a quiz; remove it from the quiz first (attempts already taken "
            "keep their copy either way).",
            409,
        )
    await session.delete(question)
    await session.flush()


async def question_in_course(
    session: AsyncSession, course: Course, question_id: int
) -> QuizQuestion:
    question = await session.get(QuizQuestion, question_id)
    if question is None or question.course_id != course.id:
        raise QuizError("This course's bank has no such question; check the address.", 404)
    return question


async def bank(session: AsyncSession, course: Course, tag: str | None = None) -> list[QuizQuestion]:
    query = select(QuizQuestion).where(QuizQuestion.course_id == course.id)
    if tag:
        query = query.where(QuizQuestion.tags.contains([tag.strip().lower()]))
    return list(await session.scalars(query.order_by(QuizQuestion.id)))


async def tag_counts(session: AsyncSession, course_id: int) -> dict[str, int]:
    """How many bank questions carry each tag (for draws)."""
    tag = func.unnest(QuizQuestion.tags).label("tag")
    inner = select(tag).where(QuizQuestion.course_id == course_id).subquery()
    rows = await session.execute(
        select(inner.c.tag, func.count()).group_by(inner.c.tag).order_by(inner.c.tag)
    )
    return {name: count for name, count in rows}


# -- showing questions -------------------------------------------------------------------------

COMMON_FIELDS = ("kind", "title", "prompt", "explanation", "points", "tags")


def answer_fields(kind: QuestionKind, spec: dict[str, Any]) -> dict[str, Any]:
    """The kind's own fields, in the form ``check_question`` takes (staff only)."""
    if kind in (QuestionKind.SINGLE_CHOICE, QuestionKind.MULTIPLE_CHOICE):
        correct = set(spec["correct"])
        choices = [{**choice, "correct": choice["id"] in correct} for choice in spec["choices"]]
        return {"choices": choices, "shuffle": spec.get("shuffle", False)}
    if kind is QuestionKind.TRUE_FALSE:
        return {"correct": spec["correct"]}
    if kind is QuestionKind.FILL_IN and calculated_questions.is_calculated(spec):
        return {
            "generator": spec["generator"],
            "abs_tol": spec.get("abs_tol", 0),
            "rel_tol": spec.get("rel_tol", 0),
        }
    if kind is QuestionKind.FILL_IN:
        return {"answers": spec["answers"], "display": spec.get("display", "")}
    if kind is QuestionKind.ESSAY:
        return {"guidance": spec.get("guidance", "")}
    return {"solution": spec["solution"], "tests": spec["tests"], "starter": spec["starter"]}


def question_json(question: QuizQuestion) -> dict[str, Any]:
    """Everything about a bank question, for staff."""
    return {
        "id": question.id,
        "kind": question.kind.value,
        "title": question.title,
        "prompt": question.prompt,
        "explanation": question.explanation,
        "points": question.points,
        "tags": list(question.tags),
        **answer_fields(question.kind, question.spec),
    }


def snapshot(question: QuizQuestion) -> dict[str, Any]:
    """The copy an attempt keeps of a question it drew."""
    return {
        "title": question.title,
        "prompt": question.prompt,
        "explanation": question.explanation,
        "spec": question.spec,
    }


def student_question(kind: QuestionKind, copy: dict[str, Any], points: float) -> dict[str, Any]:
    """A drawn question as a student may see it before submitting: the prompt and what to
    choose from, never the right choices, accepted answers, patterns, tolerances or tests."""
    body: dict[str, Any] = {
        "kind": kind.value,
        "title": copy["title"],
        "prompt_html": to_safe_html(copy["prompt"]),
        "points": points,
    }
    spec = copy["spec"]
    if kind in (QuestionKind.SINGLE_CHOICE, QuestionKind.MULTIPLE_CHOICE):
        body["choices"] = [
            {"id": choice["id"], "html": to_safe_html(choice["text"])} for choice in spec["choices"]
        ]
    if kind is QuestionKind.CODE:
        body["starter"] = spec["starter"]
    return body
