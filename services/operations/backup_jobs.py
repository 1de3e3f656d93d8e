"""Scheduled backups, run by the workers: every day at ``COURSEHUB_BACKUP_CRON`` (default
03:30 UTC) one archive into ``COURSEHUB_BACKUP_DIR``, then the folder pruned to the newest
backup of each of the last ``COURSEHUB_BACKUP_KEEP_DAILY`` days (default 7) and of each of
the last ``COURSEHUB_BACKUP_KEEP_WEEKLY`` ISO weeks (default 4).

Off unless ``COURSEHUB_BACKUP_DIR`` is set: the folder should be on another disk (or
machine) than the data directory. On many machines, set it on the machine whose data
directory holds the lesson files (every worker may take the job; procrastinate's periodic
deferral queues it once per tick, so exactly one worker writes each backup). This module
imports neither Tornado nor the hub.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import procrastinate
from procrastinate import RetryStrategy

from coursehub.services.operations.backup import (
    ARCHIVE_PREFIX,
    ARCHIVE_SUFFIX,
    PlatformPlace,
    archive_name,
    back_up,
)
from coursehub.services.settings import data_dir_from_env

log = logging.getLogger("coursehub.worker")
OPERATIONS_QUEUE = "operations"
BACKUP_TASK = "operations.scheduled_backup"
_STAMP = re.compile(re.escape(ARCHIVE_PREFIX) + r"(\d{8}T\d{6}Z)" + re.escape(ARCHIVE_SUFFIX))


@dataclass(frozen=True)
class BackupSchedule:
    folder: Path
    place: PlatformPlace
    keep_daily: int = 7
    keep_weekly: int = 4
    cron: str = "30 3 * * *"
    with_secrets: bool = False

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> BackupSchedule | None:
        """The schedule the environment asks for; None when backups are not scheduled."""
        env = dict(os.environ if env is None else env)
        if not env.get("COURSEHUB_BACKUP_DIR"):
            return None
        counts = {}
        for name, default in (("DAILY", 7), ("WEEKLY", 4)):
            raw = env.get(f"COURSEHUB_BACKUP_KEEP_{name}", str(default))
            if not raw.isdigit():
                raise RuntimeError(
                    f"COURSEHUB_BACKUP_KEEP_{name} must be a whole number of backups, not {raw!r}."
                )
            counts[name] = int(raw)
        if counts["DAILY"] + counts["WEEKLY"] < 1:
            raise RuntimeError("Scheduled backups must keep at least one backup.")
        hub_db_url = env.get("COURSEHUB_HUB_DB_URL", "")
        return cls(
            folder=Path(env["COURSEHUB_BACKUP_DIR"]).resolve(),
            place=PlatformPlace(
                env.get("DATABASE_URL", ""),
                data_dir_from_env(),
                hub_db_url if hub_db_url.startswith("postgres") else "",
            ),
            keep_daily=counts["DAILY"],
            keep_weekly=counts["WEEKLY"],
            cron=env.get("COURSEHUB_BACKUP_CRON", "30 3 * * *"),
            with_secrets=env.get("COURSEHUB_BACKUP_WITH_SECRETS", "") in ("1", "true", "yes"),
        )


def archives_in(folder: Path) -> list[tuple[datetime, Path]]:
    """The folder's backups by the time in their names, newest first."""
    found = []
    for path in folder.glob(f"{ARCHIVE_PREFIX}*{ARCHIVE_SUFFIX}"):
        stamp = _STAMP.fullmatch(path.name)
        if stamp:
            when = datetime.strptime(stamp.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            found.append((when, path))
    return sorted(found, reverse=True)


def to_keep(archives: list[tuple[datetime, Path]], daily: int, weekly: int) -> set[Path]:
    """The newest archive of each of the ``daily`` newest days that have one, and of each
    of the ``weekly`` newest ISO weeks that have one."""
    keep: set[Path] = set()
    days: set[object] = set()
    weeks: set[object] = set()
    for when, path in sorted(archives, reverse=True):
        day, week = when.date(), when.isocalendar()[:2]
        if day not in days and len(days) < daily:
            keep.add(path)
        if week not in weeks and len(weeks) < weekly:
            keep.add(path)
        days.add(day)
        weeks.add(week)
    return keep


def prune(folder: Path, daily: int, weekly: int) -> list[Path]:
    """Delete the backups the retention does not keep; those deleted."""
    archives = archives_in(folder)
    kept = to_keep(archives, daily, weekly)
    removed = [path for _when, path in archives if path not in kept]
    for path in removed:
        path.unlink(missing_ok=True)
    return removed


def scheduled_backup(schedule: BackupSchedule, now: datetime | None = None) -> Path:
    """One backup into the schedule's folder, then the folder pruned; the new archive."""
    now = now or datetime.now(UTC)
    target = schedule.folder / archive_name(now)
    back_up(schedule.place, target, with_secrets=schedule.with_secrets, now=now)
    removed = prune(schedule.folder, schedule.keep_daily, schedule.keep_weekly)
    log.info("Scheduled backup %s written; %d old backup(s) removed", target.name, len(removed))
    return target


def tasks(schedule: BackupSchedule | None) -> procrastinate.Blueprint:
    """The operations domain's tasks, for ``coursehub worker`` to host: the backup task,
    scheduled only when backups are (a job queued while they were, run by a worker where
    they are not, does nothing and says so)."""
    blueprint = procrastinate.Blueprint()

    @blueprint.task(name=BACKUP_TASK, queue=OPERATIONS_QUEUE, retry=RetryStrategy(max_attempts=2))
    async def run_scheduled_backup(timestamp: int) -> None:
        if schedule is None:
            log.warning("A scheduled backup was asked of a worker without COURSEHUB_BACKUP_DIR")
            return
        await asyncio.to_thread(scheduled_backup, schedule, datetime.fromtimestamp(timestamp, UTC))

    if schedule is not None:
        blueprint.periodic(cron=schedule.cron)(run_scheduled_backup)
    return blueprint
