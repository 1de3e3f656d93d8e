"""The rules of ``lessons.lesson_kernels`` on Redis, without a lesson server (whether a kernel
still runs is the caller's answer): whose share a kernel counts against, a lesson reopened
reuses its kernel and page, a new version replaces it, the share's limit, and kernels that are
gone are forgotten."""

from __future__ import annotations

import uuid

import pytest
import redis.asyncio as aioredis

from coursehub.services.lessons import lesson_kernels
from coursehub.services.models import Account


@pytest.fixture
async def redis(redis_url):
    client = aioredis.from_url(redis_url)
    yield client
    await client.aclose()


def kernel() -> str:
    return str(uuid.uuid4())


async def holding(redis, person: str, lesson_id: int, path: str) -> str:
    kernel_id = kernel()
    await lesson_kernels.record(redis, person, lesson_id, kernel_id, path, 60)
    await lesson_kernels.keep_page(redis, kernel_id, b"<html>page</html>", 60)
    return kernel_id


def test_accounts_count_by_id_and_visitors_by_address():
    assert lesson_kernels.person_of(Account(id=7), "10.0.0.1") == "account-7"
    assert lesson_kernels.person_of(None, "10.0.0.1") == "visitor-10.0.0.1"


async def always(_kernel_id: str) -> bool:
    return True


async def test_a_lesson_reopened_reuses_its_kernel_and_page(redis):
    person = f"account-{uuid.uuid4().hex[:8]}"
    held = await holding(redis, person, 1, "3/1/v1-outputs.ipynb")
    share = await lesson_kernels.share_for(redis, person, 1, "3/1/v1-outputs.ipynb", 2, always)
    assert share.reuse is not None and share.reuse.kernel_id == held and share.replace == []
    assert await lesson_kernels.kept_page(redis, held) == b"<html>page</html>"


async def test_a_new_version_or_way_of_showing_replaces_the_lessons_kernel(redis):
    person = f"account-{uuid.uuid4().hex[:8]}"
    held = await holding(redis, person, 1, "3/1/v1-outputs.ipynb")
    share = await lesson_kernels.share_for(redis, person, 1, "3/1/v1-code.ipynb", 2, always)
    assert share.reuse is None and [old.kernel_id for old in share.replace] == [held]


async def test_past_the_share_a_new_lesson_is_refused_politely(redis):
    person = f"account-{uuid.uuid4().hex[:8]}"
    await holding(redis, person, 1, "3/1/v1-outputs.ipynb")
    await holding(redis, person, 2, "3/2/v1-outputs.ipynb")
    with pytest.raises(lesson_kernels.TooManyLessonKernels) as refused:
        await lesson_kernels.share_for(redis, person, 3, "3/3/v1-outputs.ipynb", 2, always)
    assert refused.value.status == 429
    assert refused.value.message.startswith("You already have 2 notebook lessons running")
    # A lesson the person already runs is still reopened at the limit.
    share = await lesson_kernels.share_for(redis, person, 2, "3/2/v1-outputs.ipynb", 2, always)
    assert share.reuse is not None


async def test_kernels_that_are_gone_are_forgotten_and_free_their_place(redis):
    person = f"visitor-{uuid.uuid4().hex[:8]}"
    gone = await holding(redis, person, 1, "3/1/v1-outputs.ipynb")
    kept = await holding(redis, person, 2, "3/2/v1-outputs.ipynb")

    async def alive(kernel_id: str) -> bool:
        return kernel_id != gone

    share = await lesson_kernels.share_for(redis, person, 3, "3/3/v1-outputs.ipynb", 2, alive)
    assert share.reuse is None and share.replace == []
    left = await lesson_kernels.held_kernels(redis, person)
    assert [held.kernel_id for held in left] == [kept]
    assert await lesson_kernels.kept_page(redis, gone) is None


async def test_a_page_too_large_is_not_kept_so_the_lesson_gets_a_fresh_kernel(redis):
    person = f"account-{uuid.uuid4().hex[:8]}"
    kernel_id = kernel()
    await lesson_kernels.record(redis, person, 1, kernel_id, "3/1/v1-outputs.ipynb", 60)
    big = b"x" * (lesson_kernels.PAGE_LIMIT_BYTES + 1)
    await lesson_kernels.keep_page(redis, kernel_id, big, 60)
    share = await lesson_kernels.share_for(redis, person, 1, "3/1/v1-outputs.ipynb", 2, always)
    assert share.reuse is None and [old.kernel_id for old in share.replace] == [kernel_id]


def test_a_visitor_is_counted_by_the_address_the_proxy_saw_not_one_they_name():
    # The proxy appends the address it was reached from; earlier hops are the visitor's own.
    assert lesson_kernels.visitor_address("198.51.100.7, 10.1.2.3", "127.0.0.1") == "10.1.2.3"
    assert lesson_kernels.visitor_address(None, "127.0.0.1") == "127.0.0.1"
    assert lesson_kernels.visitor_address(" , ", None) is None
