"""Free space where CourseHub keeps its files, for both ``/health`` endpoints.

A full disk fails uploads, submissions and databases; health says so before it happens:
below ``COURSEHUB_MIN_FREE_MB`` (200 MB by default) free under the data directory, the
disk is reported low and health answers 503.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

DEFAULT_MIN_FREE_MB = 200


def min_free_mb() -> int:
    try:
        return max(0, int(os.environ.get("COURSEHUB_MIN_FREE_MB", DEFAULT_MIN_FREE_MB)))
    except ValueError:
        return DEFAULT_MIN_FREE_MB


def disk_status(data_dir: Path | str, threshold_mb: int | None = None) -> str:
    """``"ok"``, or a sentence saying how little is free (or that it cannot be told)."""
    threshold = min_free_mb() if threshold_mb is None else threshold_mb
    try:
        free_mb = shutil.disk_usage(data_dir).free // (1024 * 1024)
    except OSError as error:
        return f"error: cannot read free space under {data_dir}: {error.strerror}"
    if free_mb < threshold:
        return (
            f"low: {free_mb} MB free under {data_dir}, below {threshold} MB; "
            "uploads and submissions will fail when it runs out"
        )
    return "ok"
