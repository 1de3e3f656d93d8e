"""What every task of a worker process shares, handed to the tasks as one object."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import redis.asyncio as redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

if TYPE_CHECKING:
    from coursehub.graders.warm_pool import WarmPool


@dataclass
class WorkerContext:
    """The database, Redis, and for grading the folders a job must not see and the warm
    sandbox pool (none: each grading starts a sandbox of its own)."""

    sessions: async_sessionmaker[AsyncSession]
    redis: redis.Redis
    hidden_paths: tuple[str, ...] = ()
    pool: WarmPool | None = None
