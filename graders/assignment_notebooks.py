"""Assignment notebooks: the instructor's nbgrader source, its student version, submissions.

The instructor uploads an nbgrader *source* notebook (solutions between ``### BEGIN
SOLUTION``/``### END SOLUTION``, hidden tests between ``### BEGIN HIDDEN TESTS``/``### END
HIDDEN TESTS``, cell metadata schema 3). This module validates it, describes its grade cells,
makes the student version with nbgrader's own preprocessors (the ``generate_assignment``
pipeline without its database steps) and reads what students hand in.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import nbformat
from nbgrader import utils as nbgrader_utils
from nbgrader.nbgraderformat import MetadataValidator, SchemaTooNewError, ValidationError
from nbgrader.preprocessors import (
    CheckCellMetadata,
    ClearHiddenTests,
    ClearMarkScheme,
    ClearOutput,
    ClearSolutions,
    ComputeChecksums,
    LockCells,
)

CellKind = Literal["autograded_answer", "autograded_test", "manual", "task", "locked"]
SUPPORTED_LANGUAGES = ("python",)


class InvalidNotebook(ValueError):
    """A notebook that cannot be used; the message tells the person what to do."""


@dataclass(frozen=True)
class GradeCellSpec:
    grade_id: str
    kind: CellKind
    max_points: float
    cell_type: str = "code"


@dataclass(frozen=True)
class SourceAssignment:
    notebook: nbformat.NotebookNode
    cells: tuple[GradeCellSpec, ...]
    max_score: float
    # Files that go beside the notebook in every job (relative path -> content), read-only.
    data_files: Mapping[str, bytes] = field(default_factory=dict)

    def spec(self, grade_id: str) -> GradeCellSpec | None:
        return next((cell for cell in self.cells if cell.grade_id == grade_id), None)


def cell_kind(cell: nbformat.NotebookNode) -> CellKind | None:
    """The nbgrader role of a cell, or None for an ordinary cell."""
    if nbgrader_utils.is_task(cell):
        return "task"
    grade, solution = nbgrader_utils.is_grade(cell), nbgrader_utils.is_solution(cell)
    if grade and solution:
        return "manual"
    if grade:
        return "autograded_test"
    if solution:
        return "autograded_answer"
    if nbgrader_utils.is_locked(cell):
        return "locked"
    return None


def grade_id_of(cell: nbformat.NotebookNode) -> str | None:
    grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    return grade_id if isinstance(grade_id, str) and grade_id else None


def parse_notebook(data: bytes, what: str) -> nbformat.NotebookNode:
    """Bytes to a version-4 notebook, or InvalidNotebook saying what is wrong."""
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidNotebook(
            f"The {what} is not a Jupyter notebook (it is not valid JSON); "
            "save it from Jupyter as .ipynb and upload it again."
        ) from None
    if not isinstance(raw, dict) or "cells" not in raw or "nbformat" not in raw:
        raise InvalidNotebook(
            f"The {what} is JSON but not a Jupyter notebook; upload the .ipynb file itself."
        )
    if raw.get("nbformat") != 4:
        raise InvalidNotebook(
            f"The {what} uses notebook format {raw.get('nbformat')!r}; save it with "
            "Jupyter 4 or newer (notebook format 4) and upload it again."
        )
    try:
        notebook = nbformat.reads(json.dumps(raw), as_version=4)
        nbformat.validate(notebook)
    except (nbformat.ValidationError, AttributeError, TypeError, KeyError, ValueError) as error:
        raise InvalidNotebook(
            f"The {what} is damaged ({str(error).splitlines()[0]}); open it in Jupyter, "
            "save it again and upload it again."
        ) from None
    return notebook


def read_source(data: bytes, data_files: Mapping[str, bytes] | None = None) -> SourceAssignment:
    """Validate an instructor's nbgrader source notebook and list its grade cells.
    ``data_files`` go beside the notebook in every grading job."""
    notebook = parse_notebook(data, "assignment notebook")
    refuse_unexpanded_autotests(notebook)
    language = notebook.metadata.get("kernelspec", {}).get("language", "python")
    if language not in SUPPORTED_LANGUAGES:
        raise InvalidNotebook(
            f"Assignments must use a Python kernel; this notebook's kernel is {language!r}."
        )
    validator = MetadataValidator()
    try:
        validator.upgrade_notebook_metadata(notebook)
        validator.validate_nb(notebook)
    except SchemaTooNewError:
        raise InvalidNotebook(
            "The notebook's nbgrader metadata is newer than CourseHub understands (schema "
            "3); make it with nbgrader 0.9 or upgrade CourseHub."
        ) from None
    except ValidationError as error:
        message = str(error).splitlines()[0]
        raise InvalidNotebook(
            f"The nbgrader cell settings are inconsistent: {message}. Fix the cell in "
            "nbgrader's Create Assignment toolbar and upload again."
        ) from None
    cells = tuple(_specs(notebook))
    source = SourceAssignment(
        notebook=notebook,
        cells=cells,
        max_score=sum(cell.max_points for cell in cells),
        data_files=dict(data_files or {}),
    )
    student_version(source)  # misplaced solution or hidden-test regions are errors too
    return source


def autotest_lines(notebook: nbformat.NotebookNode) -> list[str]:
    """nbgrader ``### AUTOTEST``/``### HASHED AUTOTEST`` directives still in the notebook."""
    found = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        for line in cell.source.split("\n"):
            if line.strip().startswith("#") and "AUTOTEST" in line:
                found.append(line.strip())
    return found


