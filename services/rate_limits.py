"""Per-account rate limits on what people write (forum posts, messages): a fixed window.

``await check_rate(redis, key, limit, window_s)`` counts one action under ``key`` (for
example ``"forum-post:42"``) in the current window of ``window_s`` seconds and raises
``RateLimited`` once more than ``limit`` actions fall in it. Handlers answer that with 429,
the exception's sentence and a ``Retry-After`` header of ``retry_after`` seconds.

Redis is the shared counter (``INCR`` and ``EXPIRE`` in one transaction), so every service
process sees the same count. When Redis cannot be reached, the limit does not fail open:
each process counts in its own memory instead, so a person gets at most ``limit`` actions
per window from every process until Redis is back (a looser limit, never none), and the
outage is logged once per window.
"""

from __future__ import annotations

import logging
import math
import time

import redis.asyncio as redis

KEY = "coursehub:rate:{key}:{window}"
log = logging.getLogger(__name__)


class RateLimited(Exception):
    """Too many actions: ``retry_after`` whole seconds until the next window opens."""

    def __init__(self, retry_after: int, limit: int, window_s: int, what: str = "actions") -> None:
        self.retry_after = max(1, retry_after)
        self.limit = limit
        self.window_s = window_s
        self.message = (
            f"Too many {what} in a short time: at most {limit} in {_duration(window_s)}. "
            f"Wait {_duration(self.retry_after)} and try again."
        )
        super().__init__(self.message)


def _duration(seconds: int) -> str:
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return "an hour" if hours == 1 else f"{hours} hours"
    if seconds % 60 == 0 and seconds >= 60:
        minutes = seconds // 60
        return "a minute" if minutes == 1 else f"{minutes} minutes"
    return "a second" if seconds == 1 else f"{seconds} seconds"


class _LocalWindows:
    """This process's counts while Redis is away: {(key, window): count}."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, int], int] = {}
        self.logged_window = -1

    def incr(self, key: str, window: int) -> int:
        if len(self.counts) > 10_000:  # forget windows that have closed
            self.counts = {k: n for k, n in self.counts.items() if k[1] >= window}
        count = self.counts.get((key, window), 0) + 1
        self.counts[(key, window)] = count
        return count


_local = _LocalWindows()


async def check_rate(
    client: redis.Redis, key: str, limit: int, window_s: int, *, what: str = "actions"
) -> None:
    """Count one action under ``key``; raise ``RateLimited`` when it is over ``limit`` in
    this window of ``window_s`` seconds. ``what`` names the actions in the sentence shown
    ("forum posts", "messages")."""
    now = time.time()
    window = int(now // window_s)
    retry_after = math.ceil((window + 1) * window_s - now)
    name = KEY.format(key=key, window=window)
    try:
        async with client.pipeline(transaction=True) as pipe:
            pipe.incr(name)
            pipe.expire(name, window_s + 1)
            count, _ = await pipe.execute()
    except (redis.RedisError, OSError) as error:
        if _local.logged_window != window:
            _local.logged_window = window
            log.warning("Rate limits count in this process only; Redis is away: %s", error)
        count = _local.incr(key, window)
    if int(count) > limit:
        raise RateLimited(retry_after, limit, window_s, what)
