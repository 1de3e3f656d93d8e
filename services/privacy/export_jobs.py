"""The privacy domain's worker task (``coursehub worker`` hosts it):
``build_data_export(export_id)`` builds the zip of a queued export, mails its link and
removes the files of exports that have expired. It imports neither Tornado nor the hub."""

from __future__ import annotations

import asyncio
import logging
import secrets

import procrastinate

from coursehub.services import mail
from coursehub.services.jobs.context import WorkerContext
from coursehub.services.models import Account, DataExport, utcnow
from coursehub.services.privacy import exports
from coursehub.services.settings import Settings

log = logging.getLogger(__name__)


async def build(context: WorkerContext, settings: Settings, export_id: int) -> None:
    """Build the export; one that fails is marked failed (the person is told on My data and
    may ask again) instead of blocking their next request while it is retried."""
    try:
        await _build(context, settings, export_id)
    except Exception as error:
        log.exception("Data export %d failed", export_id)
        async with context.sessions() as session:
            export = await session.get(DataExport, export_id, with_for_update=True)
            if export is not None and export.state == exports.QUEUED:
                export.state, export.error = exports.FAILED, f"{type(error).__name__}: {error}"
                await session.commit()


async def _build(context: WorkerContext, settings: Settings, export_id: int) -> None:
    async with context.sessions() as session:
        export = await session.get(DataExport, export_id, with_for_update=True)
        if export is None or export.state != exports.QUEUED:
            return  # done already (a job that ran twice), or the account is gone
        account = await session.get_one(Account, export.account_id)
        data = await exports.collect(session, account)
        uploads = await exports.uploads_of(session, account, settings.uploads_dir)
        storage_name = f"{secrets.token_hex(16)}.zip"
        target = exports.exports_dir(settings.data_dir) / storage_name
        home = exports.homes_dir(settings.data_dir) / account.username
        size = await asyncio.to_thread(exports.write_zip, target, data, home, uploads)
        now = utcnow()
        token = await exports.mark_ready(session, export, storage_name, size, now)
        stale = await exports.expired_files(session, settings.data_dir, now)
        await session.commit()
    for path in stale:
        path.unlink(missing_ok=True)
    if account.email:
        link = f"{settings.public_url}{settings.service_prefix}/account/data/exports/{token}"
        days = exports.LIFETIME.days
        message = mail.compose(
            settings,
            account.email,
            "Your CourseHub data is ready to download",
            f"Hello {account.name},\n\nThe export of your CourseHub data is ready. Sign in and "
            f"download it within {days} days:\n\n{link}\n\nThe link also appears on My data.\n",
        )
        await mail.send_later(settings, message)
    log.info("Data export %d is ready (%d bytes)", export_id, size)


def tasks(context: WorkerContext, settings: Settings) -> procrastinate.Blueprint:
    blueprint = procrastinate.Blueprint()

    @blueprint.task(name=exports.BUILD_TASK, queue=exports.PRIVACY_QUEUE)
    async def build_data_export(export_id: int) -> None:
        await build(context, settings, export_id)

    return blueprint