def refuse_unexpanded_autotests(notebook: nbformat.NotebookNode) -> None:
    lines = autotest_lines(notebook)
    if lines:
        raise InvalidNotebook(
            f"The notebook has nbgrader AUTOTEST directives ({lines[0]!r}) that were not "
            "expanded. Upload it with its autotests.yml (CourseHub expands them with "
            "nbgrader's InstantiateTests, as generate_assignment does), or expand them with "
            "`nbgrader generate_assignment` and upload the source with the generated tests."
        )


DATA_FILE_LIMIT = 64 << 20
SKIPPED_BESIDE = (".ipynb_checkpoints", "__pycache__", "autotests.yml", ".ipynb")


def files_beside(notebook_path: Path) -> dict[str, bytes]:
    """The assignment's data files: every file in the notebook's folder and below, except
    notebooks, checkpoints and nbgrader's autotests.yml."""
    folder = notebook_path.resolve().parent
    files: dict[str, bytes] = {}
    total = 0
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.is_symlink() or not path.is_file():
            continue
        if any(part in SKIPPED_BESIDE or part.endswith(".ipynb") for part in relative.parts):
            continue
        if any(part.startswith(".") for part in relative.parts):
            continue
        total += path.stat().st_size
        if total > DATA_FILE_LIMIT:
            raise InvalidNotebook(
                f"The files beside {notebook_path.name} are more than "
                f"{DATA_FILE_LIMIT >> 20} MB; keep only the data the assignment needs there."
            )
        files[relative.as_posix()] = path.read_bytes()
    return files


def read_source_folder(notebook_path: Path, *, expand: bool = True) -> SourceAssignment:
    """An instructor's source notebook on disk with the data files beside it; AUTOTEST
    directives are expanded with nbgrader's own machinery first (``autotests``)."""
    data = notebook_path.read_bytes()
    if expand:
        from coursehub.graders.autotests import expand_autotests

        data = expand_autotests(data, notebook_path.parent)
    return replace(read_source(data), data_files=files_beside(notebook_path))


def _specs(notebook: nbformat.NotebookNode) -> list[GradeCellSpec]:
    specs: list[GradeCellSpec] = []
    for cell in notebook.cells:
        kind = cell_kind(cell)
        meta = cell.metadata.get("nbgrader", {})
        if kind is None or kind in ("autograded_answer", "locked"):
            if meta.get("points"):
                where = grade_id_of(cell) or cell.source.strip()[:40]
                raise InvalidNotebook(
                    f"The cell {where!r} has points but is not graded; mark it as "
                    "'Autograder tests' or 'Manually graded answer', or remove its points."
                )
        if kind is None:
            continue
        grade_id = grade_id_of(cell)
        if grade_id is None:
            raise InvalidNotebook("An nbgrader cell has no grade id; give every cell an id.")
        graded = kind in ("autograded_test", "manual", "task")
        points = float(meta.get("points", 0)) if graded else 0
        specs.append(GradeCellSpec(grade_id, kind, points, cell.cell_type))
    return specs


def student_version(source: SourceAssignment) -> nbformat.NotebookNode:
    """What students get: nbgrader's generate_assignment steps (without its database)."""
    notebook = copy.deepcopy(source.notebook)
    resources: dict = {}
    steps = [
        LockCells(),
        ClearSolutions(),
        ClearOutput(),
        CheckCellMetadata(),
        ComputeChecksums(),
        ClearHiddenTests(),
        ClearMarkScheme(),
        ComputeChecksums(),
        CheckCellMetadata(),
    ]
    try:
        for step in steps:
            notebook, resources = step.preprocess(notebook, resources)
    except (RuntimeError, ValueError) as error:
        raise InvalidNotebook(
            f"nbgrader could not make the student version: {error}. Check the BEGIN/END "
            "SOLUTION and BEGIN/END HIDDEN TESTS markers and the cells they are in."
        ) from None
    return notebook


def read_submission(data: bytes, source: SourceAssignment) -> nbformat.NotebookNode:
    """A student's notebook, parsed; its nbgrader cells are checked against ``source`` later
    (``coursehub.graders.rebuild``), so damaged metadata does not make it unreadable."""
    notebook = parse_notebook(data, "submitted notebook")
    for cell in notebook.cells:
        meta = cell.get("metadata", {}).get("nbgrader")
        if meta is not None and not isinstance(meta, dict):
            del cell.metadata["nbgrader"]
    return notebook
