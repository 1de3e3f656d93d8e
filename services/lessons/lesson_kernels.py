"""Who holds which lesson kernel: at most a few per person, one per lesson, reused.

Every notebook lesson page the course service hands out runs on a kernel of its own (about
60 MB, kept until the page is closed or the lesson server stops it for idleness). Without a
bound, reloading a lesson eight times held eight kernels. So, per person (an account, or the
address of a signed-out visitor opening a preview lesson):

- a person's kernel for a lesson is reused: opening the lesson again while that kernel lives
  serves the same page again (kept in Redis beside the kernel's ticket), on the same kernel;
- a person holds kernels for at most ``Settings.lesson_kernels_per_person`` lessons (2 unless
  ``COURSEHUB_LESSON_KERNELS_PER_PERSON`` says otherwise); one more is politely refused until
  a lesson is closed or its kernel stopped;
- kernels the lesson server no longer has (closed, stopped for idleness, a restart) are
  forgotten the next time the person opens a lesson.

The record lives in Redis, so every process of the course service sees it, and a short lock
per person makes concurrent loads by one person take turns.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import LockError

from coursehub.services.errors import Refusal
from coursehub.services.models import Account

# A page bigger than this is not kept for reuse (Redis holds one page per kernel handed
# out): opening the lesson again then replaces its kernel.
PAGE_LIMIT_BYTES = 2 * 1024 * 1024
# Longer than a lesson page takes to render (the first visit runs the whole lesson).
LOCK_SECONDS = 180
TOO_MANY = (
    "You already have {cap} notebook lessons running, the most one person may have at once. "
    "Close one of them (leave its page) or wait a few minutes, then try again."
)
BUSY = "Your other lesson is still opening. Wait a moment, then try again."


class TooManyLessonKernels(Refusal):
    """The person holds their whole share of lesson kernels."""


def person_of(account: Account | None, remote_ip: str | None) -> str:
    """Whose share a kernel counts against: the account, or a signed-out visitor's address."""
    if account is not None:
        return f"account-{account.id}"
    return f"visitor-{remote_ip or 'unknown'}"


def visitor_address(forwarded_for: str | None, socket_address: str | None) -> str | None:
    """A signed-out visitor's address as the platform's proxy saw it: the last hop of
    ``X-Forwarded-For`` (the proxy appends the address it was reached from), else the
    socket's. Never ``X-Real-Ip`` or an earlier hop, which the visitor can write themselves
    to get a fresh share of kernels with each request."""
    hops = [hop.strip() for hop in (forwarded_for or "").split(",") if hop.strip()]
    return hops[-1] if hops else socket_address


def _held_key(person: str) -> str:
    return f"coursehub:lesson-kernels:{person}"


def page_key(kernel_id: str) -> str:
    return f"coursehub:lesson-page:{kernel_id}"


@dataclass(frozen=True)
class HeldKernel:
    lesson_id: int
    kernel_id: str
    path: str  # the lesson version's file the kernel's page was made from


async def held_kernels(redis: Redis, person: str) -> list[HeldKernel]:
    raw = await redis.hgetall(_held_key(person))
    held = []
    for lesson, value in raw.items():
        lesson_id = lesson.decode() if isinstance(lesson, bytes) else lesson
        text = value.decode() if isinstance(value, bytes) else value
        kernel_id, _, path = text.partition(" ")
        held.append(HeldKernel(int(lesson_id), kernel_id, path))
    return held


async def record(
    redis: Redis, person: str, lesson_id: int, kernel_id: str, path: str, seconds: int
) -> None:
    key = _held_key(person)
    await redis.hset(key, str(lesson_id), f"{kernel_id} {path}")
    await redis.expire(key, seconds)


async def forget(redis: Redis, person: str, lesson_id: int, kernel_id: str) -> None:
    """Drop the record (if it still names ``kernel_id``) and the kept page."""
    key = _held_key(person)
    current = await redis.hget(key, str(lesson_id))
    text = current.decode() if isinstance(current, bytes) else current
    if text is not None and text.split(" ", 1)[0] == kernel_id:
        await redis.hdel(key, str(lesson_id))
    await redis.delete(page_key(kernel_id))


async def keep_page(redis: Redis, kernel_id: str, page: bytes, seconds: int) -> None:
    if len(page) <= PAGE_LIMIT_BYTES:
        await redis.set(page_key(kernel_id), page, ex=seconds)


async def kept_page(redis: Redis, kernel_id: str) -> bytes | None:
    page = await redis.get(page_key(kernel_id))
    return page if isinstance(page, bytes) else None


@asynccontextmanager
async def turn_of(redis: Redis, person: str) -> AsyncIterator[None]:
    """One lesson load at a time per person, across the service's processes."""
    lock = redis.lock(f"{_held_key(person)}:lock", timeout=LOCK_SECONDS, blocking_timeout=60)
    if not await lock.acquire():
        raise Refusal(BUSY, 429)
    try:
        yield
    finally:
        try:
            await lock.release()
        except LockError:
            pass  # it expired: the load took longer than LOCK_SECONDS


@dataclass(frozen=True)
class Share:
    """What a person may do on opening a lesson: reuse a kernel, or start one."""

    reuse: HeldKernel | None
    replace: list[HeldKernel]  # kernels of this lesson to stop (an older version, no page)


async def share_for(
    redis: Redis,
    person: str,
    lesson_id: int,
    path: str,
    cap: int,
    alive: Callable[[str], Awaitable[bool]],
) -> Share:
    """Reuse the person's live kernel of this lesson, or make room for one within ``cap``.

    Raises ``TooManyLessonKernels`` when the person's other lessons hold the whole share."""
    others: list[HeldKernel] = []
    reuse: HeldKernel | None = None
    replace: list[HeldKernel] = []
    for held in await held_kernels(redis, person):
        if not await alive(held.kernel_id):
            await forget(redis, person, held.lesson_id, held.kernel_id)
        elif held.lesson_id != lesson_id:
            others.append(held)
        elif held.path == path and await redis.exists(page_key(held.kernel_id)):
            reuse = held
        else:
            replace.append(held)
    if reuse is None and len(others) >= max(cap, 1):
        raise TooManyLessonKernels(TOO_MANY.format(cap=max(cap, 1)), 429)
    return Share(reuse, replace)
