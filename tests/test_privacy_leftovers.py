"""What a deleted account leaves outside its own rows, taken away without touching anyone
else's: its Redis keys (rate limits, heartbeats, lesson kernels, sign-in tickets, a cached
LMS launch carrying its address) and its jobs in procrastinate's table (finished ones, queued
ones about rows that go, arguments carrying its address), on the real Redis and PostgreSQL."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable

import pytest
import redis.asyncio as redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from coursehub.services.models import Account, DataExport, Notification
from coursehub.services.privacy import job_records, redis_keys
from coursehub.services.privacy.deletion import _json_pattern


@pytest.fixture
async def client(redis_url: str):  # type: ignore[no-untyped-def]
    opened = redis.from_url(redis_url)
    yield opened
    await opened.aclose()


async def test_only_the_deleted_persons_redis_keys_go(client, make_account):
    me, other = make_account(), make_account()
    mine, theirs = me.id, other.id
    kernel, other_kernel = secrets.token_hex(8), secrets.token_hex(8)
    arranged = {
        f"coursehub:rate:forum-post:{mine}:999": ("string", "3"),
        f"coursehub:rate:direct-message:{mine}:999": ("string", "1"),
        f"coursehub:heartbeat:{mine}:{theirs}": ("string", "1"),
        f"coursehub:lesson-kernels:account-{mine}": ("hash", {"7": f"{kernel} /lesson.ipynb"}),
        f"coursehub:lesson-page:{kernel}": ("string", "<html>"),
        f"coursehub:lesson-kernel:{kernel}": ("string", f"account-{mine}:7"),
        f"coursehub:sign-in-ticket:{secrets.token_hex(8)}": ("string", str(mine)),
        f"coursehub:lti:launch:{secrets.token_hex(4)}": (
            "string",
            json.dumps({"email": me.email, "name": me.name}),
        ),
    }
    kept = {
        f"coursehub:rate:forum-post:{theirs}:999": ("string", "2"),
        f"coursehub:rate:forum-post:1{mine}:999": ("string", "2"),  # a longer id, not mine
        f"coursehub:heartbeat:{theirs}:{mine}": ("string", "1"),  # lesson id = my id
        f"coursehub:lesson-kernels:account-{theirs}": ("hash", {"7": f"{other_kernel} /x"}),
        f"coursehub:lesson-kernel:{other_kernel}": ("string", f"account-{theirs}:7"),
        f"coursehub:sign-in-ticket:{secrets.token_hex(8)}": ("string", str(theirs)),
        "coursehub:site-settings:version": ("string", "12"),
    }
    for key, (kind, value) in {**arranged, **kept}.items():
        if kind == "hash":
            await client.hset(key, mapping=value)
        else:
            await client.set(key, value, ex=300)

    removed = await redis_keys.forget_in_redis(client, mine, [me.email or "", me.name])

    assert removed == len(arranged)
    assert await client.exists(*arranged) == 0
    assert await client.exists(*kept) == len(kept)
    await client.delete(*kept)


async def test_the_deleted_persons_jobs_are_forgotten_and_others_keep_running(
    sessions: async_sessionmaker[AsyncSession], make_account: Callable[..., Account]
):
    me, other = make_account(), make_account()

    async def job(session: AsyncSession, task: str, args: dict, status: str) -> int:
        return int(
            await session.scalar(
                text(
                    "INSERT INTO procrastinate_jobs (queue_name, task_name, args, status) "
                    "VALUES ('privacy', :task, CAST(:args AS jsonb), :status) RETURNING id"
                ),
                {"task": task, "args": json.dumps(args), "status": status},
            )
        )

    async with sessions() as session:
        export = DataExport(account_id=me.id)
        theirs = DataExport(account_id=other.id)
        told = Notification(account_id=me.id, kind="enrolled", payload={})
        session.add_all([export, theirs, told])
        await session.flush()
        gone = [
            await job(session, "build_data_export", {"export_id": export.id}, "todo"),
            await job(session, "build_data_export", {"export_id": export.id}, "succeeded"),
            await job(session, "send_notification_email", {"notification_id": told.id}, "todo"),
            await job(session, "welcome", {"to": me.email, "request_id": "r1"}, "failed"),
        ]
        running = await job(session, "welcome", {"to": me.email}, "doing")
        queued = await job(session, "remind", {"note": f"for {me.email}"}, "todo")
        others = [
            await job(session, "build_data_export", {"export_id": theirs.id}, "succeeded"),
            await job(session, "welcome", {"to": other.email}, "succeeded"),
        ]

        removed = await job_records.forget_jobs(session, me.id, [_json_pattern(me.email or "")])

        assert removed == len(gone)
        left = dict(
            (
                await session.execute(
                    text(
                        "SELECT id, CAST(args AS text) FROM procrastinate_jobs WHERE id = ANY(:ids)"
                    ),
                    {"ids": [*gone, running, queued, *others]},
                )
            ).all()
        )
        assert set(left) == {running, queued, *others}
        # What keeps running no longer carries the address.
        assert me.email not in left[running] and "deleted@invalid" in left[running]
        assert me.email not in left[queued]
        assert other.email in left[others[1]]
        await session.rollback()
