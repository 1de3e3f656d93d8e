"""The platform's Prometheus metrics: the grading queue (depth, waits, run times, failures by
kind), lesson kernels, notebook servers and notifications delivered.

They are read from the database, Redis and the hub when ``/metrics`` is scraped, not counted
in one process: gradings run in workers on any machine and the service runs several
processes, so only the shared stores know the whole platform's figures, and every service
process answers the same. Waits and run times are over the last hour (``WINDOW``).
The Grafana dashboard in ``deploy/grafana-dashboard.json`` charts exactly these names
(``METRIC_NAMES``), plus the request counters of ``web.handlers.status``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.analytics import platform_analytics
from coursehub.services.assessment.submissions import GRADING_QUEUE
from coursehub.services.lessons.user_servers import HubClient

WINDOW = timedelta(hours=1)
QUANTILES = (0.5, 0.95)

_QUEUE = text(
    """
    SELECT count(*) FILTER (WHERE status = 'todo'),
           count(*) FILTER (WHERE status = 'doing'),
           extract(epoch FROM :now - min(scheduled_at) FILTER (WHERE status = 'todo'))
    FROM procrastinate_jobs WHERE queue_name = :queue AND status IN ('todo', 'doing')
    """
)
# Seconds from a job's deferral to its start, and from its start to its end, in the window.
_TIMES = text(
    """
    WITH started AS (
        SELECT ev.job_id, ev.at FROM procrastinate_events ev
        JOIN procrastinate_jobs j ON j.id = ev.job_id
        WHERE j.queue_name = :queue AND ev.type = 'started' AND ev.at >= :since
    )
    SELECT
      (SELECT percentile_cont(CAST(:quantiles AS float8[])) WITHIN GROUP (
           ORDER BY extract(epoch FROM s.at - d.at))
       FROM started s JOIN procrastinate_events d ON d.job_id = s.job_id AND d.type = 'deferred'),
      (SELECT percentile_cont(CAST(:quantiles AS float8[])) WITHIN GROUP (
           ORDER BY extract(epoch FROM e.at - s.at))
       FROM started s JOIN procrastinate_events e ON e.job_id = s.job_id
         AND e.type IN ('succeeded', 'failed') AND e.at >= s.at)
    """
)
_RUNS = text(
    """
    SELECT ev.type, count(*) FROM procrastinate_events ev
    JOIN procrastinate_jobs j ON j.id = ev.job_id
    WHERE j.queue_name = :queue AND ev.type IN ('succeeded', 'failed')
    GROUP BY ev.type
    """
)
# A grading failure's kind: the engine's outcome when it ran (timeout, memory, crashed,
# output_limit), "not_graded" when the grading itself failed after its retries.
_FAILURES = text(
    """
    SELECT outcome, count(*) FROM grades WHERE outcome <> 'graded' GROUP BY outcome
    UNION ALL
    SELECT 'not_graded', count(*) FROM submissions WHERE status = 'FAILED'
    """
)
_DELIVERED = text(
    """
    SELECT (SELECT count(*) FROM notifications),
           (SELECT count(*) FROM email_deliveries WHERE sent_at IS NOT NULL)
    """
)

METRIC_NAMES = (
    "coursehub_grading_queue_jobs",
    "coursehub_grading_oldest_wait_seconds",
    "coursehub_grading_wait_seconds",
    "coursehub_grading_run_seconds",
    "coursehub_grading_runs_total",
    "coursehub_grading_failures_total",
    "coursehub_lesson_kernels",
    "coursehub_notebook_servers",
    "coursehub_notifications_delivered_total",
)


@dataclass
class Snapshot:
    waiting: int = 0
    running: int = 0
    oldest_wait: float = 0.0
    waits: list[float] = field(default_factory=list)
    run_times: list[float] = field(default_factory=list)
    runs: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    lesson_kernels: int = 0
    notebook_servers: int | None = None
    delivered: dict[str, int] = field(default_factory=dict)


async def take_snapshot(
    session: AsyncSession, redis: Redis, hub: HubClient | None, now: datetime
) -> Snapshot:
    params = {"queue": GRADING_QUEUE, "now": now, "since": now - WINDOW}
    waiting, running, oldest = (await session.execute(_QUEUE, params)).one()
    waits, run_times = (
        await session.execute(_TIMES, {**params, "quantiles": list(QUANTILES)})
    ).one()
    runs = {kind: count for kind, count in (await session.execute(_RUNS, params)).all()}
    failures: dict[str, int] = {}
    for kind, count in (await session.execute(_FAILURES)).all():
        failures[kind] = failures.get(kind, 0) + count
    bell, email = (await session.execute(_DELIVERED)).one()
    running_now = await platform_analytics.running_now(redis, hub)
    counts = {row[0]: row[1] for row in running_now.rows}
    return Snapshot(
        waiting=waiting,
        running=running,
        oldest_wait=float(oldest or 0),
        waits=list(waits or []),
        run_times=list(run_times or []),
        runs={"succeeded": runs.get("succeeded", 0), "failed": runs.get("failed", 0)},
        failures=failures,
        lesson_kernels=int(counts.get("lesson kernels") or 0),
        notebook_servers=counts.get("notebook servers"),
        delivered={"bell": bell, "email": email},
    )


class SnapshotCollector:
    """One snapshot as Prometheus metric families."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        shot = self.snapshot
        queue = GaugeMetricFamily(
            "coursehub_grading_queue_jobs", "Grading jobs by state", labels=["state"]
        )
        queue.add_metric(["waiting"], shot.waiting)
        queue.add_metric(["running"], shot.running)
        yield queue
        yield GaugeMetricFamily(
            "coursehub_grading_oldest_wait_seconds",
            "How long the longest-waiting grading job has waited",
            value=shot.oldest_wait,
        )
        for name, values, what in (
            ("coursehub_grading_wait_seconds", shot.waits, "from submission to grading start"),
            ("coursehub_grading_run_seconds", shot.run_times, "of a grading run"),
        ):
            family = GaugeMetricFamily(
                name, f"Seconds {what}, quantiles over the last hour", labels=["quantile"]
            )
            # No grading in the window: NaN, Prometheus' "no value", so the series stays.
            values = values or [None] * len(QUANTILES)
            for quantile, value in zip(QUANTILES, values, strict=True):
                family.add_metric([str(quantile)], math.nan if value is None else float(value))
            yield family
        runs = CounterMetricFamily(
            "coursehub_grading_runs", "Grading job runs by result", labels=["result"]
        )
        for result, count in sorted(shot.runs.items()):
            runs.add_metric([result], count)
        yield runs
        failures = CounterMetricFamily(
            "coursehub_grading_failures",
            "Submissions whose grading failed, by kind (the engine's outcome, or not_graded)",
            labels=["kind"],
        )
        for kind, count in sorted(shot.failures.items()):
            failures.add_metric([kind], count)
        yield failures
        yield GaugeMetricFamily(
            "coursehub_lesson_kernels", "Lesson kernels running now", value=shot.lesson_kernels
        )
        if shot.notebook_servers is not None:  # the hub did not answer: no figure, not 0
            yield GaugeMetricFamily(
                "coursehub_notebook_servers",
                "People's notebook servers running now",
                value=shot.notebook_servers,
            )
        delivered = CounterMetricFamily(
            "coursehub_notifications_delivered",
            "Notifications delivered, by channel (the bell, email)",
            labels=["channel"],
        )
        for channel, count in sorted(shot.delivered.items()):
            delivered.add_metric([channel], count)
        yield delivered


def exposition(snapshot: Snapshot) -> bytes:
    """The snapshot in Prometheus' text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshot))  # type: ignore[arg-type]
    return generate_latest(registry)
