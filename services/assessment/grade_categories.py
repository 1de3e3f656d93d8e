"""Grade categories of a course and the rule that weighs them into a course grade.

Staff group a course's assessments (assignments, quizzes) into categories with a weight (a
percentage of the course grade) and, optionally, a number of each student's lowest scores
that do not count ("drop lowest N").

The weighted total, as a percentage, is computed per student from what is graded so far:

- an item counts when it has a score (its best graded attempt, after the late penalty);
  items not submitted or still waiting for their first grade do not count yet, neither for
  nor against the student (Canvas calls this the "current score");
- per category: the ``drop_lowest`` counted items with the lowest percentage are left out
  (on a tie, the one worth more points), always keeping at least one; the category's
  percentage is points earned / points possible over the items left;
- assessments in no category form an implicit "Other" category whose weight is what the
  categories leave of 100 % (nothing, when their weights add up to 100 % or more);
- the total is the sum of weight times category percentage over the categories that have
  at least one counted item, divided by the sum of those categories' weights
  (renormalised), so a category with nothing graded yet neither lowers nor raises it.

A course without categories is unweighted: its total is the plain sum of points.

Functions take an ``AsyncSession`` and leave committing to the caller; refusals raise
``AssignmentError`` with a sentence to show and the HTTP status.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.assessment.assignments import AssignmentError
from coursehub.services.models import Assignment, Course, GradeCategory, Quiz, QuizCategory

MAX_NAME = 100
MAX_ROW_ID = 2**31 - 1
MAX_DROP = 100
OTHER = "Other"


# -- the weighting rule ----------------------------------------------------------------------


@dataclass(frozen=True)
class Weight:
    """A category as the weighting rule needs it; ``id`` None is the implicit "Other"."""

    id: int | None
    name: str
    weight: float
    drop_lowest: int = 0


@dataclass(frozen=True)
class Counted:
    """One graded item of one student: its column key, category, points earned and possible."""

    key: str
    category_id: int | None
    earned: float
    possible: float


@dataclass(frozen=True)
class CategoryScore:
    category: Weight
    earned: float
    possible: float
    dropped: frozenset[str]

    @property
    def percent(self) -> float | None:
        if self.possible <= 0:
            return None
        return round(self.earned / self.possible * 100, 2)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.category.id,
            "name": self.category.name,
            "weight": self.category.weight,
            "earned": round(self.earned, 4),
            "possible": round(self.possible, 4),
            "percent": self.percent,
            "dropped": sorted(self.dropped),
        }


def weights(categories: Iterable[GradeCategory], *, uncategorised: bool) -> list[Weight]:
    """The course's categories for the rule, plus "Other" when some item has no category."""
    found = [Weight(c.id, c.name, c.weight, c.drop_lowest) for c in categories]
    if found and uncategorised:
        found.append(Weight(None, OTHER, max(0.0, round(100 - sum(w.weight for w in found), 4))))
    return found


def _dropped(items: list[Counted], count: int) -> frozenset[str]:
    count = min(count, len(items) - 1)
    if count <= 0:
        return frozenset()
    lowest = sorted(items, key=lambda item: (item.earned / item.possible, -item.possible, item.key))
    return frozenset(item.key for item in lowest[:count])


def category_scores(categories: list[Weight], items: Iterable[Counted]) -> list[CategoryScore]:
    """Each category's points over the items counted (see the module's docstring)."""
    known = {category.id for category in categories}
    grouped: dict[int | None, list[Counted]] = {category.id: [] for category in categories}
    for item in items:
        if item.possible > 0:
            grouped[item.category_id if item.category_id in known else None].append(item)
    scores = []
    for category in categories:
        counted = grouped.get(category.id, [])
        dropped = _dropped(counted, category.drop_lowest)
        kept = [item for item in counted if item.key not in dropped]
        scores.append(
            CategoryScore(
                category,
                sum(item.earned for item in kept),
                sum(item.possible for item in kept),
                dropped,
            )
        )
    return scores


