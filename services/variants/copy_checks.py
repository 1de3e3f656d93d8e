"""Answers checked as values: each variant's expected values (the solution run once with
that variant's parameters, in the sandbox) and a flag for staff when a submission's values
match another student's variant and not its own (possible copying; never shown to students).

Both runs use ``notebook_runs.run_notebook`` (papermill in the grading sandbox) on the
notebook without its test cells, with one last cell printing the rule's ``answers`` as JSON.
"""

from __future__ import annotations

import copy
import json
import logging
import math
from collections.abc import Mapping
from typing import Any

import nbformat
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from coursehub.services.models import (
    Account,
    Assignment,
    AssignmentFile,
    AssignmentVariant,
    AssignmentVariantRule,
)
from coursehub.services.notebook_runs.papermill_runs import run_notebook

log = logging.getLogger(__name__)
MAX_SOLUTION_RUNS = 8  # per graded submission
RECORD_EXPECTED_TASK = "record_variant_answers"
MAX_BACKGROUND_RUNS = 100_000  # the whole class, one run after another
MARK = "coursehub-variant-answers:"
COPY_FLAG = (
    "Possible copying: the answer {names} matches another student's variant ({who}), "
    "not this student's own."
)


def _answers_cell(names: list[str]) -> dict[str, Any]:
    source = (
        "import json as _coursehub_json\n"
        f"print({MARK!r} + _coursehub_json.dumps("
        f"{{_n: globals().get(_n) for _n in {names!r}}}, default=repr))\n"
    )
    return nbformat.v4.new_code_cell(source=source)


def _without_tests(notebook: Mapping[str, Any], names: list[str]) -> nbformat.NotebookNode:
    node = nbformat.from_dict(copy.deepcopy(dict(notebook)))
    node.cells = [
        c
        for c in node.cells
        if not c.get("metadata", {}).get("nbgrader", {}).get("grade")
        or c.get("metadata", {}).get("nbgrader", {}).get("solution")
    ]
    node.cells = [c for c in node.cells if "injected-parameters" not in c.metadata.get("tags", [])]
    node.cells.append(_answers_cell(names))
    return node


async def answer_values(
    notebook: Mapping[str, Any],
    values: Mapping[str, Any],
    names: list[str],
    files: Mapping[str, bytes] | None,
) -> dict[str, Any] | None:
    """The ``names``' values after running ``notebook`` with ``values``; None when it did
    not get that far."""
    run = await run_notebook(
        _without_tests(notebook, names),
        parameters=values,
        files=files,
        timeout_seconds=120,
        background=True,  # in grading jobs and after release: nobody waits on a page
    )
    if not run.ok:
        return None
    for cell in reversed(run.notebook.cells):
        for output in cell.get("outputs", []):
            text = output.get("text", "")
            text = "".join(text) if isinstance(text, list) else text
            for line in text.splitlines():
                if line.startswith(MARK):
                    return json.loads(line[len(MARK) :])
    return None


def _same(left: Any, right: Any) -> bool:
    if isinstance(left, int | float) and isinstance(right, int | float):
        return math.isclose(float(left), float(right), rel_tol=1e-9, abs_tol=1e-12)
    return left == right


def _matches(found: Mapping[str, Any], expected: Mapping[str, Any], names: list[str]) -> bool:
    return all(n in found and n in expected and _same(found[n], expected[n]) for n in names)


