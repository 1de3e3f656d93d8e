"""``coursehub restore ARCHIVE``: a fresh data directory, or an empty database, brought back to
the state a backup recorded.

Nothing is changed until the whole archive has been read and every member matches its
SHA-256 in the manifest (a truncated or edited archive is refused). A target that already
holds a platform is refused unless forced; forced, the course database is emptied and
filled in one transaction (a dump that fails to load leaves it as it was), and the data
directory's folders are replaced.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import zlib
from contextlib import closing
from pathlib import Path

import psycopg

from coursehub.services.operations import postgres_tools
from coursehub.services.operations.archive_layout import (
    COURSE_SQL,
    FILE_FOLDERS,
    HUB_SQL,
    HUB_SQLITE,
    HUB_SQLITE_NAME,
    MANIFEST,
    BackupRefused,
    Manifest,
    sha256_of,
)
from coursehub.services.operations.backup import PlatformPlace

log = logging.getLogger("coursehub.operations")

_NOT_EMPTY = (
    "{what} already holds data; nothing was restored. Restore into an empty one, or add "
    "--force to replace what it holds with the backup."
)
# Forced: the database's own schemas go, in the same transaction as the restore.
_WIPE = """
DO $$
DECLARE name text;
BEGIN
  FOR name IN SELECT nspname FROM pg_namespace
      WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' LOOP
    EXECUTE format('DROP SCHEMA %I CASCADE', name);
  END LOOP;
  CREATE SCHEMA public;
END $$;
"""


def unpack_and_verify(archive: Path, into: Path) -> Manifest:
    """Every member of ``archive`` under ``into``, checked against the manifest."""
    refused = (
        f"{archive} is not a whole CourseHub backup ({{problem}}); nothing was restored. "
        "Take the archive again from where it was stored."
    )
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                if not member.isfile():
                    raise BackupRefused(refused.format(problem=f"{member.name} is not a file"))
                tar.extract(member, into, filter="data")
    except (tarfile.TarError, EOFError, zlib.error) as error:
        raise BackupRefused(refused.format(problem=f"it cannot be read: {error}")) from None
    except FileNotFoundError:
        raise BackupRefused(f"There is no file {archive}; nothing was restored.") from None
    try:
        manifest = Manifest.from_json(json.loads((into / MANIFEST).read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        raise BackupRefused(
            refused.format(problem="its manifest is missing or unreadable")
        ) from None
    present = {path.relative_to(into).as_posix() for path in into.rglob("*") if path.is_file()} - {
        MANIFEST
    }
    for name in sorted(present ^ set(manifest.files)):
        where = "is not in the manifest" if name in present else "is missing"
        raise BackupRefused(refused.format(problem=f"{name} {where}"))
    for name, entry in sorted(manifest.files.items()):
        if sha256_of(into / name) != entry.get("sha256"):
            raise BackupRefused(
                refused.format(problem=f"{name} does not match its checksum in the manifest")
            )
    return manifest


def database_holds_data(database_url: str) -> bool:
    with psycopg.connect(postgres_tools.libpq_url(database_url), connect_timeout=10) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S') AND n.nspname NOT LIKE 'pg\\_%' "
            "AND n.nspname <> 'information_schema'"
        ).fetchone()
    return bool(row and row[0])


def plain_sql(dump: Path, into: Path) -> None:
    """``dump`` without psql meta-commands: pg_dump's ``\\restrict``/``\\unrestrict`` lines go
    (psql before the August 2025 releases does not know them), and any other meta-command
    outside COPY data (``\\!`` would run a shell command) refuses the archive."""
    in_copy = False
    with dump.open(encoding="utf-8") as reading, into.open("w", encoding="utf-8") as writing:
        for number, line in enumerate(reading, 1):
            if in_copy:
                in_copy = line.rstrip("\n") != "\\."
            elif line.startswith("COPY ") and line.rstrip().endswith("FROM stdin;"):
                in_copy = True
            elif line.startswith("\\"):
                if line.startswith(("\\restrict ", "\\unrestrict ")):
                    continue
                raise BackupRefused(
                    f"The database dump has a psql command on line {number} that pg_dump does "
                    "not write; nothing was restored. Restore only archives CourseHub made."
                )
            writing.write(line)


def load_postgres(database_url: str, dump: Path, *, wipe: bool) -> None:
    """``dump`` into the database in one transaction (after emptying it when ``wipe``)."""
    tool = postgres_tools.find_tool("psql", postgres_tools.server_major(database_url))
    statements = dump.with_suffix(".plain.sql")
    plain_sql(dump, statements)
    with tempfile.NamedTemporaryFile("w", suffix=".sql") as prologue:
        prologue.write(_WIPE if wipe else "SELECT 1;\n")
        prologue.flush()
        done = subprocess.run(
            [
                str(tool.path),
                "--no-psqlrc",
                "--quiet",
                "--single-transaction",
                "--set",
                "ON_ERROR_STOP=1",
                "--file",
                prologue.name,
                "--file",
                str(statements),
            ],
            env=postgres_tools.connection_env(database_url),
            capture_output=True,
            text=True,
        )
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise BackupRefused(
            f"The database did not take the backup ({reason}); it was left as it was."
        )


def _replace_folder(source: Path, target: Path) -> None:
    """``source``'s content as ``target``; what ``target`` held goes only once that worked."""
    aside = target.with_name(f".{target.name}.before-restore")
    if target.exists():
        shutil.rmtree(aside, ignore_errors=True)
        os.replace(target, aside)
    if source.exists():
        os.replace(source, target)
    else:
        target.mkdir()
    shutil.rmtree(aside, ignore_errors=True)


