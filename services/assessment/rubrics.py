"""Rubrics and the comment bank: what graders reuse from answer to answer.

A rubric belongs to one grade cell of an assignment: items with a label and points (negative
points take off). An answer's score from its rubric is the sum of the items ticked, kept
within 0 and the cell's points. The comment bank belongs to a course: sentences graders
insert into comments, saved from a comment they just wrote.

Changing or deleting an item changes the scores of answers that have it ticked; this module
says which ones (``manual_grading.rescore`` recomputes them with an audit entry).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.assessment.assignments import AssignmentError
from coursehub.services.models import (
    Account,
    Assignment,
    Course,
    ManualScore,
    ReusableComment,
    RubricApplication,
    RubricItem,
)

MAX_LABEL = 300
MAX_COMMENT = 5000
MAX_ABS_POINTS = 10_000


def grade_cell(assignment: Assignment, grade_id: str) -> dict[str, Any]:
    """The assignment's grade cell ``grade_id`` (grade_id, kind, max_points), or 404."""
    for cell in assignment.grade_cells:
        if cell.get("grade_id") == grade_id:
            return cell
    raise AssignmentError(
        f"The assignment has no grade cell {grade_id!r}; pick one from its list of questions.",
        404,
    )


def rubric_score(points: list[float], max_points: float) -> float:
    """The ticked items' sum, kept within 0 and the cell's points."""
    return round(min(max(sum(points), 0.0), max_points), 4)


def _label(value: Any) -> str:
    label = str(value or "").strip()
    if not label or len(label) > MAX_LABEL:
        raise AssignmentError(f"Give the rubric item a label of 1 to {MAX_LABEL} characters.")
    return label


