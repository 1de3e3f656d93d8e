"""Sandbox uids and job folders of this machine's grading sandboxes, shared by grading jobs
and by the AUTOTEST expansion of an uploaded source: one uid per running sandbox, held as an
flock'ed slot file, and a parent folder for every job's private folder."""

from __future__ import annotations

import contextlib
import fcntl
import tempfile
from collections.abc import Iterator
from pathlib import Path

# Sandboxed grading runs as SANDBOX_UID_BASE + slot, one slot per running job on the machine.
SANDBOX_UID_BASE = 300_000
SANDBOX_SLOTS = 1000
SLOT_DIR = Path(tempfile.gettempdir()) / "coursehub-grading-slots"
# Every job's folder is made in here; the engine hides this parent (the other jobs) from a job.
JOBS_DIR = Path(tempfile.gettempdir()) / "coursehub-grading-jobs"


@contextlib.contextmanager
def sandbox_slot() -> Iterator[int]:
    """A sandbox uid no other grading job on this machine holds, for as long as the block
    runs. The slot is an flock'ed file: a killed worker's slots are free again at once."""
    SLOT_DIR.mkdir(mode=0o1777, parents=True, exist_ok=True)
    for slot in range(SANDBOX_SLOTS):
        handle = (SLOT_DIR / f"slot-{slot}.lock").open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        try:
            yield SANDBOX_UID_BASE + slot
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()
        return
    raise RuntimeError(f"All {SANDBOX_SLOTS} grading sandboxes of this machine are busy.")
