"""Exporting everything CourseHub holds about a person: a zip with ``my-data.json`` (their
account, profile and every row of every table that points at their account, secrets left
out) and their files (notebooks from their JupyterLab home, files they uploaded).

Asking sets a ``DataExport`` row to *queued* and defers the build to the job queue in the
same transaction; a second ask while one is queued finds the first (a partial unique index
makes it one even for two asks at once). The finished zip is kept under
``<data dir>/exports`` and is downloaded with a link (token) that expires.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import zipfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.accounts.accounts import AccountError
from coursehub.services.content import api_json
from coursehub.services.jobs.queue import defer
from coursehub.services.models import Account, Base, DataExport, Upload

PRIVACY_QUEUE = "privacy"
BUILD_TASK = "build_data_export"
QUEUED, READY, FAILED = "queued", "ready", "failed"
LIFETIME = timedelta(days=7)
# Columns never exported: they would help nobody and could help an attacker.
SECRET_COLUMNS = frozenset({"password_hash", "token_sha256", "storage_name", "google_subject"})
# Files of a JupyterLab home that are the person's work, not caches and settings.
SKIPPED_HOME_PARTS = frozenset({".cache", ".local", ".ipython", ".jupyter", ".ipynb_checkpoints"})
MAX_HOME_FILE_BYTES = 200 * 1_000_000


def exports_dir(data_dir: Path) -> Path:
    return data_dir / "exports"


def homes_dir(data_dir: Path) -> Path:
    return data_dir / "homes"


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def request_export(session: AsyncSession, account: Account) -> tuple[DataExport, bool]:
    """The person's queued export: a new one with its job, or the one already queued
    (``False``: nothing new was asked of the queue)."""
    made = await session.scalar(
        insert(DataExport)
        .values(account_id=account.id, state=QUEUED)
        .on_conflict_do_nothing(
            index_elements=[DataExport.account_id], index_where=DataExport.state == QUEUED
        )
        .returning(DataExport.id)
    )
    if made is not None:
        await defer(session, BUILD_TASK, PRIVACY_QUEUE, export_id=made)
        return await session.get_one(DataExport, made), True
    queued = await session.scalar(
        select(DataExport).where(DataExport.account_id == account.id, DataExport.state == QUEUED)
    )
    assert queued is not None
    return queued, False


async def exports_of(session: AsyncSession, account: Account) -> list[DataExport]:
    return list(
        await session.scalars(
            select(DataExport)
            .where(DataExport.account_id == account.id)
            .order_by(DataExport.created_at.desc())
            .limit(10)
        )
    )


async def export_for_download(
    session: AsyncSession, account: Account, token: str, now: datetime
) -> DataExport:
    export = await session.scalar(
        select(DataExport).where(DataExport.token_sha256 == token_digest(token))
    )
    if export is None or export.account_id != account.id or export.state != READY:
        raise AccountError(
            "This download link is not valid for your account. Sign in as the person who "
            "asked for it, or ask for a new export on My data.",
            status=404,
        )
    if export.expires_at is None or export.expires_at <= now:
        raise AccountError(
            "This download link has expired. Ask for a new export on My data.", status=410
        )
    return export


# -- building (in the worker) ------------------------------------------------------------------


def _row_json(table: Table, row: Any) -> dict[str, Any]:
    return {
        column.name: getattr(row, column.name)
        for column in table.columns
        if column.name not in SECRET_COLUMNS
    }


async def collect(session: AsyncSession, account: Account) -> dict[str, Any]:
    """Every row that is about ``account``: its own, and each table's rows pointing at it."""
    accounts_table = Base.metadata.tables["accounts"]
    data: dict[str, Any] = {
        "exported_for": account.username,
        "account": _row_json(accounts_table, account),
        "tables": {},
    }
    for table in Base.metadata.sorted_tables:
        if table.name == "accounts":
            continue
        columns = [
            column
            for column in table.columns
            if any(key.column.table.name == "accounts" for key in column.foreign_keys)
        ]
        if not columns:
            continue
        rows: list[dict[str, Any]] = []
        for column in columns:
            result = await session.execute(select(table).where(column == account.id))
            rows += [_row_json(table, row) for row in result]
        if rows:
            data["tables"][table.name] = rows
    return data


def _home_files(home: Path) -> list[Path]:
    if not home.is_dir():
        return []
    found = []
    for path in sorted(home.rglob("*")):
        parts = set(path.relative_to(home).parts)
        if parts & SKIPPED_HOME_PARTS or not path.is_file() or path.is_symlink():
            continue
        if path.stat().st_size <= MAX_HOME_FILE_BYTES:
            found.append(path)
    return found


def write_zip(
    target: Path, data: dict[str, Any], home: Path, uploads: list[tuple[Path, str]]
) -> int:
    """Write the export to ``target`` (through a part file); its size in bytes."""
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_suffix(".part")
    with zipfile.ZipFile(part, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "my-data.json", json.dumps(json.loads(api_json.dumps(data)), indent=2, sort_keys=True)
        )
        for path in _home_files(home):
            archive.write(path, f"notebooks/{path.relative_to(home)}")
        for path, name in uploads:
            if path.is_file():
                archive.write(path, f"uploads/{name}")
        archive.writestr(
            "README.txt",
            "Everything CourseHub holds about you: my-data.json (your account and every record "
            "that points at it, by table), notebooks/ (the files of your JupyterLab), uploads/ "
            "(pictures and files you uploaded).\n",
        )
    os.replace(part, target)
    return target.stat().st_size


async def uploads_of(session: AsyncSession, account: Account, uploads_dir: Path) -> list[Any]:
    rows = await session.scalars(select(Upload).where(Upload.owner_id == account.id))
    return [
        (uploads_dir / row.storage_name, f"{row.id}-{row.original_name or row.storage_name}")
        for row in rows
    ]


def new_download_token() -> str:
    return secrets.token_urlsafe(32)


async def mark_ready(
    session: AsyncSession, export: DataExport, storage_name: str, size: int, now: datetime
) -> str:
    token = new_download_token()
    export.state, export.storage_name, export.size = READY, storage_name, size
    export.token_sha256 = token_digest(token)
    export.ready_at, export.expires_at = now, now + LIFETIME
    return token


async def expired_files(session: AsyncSession, data_dir: Path, now: datetime) -> list[Path]:
    """Exports past their time: their files to remove, and the rows forget them."""
    rows = list(
        await session.scalars(
            select(DataExport).where(
                DataExport.state == READY,
                DataExport.expires_at <= now,
                DataExport.storage_name.is_not(None),
            )
        )
    )
    files = [exports_dir(data_dir) / row.storage_name for row in rows if row.storage_name]
    if rows:
        await session.execute(
            update(DataExport)
            .where(DataExport.id.in_([row.id for row in rows]))
            .values(storage_name=None)
        )
    return files


async def export_for_owner(
    session: AsyncSession, account: Account, export_id: int, now: datetime
) -> DataExport:
    """The owner's ready export, from My data (no token needed: they are signed in)."""
    export = await session.get(DataExport, export_id)
    if export is None or export.account_id != account.id or export.state != READY:
        raise AccountError("There is no such export of your data.", status=404)
    if export.expires_at is None or export.expires_at <= now or export.storage_name is None:
        raise AccountError("This export has expired. Ask for a new one.", status=410)
    return export
