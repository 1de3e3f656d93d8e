"""Recording variants: the instructor's rule for an assignment, each student's values (at
release for the enrolled, at first fetch for anyone added later), their copy with the values
injected, and the same values for grading."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.courses.membership import Place, members
from coursehub.services.jobs.queue import defer
from coursehub.services.models import Account, Assignment, AssignmentVariant, AssignmentVariantRule
from coursehub.services.notebook_runs.run_queue import NOTEBOOK_RUNS_QUEUE
from coursehub.services.variants import copy_checks
from coursehub.services.variants.rules import (
    VariantError,
    check_rule,
    declared_parameters,
    derive,
    inject,
    inject_into_submission,
)


async def rule_of(session: AsyncSession, assignment_id: int) -> dict[str, Any] | None:
    found = await session.get(AssignmentVariantRule, assignment_id)
    return None if found is None else found.rule


async def set_rule(session: AsyncSession, assignment: Assignment, rule: Any) -> dict[str, Any]:
    """Check ``rule`` against the source's parameters cell and keep it. Variants already
    recorded stay as they are (students keep the copy they fetched)."""
    declared = declared_parameters(assignment.source_notebook)
    if declared is None:
        raise VariantError("The source notebook has no cell tagged 'parameters'.")
    checked = check_rule(rule, declared)
    found = await session.get(AssignmentVariantRule, assignment.id)
    if found is None:
        session.add(AssignmentVariantRule(assignment_id=assignment.id, rule=checked))
    else:
        found.rule = checked
    if assignment.released_at is not None:
        await record_for_class(session, assignment, checked)
    await session.flush()
    return checked


async def _record(
    session: AsyncSession, assignment_id: int, people: Sequence[tuple[int, str]], rule: dict
) -> None:
    rows = [
        {
            "assignment_id": assignment_id,
            "account_id": account_id,
            "parameters": derive(rule, assignment_id, account_id, username),
        }
        for account_id, username in people
    ]
    if rows:
        await session.execute(
            insert(AssignmentVariant)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["assignment_id", "account_id"])
        )


async def record_for_class(
    session: AsyncSession, assignment: Assignment, rule: dict[str, Any] | None = None
) -> int:
    """Record a variant for every enrolled student who has none (at release); a CSV without
    a row for one of them is refused naming them. The number of students."""
    rule = rule if rule is not None else await rule_of(session, assignment.id)
    if rule is None:
        return 0
    roster = members(courses=[assignment.course_id], administrators=False)
    people = (
        await session.execute(
            select(Account.id, Account.username)
            .join(roster, roster.c.account_id == Account.id)
            .where(roster.c.place == Place.STUDENT.value)
            .order_by(Account.id)
        )
    ).all()
    batch = 1000
    for start in range(0, len(people), batch):
        await _record(
            session, assignment.id, [tuple(p) for p in people[start : start + batch]], rule
        )
    if rule.get("answers"):  # each variant's expected values, in the background
        await defer(
            session,
            copy_checks.RECORD_EXPECTED_TASK,
            NOTEBOOK_RUNS_QUEUE,
            assignment_id=assignment.id,
        )
    return len(people)


async def variant_of(
    session: AsyncSession, assignment: Assignment, account: Account
) -> dict[str, Any] | None:
    """The student's values (recorded now if they have none, e.g. enrolled after release);
    None when the assignment has no variant rule."""
    recorded = await session.scalar(
        select(AssignmentVariant.parameters).where(
            AssignmentVariant.assignment_id == assignment.id,
            AssignmentVariant.account_id == account.id,
        )
    )
    if recorded is not None:
        return recorded
    rule = await rule_of(session, assignment.id)
    if rule is None:
        return None
    await _record(session, assignment.id, [(account.id, account.username)], rule)
    return await session.scalar(
        select(AssignmentVariant.parameters).where(
            AssignmentVariant.assignment_id == assignment.id,
            AssignmentVariant.account_id == account.id,
        )
    )


async def recorded_values(
    session: AsyncSession, assignment_id: int, account_id: int
) -> dict[str, Any] | None:
    """The values recorded for a student (grading and regrades use exactly these)."""
    return await session.scalar(
        select(AssignmentVariant.parameters).where(
            AssignmentVariant.assignment_id == assignment_id,
            AssignmentVariant.account_id == account_id,
        )
    )


async def student_copy(
    session: AsyncSession, assignment: Assignment, account: Account
) -> dict[str, Any]:
    """The released notebook a student downloads or fetches: with their values injected, or
    the released notebook unchanged when the assignment has no variants."""
    values = await variant_of(session, assignment, account)
    if values is None:
        return assignment.student_notebook
    return inject(assignment.student_notebook, values)


def for_grading(submitted: bytes, values: dict[str, Any] | None) -> bytes:
    """The submission as graded: unchanged without variants, else with the student's values."""
    return submitted if values is None else inject_into_submission(submitted, values)


async def class_variants(session: AsyncSession, assignment_id: int) -> dict[int, dict[str, Any]]:
    """Every recorded variant of an assignment by student account id (for staff)."""
    rows = await session.execute(
        select(AssignmentVariant.account_id, AssignmentVariant.parameters).where(
            AssignmentVariant.assignment_id == assignment_id
        )
    )
    return {account_id: values for account_id, values in rows}


async def variants_among(
    session: AsyncSession, assignment_ids: Sequence[int], account_ids: Sequence[int]
) -> dict[tuple[int, int], dict[str, Any]]:
    """Recorded variants by (account id, assignment id), for the gradebook."""
    if not assignment_ids or not account_ids:
        return {}
    rows = await session.execute(
        select(
            AssignmentVariant.account_id,
            AssignmentVariant.assignment_id,
            AssignmentVariant.parameters,
        ).where(
            AssignmentVariant.assignment_id.in_(list(assignment_ids)),
            AssignmentVariant.account_id.in_(list(account_ids)),
        )
    )
    return {(account_id, assignment_id): values for account_id, assignment_id, values in rows}
