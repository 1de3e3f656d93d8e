"""Rubrics of grade cells and a course's comment bank, for the people who may grade it.

- ``GET …/assignments/<id>/rubric?grade_id=…`` and ``POST`` (``grade_id``, ``label``,
  ``points``, optional ``position``): a grade cell's rubric items
- ``PATCH``/``DELETE …/assignments/<id>/rubric/<item id>``: answers with the item ticked
  are rescored (an audit entry each)
- ``GET``/``POST /api/courses/<slug>/grading/comments`` (``text``) and
  ``DELETE …/grading/comments/<id>``: the comment bank
"""

from __future__ import annotations

from typing import Any

from coursehub.services.assessment import manual_grading, rubrics
from coursehub.services.assessment.handlers.grading import GradingHandler
from coursehub.services.web.teach_base import row_id


class RubricAPI(GradingHandler):
    async def get(self, slug: str, assignment_id: str) -> None:
        grade_id = self.get_argument("grade_id", None)
        async with self.db(read_only=True) as session:
            _, _, assignment = await self.grading_assignment(session, slug, assignment_id)
            if grade_id is not None:
                rubrics.grade_cell(assignment, grade_id)
            items = await rubrics.rubric_items(session, assignment, grade_id)
        self.write_json({"items": [rubrics.item_json(item) for item in items]})

    async def post(self, slug: str, assignment_id: str) -> None:
        fields = self.json_body()
        async with self.db() as session:
            account, _, assignment = await self.grading_assignment(session, slug, assignment_id)
            item = await rubrics.add_item(
                session, assignment, str(fields.get("grade_id") or ""), fields, account
            )
            await session.commit()
        self.write_json(rubrics.item_json(item), 201)


class RubricItemAPI(GradingHandler):
    async def patch(self, slug: str, assignment_id: str, item_id: str) -> None:
        fields = self.json_body()
        async with self.db() as session:
            account, _, assignment = await self.grading_assignment(session, slug, assignment_id)
            item, changed = await rubrics.update_item(session, assignment, row_id(item_id), fields)
            why = f"Rubric item {item.label!r} now gives {item.points:g} points."
            await manual_grading.rescore(session, assignment, changed, account, why)
            await session.commit()
        self.write_json({**rubrics.item_json(item), "rescored": len(changed)})

    async def delete(self, slug: str, assignment_id: str, item_id: str) -> None:
        async with self.db() as session:
            account, _, assignment = await self.grading_assignment(session, slug, assignment_id)
            item = await rubrics.item_of(session, assignment, row_id(item_id))
            why = f"Rubric item {item.label!r} was deleted."
            changed = await rubrics.delete_item(session, assignment, item.id)
            await manual_grading.rescore(session, assignment, changed, account, why)
            await session.commit()
        self.set_status(204)
        self.finish()


class CommentBankAPI(GradingHandler):
    async def get(self, slug: str) -> None:
        async with self.db(read_only=True) as session:
            _, course = await self.grading_course(session, slug)
            bank = await rubrics.comment_bank(session, course)
        self.write_json({"comments": [rubrics.comment_json(entry) for entry in bank]})

    async def post(self, slug: str) -> None:
        fields = self.json_body()
        async with self.db() as session:
            account, course = await self.grading_course(session, slug)
            entry, created = await rubrics.add_comment(session, course, fields.get("text"), account)
            await session.commit()
        self.write_json(rubrics.comment_json(entry), 201 if created else 200)


class BankedCommentAPI(GradingHandler):
    async def delete(self, slug: str, comment_id: str) -> None:
        async with self.db() as session:
            _, course = await self.grading_course(session, slug)
            await rubrics.delete_comment(session, course, row_id(comment_id))
            await session.commit()
        self.set_status(204)
        self.finish()


def default_handlers(prefix: str) -> list[tuple[str, Any]]:
    api = rf"{prefix}/api/courses/([^/]+)"
    return [
        (rf"{api}/assignments/(\d+)/rubric", RubricAPI),
        (rf"{api}/assignments/(\d+)/rubric/(\d+)", RubricItemAPI),
        (rf"{api}/grading/comments", CommentBankAPI),
        (rf"{api}/grading/comments/(\d+)", BankedCommentAPI),
    ]
