"""The database engines and the one-session-per-request factories.

Two pools on one database: read-only requests run on AUTOCOMMIT connections (no BEGIN and
ROLLBACK round trips), everything that writes runs in a transaction it commits explicitly.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

# Connections are recycled instead of pinged before each use: a ping is a round trip per
# request; a connection the server dropped fails once and is replaced.
POOL_RECYCLE_SECONDS = 1800


def make_engine(database_url: str, *, pool_size: int = 10, read_only: bool = False) -> AsyncEngine:
    options = {"isolation_level": "AUTOCOMMIT"} if read_only else {}
    return create_async_engine(
        database_url, pool_size=pool_size, pool_recycle=POOL_RECYCLE_SECONDS, **options
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: handlers serialise rows after committing.
    return async_sessionmaker(engine, expire_on_commit=False)
