"""``coursehub backup`` and ``coursehub restore`` as the command line runs them: the platform's
place from the environment (``DATABASE_URL``, or the embedded PostgreSQL of the data
directory; ``COURSEHUB_HUB_DB_URL`` when the hub's database is PostgreSQL), one line of
outcome, and a refusal as one sentence with exit status 1."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from coursehub.services.embedded import EmbeddedUnavailable, embedded_postgres
from coursehub.services.operations.archive_layout import BackupRefused
from coursehub.services.operations.backup import PlatformPlace, archive_name, back_up
from coursehub.services.operations.postgres_tools import ToolMissing
from coursehub.services.operations.restore import restore
from coursehub.services.settings import data_dir_from_env


@contextlib.contextmanager
def platform_place(data_dir: Path) -> Iterator[PlatformPlace]:
    hub_db_url = os.environ.get("COURSEHUB_HUB_DB_URL", "")
    if not hub_db_url.startswith("postgres"):
        hub_db_url = ""
    url = os.environ.get("DATABASE_URL")
    if url:
        yield PlatformPlace(url, data_dir, hub_db_url)
        return
    data_dir.mkdir(parents=True, exist_ok=True)  # a fresh data directory for a restore
    try:
        with embedded_postgres(data_dir) as embedded:
            yield PlatformPlace(embedded, data_dir, hub_db_url)
    except EmbeddedUnavailable as error:
        sys.exit(str(error))


def backup_main(output: Path | None, with_secrets: bool) -> int:
    data_dir = data_dir_from_env()
    target = output or data_dir / "backups" / archive_name(datetime.now(UTC))
    try:
        with platform_place(data_dir) as place:
            manifest = back_up(place, target, with_secrets=with_secrets)
    except (BackupRefused, ToolMissing) as error:
        print(str(error), file=sys.stderr)
        return 1
    secrets = "with" if with_secrets else "without"
    print(f"Backup written to {target.resolve()} ({len(manifest.files)} files, {secrets} secrets).")
    return 0


def restore_main(archive: Path, force: bool) -> int:
    data_dir = data_dir_from_env()
    try:
        with platform_place(data_dir) as place:
            manifest = restore(archive, place, force=force)
    except (BackupRefused, ToolMissing) as error:
        print(str(error), file=sys.stderr)
        return 1
    print(f"Restored the backup taken {manifest.created_at} into {data_dir}.")
    return 0