async def record_expected(
    sessions: async_sessionmaker[AsyncSession],
    assignment_id: int,
    source_notebook: Mapping[str, Any],
    names: list[str],
    files: Mapping[str, bytes] | None,
    own: int | None = None,
    max_runs: int = MAX_SOLUTION_RUNS,
) -> dict[int, dict[str, Any]]:
    """Expected values of the assignment's variants by account id: the solution runs once for
    ``own``'s variant and for at most ``max_runs`` others still without them (the rest are
    recorded by later gradings, or by the background job after release)."""
    async with sessions() as session:
        rows = (
            await session.execute(
                select(
                    AssignmentVariant.id,
                    AssignmentVariant.account_id,
                    AssignmentVariant.parameters,
                    AssignmentVariant.expected,
                ).where(AssignmentVariant.assignment_id == assignment_id)
            )
        ).all()
    expected: dict[int, dict[str, Any]] = {}
    runs = 0
    for row_id, account_id, values, known in rows:
        if known is None and account_id != own and runs >= max_runs:
            continue  # left for the next graded submission, so no grading waits long
        if known is None:
            runs += 1
            known = await answer_values(source_notebook, values, names, files)
            if known is None:
                continue
            async with sessions() as session:
                await session.execute(
                    update(AssignmentVariant)
                    .where(AssignmentVariant.id == row_id)
                    .values(expected=known)
                )
                await session.commit()
        expected[account_id] = known
    return expected


async def record_all_expected(
    sessions: async_sessionmaker[AsyncSession], assignment_id: int
) -> int:
    """After release (the ``record_variant_answers`` job): the solution run once for every
    recorded variant still without its expected values; how many variants have them."""
    async with sessions() as session:
        assignment = await session.get(Assignment, assignment_id)
        rule = await session.get(AssignmentVariantRule, assignment_id)
        names = list((rule.rule if rule else {}).get("answers") or [])
        if assignment is None or not names:
            return 0
        files = {
            path: content
            for path, content in await session.execute(
                select(AssignmentFile.path, AssignmentFile.content).where(
                    AssignmentFile.assignment_id == assignment_id,
                    AssignmentFile.path != "autotests.yml",  # grading's directives, no data
                )
            )
        }
        source = assignment.source_notebook
    expected = await record_expected(
        sessions, assignment_id, source, names, files, max_runs=MAX_BACKGROUND_RUNS
    )
    return len(expected)


async def copying_flags(
    sessions: async_sessionmaker[AsyncSession],
    *,
    assignment_id: int,
    account_id: int,
    rule: Mapping[str, Any],
    source_notebook: Mapping[str, Any],
    submitted: bytes,
    values: Mapping[str, Any],
    files: Mapping[str, bytes] | None,
) -> list[str]:
    """Staff-only flags for a submission whose answer values match another student's variant
    and not its own (none without ``answers`` in the rule, or when its run fails)."""
    names = list(rule.get("answers") or [])
    if not names:
        return []
    expected = await record_expected(
        sessions, assignment_id, source_notebook, names, files, own=account_id
    )
    own = expected.get(account_id)
    found = await answer_values(json.loads(submitted), values, names, files)
    if found is None or (own is not None and _matches(found, own, names)):
        return []
    others = sorted(
        other
        for other, theirs in expected.items()
        if other != account_id and _matches(found, theirs, names)
    )
    if not others:
        return []
    async with sessions() as session:
        names_of = (
            await session.scalars(
                select(Account.username).where(Account.id.in_(others[:5])).order_by(Account.id)
            )
        ).all()
    who = ", ".join(names_of)
    return [COPY_FLAG.format(names=", ".join(names), who=who)]


async def flags_for_submission(
    sessions: async_sessionmaker[AsyncSession],
    *,
    assignment_id: int,
    account_id: int,
    source_notebook: Mapping[str, Any],
    submitted: bytes,
    values: Mapping[str, Any],
    files: Mapping[str, bytes] | None,
) -> list[str]:
    """``copying_flags`` for a graded submission of a variant assignment; a fault of the
    check is logged and gives no flag (it never holds a grade back)."""
    async with sessions() as session:
        rule = await session.get(AssignmentVariantRule, assignment_id)
    if rule is None:
        return []
    try:
        return await copying_flags(
            sessions,
            assignment_id=assignment_id,
            account_id=account_id,
            rule=rule.rule,
            source_notebook=source_notebook,
            submitted=submitted,
            values=values,
            files=files,
        )
    except Exception:
        log.exception("Copy check of assignment %s failed; no flag", assignment_id)
        return []
