"""Backups that restore: an administrator backs up a populated CourseHub (the demo course,
its people, a submission's grade, an upload, the hub's own database) with ``coursehub
backup``, restores it with ``coursehub restore`` into a new database and data directory, and
finds every table row, sequence and file as it was. A restore into a platform that holds
data is refused unless forced; a truncated or edited archive is refused by its checksums
and changes nothing."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import io
import json
import os
import sqlite3
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from jupyterhub import orm

from coursehub.services.bootstrap import with_session
from coursehub.services.embedded import embedded_postgres
from coursehub.services.migrate import upgrade
from coursehub.services.operations import backup_jobs, commands
from coursehub.services.operations.archive_layout import FILE_FOLDERS
from coursehub.services.operations.backup import PlatformPlace, back_up
from coursehub.services.operations.restore import restore
from coursehub.services.seed import seed_demo
from coursehub.services.settings import sqlalchemy_url
from tests.platform import create_database, drop_database


@dataclass
class Place:
    database_url: str
    data_dir: Path

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "COURSEHUB_HUB_DB_URL"}
        return {**env, "DATABASE_URL": self.database_url, "COURSEHUB_DATA_DIR": str(self.data_dir)}

    def coursehub(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "coursehub.services.cli", *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=300,
        )


def make_hub_database(data_dir: Path) -> None:
    """The hub's SQLite database as JupyterHub makes it, with a user and a token."""
    session = orm.new_session_factory(f"sqlite:///{data_dir / 'jupyterhub.sqlite'}")()
    user = orm.User(name="student-1")
    session.add_all([user, orm.OAuthClient(identifier="jupyterhub")])
    session.commit()
    user.new_api_token(note="backup test")
    session.commit()
    session.close()


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Place]:
    """A populated platform: the demo course and people seeded by the same code as
    ``coursehub up``, an uploaded video, the hub's database and the platform's secrets."""
    url = create_database("coursehub_backup_source")
    data_dir = tmp_path_factory.mktemp("source-data")
    upgrade(sqlalchemy_url(url))
    asyncio.run(with_session(sqlalchemy_url(url), lambda s: seed_demo(s, data_dir)))
    (data_dir / "uploads").mkdir(exist_ok=True)
    (data_dir / "uploads" / "intro.mp4").write_bytes(os.urandom(300_000))
    (data_dir / "secrets.json").write_text(json.dumps({"cookie_secret": "c0ffee"}))
    make_hub_database(data_dir)
    yield Place(url, data_dir)
    drop_database(url)


@pytest.fixture
def empty(tmp_path: Path) -> Iterator[Place]:
    url = create_database("coursehub_backup_target")
    yield Place(url, tmp_path / "restored-data")
    drop_database(url)


def restore_in_process(
    place: Place, archive: Path, monkeypatch: pytest.MonkeyPatch, capsys, force: bool = False
) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    """``coursehub restore`` as the command runs it, in this process (no interpreter start:
    the refusals below need no fresh process); its exit status and what it said."""
    monkeypatch.setenv("DATABASE_URL", place.database_url)
    monkeypatch.setenv("COURSEHUB_DATA_DIR", str(place.data_dir))
    monkeypatch.delenv("COURSEHUB_HUB_DB_URL", raising=False)
    code = commands.restore_main(archive, force)
    return code, capsys.readouterr().err


def tables(url: str) -> dict[str, list[str]]:
    """Every table's rows (as text, sorted) and every sequence's position."""
    with psycopg.connect(url) as conn:
        names = [
            row[0]
            for row in conn.execute(
                "SELECT quote_ident(table_name) FROM information_schema.tables "
                "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
            )
        ]
        contents = {
            name: sorted(row[0] for row in conn.execute(f"SELECT t::text FROM {name} t"))
            for name in names
        }
        for (sequence,) in conn.execute(
            "SELECT quote_ident(sequence_name) FROM information_schema.sequences"
        ).fetchall():
            contents[f"sequence {sequence}"] = [
                str(conn.execute(f"SELECT last_value, is_called FROM {sequence}").fetchone())
            ]
    return contents


def files(data_dir: Path) -> dict[str, str]:
    return {
        path.relative_to(data_dir).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for folder in FILE_FOLDERS
        for path in (data_dir / folder).rglob("*")
        if path.is_file()
    }


def hub_rows(data_dir: Path) -> dict[str, list[tuple[object, ...]]]:
    with closing(sqlite3.connect(data_dir / "jupyterhub.sqlite")) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {n: sorted(map(repr, conn.execute(f'SELECT * FROM "{n}"'))) for n in names}


