"""Quizzes written as Jupyter notebooks: reading one into bank questions and a quiz.

The format. Each question is a markdown cell whose text is the prompt and whose metadata
carries the rest under ``coursehub.question`` (the fields of
``coursehub.services.quizzes.quiz_questions``, without ``prompt``)::

    {"coursehub": {"question": {"kind": "MULTIPLE_CHOICE", "points": 2, "tags": ["loops"],
                                "explanation": "Shown after submitting."}}}

- Choice questions may list their choices in the metadata (``choices``) or end the prompt
  with a task list, which is then taken out of the prompt: ``- [x] right`` / ``- [ ] wrong``.
- A CODE question's markdown cell is followed by the instructor's nbgrader solution cell
  ("Autograded answer") and then an nbgrader autograder test cell ("Autograder tests",
  hidden tests allowed); its points default to the test cell's points.
- A markdown cell with ``coursehub.draw`` = ``{"tag": "loops", "count": 2, "points": 1}``
  is a slot that draws that many questions tagged ``loops`` from the course's bank.
- The notebook's ``metadata.coursehub.quiz`` may hold ``title``, ``time_limit_minutes``,
  ``max_attempts`` and ``show_answers`` (when students see the correct answers, as the quiz
  setting); markdown cells before the first question become the description.

A notebook that does not follow the format is refused with a sentence naming the cell.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.models import Account, Course, Quiz
from coursehub.services.quizzes import quizzes
from coursehub.services.quizzes.quiz_questions import QuizError, check_question, create_question

TASK_ITEM = re.compile(r"^\s*[-*]\s+\[([ xX])\]\s+(.+?)\s*$")
CHOICE_KINDS = ("SINGLE_CHOICE", "MULTIPLE_CHOICE")


@dataclass
class QuizPlan:
    """What a notebook describes: settings and slots in order, each slot either a question's
    fields or a draw."""

    settings: dict[str, Any]
    description: list[str] = field(default_factory=list)
    slots: list[dict[str, Any]] = field(default_factory=list)


def _source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _where(index: int, cell: dict[str, Any]) -> str:
    cell_id = cell.get("id")
    return f"Cell {index + 1}" + (f" (id {cell_id!r})" if cell_id else "")


def _coursehub_meta(index: int, cell: dict[str, Any]) -> dict[str, Any]:
    meta = cell.get("metadata", {}).get("coursehub", {})
    if not isinstance(meta, dict):
        raise QuizError(
            f"{_where(index, cell)}: metadata.coursehub must be an object with a question or "
            "draw in it."
        )
    return meta


def _task_list(prompt: str) -> tuple[str, list[dict[str, Any]]]:
    """Split a prompt ending in a markdown task list into the prompt and its choices."""
    lines = prompt.rstrip().splitlines()
    choices: list[dict[str, Any]] = []
    while lines and (match := TASK_ITEM.match(lines[-1])):
        choices.insert(0, {"text": match.group(2), "correct": match.group(1) != " "})
        lines.pop()
    return "\n".join(lines).rstrip(), choices


def _nbgrader(cell: dict[str, Any] | None) -> dict[str, Any]:
    meta = (cell or {}).get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def _code_cells(cells: list[dict[str, Any]], index: int, fields: dict[str, Any]) -> int:
    """Take a code question's solution and test cells (after cell ``index``) into
    ``fields``; returns how many cells they were."""
    solution = cells[index + 1] if index + 1 < len(cells) else None
    tests = cells[index + 2] if index + 2 < len(cells) else None
    solution_meta, tests_meta = _nbgrader(solution), _nbgrader(tests)
    if not (solution and solution.get("cell_type") == "code" and solution_meta.get("solution")):
        raise QuizError(
            f"{_where(index, cells[index])}: a code question must be followed by an nbgrader "
            "solution cell (Autograded answer) and then an autograder test cell."
        )
    if not (tests and tests.get("cell_type") == "code" and tests_meta.get("grade")):
        raise QuizError(
            f"{_where(index + 1, solution)}: the solution cell must be followed by an nbgrader "
            "autograder test cell (Autograder tests) with the question's tests."
        )
    fields["solution"] = _source(solution)
    fields["tests"] = _source(tests)
    if "points" not in fields and isinstance(tests_meta.get("points"), int | float):
        fields["points"] = tests_meta["points"]
    return 2


def _question(cells: list[dict[str, Any]], index: int, meta: Any) -> tuple[dict[str, Any], int]:
    """One question's fields from its markdown cell (and, for code, the cells after it)."""
    cell = cells[index]
    where = _where(index, cell)
    if not isinstance(meta, dict):
        raise QuizError(f"{where}: metadata.coursehub.question must be an object with a kind.")
    if cell.get("cell_type") != "markdown":
        raise QuizError(f"{where}: put question metadata on the markdown cell with the prompt.")
    fields = {**meta, "prompt": _source(cell)}
    used = 1
    kind = str(fields.get("kind", "")).upper()
    if kind in CHOICE_KINDS and "choices" not in fields:
        fields["prompt"], fields["choices"] = _task_list(fields["prompt"])
    if kind == "CODE":
        used += _code_cells(cells, index, fields)
    try:
        check_question(fields)
    except QuizError as error:
        raise QuizError(f"{where}: {error.message}") from None
    return fields, used


