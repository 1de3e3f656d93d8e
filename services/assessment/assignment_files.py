"""An assignment's data files (``data.txt``, ``data/weather.csv``): checking and storing them.

Data files come with the source notebook (multipart field ``files``, each part's filename its
path relative to the notebook) or one at a time; every grading job gets them read-only beside
the notebook and students get them with it. ``autotests.yml``, nbgrader's recipe for AUTOTEST
directives, is kept with the files for the course's staff (so a corrected source with
directives needs no second upload) but is given neither to students nor to grading jobs.
Refusals are ``Refusal`` with the sentence to show (400, or 413 for too many or too large).
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.errors import Refusal
from coursehub.services.models import Assignment, AssignmentFile, utcnow

AUTOTESTS = "autotests.yml"
# Tornado parses at most 99 parts of a multipart body: the notebook, the files, a margin.
MAX_FILES = 90
# As much as the engine takes beside a notebook (graders.assignment_notebooks.DATA_FILE_LIMIT).
MAX_TOTAL_BYTES = 64 << 20
MAX_PATH = 500


# -- checking --------------------------------------------------------------------------------


def check_path(raw: str) -> str:
    """A data file's path as stored: relative, ``/``-separated, nothing hidden, no ``..``."""
    name = (raw or "").replace("\\", "/")
    refused = (
        not name
        or len(name) > MAX_PATH
        or name.startswith("/")
        or ":" in name.split("/")[0]  # C:/... from a Windows browser
        or any(ord(char) < 32 for char in name)
    )
    parts = name.split("/")
    if refused or any(part in ("", ".", "..") for part in parts):
        raise Refusal(
            f"{raw!r} is not a usable data file path: give a path relative to the notebook, "
            "such as data/weather.csv, without '..', and not absolute.",
            field="files",
        )
    if any(part.startswith(".") for part in parts) or "__pycache__" in parts:
        raise Refusal(
            f"{raw!r} is a hidden file or folder (.ipynb_checkpoints, a dot file); upload "
            "only the data the assignment needs.",
            field="files",
        )
    if name.endswith(".ipynb"):
        raise Refusal(
            f"{raw!r} is a notebook: an assignment is one notebook; upload it as the source "
            "notebook, or give the data files only.",
            field="files",
        )
    return posixpath.normpath(name)


def check_files(files: Mapping[str, bytes]) -> dict[str, bytes]:
    """Every path checked, at most MAX_FILES files and MAX_TOTAL_BYTES in all."""
    checked: dict[str, bytes] = {}
    for raw, content in files.items():
        name = check_path(raw)
        if name in checked:
            raise Refusal(f"The data file {name!r} came twice; send it once.")
        checked[name] = content
    if len(checked) > MAX_FILES:
        raise Refusal(
            f"{len(checked)} data files is more than the {MAX_FILES} an assignment may have; "
            "put them in an archive the notebook unpacks, or keep only the ones it needs.",
            413,
        )
    total = sum(len(content) for content in checked.values())
    if total > MAX_TOTAL_BYTES:
        raise Refusal(
            f"The data files are {total / 1e6:.1f} MB in all; an assignment may have "
            f"{MAX_TOTAL_BYTES / 1e6:.0f} MB. Keep only the data the notebook needs.",
            413,
        )
    return checked


# -- storing ---------------------------------------------------------------------------------


async def stored_files(session: AsyncSession, assignment_id: int) -> dict[str, bytes]:
    """All of them, autotests.yml included (course staff)."""
    rows = await session.execute(
        select(AssignmentFile.path, AssignmentFile.content)
        .where(AssignmentFile.assignment_id == assignment_id)
        .order_by(AssignmentFile.path)
    )
    return {path: content for path, content in rows}


def for_notebook(files: Mapping[str, bytes]) -> dict[str, bytes]:
    """What goes beside the notebook (grading jobs, students): all but autotests.yml."""
    return {path: content for path, content in files.items() if path != AUTOTESTS}


async def job_files(session: AsyncSession, assignment_id: int) -> dict[str, bytes]:
    """The files every grading job of the assignment gets."""
    return for_notebook(await stored_files(session, assignment_id))


async def file_list(
    session: AsyncSession, assignment_id: int, *, staff: bool
) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(AssignmentFile.path, AssignmentFile.size, AssignmentFile.updated_at)
        .where(AssignmentFile.assignment_id == assignment_id)
        .order_by(AssignmentFile.path)
    )
    return [
        {"path": path, "size": size, "updated_at": updated_at}
        for path, size, updated_at in rows
        if staff or path != AUTOTESTS
    ]


async def one_file(
    session: AsyncSession, assignment_id: int, raw_path: str, *, staff: bool
) -> AssignmentFile:
    path = check_path(raw_path)
    found = await session.scalar(
        select(AssignmentFile).where(
            AssignmentFile.assignment_id == assignment_id, AssignmentFile.path == path
        )
    )
    if found is None or (path == AUTOTESTS and not staff):
        raise Refusal(f"This assignment has no data file {path!r}.", 404)
    return found


async def replace_files(
    session: AsyncSession, assignment: Assignment, files: Mapping[str, bytes]
) -> None:
    """The assignment's data files become exactly ``files`` (checked already)."""
    await session.execute(
        delete(AssignmentFile).where(AssignmentFile.assignment_id == assignment.id)
    )
    for path, content in files.items():
        session.add(
            AssignmentFile(
                assignment_id=assignment.id, path=path, content=content, size=len(content)
            )
        )
    await session.flush()


async def put_file(
    session: AsyncSession, assignment: Assignment, raw_path: str, content: bytes
) -> tuple[AssignmentFile, bool]:
    """Add or replace one file; True when it is new. The limits count the others too."""
    path = check_path(raw_path)
    files = await stored_files(session, assignment.id)
    created = path not in files
    files[path] = content
    check_files(files)
    found = await session.scalar(
        select(AssignmentFile).where(
            AssignmentFile.assignment_id == assignment.id, AssignmentFile.path == path
        )
    )
    if found is None:
        found = AssignmentFile(assignment_id=assignment.id, path=path)
        session.add(found)
    found.content, found.size, found.updated_at = content, len(content), utcnow()
    await session.flush()
    return found, created


async def delete_file(session: AsyncSession, assignment: Assignment, raw_path: str) -> None:
    found = await one_file(session, assignment.id, raw_path, staff=True)
    await session.delete(found)
    await session.flush()


def file_json(found: AssignmentFile) -> dict[str, Any]:
    return {"path": found.path, "size": found.size, "updated_at": found.updated_at}
