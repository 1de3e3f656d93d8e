"""A course's nbgrader export as a zip for its staff to download (``nbgrader_export``): built
while they wait when the course is small, and by the worker when it is large
(``build_nbgrader_export(course_id, token)``, hosted by ``coursehub worker``), the
assignments page then showing its link when it is ready.

What a queued export has come to is kept beside its zip, as a small JSON file in the data
directory (``nbgrader-exports/<course id>/<token>.json``): queued, ready (with its size) or
failed (with why). When one is ready, the course's older ones are removed: staff download
the newest. Imports neither Tornado nor the hub.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

import procrastinate
from procrastinate import RetryStrategy
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.assessment import nbgrader_export
from coursehub.services.jobs.context import WorkerContext
from coursehub.services.jobs.queue import defer
from coursehub.services.models import (
    Account,
    Assignment,
    AssignmentFile,
    Course,
    Submission,
    utcnow,
)
from coursehub.services.settings import data_dir_from_env

log = logging.getLogger(__name__)

EXPORT_TASK = "build_nbgrader_export"
EXPORT_QUEUE = "course_exports"
# A course whose notebooks and files are larger than this is exported by the worker.
INLINE_BYTES = 20 * 1024 * 1024
TOKEN = re.compile(r"^[0-9a-f]{32}$")
QUEUED, READY, FAILED = "queued", "ready", "failed"


@dataclass
class ExportState:
    token: str
    state: str
    requested_by: str
    requested_at: str  # ISO 8601, UTC
    size: int = 0
    error: str = ""


def exports_dir(data_dir: Path, course_id: int) -> Path:
    return data_dir / "nbgrader-exports" / str(course_id)


def zip_path(data_dir: Path, course_id: int, token: str) -> Path:
    return exports_dir(data_dir, course_id) / f"{token}.zip"


def _save(data_dir: Path, course_id: int, state: ExportState) -> None:
    folder = exports_dir(data_dir, course_id)
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".{state.token}.json"
    partial.write_text(json.dumps(asdict(state)), encoding="utf-8")
    partial.replace(folder / f"{state.token}.json")


def _read(path: Path) -> ExportState | None:
    try:
        return ExportState(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def find(data_dir: Path, course_id: int, token: str) -> ExportState | None:
    if not TOKEN.match(token):
        return None
    return _read(exports_dir(data_dir, course_id) / f"{token}.json")


def latest(data_dir: Path, course_id: int) -> ExportState | None:
    """The course's newest export, if any."""
    folder = exports_dir(data_dir, course_id)
    if not folder.is_dir():
        return None
    found = [state for path in folder.glob("*.json") if (state := _read(path)) is not None]
    return max(found, key=lambda state: state.requested_at, default=None)


async def estimated_size(session: AsyncSession, course: Course) -> int:
    """The bytes of the course's submitted notebooks and data files (the export's bulk)."""
    submitted = await session.scalar(
        select(func.coalesce(func.sum(Submission.size), 0))
        .join(Assignment, Assignment.id == Submission.assignment_id)
        .where(Assignment.course_id == course.id)
    )
    files = await session.scalar(
        select(func.coalesce(func.sum(AssignmentFile.size), 0))
        .join(Assignment, Assignment.id == AssignmentFile.assignment_id)
        .where(Assignment.course_id == course.id)
    )
    return int(submitted or 0) + int(files or 0)


def builds_in_background(size: int) -> bool:
    return size > INLINE_BYTES


async def queue_export(
    session: AsyncSession, data_dir: Path, course: Course, by: Account
) -> ExportState:
    """A queued export of ``course`` and its job, deferred in the caller's transaction (the
    caller commits); one already queued is returned instead of queueing another."""
    waiting = latest(data_dir, course.id)
    if waiting is not None and waiting.state == QUEUED:
        return waiting
    state = ExportState(secrets.token_hex(16), QUEUED, by.username, utcnow().isoformat())
    _save(data_dir, course.id, state)
    await defer(session, EXPORT_TASK, EXPORT_QUEUE, course_id=course.id, token=state.token)
    return state


def _remove_older(data_dir: Path, course_id: int, keep: str) -> None:
    for path in exports_dir(data_dir, course_id).iterdir():
        if path.suffix in (".zip", ".json") and path.stem != keep:
            state = _read(path.with_suffix(".json"))
            if state is None or state.state != QUEUED:
                path.unlink(missing_ok=True)


async def build(context: WorkerContext, data_dir: Path, course_id: int, token: str) -> None:
    """Build a queued export's zip; one that fails is marked failed (staff see why on the
    assignments page and may ask again)."""
    state = find(data_dir, course_id, token)
    if state is None or state.state != QUEUED:
        return  # built already (a job that ran twice), or gone
    try:
        async with context.sessions() as session:
            course = await session.get(Course, course_id)
            if course is None:
                raise nbgrader_export.ExportRefused("The course no longer exists.", 404)
            export = await nbgrader_export.collect(session, course)
        target = zip_path(data_dir, course_id, token)
        await asyncio.to_thread(nbgrader_export.write_zip, target, export)
    except Exception as error:
        log.exception("nbgrader export %s of course %d failed", token, course_id)
        state.state, state.error = FAILED, f"{type(error).__name__}: {error}"[:1000]
        _save(data_dir, course_id, state)
        return
    state.state, state.size = READY, target.stat().st_size
    _save(data_dir, course_id, state)
    _remove_older(data_dir, course_id, keep=token)
    log.info("nbgrader export %s of course %d is ready (%d bytes)", token, course_id, state.size)


def tasks(context: WorkerContext) -> procrastinate.Blueprint:
    blueprint = procrastinate.Blueprint()

    @blueprint.task(name=EXPORT_TASK, queue=EXPORT_QUEUE, retry=RetryStrategy(max_attempts=2))
    async def build_nbgrader_export(course_id: int, token: str) -> None:
        await build(context, data_dir_from_env(), course_id, token)

    return blueprint
