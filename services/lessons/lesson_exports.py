"""Published notebook versions as files, for the lesson server to render.

The lesson server (``coursehub.services.lessons.lesson_server``) serves a folder, not the database:
the course service writes a lesson's published version as
``<data>/lessons/<course id>/<lesson id>/v<number>.ipynb`` the first time someone opens it,
and removes the lesson's older versions then. Kernels start in the lesson's folder, where the
sandbox shows them the course's files instead (``<data>/course-files/<course id>``), into
which the lesson's own data files are written first (``lessons.lesson_files``).

The notebook's kernelspec is set to CourseHub's sandboxed lesson kernel, the only one the
lesson server runs. Unless the lesson's "show code cells" setting is on, every code cell's
source is marked to be left out (nbconvert's ``transient.remove_source``) and the cell tagged
``coursehub-code-hidden`` (the lesson page hides such cells when they have no output); with
it on, the code shows, read-only, above its outputs.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.lessons import lesson_files
from coursehub.services.lessons.lesson_access import OpenLesson
from coursehub.services.models import LessonVersion

LESSON_KERNELSPEC = {
    "name": "coursehub-lesson",
    "display_name": "CourseHub lesson (Python 3, sandboxed)",
    "language": "python",
}


class LessonExports:
    """Writes lesson versions on first need; remembers what this process has written."""

    def __init__(self, lessons_dir: Path, course_files_dir: Path | None = None) -> None:
        self.lessons_dir = lessons_dir
        self.course_files_dir = course_files_dir
        self._written: set[str] = set()

    async def ensure(self, session: AsyncSession, opened: OpenLesson) -> str:
        """The lesson's published version as a file; returns its path under the folder."""
        path = opened.notebook_path
        if path is None:
            raise ValueError("Only notebook lessons with a published version have a file.")
        target = self.lessons_dir / path
        # Written before, and still there (showing the lesson the other way removes it).
        if path in self._written and target.is_file():
            return path
        if self.course_files_dir is not None and opened.files_stamp:
            # The lesson's data files first: the lesson server runs the lesson on first sight.
            await lesson_files.write_lesson_files(
                session, self.course_files_dir, opened.course.id, opened.lesson.id
            )
        if not target.is_file():
            notebook = await session.scalar(
                select(LessonVersion.notebook).where(
                    LessonVersion.id == opened.lesson.published_version_id
                )
            )
            prepared = for_lesson_server(notebook or {}, show_code=opened.lesson.show_code)
            await asyncio.to_thread(write_notebook, target, prepared)
        self._written.add(path)
        return path


HIDDEN_CODE_TAG = "coursehub-code-hidden"


def for_lesson_server(notebook: dict[str, Any], show_code: bool = False) -> dict[str, Any]:
    prepared = copy.deepcopy(notebook)
    prepared.setdefault("metadata", {})["kernelspec"] = dict(LESSON_KERNELSPEC)
    if not show_code:
        for cell in prepared.get("cells", []):
            if isinstance(cell, dict) and cell.get("cell_type") == "code":
                metadata = cell.setdefault("metadata", {})
                metadata.setdefault("transient", {})["remove_source"] = True
                metadata["tags"] = [*metadata.get("tags", []), HIDDEN_CODE_TAG]
    return prepared


def write_notebook(target: Path, notebook: dict[str, Any]) -> None:
    """Write ``target`` whole or not at all, then drop the lesson's older versions."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".writing-", suffix=".json")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump(notebook, file)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    for older in target.parent.glob("v*.ipynb"):  # other versions, or the other way to show
        if older != target:
            older.unlink(missing_ok=True)
