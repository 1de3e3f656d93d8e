"""What administrators see of the whole platform: accounts and active people per day,
enrolments and completions, growth, the grading queue's health (depth, waits, failures) and
what runs now (people's notebook servers, lesson kernels).

The daily figures come from ``analytics_platform_days`` (kept by the analytics job); the
queue's figures from procrastinate's tables through their indexes; the running servers from
the hub's API and the lesson kernels from the records the course player keeps in Redis.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from redis.asyncio import Redis
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession
from tornado.httpclient import HTTPClientError

from coursehub.services.analytics.filters import Period
from coursehub.services.analytics.tables import Table
from coursehub.services.assessment.submissions import GRADING_QUEUE
from coursehub.services.lessons import lesson_kernels
from coursehub.services.lessons.user_servers import HubClient
from coursehub.services.models.analytics import PlatformDay

_QUEUE = text(
    """
    SELECT
        count(*) FILTER (WHERE status = 'todo') AS waiting,
        count(*) FILTER (WHERE status = 'doing') AS running,
        (SELECT count(*) FROM procrastinate_events ev JOIN procrastinate_jobs j ON j.id = ev.job_id
         WHERE j.queue_name = :queue AND ev.type = 'failed' AND ev.at >= :since) AS failed,
        (SELECT count(*) FROM procrastinate_events ev JOIN procrastinate_jobs j ON j.id = ev.job_id
         WHERE j.queue_name = :queue AND ev.type = 'succeeded' AND ev.at >= :since) AS succeeded,
        extract(epoch FROM :now - min(scheduled_at) FILTER (WHERE status = 'todo'))
            AS oldest_wait
    FROM procrastinate_jobs WHERE queue_name = :queue AND status IN ('todo', 'doing')
    """
)
_WAITS = text(
    """
    SELECT percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (
        ORDER BY extract(epoch FROM started.at - deferred.at))
    FROM procrastinate_events started
    JOIN procrastinate_events deferred
      ON deferred.job_id = started.job_id AND deferred.type = 'deferred'
    JOIN procrastinate_jobs j ON j.id = started.job_id
    WHERE started.type = 'started' AND started.at >= :since AND j.queue_name = :queue
    """
)


async def platform_days(session: AsyncSession, period: Period) -> Table:
    rows = {
        row.day: row
        for row in await session.scalars(
            select(PlatformDay).where(
                PlatformDay.day >= period.since, PlatformDay.day <= period.until
            )
        )
    }
    table = Table(
        "platform_days",
        "The platform day by day (UTC days): accounts, people active that day, week and "
        "month (counted on the day), new enrolments and completions",
        [
            "day",
            "accounts",
            "new accounts",
            "active that day",
            "active that week",
            "active that month",
            "enrolments",
            "completions",
        ],
    )
    users = 0
    for day in period.days:
        row = rows.get(day)
        if row is not None:
            users = row.users
            table.rows.append(
                [
                    day,
                    row.users,
                    row.new_users,
                    row.daily_active,
                    row.weekly_active,
                    row.monthly_active,
                    row.enrolments,
                    row.completions,
                ]
            )
        else:
            table.rows.append([day, users, 0, None, None, None, 0, 0])
    return table


async def grading_queue(session: AsyncSession, now: datetime) -> Table:
    since = now - timedelta(days=1)
    params = {"queue": GRADING_QUEUE, "since": since, "now": now}
    waiting, running, failed, succeeded, oldest = (await session.execute(_QUEUE, params)).one()
    waits = await session.scalar(_WAITS, params)
    median, p95 = waits if waits else (None, None)
    return Table(
        "grading_queue",
        "Grading queue health (failures, successes and waits over the last 24 hours)",
        ["measure", "value"],
        [
            ["attempts waiting", waiting],
            ["being graded now", running],
            ["longest wait now (s)", None if oldest is None else round(float(oldest), 1)],
            ["median wait to start (s)", None if median is None else round(median, 1)],
            ["95th percentile wait (s)", None if p95 is None else round(p95, 1)],
            ["graded", succeeded],
            ["failed runs", failed],
        ],
    )


async def running_now(redis: Redis, hub: HubClient | None) -> Table:
    kernels = 0
    async for key in redis.scan_iter(match=lesson_kernels._held_key("*"), count=500):
        kernels += await redis.hlen(key)
    servers: int | None = None
    if hub is not None:
        try:
            response = await hub.http.fetch(
                hub.request("GET", "users?state=active&limit=10000", 10)
            )
            servers = sum(len(user.get("servers") or {}) for user in json.loads(response.body))
        except (HTTPClientError, OSError, ValueError):
            servers = None  # the hub is away, or the service's token may not list users
    return Table(
        "running",
        "Running now",
        ["what", "count"],
        [["notebook servers", servers], ["lesson kernels", kernels]],
    )
