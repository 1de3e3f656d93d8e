"""A person's copy of a lesson notebook in their home, written once and never overwritten.

The copy goes to ``courses/<course slug>/<file>.ipynb`` under the server's root (the home
folder). If that file exists it is theirs: it is kept as it is, whatever it holds. A copy
made before the lesson was renamed is found by the lesson id kept in its metadata
(``metadata.coursehub.lesson_id``) and kept too. Writes go through the server's contents
manager, so they work wherever the home lives (local disk, a Kubernetes volume, ...).
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from jupyter_core.utils import ensure_async

SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,119}")
FILE_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,119}\.ipynb")
COURSES_FOLDER = "courses"

# One lesson opened twice at once (a double click) must not write twice.
_writing: dict[str, asyncio.Lock] = {}


def checked_path(lesson_copy: dict[str, Any]) -> tuple[str, str]:
    """The folder and file path of a copy, refusing any name that could leave the folder."""
    slug, file_name = str(lesson_copy.get("course_slug")), str(lesson_copy.get("file_name"))
    if not SLUG.fullmatch(slug) or not FILE_NAME.fullmatch(file_name):
        raise ValueError(f"unexpected course {slug!r} or file name {file_name!r}")
    folder = f"{COURSES_FOLDER}/{slug}"
    return folder, f"{folder}/{file_name}"


async def place_lesson_copy(contents: Any, lesson_copy: dict[str, Any]) -> str:
    """The path of the person's copy of the lesson, written now only if they have none."""
    folder, path = checked_path(lesson_copy)
    lock = _writing.setdefault(path, asyncio.Lock())
    async with lock:
        if await ensure_async(contents.file_exists(path)):
            return path
        earlier = await _earlier_copy(contents, folder, lesson_copy["lesson_id"])
        if earlier:
            return earlier
        for parent in (COURSES_FOLDER, folder):
            if not await ensure_async(contents.dir_exists(parent)):
                await ensure_async(contents.save({"type": "directory"}, parent))
        # Written as the file it is: the course service validated the notebook when it was
        # published, and a copy is not signed as trusted (its outputs' scripts do not run
        # until the student trusts it), which also spares the server validating it again.
        text = json.dumps(_stamped(lesson_copy), indent=1, ensure_ascii=False) + "\n"
        await ensure_async(contents.save({"type": "file", "format": "text", "content": text}, path))
    return path


def _stamped(lesson_copy: dict[str, Any]) -> dict[str, Any]:
    """The published notebook with where it came from in its metadata."""
    notebook = dict(lesson_copy["notebook"])
    notebook["metadata"] = {
        **(notebook.get("metadata") or {}),
        "coursehub": {
            "lesson_id": lesson_copy["lesson_id"],
            "course": lesson_copy["course_slug"],
            "version": lesson_copy["version"],
        },
    }
    return notebook


async def _earlier_copy(contents: Any, folder: str, lesson_id: int) -> str | None:
    if not await ensure_async(contents.dir_exists(folder)):
        return None
    listing = await ensure_async(contents.get(folder, content=True, type="directory"))
    for entry in listing["content"]:
        if entry["type"] != "notebook":
            continue
        try:
            model = await ensure_async(
                contents.get(entry["path"], content=True, type="file", format="text")
            )
            stamp = json.loads(model["content"])["metadata"]["coursehub"]
        except Exception:  # noqa: S112 - a file of theirs that does not read so is not the copy
            continue
        if isinstance(stamp, dict) and stamp.get("lesson_id") == lesson_id:
            return entry["path"]
    return None
