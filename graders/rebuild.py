"""Rebuild a submission from the instructor's source before it runs.

Students can edit anything in their notebook file, so nothing in it that decides a grade is
trusted. Cells are matched to the source by grade id (nbgrader's ``DeduplicateIds`` first,
as ``nbgrader autograde`` does); locked cells and test cells get the instructor's text back
(the student version here, the complete tests go to the runner separately); answer cells keep
the student's text under the source's metadata; deleted cells are put back. Whatever had to
be repaired becomes a flag for human review.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import nbformat
from nbgrader.preprocessors import ClearOutput, DeduplicateIds

from coursehub.graders.assignment_notebooks import (
    SourceAssignment,
    cell_kind,
    grade_id_of,
    student_version,
)

HIDDEN_BEGIN, HIDDEN_END = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"
RESTORED_KINDS = ("locked", "autograded_test")
COMPARED_METADATA = ("grade", "solution", "locked", "task", "points", "grade_id")


@dataclass(frozen=True)
class CheckCode:
    """A test cell as the runner executes it: the instructor's complete code."""

    grade_id: str
    code: str
    hidden_lines: tuple[int, ...]  # 1-based line numbers inside hidden-test regions

    @property
    def has_hidden(self) -> bool:
        return bool(self.hidden_lines)

    def to_json(self) -> dict:
        return {"grade_id": self.grade_id, "code": self.code, "hidden_lines": self.hidden_lines}


@dataclass
class RebuiltSubmission:
    notebook: nbformat.NotebookNode  # test cells hold the student version's (visible) text
    released: nbformat.NotebookNode  # the student version of the source
    tests: dict[int, CheckCode]  # cell index -> complete test code
    deleted: set[str] = field(default_factory=set)
    flags: list[str] = field(default_factory=list)


def rebuild(source: SourceAssignment, submitted: nbformat.NotebookNode) -> RebuiltSubmission:
    released = student_version(source)
    released_cells = {grade_id_of(c): c for c in released.cells if cell_kind(c)}
    source_cells = {grade_id_of(c): c for c in source.notebook.cells if cell_kind(c)}
    notebook = nbformat.reads(nbformat.writes(submitted), as_version=4)  # joins list sources
    flags: list[str] = []
    for cell in notebook.cells:
        meta = cell.get("metadata", {}).get("nbgrader")
        if meta is not None and (not isinstance(meta, dict) or grade_id_of(cell) is None):
            del cell.metadata["nbgrader"]  # damaged: an ordinary cell now
            flags.append("A cell's nbgrader settings were damaged; it was run as plain code.")
    ids = [grade_id_of(c) for c in notebook.cells if cell_kind(c)]
    for duplicate in sorted({i for i in ids if i and ids.count(i) > 1}):
        flags.append(f"The grade id {duplicate!r} appears more than once in the submission.")
    notebook, _ = DeduplicateIds().preprocess(notebook, {})
    notebook, _ = ClearOutput().preprocess(notebook, {})
    cells, seen = [], set()
    for cell in notebook.cells:
        grade_id = grade_id_of(cell) if cell_kind(cell) else None
        if grade_id is None or grade_id not in released_cells:
            if "nbgrader" in cell.get("metadata", {}):
                if grade_id is not None:
                    flags.append(f"The submission has a grade cell {grade_id!r} not in the source.")
                del cell.metadata["nbgrader"]
            cells.append(cell)
            continue
        seen.add(grade_id)
        cells.append(_restored(cell, released_cells[grade_id], flags))
    deleted = _put_back_missing(source, cells, seen, released_cells, flags)
    notebook.cells = _unique_ids(cells)
    notebook.metadata["kernelspec"] = copy.deepcopy(released.metadata.get("kernelspec", {}))
    tests = {
        index: check_code(grade_id_of(cell) or "", source_cells[grade_id_of(cell)].source)
        for index, cell in enumerate(cells)
        if cell_kind(cell) == "autograded_test"
    }
    return RebuiltSubmission(notebook, released, tests, deleted, flags)


def _restored(
    cell: nbformat.NotebookNode, released: nbformat.NotebookNode, flags: list[str]
) -> nbformat.NotebookNode:
    kind, grade_id = cell_kind(released), grade_id_of(released)
    given = cell.metadata.get("nbgrader", {})
    wanted = released.metadata["nbgrader"]
    if any(given.get(key) != wanted.get(key) for key in COMPARED_METADATA):
        flags.append(f"The nbgrader settings of cell {grade_id!r} were changed; ignored.")
    if kind in RESTORED_KINDS:
        if cell.source != released.source or cell.cell_type != released.cell_type:
            flags.append(f"The {_describe(kind)} {grade_id!r} was edited; the original ran.")
        return copy.deepcopy(released)
    restored = copy.deepcopy(released)
    restored.source = cell.source
    restored.metadata = copy.deepcopy(cell.metadata)
    restored.metadata["nbgrader"] = copy.deepcopy(wanted)
    return restored


def _put_back_missing(
    source: SourceAssignment,
    cells: list[nbformat.NotebookNode],
    seen: set[str],
    released_cells: dict,
    flags: list[str],
) -> set[str]:
    """Insert deleted nbgrader cells after the nearest earlier one that is still there."""
    deleted: set[str] = set()
    previous: str | None = None
    for spec in source.cells:
        if spec.grade_id not in seen:
            deleted.add(spec.grade_id)
            if spec.kind in RESTORED_KINDS:
                flags.append(
                    f"The {_describe(spec.kind)} {spec.grade_id!r} was deleted; it was put back."
                )
            positions = [i for i, c in enumerate(cells) if grade_id_of(c) == previous]
            at = positions[-1] + 1 if positions else 0
            cells.insert(at, copy.deepcopy(released_cells[spec.grade_id]))
            seen.add(spec.grade_id)
        previous = spec.grade_id
    return deleted


def _unique_ids(cells: list[nbformat.NotebookNode]) -> list[nbformat.NotebookNode]:
    """A put-back cell may share its id with the student's edited copy: renumber those."""
    seen: set[str] = set()
    for number, cell in enumerate(cells):
        if cell.get("id") in seen:
            cell.id = f"restored-{number}"
        seen.add(cell.get("id", ""))
    return cells


def _describe(kind: str | None) -> str:
    return "test cell" if kind == "autograded_test" else f"{kind} cell"


def check_code(grade_id: str, code: str) -> CheckCode:
    hidden, inside = [], False
    for number, line in enumerate(code.split("\n"), start=1):
        if HIDDEN_BEGIN in line:
            inside = True
        elif HIDDEN_END in line:
            inside = False
        elif inside:
            hidden.append(number)
    return CheckCode(grade_id, code, tuple(hidden))