def _points(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AssignmentError(
            "A rubric item's points must be a number: positive adds, negative takes off."
        )
    if abs(value) > MAX_ABS_POINTS:
        raise AssignmentError(f"A rubric item's points must be within ±{MAX_ABS_POINTS}.")
    return round(float(value), 4)


async def rubric_items(
    session: AsyncSession, assignment: Assignment, grade_id: str | None = None
) -> list[RubricItem]:
    query = select(RubricItem).where(RubricItem.assignment_id == assignment.id)
    if grade_id is not None:
        query = query.where(RubricItem.grade_id == grade_id)
    return list(await session.scalars(query.order_by(RubricItem.position, RubricItem.id)))


async def add_item(
    session: AsyncSession,
    assignment: Assignment,
    grade_id: str,
    fields: dict[str, Any],
    author: Account,
) -> RubricItem:
    grade_cell(assignment, grade_id)
    last = await session.scalar(
        select(func.max(RubricItem.position)).where(
            RubricItem.assignment_id == assignment.id, RubricItem.grade_id == grade_id
        )
    )
    position = fields.get("position")
    item = RubricItem(
        assignment_id=assignment.id,
        grade_id=grade_id,
        label=_label(fields.get("label")),
        points=_points(fields.get("points")),
        position=position if isinstance(position, int) else (last or 0) + 1,
        created_by_id=author.id,
    )
    session.add(item)
    await session.flush()
    return item


async def item_of(session: AsyncSession, assignment: Assignment, item_id: int) -> RubricItem:
    item = await session.get(RubricItem, item_id)
    if item is None or item.assignment_id != assignment.id:
        raise AssignmentError("This assignment has no such rubric item.", 404)
    return item


async def answers_with(session: AsyncSession, item_id: int) -> list[int]:
    """Ids of the manual scores that have the item ticked."""
    rows = await session.scalars(
        select(RubricApplication.manual_score_id).where(RubricApplication.rubric_item_id == item_id)
    )
    return list(rows)


async def update_item(
    session: AsyncSession, assignment: Assignment, item_id: int, fields: dict[str, Any]
) -> tuple[RubricItem, list[int]]:
    """Change label, points or position; returns the item and the answers to rescore."""
    item = await item_of(session, assignment, item_id)
    if "label" in fields:
        item.label = _label(fields["label"])
    if "position" in fields:
        if isinstance(fields["position"], bool) or not isinstance(fields["position"], int):
            raise AssignmentError("position must be a whole number.")
        item.position = fields["position"]
    changed: list[int] = []
    if "points" in fields and _points(fields["points"]) != item.points:
        item.points = _points(fields["points"])
        changed = await answers_with(session, item.id)
    await session.flush()
    return item, changed


async def delete_item(session: AsyncSession, assignment: Assignment, item_id: int) -> list[int]:
    """Delete an item (it is unticked everywhere); returns the answers to rescore."""
    item = await item_of(session, assignment, item_id)
    changed = await answers_with(session, item.id)
    await session.delete(item)
    await session.flush()
    return changed


async def applied_items(session: AsyncSession, manual_score_id: int) -> list[RubricItem]:
    return list(
        await session.scalars(
            select(RubricItem)
            .join(RubricApplication, RubricApplication.rubric_item_id == RubricItem.id)
            .where(RubricApplication.manual_score_id == manual_score_id)
            .order_by(RubricItem.position, RubricItem.id)
        )
    )


async def apply_items(
    session: AsyncSession, assignment: Assignment, answer: ManualScore, item_ids: Any
) -> list[RubricItem]:
    """Tick exactly ``item_ids`` (items of the answer's own grade cell) for ``answer``."""
    if not isinstance(item_ids, list) or not all(
        isinstance(i, int) and not isinstance(i, bool) for i in item_ids
    ):
        raise AssignmentError("rubric_item_ids must be a list of rubric item ids.")
    wanted = set(item_ids)
    items = [i for i in await rubric_items(session, assignment, answer.grade_id) if i.id in wanted]
    if len(items) != len(wanted):
        raise AssignmentError(
            "Some of those rubric items are not in this question's rubric; reload the page."
        )
    await session.execute(
        delete(RubricApplication).where(RubricApplication.manual_score_id == answer.id)
    )
    session.add_all(
        RubricApplication(manual_score_id=answer.id, rubric_item_id=i.id) for i in items
    )
    await session.flush()
    return items


def item_json(item: RubricItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "grade_id": item.grade_id,
        "label": item.label,
        "points": item.points,
        "position": item.position,
    }


# -- the comment bank ------------------------------------------------------------------------


def clean_comment(value: Any) -> str:
    if not isinstance(value, str):
        raise AssignmentError("A comment must be text.")
    text = value.strip()
    if len(text) > MAX_COMMENT:
        raise AssignmentError(f"Keep a comment under {MAX_COMMENT} characters.")
    return text


async def comment_bank(session: AsyncSession, course: Course) -> list[ReusableComment]:
    return list(
        await session.scalars(
            select(ReusableComment)
            .where(ReusableComment.course_id == course.id)
            .order_by(ReusableComment.text)
        )
    )


async def add_comment(
    session: AsyncSession, course: Course, text: Any, author: Account
) -> tuple[ReusableComment, bool]:
    """Save a reusable comment; the same text twice is one entry. (entry, newly added)"""
    cleaned = clean_comment(text)
    if not cleaned:
        raise AssignmentError("Write the comment first, then save it to the comment bank.")
    same = await session.scalar(
        select(ReusableComment).where(
            ReusableComment.course_id == course.id, ReusableComment.text == cleaned
        )
    )
    if same is not None:
        return same, False
    entry = ReusableComment(course_id=course.id, text=cleaned, created_by_id=author.id)
    session.add(entry)
    await session.flush()
    return entry, True


async def delete_comment(session: AsyncSession, course: Course, comment_id: int) -> None:
    removed = await session.scalar(
        delete(ReusableComment)
        .where(ReusableComment.id == comment_id, ReusableComment.course_id == course.id)
        .returning(ReusableComment.id)
    )
    if removed is None:
        raise AssignmentError("The comment bank has no such comment.", 404)


def comment_json(entry: ReusableComment) -> dict[str, Any]:
    return {"id": entry.id, "text": entry.text, "created_at": entry.created_at}