def _check_targets(place: PlatformPlace, manifest: Manifest, force: bool) -> None:
    if force:
        return
    if database_holds_data(place.database_url):
        raise BackupRefused(_NOT_EMPTY.format(what="The course database"))
    if HUB_SQL in manifest.files and place.hub_on_postgres:
        if database_holds_data(place.hub_db_url):
            raise BackupRefused(_NOT_EMPTY.format(what="The hub's database"))
    if HUB_SQLITE in manifest.files and (place.data_dir / HUB_SQLITE_NAME).exists():
        raise BackupRefused(_NOT_EMPTY.format(what=f"{place.data_dir / HUB_SQLITE_NAME}"))
    for folder in FILE_FOLDERS:
        path = place.data_dir / folder
        if path.is_dir() and any(path.iterdir()):
            raise BackupRefused(_NOT_EMPTY.format(what=f"The folder {path}"))


def restore(archive: Path, place: PlatformPlace, *, force: bool = False) -> Manifest:
    """Bring ``place`` to the archive's state; the archive's manifest."""
    place.data_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=place.data_dir, prefix=".coursehub-restore-") as tmp:
        staging = Path(tmp)
        manifest = unpack_and_verify(archive, staging)
        _check_targets(place, manifest, force)
        load_postgres(place.database_url, staging / COURSE_SQL, wipe=force)
        if HUB_SQL in manifest.files:
            if not place.hub_on_postgres:
                raise BackupRefused(
                    "The backup holds the hub's PostgreSQL database: set COURSEHUB_HUB_DB_URL "
                    "to an empty PostgreSQL database for it and run the restore again "
                    "(the course database was restored)."
                )
            load_postgres(place.hub_db_url, staging / HUB_SQL, wipe=force)
        if HUB_SQLITE in manifest.files:
            hub = place.data_dir / HUB_SQLITE_NAME
            with closing(sqlite3.connect(staging / HUB_SQLITE)) as reading:
                with closing(sqlite3.connect(hub)) as writing:
                    reading.backup(writing)
            hub.chmod(0o600)
        for folder in FILE_FOLDERS:
            _replace_folder(staging / "files" / folder, place.data_dir / folder)
        for path in sorted((staging / "secrets").glob("*")):
            target = place.data_dir / path.name
            os.replace(path, target)
            target.chmod(0o600)
    log.info("Restored %s (taken %s) into %s", archive, manifest.created_at, place.data_dir)
    return manifest
