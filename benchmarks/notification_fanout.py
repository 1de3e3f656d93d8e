"""``python -m benchmarks.notification_fanout``: 1,000 open pages hear 10 events a second.

Scenario ``notification-fanout``: 1,000 connections hold the notification stream
(``GET /services/coursehub/api/me/notifications/stream``, server-sent events) open through
configurable-http-proxy, signed in with a student's hub token, as 1,000 open CourseHub pages
of one person do; 10 times a second an event is published on that person's Redis channel
(what ``notifications.announce`` does after a commit), carrying the time it was published.
Measured per delivery: publish -> the event's line read by the client. The clients are plain
asyncio sockets (an HTTP/1.1 request, then lines) on uvloop, and read only the publish time
from each line, to keep the load generator (on the same two cores) cheap; the baseline's
subscribers read theirs the same way.

Baseline in the same run: 1,000 raw redis-py pub/sub subscribers on a channel of their own
(no service, no proxy), the same events at the same rate.

Goal (reported): p99 publish -> received <= 50 ms. Results go to
``benchmarks/results/notification-fanout-<time>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

import redis.asyncio as aioredis
import uvloop

from benchmarks.platform_setup import running_coursehub
from benchmarks.report import RESULTS_DIR, percentile
from coursehub.hub.constants import SERVICE_PREFIX

GOAL_P99_MS = 50.0
FIRST_ID = 1_000_000_000  # above any real notification, so every page takes them as new


SENT = b'"sent": '


def sent_at(data: bytes) -> float | None:
    """The publish time carried by an event's JSON, read without decoding all of it."""
    start = data.find(SENT)
    if start < 0:
        return None
    start += len(SENT)
    end = start
    while end < len(data) and data[end] in b"0123456789.e+-":
        end += 1
    return float(data[start:end])


@dataclass
class Deliveries:
    latencies_ms: list[float] = field(default_factory=list)
    connected: int = 0
    failures: int = 0


async def sse_client(host: str, port: int, path: str, token: str, into: Deliveries) -> None:
    try:
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: token {token}\r\n"
            "Accept: text/event-stream\r\n\r\n".encode()
        )
        await writer.drain()
        status = await reader.readline()
        if b" 200 " not in status:
            into.failures += 1
            return
        into.connected += 1
        while line := await reader.readline():
            if line.startswith(b"data: "):
                sent = sent_at(line)
                if sent is not None:
                    into.latencies_ms.append((time.time() - sent) * 1000)
    except (OSError, asyncio.IncompleteReadError):
        into.failures += 1


async def redis_client(url: str, channel: str, into: Deliveries) -> None:
    client = aioredis.from_url(url)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(channel)
    into.connected += 1
    try:
        async for message in pubsub.listen():
            sent = sent_at(message["data"])
            if sent is not None:
                into.latencies_ms.append((time.time() - sent) * 1000)
    finally:
        await pubsub.aclose()
        await client.aclose()


async def publish_events(url: str, channel: str, count: int, rate: float, first_id: int) -> None:
    client = aioredis.from_url(url)
    try:
        for number in range(count):
            event = {"id": first_id + number, "kind": "benchmark", "payload": {"sent": time.time()}}
            await client.publish(channel, json.dumps(event))
            await asyncio.sleep(1 / rate)
    finally:
        await client.aclose()


async def measure(
    target: str,
    clients: list,
    ready_count: Deliveries,
    wanted: int,
    args: argparse.Namespace,
    redis_url: str,
    channel: str,
    first_id: int,
) -> None:
    tasks = [asyncio.create_task(c) for c in clients]
    deadline = time.monotonic() + 120
    while ready_count.connected + ready_count.failures < wanted and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.2)
    await asyncio.sleep(2)  # every stream subscribed
    connected, failed = ready_count.connected, ready_count.failures
    print(f"  {target}: {connected} connected, {failed} failed; publishing …")
    await publish_events(redis_url, channel, int(args.seconds * args.rate), args.rate, first_id)
    await asyncio.sleep(3)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def summary(name: str, result: Deliveries, expected: int) -> dict:
    values = result.latencies_ms
    return {
        "target": name,
        "connected": result.connected,
        "failures": result.failures,
        "deliveries": len(values),
        "expected_deliveries": expected,
        "p50_ms": percentile(values, 0.5),
        "p99_ms": percentile(values, 0.99),
        "max_ms": max(values) if values else None,
    }


async def run(
    args: argparse.Namespace, url: str, token: str, account_id: int, redis_url: str
) -> list[dict]:
    parts = urlsplit(url)
    path = f"{SERVICE_PREFIX}/api/me/notifications/stream"
    events = int(args.seconds * args.rate)
    results = []
    ours = Deliveries()
    channel = f"coursehub:notifications:{account_id}"
    streams = [
        sse_client(parts.hostname or "127.0.0.1", parts.port or 80, path, token, ours)
        for _ in range(args.clients)
    ]
    await measure("coursehub", streams, ours, args.clients, args, redis_url, channel, FIRST_ID)
    results.append(summary("coursehub stream through the proxy", ours, events * args.clients))
    raw = Deliveries()
    subscribers = [
        redis_client(redis_url, "coursehub:benchmark-raw", raw) for _ in range(args.clients)
    ]
    await measure(
        "redis-py",
        subscribers,
        raw,
        args.clients,
        args,
        redis_url,
        "coursehub:benchmark-raw",
        FIRST_ID,
    )
    results.append(summary("raw redis-py pub/sub", raw, events * args.clients))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.notification_fanout")
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=10, help="events per second")
    parser.add_argument("--seconds", type=float, default=20, help="seconds of publishing")
    args = parser.parse_args(argv)
    with running_coursehub(courses=1) as bench:
        from sqlalchemy import create_engine, select
        from sqlalchemy.orm import Session

        from coursehub.services.models import Account
        from coursehub.services.settings import sqlalchemy_url

        engine = create_engine(sqlalchemy_url(bench.database_url))
        with Session(engine) as session:
            account_id = session.scalar(
                select(Account.id).where(Account.username == bench.student.username)
            )
        engine.dispose()
        results = uvloop.run(
            run(args, bench.url, bench.student_token, account_id, bench.platform.env["REDIS_URL"])
        )
    for item in results:
        print(
            f"{item['target']:38} p50 {item['p50_ms'] or 0:7.1f} ms  "
            f"p99 {item['p99_ms'] or 0:7.1f} ms  max {item['max_ms'] or 0:7.1f} ms  "
            f"{item['deliveries']}/{item['expected_deliveries']} delivered, "
            f"{item['connected']} connected, {item['failures']} failed"
        )
    ours = results[0]
    complete = ours["deliveries"] == ours["expected_deliveries"]
    met = (ours["p99_ms"] or float("inf")) <= GOAL_P99_MS and complete
    verdict = "met" if met else "missed"
    print(f"goal: p99 <= {GOAL_P99_MS:g} ms with every event delivered -> {verdict}")
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    record = {
        "scenario": "notification-fanout",
        "clients": args.clients,
        "rate": args.rate,
        "results": results,
    }
    (RESULTS_DIR / f"notification-fanout-{stamp}.json").write_text(json.dumps(record, indent=1))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
