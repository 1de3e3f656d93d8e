"""The analytics domain's background tasks.

- ``analytics.refresh_course(course_id)``: recompute one course's rollups, deferred by a page
  that found them stale (``rollups.request_refresh``) and by the periodic scan.
- ``analytics.refresh_changed`` (periodic, every 10 minutes): courses with news since their
  last refresh get one, and the platform's figures of the day are counted again.

This module imports neither Tornado nor the hub.
"""

from __future__ import annotations

import procrastinate
from procrastinate import RetryStrategy

from coursehub.services.analytics import rollups
from coursehub.services.jobs.context import WorkerContext
from coursehub.services.jobs.queue import defer

REFRESH_CRON = "*/10 * * * *"
SCAN_TASK = "analytics.refresh_changed"


async def refresh_course(context: WorkerContext, course_id: int) -> None:
    async with context.sessions() as session:
        await rollups.refresh_course(session, course_id)
        await session.commit()


async def refresh_changed(context: WorkerContext) -> int:
    """One refresh job per course with news, and the platform's day; how many courses."""
    async with context.sessions() as session:
        changed = await rollups.courses_to_refresh(session)
        for course_id in changed:
            await defer(session, rollups.REFRESH_TASK, rollups.ANALYTICS_QUEUE, course_id=course_id)
        await rollups.refresh_platform(session)
        await session.commit()
    return len(changed)


def tasks(context: WorkerContext) -> procrastinate.Blueprint:
    """The analytics domain's tasks, for ``coursehub worker`` to host."""
    blueprint = procrastinate.Blueprint()

    @blueprint.task(
        name=rollups.REFRESH_TASK,
        queue=rollups.ANALYTICS_QUEUE,
        retry=RetryStrategy(max_attempts=3, wait=10),
    )
    async def refresh_one(course_id: int) -> None:
        await refresh_course(context, course_id)

    @blueprint.periodic(cron=REFRESH_CRON)
    @blueprint.task(
        name=SCAN_TASK, queue=rollups.ANALYTICS_QUEUE, retry=RetryStrategy(max_attempts=2)
    )
    async def refresh_scan(timestamp: int) -> None:
        await refresh_changed(context)

    return blueprint
