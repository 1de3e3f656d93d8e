"""The publish check of a notebook lesson: before students see a new version, it runs top to
bottom in the sandbox (``papermill_runs.run_notebook``) with the course's files, and its
author sees what happened: each cell's run time, the first failing cell with its traceback,
missing files and widgets found. A version that fails is refused unless its author says
"publish anyway"; the check (and the executed notebook) is kept with the version, and staff see
a warning on the course page for a published version that failed.

The check runs within the publishing request (the author waits for its answer, as for the
upload itself): a lesson runs in seconds, and a lesson that hangs is stopped at
``CHECK_TIMEOUT_S``. The run happens with no database session open.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import nbformat
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from coursehub.hub.sandbox import SandboxUnavailable
from coursehub.services.errors import Refusal
from coursehub.services.models import Lesson, LessonFile, LessonVersion, Module
from coursehub.services.models.notebook_runs import NotebookCheck
from coursehub.services.notebook_runs.papermill_runs import NotebookRun, run_notebook

log = logging.getLogger(__name__)
CHECK_TIMEOUT_S = 300.0
CELL_TIMEOUT_S = 120.0
# What of the course's files folder goes into the run (the rest is left out, and said so by
# the cell that misses it).
MAX_FILES_BYTES = 200 << 20
ANYWAY_WORDS = ("1", "true", "yes", "on")


class LessonCheckFailed(Refusal):
    """A lesson version that failed its check and was not published; ``summary`` is what the
    author sees of the run."""

    def __init__(self, run: NotebookRun) -> None:
        super().__init__(
            f"The notebook was not published: {run.problem} Fix it and publish again, or "
            "publish anyway (students would meet the same failure).",
            422,
            "notebook",
        )
        self.summary = run.summary()


def wants_anyway(value: str | None) -> bool:
    return (value or "").strip().lower() in ANYWAY_WORDS


def files_in(folder: Path) -> dict[str, bytes]:
    """The files under ``folder`` (a course's files folder) by relative path, hidden ones
    and what is past ``MAX_FILES_BYTES`` left out."""
    found: dict[str, bytes] = {}
    if not folder.is_dir():
        return found
    total = 0
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue
        if path.is_symlink():
            continue
        total += path.stat().st_size
        if total > MAX_FILES_BYTES:
            break
        found[relative.as_posix()] = path.read_bytes()
    return found


def parse(data: bytes) -> nbformat.NotebookNode | None:
    """The notebook, or None when it does not parse (publishing refuses it with its own
    sentence)."""
    try:
        return nbformat.reads(data.decode("utf-8"), as_version=4)
    except Exception:  # nbformat raises many kinds for bad input
        return None


async def check_notebook(data: bytes, files: dict[str, bytes]) -> NotebookRun | None:
    """Run the notebook in ``data`` with ``files``; None when it is no notebook."""
    notebook = await asyncio.to_thread(parse, data)
    if notebook is None:
        return None
    if not any(cell.cell_type == "code" and cell.source.strip() for cell in notebook.cells):
        return NotebookRun(True, notebook, [], None, False, [], False, 0.0, None)
    try:
        return await run_notebook(
            notebook,
            files=files,
            timeout_seconds=CHECK_TIMEOUT_S,
            cell_timeout_seconds=CELL_TIMEOUT_S,
        )
    except SandboxUnavailable as missing:
        # Instructor code never runs outside a sandbox: without one (a laptop without root)
        # lessons are published unchecked, as before the check existed.
        log.warning("Lesson published without its check: %s", missing)
        return None


def refuse_unless_anyway(run: NotebookRun | None, anyway: bool) -> None:
    """Raise ``LessonCheckFailed`` for a failed run the author did not publish anyway."""
    if run is not None and not run.ok and not anyway:
        raise LessonCheckFailed(run)


async def keep_check(
    session: AsyncSession,
    version: LessonVersion,
    run: NotebookRun | None,
    checked_by_id: int | None,
    anyway: bool,
) -> NotebookCheck | None:
    """Keep ``run`` as ``version``'s check (replacing an earlier one of the same version)."""
    if run is None:
        return None
    await session.execute(
        delete(NotebookCheck).where(NotebookCheck.lesson_version_id == version.id)
    )
    check = NotebookCheck(
        lesson_version_id=version.id,
        ok=run.ok,
        published_anyway=anyway and not run.ok,
        summary=run.summary(),
        executed=dict(run.notebook),
        checked_by_id=checked_by_id,
    )
    session.add(check)
    await session.flush()
    return check


async def checks_of(session: AsyncSession, version_ids: list[int]) -> dict[int, NotebookCheck]:
    """The checks of these versions by version id (without the executed notebooks)."""
    if not version_ids:
        return {}
    rows = await session.scalars(
        select(NotebookCheck)
        .options(defer(NotebookCheck.executed))
        .where(NotebookCheck.lesson_version_id.in_(version_ids))
    )
    return {row.lesson_version_id: row for row in rows}


async def failing_lessons(session: AsyncSession, course_id: int) -> list[tuple[Lesson, dict]]:
    """Lessons of the course whose published version failed its check (published anyway),
    with the check's summary: the course page's warning for staff."""
    rows = await session.execute(
        select(Lesson, NotebookCheck.summary)
        .join(Module, Module.id == Lesson.module_id)
        .join(NotebookCheck, NotebookCheck.lesson_version_id == Lesson.published_version_id)
        .where(Module.course_id == course_id, NotebookCheck.ok.is_(False))
        .order_by(Module.position, Lesson.position)
    )
    return [(lesson, summary) for lesson, summary in rows.all()]


async def lesson_files_for_check(
    session: AsyncSession, lesson: Lesson, course_files_dir: Path
) -> dict[str, bytes]:
    """What the lesson's kernel finds in its working directory: the course's files folder
    (``<course files>/<course id>``, as ``lessons.lesson_files.course_folder`` lays it out)
    and the lesson's own uploaded files, which win."""
    course_id = await session.scalar(select(Module.course_id).where(Module.id == lesson.module_id))
    files = await asyncio.to_thread(files_in, course_files_dir / str(course_id))
    rows = await session.scalars(select(LessonFile).where(LessonFile.lesson_id == lesson.id))
    files.update({row.path: row.content for row in rows})
    return files
