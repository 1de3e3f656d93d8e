"""PostgreSQL's own client programs (``pg_dump``, ``psql``), chosen to match the server.

``pg_dump`` refuses a server newer than itself, and a dump is most faithful when both have
the same major version, so each run asks the server its version and takes the program of
that version from what the machine has: the embedded PostgreSQL's (pgserver ships its
binaries), Debian's ``/usr/lib/postgresql/<major>/bin``, or the ``PATH``. Connection details
go to the programs in ``PG*`` environment variables, never on their command line (where
``ps`` would show a password).
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict

_VERSION = re.compile(r"\(PostgreSQL\) (\d+)")
_ENV_NAMES = {
    "host": "PGHOST",
    "port": "PGPORT",
    "user": "PGUSER",
    "password": "PGPASSWORD",
    "dbname": "PGDATABASE",
    "sslmode": "PGSSLMODE",
}


class ToolMissing(RuntimeError):
    """No client program of a version that can talk to the server; the message says what to
    install."""


def libpq_url(database_url: str) -> str:
    """A SQLAlchemy URL (``postgresql+psycopg://``) as libpq reads it."""
    return re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", database_url)


def connection_env(database_url: str) -> dict[str, str]:
    """The environment a client program connects to ``database_url`` with."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    for key, value in conninfo_to_dict(libpq_url(database_url)).items():
        name = _ENV_NAMES.get(key)
        if name and value is not None:
            env[name] = str(value)
    return env


def server_major(database_url: str) -> int:
    with psycopg.connect(libpq_url(database_url), connect_timeout=10) as conn:
        number = conn.execute("SHOW server_version_num").fetchone()
    assert number is not None
    return int(number[0]) // 10000


def _candidate_dirs() -> list[Path]:
    dirs: list[Path] = []
    try:
        import pgserver

        dirs.append(Path(pgserver.__file__).parent / "pginstall" / "bin")
    except ImportError:
        pass
    dirs.extend(sorted(Path("/usr/lib/postgresql").glob("*/bin")))
    dirs.extend(Path(part) for part in os.environ.get("PATH", "").split(os.pathsep) if part)
    return dirs


def _major_of(program: Path) -> int | None:
    try:
        out = subprocess.run(
            [str(program), "--version"], capture_output=True, text=True, timeout=20, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = _VERSION.search(out)
    return int(found.group(1)) if found else None


@dataclass(frozen=True)
class Tool:
    path: Path
    major: int


def find_tool(name: str, server: int) -> Tool:
    """``name`` (``pg_dump``, ``psql``) of the server's major version, else the oldest newer
    one; ``ToolMissing`` when the machine has none."""
    found: dict[int, Path] = {}
    for folder in _candidate_dirs():
        program = folder / name
        if program.is_file() and os.access(program, os.X_OK):
            major = _major_of(program)
            if major is not None:
                found.setdefault(major, program)
    if server in found:
        return Tool(found[server], server)
    newer = sorted(major for major in found if major > server)
    if newer:
        return Tool(found[newer[0]], newer[0])
    have = ", ".join(f"{major}" for major in sorted(found)) or "none"
    raise ToolMissing(
        f"{name} for PostgreSQL {server} is needed (this machine has versions: {have}); "
        f"install postgresql-client-{server} and run the command again."
    )