def _draw(index: int, cell: dict[str, Any], meta: Any) -> dict[str, Any]:
    where = _where(index, cell)
    if not isinstance(meta, dict) or not isinstance(meta.get("tag"), str):
        raise QuizError(f"{where}: coursehub.draw must be an object with a tag and a count.")
    try:
        return quizzes.check_draw(meta)
    except QuizError as error:
        raise QuizError(f"{where}: {error.message}") from None


def read_quiz_notebook(data: bytes) -> QuizPlan:
    """The quiz a notebook describes, or QuizError with a sentence naming the cell."""
    from coursehub.graders.assignment_notebooks import InvalidNotebook, parse_notebook

    try:
        notebook = parse_notebook(data, "quiz notebook")
    except InvalidNotebook as error:
        raise QuizError(str(error)) from None
    settings = notebook.metadata.get("coursehub", {}).get("quiz", {})
    plan = QuizPlan(settings=dict(settings) if isinstance(settings, dict) else {})
    cells = [dict(cell) for cell in notebook.cells]
    index = 0
    while index < len(cells):
        cell = cells[index]
        meta = _coursehub_meta(index, cell)
        if "question" in meta:
            fields, used = _question(cells, index, meta["question"])
            plan.slots.append({"question": fields})
            index += used
            continue
        if "draw" in meta:
            plan.slots.append({"draw": _draw(index, cell, meta["draw"])})
        elif cell.get("cell_type") == "markdown" and not plan.slots and _source(cell).strip():
            plan.description.append(_source(cell).strip())
        index += 1
    if not any("question" in slot for slot in plan.slots):
        raise QuizError(
            "The notebook has no questions: mark each question's markdown cell with "
            "metadata.coursehub.question (see the quiz notebook format)."
        )
    return plan


async def import_quiz(
    session: AsyncSession, course: Course, author: Account, data: bytes, *, title: str = ""
) -> Quiz:
    """A new unpublished quiz and its questions, added to the course's bank."""
    plan = read_quiz_notebook(data)
    settings = {
        key: plan.settings[key]
        for key in ("time_limit_minutes", "max_attempts", "show_answers", "description")
        if key in plan.settings
    }
    settings.setdefault("description", "\n\n".join(plan.description))
    quiz = await quizzes.create_quiz(
        session,
        course,
        author,
        {**settings, "title": title or plan.settings.get("title") or "Untitled quiz"},
    )
    for slot in plan.slots:
        if "question" in slot:
            question = await create_question(session, course, author, slot["question"])
            await quizzes.add_slot(session, quiz, {"question_id": question.id})
        else:
            await quizzes.add_slot(session, quiz, slot["draw"])
    return quiz
