"""Forgetting a deleted person in Redis.

Redis holds only short-lived things, but some are a person's: their rate-limit counters
(``coursehub:rate:<action>:<account id>:<window>``), lesson heartbeats
(``coursehub:heartbeat:<account id>:<lesson>``), the lesson kernels they hold
(``coursehub:lesson-kernels:account-<id>``, its lock, the kernels' tickets and pages) and
sign-in tickets naming their account. Notifications travel on a pub/sub channel, which
stores nothing. Deleting an account removes those keys, and any other CourseHub key whose
value carries the old address, user name or name (an LMS launch cached for a while).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import redis.asyncio as redis

log = logging.getLogger(__name__)

PREFIX = "coursehub:"


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def names_the_account(key: str, account_id: int) -> bool:
    """A key that is the account's by its name."""
    parts = key.split(":")
    person = f"account-{account_id}"
    if key.startswith("coursehub:rate:"):  # coursehub:rate:<action>:<id>:<window>
        return len(parts) >= 5 and parts[-2] == str(account_id)
    if key.startswith("coursehub:heartbeat:"):  # coursehub:heartbeat:<id>:<lesson>
        return len(parts) >= 4 and parts[2] == str(account_id)
    if key.startswith("coursehub:lesson-kernels:"):  # ...:account-<id>[:lock]
        return len(parts) >= 3 and parts[2] == person
    return False


def value_is_theirs(key: str, values: Iterable[str], account_id: int, secrets: list[str]) -> bool:
    """A key whose value is the account's: a sign-in ticket for it, a lesson kernel's ticket
    held by it, or anything carrying the old address, user name or name."""
    person = f"account-{account_id}"
    for value in values:
        if key.startswith("coursehub:sign-in-ticket:") and value.strip() == str(account_id):
            return True
        if key.startswith("coursehub:lesson-kernel:") and value.startswith(f"{person}:"):
            return True
        lowered = value.lower()
        if any(secret.lower() in lowered for secret in secrets):
            return True
    return False


async def _values(client: redis.Redis, key: str) -> list[str]:
    kind = _text(await client.type(key))
    if kind == "string":
        value = await client.get(key)
        return [] if value is None else [_text(value)]
    if kind == "hash":
        found = await client.hgetall(key)
        return [_text(part) for pair in found.items() for part in pair]
    if kind in ("list", "set", "zset"):
        if kind == "list":
            members = await client.lrange(key, 0, -1)
        elif kind == "set":
            members = list(await client.smembers(key))
        else:
            members = await client.zrange(key, 0, -1)
        return [_text(member) for member in members]
    if kind == "stream":
        entries = await client.xrange(key)
        return [_text(part) for _, fields in entries for pair in fields.items() for part in pair]
    return []


async def forget_in_redis(client: redis.Redis, account_id: int, secrets: list[str]) -> int:
    """Delete the person's keys (see the module); the number deleted. ``secrets`` are the
    old address, user name and name (texts shorter than four characters are not searched
    for: they would match inside unrelated words)."""
    secrets = [secret for secret in secrets if len(secret.strip()) >= 4]
    doomed: set[str] = set()
    pages: set[str] = set()
    async for raw in client.scan_iter(match=f"{PREFIX}*", count=500):
        key = _text(raw)
        if names_the_account(key, account_id):
            doomed.add(key)
            if key.startswith("coursehub:lesson-kernels:") and not key.endswith(":lock"):
                for held in (await client.hgetall(key)).values():
                    kernel = _text(held).split(" ", 1)[0]
                    pages.add(f"coursehub:lesson-page:{kernel}")
                    pages.add(f"coursehub:lesson-kernel:{kernel}")
            continue
        if value_is_theirs(key, await _values(client, key), account_id, secrets):
            doomed.add(key)
    doomed |= pages
    removed = int(await client.delete(*sorted(doomed))) if doomed else 0
    log.info("Removed %d Redis keys of a deleted account", removed)
    return removed
