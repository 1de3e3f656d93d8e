"""The rules of ``lessons.lesson_proxy`` that need no lesson server: a lesson kernel's ticket
in Redis says who may use it and expires, the kernel id is found in a lesson page as it
streams past (or given up on), and the client's addresses and token."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from coursehub.services.lessons.lesson_proxy import (
    TICKET_SECONDS,
    KernelIdFinder,
    LessonServerClient,
    issue_ticket,
    revoke_ticket,
    ticket_holder,
    ticket_parts,
)
from coursehub.services.settings import Settings


@pytest.fixture
async def redis(redis_url):
    client = aioredis.from_url(redis_url)
    yield client
    await client.aclose()


async def test_a_kernels_ticket_names_its_person_and_lesson_until_revoked(redis):
    kernel = str(uuid.uuid4())
    assert await ticket_holder(redis, kernel) is None
    await issue_ticket(redis, kernel, "account-12", 34)
    assert await ticket_holder(redis, kernel) == "account-12:34"
    assert ticket_parts("visitor-::1:34") == ("visitor-::1", 34)
    assert 0 < await redis.ttl(f"coursehub:lesson-kernel:{kernel}") <= TICKET_SECONDS
    await revoke_ticket(redis, kernel)
    assert await ticket_holder(redis, kernel) is None


KERNEL = "0123abcd-4567-89ab-cdef-0123456789ab"


def test_the_kernel_id_is_found_even_when_split_across_chunks():
    finder = KernelIdFinder()
    page = b'<html><script>{"baseUrl": "/", "kernelId": "' + KERNEL.encode() + b'"}</script>'
    found = [finder.feed(page[i : i + 7]) for i in range(0, len(page), 7)]
    assert [f for f in found if f] == [KERNEL]
    assert finder.found == KERNEL
    assert finder.feed(page) is None  # only the first time


def test_something_that_is_not_a_kernel_id_is_not_taken():
    finder = KernelIdFinder()
    assert finder.feed(b'"kernelId": "not-a-kernel"') is None
    assert finder.feed(b'"kernelId": "0123ABCD-4567-89ab-cdef-0123456789ab"') is None
    assert finder.found is None


def test_the_search_gives_up_beyond_the_pages_head():
    finder = KernelIdFinder(limit=10)
    assert finder.feed(b"x" * 11) is None
    assert finder.feed(b'"kernelId": "' + KERNEL.encode() + b'"') is None
    assert finder.found is None


def test_the_client_speaks_to_the_lesson_server_with_its_token(tmp_path: Path):
    settings = Settings(
        database_url="postgresql://unused",
        redis_url="redis://unused",
        data_dir=tmp_path,
        lesson_server_url="http://127.0.0.1:10102",
        lesson_server_token="lesson-key",
    )
    client = LessonServerClient(settings)
    try:
        assert client.websocket_url == "ws://127.0.0.1:10102"
        assert client.url("/voila/render/x.ipynb") == "http://127.0.0.1:10102/voila/render/x.ipynb"
        assert client.headers({"Accept": "text/html"}) == {
            "Authorization": "token lesson-key",
            "Accept": "text/html",
        }
        assert client.exports.lessons_dir == settings.lessons_dir
    finally:
        client.close()
