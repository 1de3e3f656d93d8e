"""The check of an nbgrader assignment source at upload: its solution version must pass every
test cell, and its released version (solutions stripped) must fail the autograded ones.

Both versions run top to bottom in the sandbox (``papermill_runs.run_notebook``, every cell
even after errors) with the assignment's data files, at the same time. A test cell that
fails with the solution is a broken test or solution; one that passes without any answer
gives its points for nothing. The instructor sees each such cell, by its grade id and
position, with the error where there is one. Cells are read from nbgrader's metadata as the
notebooks carry it, so nothing of nbgrader is imported here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import nbformat

from coursehub.services.notebook_runs.papermill_runs import NotebookRun, run_notebook

SOURCE_TIMEOUT_S = 300.0
SOURCE_CELL_TIMEOUT_S = 120.0


@dataclass
class CellVerdict:
    """A test cell that does not behave: ``index`` in the notebook, nbgrader's grade id."""

    index: int
    grade_id: str
    problem: str


@dataclass
class SourceCheck:
    solution: NotebookRun
    released: NotebookRun
    failing_with_solution: list[CellVerdict] = field(default_factory=list)
    passing_without_answers: list[CellVerdict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failing_with_solution and not self.passing_without_answers

    def summary(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "failing_with_solution": [vars(cell) for cell in self.failing_with_solution],
            "passing_without_answers": [vars(cell) for cell in self.passing_without_answers],
            "solution_seconds": round(self.solution.seconds, 3),
            "released_seconds": round(self.released.seconds, 3),
        }


def graded_test_cells(notebook: nbformat.NotebookNode) -> dict[int, str]:
    """Autograded test cells (nbgrader ``grade`` without ``solution``): index -> grade id."""
    found: dict[int, str] = {}
    for index, cell in enumerate(notebook.cells):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            found[index] = str(meta.get("grade_id") or f"cell-{index + 1}")
    return found


async def check_assignment_source(
    source: Mapping[str, Any],
    released: Mapping[str, Any],
    files: Mapping[str, bytes] | None = None,
    *,
    background: bool = False,
) -> SourceCheck:
    """Run the solution (``source``) and the released version, and compare their test
    cells (``background``: in a worker's job, see ``run_notebook``)."""
    solution_notebook = nbformat.from_dict(source)
    released_notebook = nbformat.from_dict(released)
    solution_run, released_run = await asyncio.gather(
        *(
            run_notebook(
                notebook,
                files=files,
                timeout_seconds=SOURCE_TIMEOUT_S,
                cell_timeout_seconds=SOURCE_CELL_TIMEOUT_S,
                keep_going=True,
                background=background,
            )
            for notebook in (solution_notebook, released_notebook)
        )
    )
    check = SourceCheck(solution_run, released_run)
    solved = {cell.index: cell for cell in solution_run.cells}
    for index, grade_id in graded_test_cells(solution_notebook).items():
        ran = solved.get(index)
        if ran is None:
            check.failing_with_solution.append(
                CellVerdict(index, grade_id, f"Never ran with the solution: {solution_run.problem}")
            )
        elif ran.error_name:
            check.failing_with_solution.append(
                CellVerdict(
                    index,
                    grade_id,
                    f"Fails with the solution ({ran.error_name}): {ran.error_text or ''}".strip(),
                )
            )
    unanswered = {cell.index: cell for cell in released_run.cells}
    for index, grade_id in graded_test_cells(released_notebook).items():
        ran = unanswered.get(index)
        if ran is not None and not ran.error_name:
            check.passing_without_answers.append(
                CellVerdict(
                    index,
                    grade_id,
                    "Passes in the released version, where no answer is written yet: it "
                    "gives its points for nothing.",
                )
            )
    return check