def weighted_percent(scores: list[CategoryScore]) -> float | None:
    """The course grade so far in percent, or None while no weighted category has a grade."""
    graded = [s for s in scores if s.possible > 0 and s.category.weight > 0]
    total_weight = sum(s.category.weight for s in graded)
    if total_weight <= 0:
        return None
    weighted = sum(s.category.weight * s.earned / s.possible for s in graded)
    return round(weighted / total_weight * 100, 2)


# -- reading ---------------------------------------------------------------------------------


async def course_categories(session: AsyncSession, course: Course) -> list[GradeCategory]:
    return list(
        await session.scalars(
            select(GradeCategory)
            .where(GradeCategory.course_id == course.id)
            .order_by(GradeCategory.position, GradeCategory.id)
        )
    )


async def category_in_course(
    session: AsyncSession, course: Course, category_id: int
) -> GradeCategory:
    category = await session.get(GradeCategory, category_id)
    if category is None or category.course_id != course.id:
        raise AssignmentError(
            "This course has no such grade category; list them at …/grade-categories.", 404
        )
    return category


async def members(session: AsyncSession, course: Course) -> dict[int, dict[str, list[int]]]:
    """The assignment and quiz ids of each category of ``course``."""
    found: dict[int, dict[str, list[int]]] = {}
    rows = await session.execute(
        select(Assignment.category_id, Assignment.id)
        .where(Assignment.course_id == course.id, Assignment.category_id.is_not(None))
        .order_by(Assignment.id)
    )
    for category_id, assignment_id in rows:
        found.setdefault(category_id, {"assignments": [], "quizzes": []})
        found[category_id]["assignments"].append(assignment_id)
    rows = await session.execute(
        select(QuizCategory.category_id, QuizCategory.quiz_id)
        .join(Quiz, Quiz.id == QuizCategory.quiz_id)
        .where(Quiz.course_id == course.id)
        .order_by(QuizCategory.quiz_id)
    )
    for category_id, quiz_id in rows:
        found.setdefault(category_id, {"assignments": [], "quizzes": []})
        found[category_id]["quizzes"].append(quiz_id)
    return found


async def quiz_categories(session: AsyncSession, quiz_ids: list[int]) -> dict[int, int]:
    rows = await session.execute(
        select(QuizCategory.quiz_id, QuizCategory.category_id).where(
            QuizCategory.quiz_id.in_(quiz_ids)
        )
    )
    return {quiz_id: category_id for quiz_id, category_id in rows}


def category_json(
    category: GradeCategory, items: dict[str, list[int]] | None = None
) -> dict[str, Any]:
    items = items or {}
    return {
        "id": category.id,
        "name": category.name,
        "weight": category.weight,
        "drop_lowest": category.drop_lowest,
        "position": category.position,
        "assignment_ids": items.get("assignments", []),
        "quiz_ids": items.get("quizzes", []),
    }


# -- changing --------------------------------------------------------------------------------


def _name(value: Any) -> str:
    name = str(value or "").strip() if isinstance(value, str) else ""
    if not name or len(name) > MAX_NAME:
        raise AssignmentError(f"Give the category a name of 1 to {MAX_NAME} characters.")
    return name


