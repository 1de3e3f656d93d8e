"""The roster sync's worker task (``coursehub worker`` hosts it), on the ``lti`` queue:

- ``lti_sync_roster(roster_context)``: read an LMS context's roster from its platform (Names
  and Role Provisioning Services) and apply it to the course (``roster.sync``); deferred by a
  launch that carries the NRPS claim and by staff's *Sync roster now*. A failure is kept on
  the roster's row for staff to read, and not retried: the next launch or click tries again.

This module imports neither Tornado nor the hub.
"""

from __future__ import annotations

import procrastinate

from coursehub.services.jobs.context import WorkerContext
from coursehub.services.lti import roster


async def sync_roster(context: WorkerContext, context_id: int) -> None:
    async with context.sessions() as session:
        await roster.sync(session, context_id)


def tasks(context: WorkerContext) -> procrastinate.Blueprint:
    blueprint = procrastinate.Blueprint()

    @blueprint.task(name=roster.SYNC_TASK, queue=roster.ROSTER_QUEUE)
    async def lti_sync_roster(roster_context: int) -> None:
        await sync_roster(context, roster_context)

    return blueprint
