"""The variant rule of an assignment and every student's recorded values (course staff)."""

from __future__ import annotations

from typing import Any

from tornado import web

from coursehub.services.assessment.handlers.assignments import AssignmentsHandler
from coursehub.services.variants import records


class VariantsAPI(AssignmentsHandler):
    """GET: the rule and each student's values (staff of the course); PUT: set the rule (the
    course's instructor), checked against the source's parameters cell."""

    async def get(self, slug: str, assignment_id: str) -> None:
        async with self.db(read_only=True) as session:
            _, _, assignment = await self.assignment(session, slug, assignment_id)
            if not self.grader:
                raise web.HTTPError(403, "Only the course's staff see its variants.")
            rule = await records.rule_of(session, assignment.id)
            variants = await records.class_variants(session, assignment.id)
        self.write_json(
            {
                "rule": rule,
                "variants": [
                    {"account_id": account_id, "parameters": values}
                    for account_id, values in sorted(variants.items())
                ],
            }
        )

    async def put(self, slug: str, assignment_id: str) -> None:
        rule = self.json_body()
        async with self.db() as session:
            _, _, assignment = await self.assignment(session, slug, assignment_id, staff_only=True)
            checked = await records.set_rule(session, assignment, rule)
            await session.commit()
        self.write_json({"rule": checked})


def default_handlers(prefix: str) -> list[tuple[str, Any]]:
    one = rf"{prefix}/api/courses/([^/]+)/assignments/(\d+)"
    return [(rf"{one}/variants", VariantsAPI)]
