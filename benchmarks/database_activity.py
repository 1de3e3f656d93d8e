"""What the benchmark's own PostgreSQL database did: its server processes and sessions.

PostgreSQL runs one server process per connection, so a pool that keeps closing and opening
connections shows as sessions opened during a run (and their CPU time is lost with them).
"""

from __future__ import annotations

import psutil
import psycopg


def _split(database_url: str) -> tuple[str, str]:
    server, name = database_url.rsplit("/", 1)
    return server, name


def database_backends(database_url: str) -> list[psutil.Process]:
    """PostgreSQL's server processes for the connections open to this database now.

    Only when PostgreSQL runs on this machine (its pids are ours to read); else none.
    """
    server, name = _split(database_url)
    try:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            pids = [
                row[0]
                for row in conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,)
                )
            ]
    except psycopg.Error:
        return []
    backends = []
    for pid in pids:
        try:
            backends.append(psutil.Process(pid))
        except psutil.Error:
            continue
    return backends


def sessions_opened(database_url: str) -> int | None:
    """Sessions ever established to this database (PostgreSQL 14+), or None if unknown."""
    server, name = _split(database_url)
    try:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            row = conn.execute(
                "SELECT sessions FROM pg_stat_database WHERE datname = %s", (name,)
            ).fetchone()
    except psycopg.Error:
        return None
    return int(row[0]) if row and row[0] is not None else None