def _weight(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
        raise AssignmentError(
            "weight is the category's share of the course grade: a number from 0 to 100."
        )
    return float(value)


def _whole(value: Any, name: str, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
        raise AssignmentError(f"{name} must be a whole number from 0 to {high}.")
    return value


def _ids(value: Any, name: str) -> list[int]:
    if not isinstance(value, list) or not all(
        isinstance(item, int) and not isinstance(item, bool) and 0 < item <= MAX_ROW_ID
        for item in value
    ):
        raise AssignmentError(f"{name} must be a list of ids, for example [3, 5].")
    return sorted(set(value))


def _apply(category: GradeCategory, fields: dict[str, Any]) -> None:
    if "name" in fields:
        category.name = _name(fields["name"])
    if "weight" in fields:
        category.weight = _weight(fields["weight"])
    if "drop_lowest" in fields:
        category.drop_lowest = _whole(fields["drop_lowest"], "drop_lowest", MAX_DROP)
    if "position" in fields:
        category.position = _whole(fields["position"], "position", 10_000)


async def _flush(session: AsyncSession, category: GradeCategory) -> None:
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise AssignmentError(
            f"This course has a category called {category.name!r} already; pick another name.",
            409,
        ) from None


async def create_category(
    session: AsyncSession, course: Course, fields: dict[str, Any]
) -> GradeCategory:
    """A new category from ``name``, ``weight`` and optional ``drop_lowest``, ``position``,
    ``assignment_ids`` and ``quiz_ids`` (the items to put in it)."""
    if "name" not in fields or "weight" not in fields:
        raise AssignmentError("A category needs its name and its weight (0 to 100).")
    last = await session.scalar(
        select(func.max(GradeCategory.position)).where(GradeCategory.course_id == course.id)
    )
    category = GradeCategory(course_id=course.id, position=(last or 0) + 1, drop_lowest=0)
    _apply(category, fields)
    session.add(category)
    await _flush(session, category)
    await place_members(session, course, category, fields)
    return category


async def update_category(
    session: AsyncSession, course: Course, category: GradeCategory, fields: dict[str, Any]
) -> GradeCategory:
    """Change what ``fields`` names; ``assignment_ids``/``quiz_ids`` replace its items."""
    _apply(category, fields)
    await _flush(session, category)
    await place_members(session, course, category, fields)
    return category


async def delete_category(session: AsyncSession, category: GradeCategory) -> None:
    """Its assessments become uncategorised (they stay in the gradebook)."""
    await session.execute(
        update(Assignment).where(Assignment.category_id == category.id).values(category_id=None)
    )
    await session.delete(category)
    await session.flush()


async def _check_in_course(
    session: AsyncSession, course: Course, model: type[Assignment] | type[Quiz], ids: list[int]
) -> None:
    if not ids:
        return
    found = set(
        await session.scalars(
            select(model.id).where(model.id.in_(ids), model.course_id == course.id)
        )
    )
    strangers = [str(item) for item in ids if item not in found]
    if strangers:
        kind = "assignment" if model is Assignment else "quiz"
        raise AssignmentError(
            f"This course has no {kind} with id {', '.join(strangers)}; check the ids.", 400
        )


async def place_members(
    session: AsyncSession, course: Course, category: GradeCategory, fields: dict[str, Any]
) -> None:
    """Make the listed assignments/quizzes exactly the category's ones (for each list given);
    items left out become uncategorised, items taken from another category move."""
    if "assignment_ids" in fields:
        wanted = _ids(fields["assignment_ids"], "assignment_ids")
        await _check_in_course(session, course, Assignment, wanted)
        await session.execute(
            update(Assignment)
            .where(Assignment.category_id == category.id, Assignment.id.not_in(wanted))
            .values(category_id=None)
        )
        await place(session, course, "assignment", wanted, category.id)
    if "quiz_ids" in fields:
        wanted = _ids(fields["quiz_ids"], "quiz_ids")
        await _check_in_course(session, course, Quiz, wanted)
        await session.execute(
            delete(QuizCategory).where(
                QuizCategory.category_id == category.id, QuizCategory.quiz_id.not_in(wanted)
            )
        )
        await place(session, course, "quiz", wanted, category.id)


async def place(
    session: AsyncSession, course: Course, kind: str, ids: list[int], category_id: int | None
) -> None:
    """Put the ``kind`` ("assignment" or "quiz") items ``ids`` of ``course`` in a category
    (None: no category). The caller checked that the category is the course's."""
    if not ids:
        return
    if kind == "assignment":
        await session.execute(
            update(Assignment)
            .where(Assignment.id.in_(ids), Assignment.course_id == course.id)
            .values(category_id=category_id)
        )
        return
    in_course = select(Quiz.id).where(Quiz.id.in_(ids), Quiz.course_id == course.id)
    if category_id is None:
        await session.execute(delete(QuizCategory).where(QuizCategory.quiz_id.in_(in_course)))
        return
    for quiz_id in await session.scalars(in_course):
        await session.execute(
            insert(QuizCategory)
            .values(quiz_id=quiz_id, category_id=category_id)
            .on_conflict_do_update(index_elements=["quiz_id"], set_={"category_id": category_id})
        )
