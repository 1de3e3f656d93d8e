"""A report's course data in the server owner's home: ``course-data/<course slug>/``.

The course service gives the snapshot (``GET api/courses/<slug>/reports/<id>/lab-data``):
CSV files and a README, written afresh at each opening and made read-only (on a local disk;
the owner can still copy them elsewhere to change them), and the report notebook, written
only when the owner has none of that name there (it is theirs to change). Writes go through
the server's contents manager, like lesson copies.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
from typing import Any

from jupyter_core.utils import ensure_async

from coursehub.extensions.lesson_copies import SLUG

DATA_FOLDER = "course-data"
FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,119}")
READ_ONLY = stat.S_IRUSR | stat.S_IRGRP
WRITABLE = READ_ONLY | stat.S_IWUSR


def checked_folder(data: dict[str, Any]) -> str:
    slug = str(data.get("course_slug"))
    if not SLUG.fullmatch(slug):
        raise ValueError(f"unexpected course {slug!r}")
    return f"{DATA_FOLDER}/{slug}"


def _checked_name(name: object) -> str:
    if not isinstance(name, str) or not FILE_NAME.fullmatch(name) or name.startswith(".."):
        raise ValueError(f"unexpected file name {name!r}")
    return name


def _local_path(contents: Any, path: str) -> str | None:
    """The file's path on this machine, when the contents manager keeps files on disk."""
    to_os = getattr(contents, "_get_os_path", None)
    return to_os(path) if callable(to_os) else None


def _set_mode(contents: Any, path: str, mode: int) -> None:
    local = _local_path(contents, path)
    if local and os.path.isfile(local):
        with contextlib.suppress(OSError):
            os.chmod(local, mode)


async def place_course_data(contents: Any, data: dict[str, Any]) -> str:
    """Write the snapshot; the folder's path (relative to the server's root)."""
    folder = checked_folder(data)
    files = {_checked_name(name): text for name, text in dict(data.get("files") or {}).items()}
    notebook_name = _checked_name(data.get("notebook_name"))
    for parent in (DATA_FOLDER, folder):
        if not await ensure_async(contents.dir_exists(parent)):
            await ensure_async(contents.save({"type": "directory"}, parent))
    for name, text in sorted(files.items()):
        path = f"{folder}/{name}"
        _set_mode(contents, path, WRITABLE)  # last opening's copy, read-only: replaced
        await ensure_async(
            contents.save({"type": "file", "format": "text", "content": str(text)}, path)
        )
        _set_mode(contents, path, READ_ONLY)
    notebook_path = f"{folder}/{notebook_name}"
    if not await ensure_async(contents.file_exists(notebook_path)):
        text = json.dumps(data.get("notebook") or {}, indent=1, ensure_ascii=False) + "\n"
        await ensure_async(
            contents.save({"type": "file", "format": "text", "content": text}, notebook_path)
        )
    return folder
