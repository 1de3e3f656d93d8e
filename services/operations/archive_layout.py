"""What a CourseHub backup archive holds, and where: shared by ``backup`` and ``restore``.

One gzipped tar file::

    databases/course.sql          the course database (pg_dump, plain SQL)
    databases/jupyterhub.sql      the hub's database when it is PostgreSQL, or
    databases/jupyterhub.sqlite   the hub's SQLite file (the default on one machine)
    files/lessons/...             published lesson versions as the lesson server reads them
    files/course-files/...        each course's data files
    files/uploads/...             thumbnails and videos
    secrets/...                   only with --with-secrets: the hub's and service's keys
    manifest.json                 last: format, time, versions, and every member's SHA-256

Assignment files, submissions and certificates live in the course database.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT = 1
MANIFEST = "manifest.json"
COURSE_SQL = "databases/course.sql"
HUB_SQL = "databases/jupyterhub.sql"
HUB_SQLITE = "databases/jupyterhub.sqlite"
HUB_SQLITE_NAME = "jupyterhub.sqlite"
# Folders of the data directory a backup keeps (people's homes and caches are not kept:
# a notebook server's files belong to its person, the rest is made again).
FILE_FOLDERS = ("lessons", "course-files", "uploads")
# Files of the data directory that only --with-secrets keeps.
SECRET_FILES = ("secrets.json", "jupyterhub_cookie_secret", "embedded-credentials.json")
CHUNK = 1024 * 1024


class BackupRefused(RuntimeError):
    """A backup or restore that will not be done; the message says why and what to do."""


@dataclass
class Manifest:
    created_at: str
    with_secrets: bool
    postgres_major: int
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    format: int = FORMAT

    def as_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "created_at": self.created_at,
            "with_secrets": self.with_secrets,
            "postgres_major": self.postgres_major,
            "files": self.files,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        if data.get("format") != FORMAT:
            raise BackupRefused(
                f"This archive has format {data.get('format')!r}; this CourseHub restores "
                f"format {FORMAT}. Restore it with the CourseHub version that made it."
            )
        return cls(
            created_at=str(data["created_at"]),
            with_secrets=bool(data["with_secrets"]),
            postgres_major=int(data["postgres_major"]),
            files={str(name): dict(entry) for name, entry in data["files"].items()},
        )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
