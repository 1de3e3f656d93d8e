"""``coursehub backup``: one archive of a platform (both databases, lesson versions, course
files, uploads, optionally the secrets) with a manifest of SHA-256 checksums.

The archive is written beside its destination under a temporary name and renamed into
place when whole, so a backup cut off (disk full, Ctrl-C) leaves no file that looks like a
backup. Its layout is described in ``archive_layout``.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import sqlite3
import subprocess
import tarfile
import tempfile
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from coursehub.services.operations import postgres_tools
from coursehub.services.operations.archive_layout import (
    COURSE_SQL,
    FILE_FOLDERS,
    HUB_SQL,
    HUB_SQLITE,
    HUB_SQLITE_NAME,
    MANIFEST,
    SECRET_FILES,
    BackupRefused,
    Manifest,
)

log = logging.getLogger("coursehub.operations")
ARCHIVE_PREFIX = "coursehub-backup-"
ARCHIVE_SUFFIX = ".tar.gz"


@dataclass(frozen=True)
class PlatformPlace:
    """Where a platform keeps its state: the course database, the data directory, and the
    hub's database (empty: the SQLite file in the data directory, as on one machine)."""

    database_url: str
    data_dir: Path
    hub_db_url: str = ""

    @property
    def hub_on_postgres(self) -> bool:
        return self.hub_db_url.startswith(("postgresql", "postgres://"))


def archive_name(now: datetime) -> str:
    return f"{ARCHIVE_PREFIX}{now.astimezone(UTC):%Y%m%dT%H%M%SZ}{ARCHIVE_SUFFIX}"


def dump_postgres(database_url: str, destination: Path, major: int) -> None:
    tool = postgres_tools.find_tool("pg_dump", major)
    done = subprocess.run(
        [
            str(tool.path),
            "--format=plain",
            "--no-owner",
            "--no-privileges",
            "--file",
            str(destination),
        ],
        env=postgres_tools.connection_env(database_url),
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise BackupRefused(f"pg_dump could not read the database ({reason}); no backup was made.")


def copy_sqlite(source: Path, destination: Path) -> None:
    """A consistent copy of a SQLite database that may be in use (SQLite's backup API)."""
    with closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as reading:
        with closing(sqlite3.connect(destination)) as writing:
            reading.backup(writing)


def members_of(
    place: PlatformPlace, work: Path, with_secrets: bool
) -> tuple[list[tuple[str, Path]], int]:
    """(name in the archive, file on disk) for everything the backup keeps; the course
    database's PostgreSQL major version."""
    major = postgres_tools.server_major(place.database_url)
    course_sql = work / "course.sql"
    dump_postgres(place.database_url, course_sql, major)
    members = [(COURSE_SQL, course_sql)]
    if place.hub_on_postgres and place.hub_db_url != place.database_url:
        hub_sql = work / "jupyterhub.sql"
        dump_postgres(place.hub_db_url, hub_sql, postgres_tools.server_major(place.hub_db_url))
        members.append((HUB_SQL, hub_sql))
    elif (place.data_dir / HUB_SQLITE_NAME).is_file():
        hub_copy = work / HUB_SQLITE_NAME
        copy_sqlite(place.data_dir / HUB_SQLITE_NAME, hub_copy)
        members.append((HUB_SQLITE, hub_copy))
    for folder in FILE_FOLDERS:
        root = place.data_dir / folder
        for path in sorted(root.rglob("*")) if root.is_dir() else []:
            if path.is_file() and not path.is_symlink():
                members.append((f"files/{folder}/{path.relative_to(root).as_posix()}", path))
    if with_secrets:
        for name in SECRET_FILES:
            if (place.data_dir / name).is_file():
                members.append((f"secrets/{name}", place.data_dir / name))
    return members, major


class _Hashing(io.RawIOBase):
    """A file read through SHA-256 as tarfile copies it."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        chunk = self.stream.read(size)
        self.digest.update(chunk)
        return chunk


def _add(tar: tarfile.TarFile, name: str, path: Path) -> dict[str, object]:
    with path.open("rb") as stream:
        info = tarfile.TarInfo(name)
        stat = os.fstat(stream.fileno())
        info.size, info.mtime = stat.st_size, int(stat.st_mtime)
        info.mode = stat.st_mode & 0o777
        hashing = _Hashing(stream)
        tar.addfile(info, hashing)  # type: ignore[arg-type]
    return {"sha256": hashing.digest.hexdigest(), "size": info.size}


def back_up(
    place: PlatformPlace,
    output: Path,
    *,
    with_secrets: bool = False,
    now: datetime | None = None,
) -> Manifest:
    """Write the archive to ``output`` (refused if it exists); its manifest."""
    now = now or datetime.now(UTC)
    output = output.resolve()
    if output.exists():
        raise BackupRefused(f"{output} exists already; name another file with --output.")
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=output.parent, prefix=".coursehub-backup-") as folder:
        work = Path(folder)
        members, major = members_of(place, work, with_secrets)
        manifest = Manifest(now.isoformat(), with_secrets, major)
        partial = work / "archive.partial"
        with tarfile.open(partial, "w:gz", compresslevel=6) as tar:
            for name, path in members:
                manifest.files[name] = _add(tar, name, path)
            body = json.dumps(manifest.as_json(), indent=1, sort_keys=True).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime, info.mode = len(body), int(now.timestamp()), 0o600
            tar.addfile(info, io.BytesIO(body))
        partial.chmod(0o600)  # the databases hold password hashes and tokens
        os.replace(partial, output)
    log.info("Backup written to %s (%d files)", output, len(manifest.files))
    return manifest