@pytest.fixture(scope="module")
def archive(source: Place, tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("backups") / "platform.tar.gz"
    done = source.coursehub("backup", "--with-secrets", "--output", str(output))
    assert done.returncode == 0, done.stderr
    assert "Backup written to" in done.stdout
    return output


def test_a_backup_restores_into_a_new_database_and_data_dir_exactly(
    source: Place, archive: Path, empty: Place
) -> None:
    assert oct(archive.stat().st_mode & 0o777) == "0o600"  # it holds password hashes
    done = empty.coursehub("restore", str(archive))
    assert done.returncode == 0, done.stderr

    before, after = tables(source.database_url), tables(empty.database_url)
    assert before.keys() == after.keys()
    assert len(before["accounts"]) >= 3 and before["lesson_versions"]  # it was populated
    for name in before:
        assert after[name] == before[name], name
    assert files(source.data_dir) and files(empty.data_dir) == files(source.data_dir)
    assert hub_rows(empty.data_dir) == hub_rows(source.data_dir)
    assert hub_rows(empty.data_dir)["api_tokens"]
    assert json.loads((empty.data_dir / "secrets.json").read_text())["cookie_secret"] == "c0ffee"


def test_a_restore_into_a_platform_with_data_is_refused_unless_forced(
    source: Place, archive: Path, empty: Place, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    assert restore_in_process(empty, archive, monkeypatch, capsys)[0] == 0
    with psycopg.connect(empty.database_url, autocommit=True) as conn:
        conn.execute("UPDATE accounts SET name = 'Changed after the backup'")
    (empty.data_dir / "uploads" / "newer.png").write_bytes(b"png")

    code, said = restore_in_process(empty, archive, monkeypatch, capsys)
    assert code == 1
    assert "already holds data; nothing was restored" in said
    assert "--force" in said
    with psycopg.connect(empty.database_url) as conn:
        names = {row[0] for row in conn.execute("SELECT name FROM accounts")}
    assert names == {"Changed after the backup"}  # nothing changed

    code, said = restore_in_process(empty, archive, monkeypatch, capsys, force=True)
    assert code == 0, said
    assert tables(empty.database_url) == tables(source.database_url)
    assert files(empty.data_dir) == files(source.data_dir)


def rewrite(archive: Path, destination: Path, change: str, inject: bytes = b"") -> None:
    """A copy of ``archive`` whose course database dump was edited: its manifest untouched,
    or with ``inject`` (added to the dump) recomputed to match."""
    with tarfile.open(archive, "r:gz") as reading, tarfile.open(destination, "w:gz") as writing:
        digest = ""
        for member in reading:
            body = reading.extractfile(member)
            data = body.read() if body else b""
            if member.name == "databases/course.sql":
                data = (
                    inject + data
                    if inject
                    else data + f"\nUPDATE accounts SET role = 'ADMIN'; -- {change}\n".encode()
                )
                digest = hashlib.sha256(data).hexdigest()
            if member.name == "manifest.json" and inject:
                manifest = json.loads(data)
                manifest["files"]["databases/course.sql"] = {"sha256": digest, "size": 0}
                data = json.dumps(manifest).encode()
            member.size = len(data)
            writing.addfile(member, io.BytesIO(data))


def test_a_truncated_or_tampered_archive_is_refused_and_changes_nothing(
    archive: Path, empty: Place, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    def restore(path: Path) -> tuple[int, str]:
        return restore_in_process(empty, path, monkeypatch, capsys)

    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    code, said = restore(truncated)
    assert code == 1
    assert "is not a whole CourseHub backup" in said
    assert "nothing was restored" in said

    tampered = tmp_path / "tampered.tar.gz"
    rewrite(archive, tampered, "everyone an administrator")
    code, said = restore(tampered)
    assert code == 1
    assert "does not match its checksum" in said

    # An archive made to look whole (its manifest recomputed) whose dump runs a shell command.
    forged = tmp_path / "forged.tar.gz"
    ran = tmp_path / "the-forged-archive-ran"
    rewrite(archive, forged, "x", inject=f"\\! touch {ran}\n".encode())
    code, said = restore(forged)
    assert code == 1
    assert "a psql command on line" in said
    assert not ran.exists()

    not_gzip = tmp_path / "plain.tar.gz"
    not_gzip.write_bytes(gzip.compress(b"not a tar file at all"))
    assert "not a whole CourseHub backup" in restore(not_gzip)[1]

    assert tables(empty.database_url) == {}  # the target database is still empty
    assert not (empty.data_dir / "lessons").exists() or not any(
        (empty.data_dir / "lessons").iterdir()
    )


def test_scheduled_backups_keep_the_newest_of_n_days_and_m_weeks(
    source: Place, tmp_path: Path
) -> None:
    """A worker's scheduled backup on 2026-03-31 (a Tuesday), with 3 daily and 2 weekly
    kept, in a folder of earlier backups (two on one day, one a week back, one older)."""
    folder = tmp_path / "nightly"
    folder.mkdir()
    earlier = [
        "20260330T033000Z",  # Monday: the newest of its day
        "20260330T010000Z",  # Monday, earlier: not the newest of anything
        "20260329T033000Z",  # Sunday: newest of its day and of ISO week 13
        "20260322T033000Z",  # the week before: fourth day back, third week back
        "20260101T033000Z",  # long ago
    ]
    for stamp in earlier:
        (folder / f"coursehub-backup-{stamp}.tar.gz").write_bytes(b"an older backup")
    (folder / "notes.txt").write_text("not a backup: left alone")
    schedule = backup_jobs.BackupSchedule.from_env(
        {
            "COURSEHUB_BACKUP_DIR": str(folder),
            "COURSEHUB_BACKUP_KEEP_DAILY": "3",
            "COURSEHUB_BACKUP_KEEP_WEEKLY": "2",
            "DATABASE_URL": source.database_url,
        }
    )
    assert schedule is not None
    made = backup_jobs.scheduled_backup(schedule, datetime(2026, 3, 31, 3, 30, tzinfo=UTC))
    assert made.name == "coursehub-backup-20260331T033000Z.tar.gz"
    assert sorted(path.name for path in folder.iterdir()) == [
        "coursehub-backup-20260329T033000Z.tar.gz",  # 3rd day, and newest of week 13
        "coursehub-backup-20260330T033000Z.tar.gz",  # 2nd day
        "coursehub-backup-20260331T033000Z.tar.gz",  # today, newest of week 14
        "notes.txt",
    ]
    assert backup_jobs.BackupSchedule.from_env({}) is None  # off unless a folder is given
    with pytest.raises(RuntimeError, match="KEEP_DAILY must be a whole number"):
        backup_jobs.BackupSchedule.from_env(
            {"COURSEHUB_BACKUP_DIR": str(folder), "COURSEHUB_BACKUP_KEEP_DAILY": "seven"}
        )


def test_a_backup_restores_into_a_fresh_data_dir_with_its_embedded_postgresql(
    source: Place, archive: Path, tmp_path: Path
) -> None:
    """No DATABASE_URL: ``coursehub restore`` starts the embedded PostgreSQL of a new data
    directory (pgserver's own version, newer than the machine's) and fills it."""
    fresh = Place("", tmp_path / "fresh")
    env = {k: v for k, v in fresh.env().items() if k != "DATABASE_URL"}
    done = subprocess.run(
        [sys.executable, "-m", "coursehub.services.cli", "restore", str(archive)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    with embedded_postgres(fresh.data_dir) as url:
        restored = tables(sqlalchemy_url(url).replace("postgresql+psycopg://", "postgresql://"))
    assert restored == tables(source.database_url)
    assert files(fresh.data_dir) == files(source.data_dir)


def test_a_hub_database_on_postgresql_is_backed_up_and_restored_with_pg_dump(
    source: Place, tmp_path: Path
) -> None:
    """Many machines keep the hub's database on PostgreSQL too (COURSEHUB_HUB_DB_URL)."""
    hub_source, course_target, hub_target = (
        create_database(f"coursehub_backup_{role}") for role in ("hub", "target", "hub_target")
    )
    try:
        session = orm.new_session_factory(sqlalchemy_url(hub_source))()
        session.add(orm.User(name="hub-user-on-postgres"))
        session.commit()
        session.close()
        archive = tmp_path / "with-hub.tar.gz"
        manifest = back_up(PlatformPlace(source.database_url, source.data_dir, hub_source), archive)
        assert "databases/jupyterhub.sql" in manifest.files
        restore(archive, PlatformPlace(course_target, tmp_path / "restored", hub_target))
        assert tables(hub_target) == tables(hub_source)
        assert any("hub-user-on-postgres" in row for row in tables(hub_target)["users"])
        assert tables(course_target) == tables(source.database_url)
    finally:
        for url in (hub_source, course_target, hub_target):
            drop_database(url)
