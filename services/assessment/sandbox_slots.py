"""Sandbox uids and job folders of this machine's grading sandboxes, shared by grading jobs
and by the AUTOTEST expansion of an uploaded source: one uid per running sandbox, held as an
flock'ed slot file, and a parent folder for every job's private folder."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

from coursehub.hub.sandbox import uid_slot

# Sandboxed grading runs as SANDBOX_UID_BASE + slot, one slot per running job on the machine.
SANDBOX_UID_BASE = 300_000
SANDBOX_SLOTS = 1000
SLOT_DIR = Path(tempfile.gettempdir()) / "coursehub-grading-slots"
# Every job's folder is made in here; the engine hides this parent (the other jobs) from a job.
JOBS_DIR = Path(tempfile.gettempdir()) / "coursehub-grading-jobs"


def sandbox_slot() -> contextlib.AbstractContextManager[int]:
    """A sandbox uid no other grading job on this machine holds, for as long as the block
    runs. The slot is an flock'ed file: a killed worker's slots are free again at once."""
    return uid_slot(SLOT_DIR, SANDBOX_UID_BASE, SANDBOX_SLOTS, what="grading sandboxes")
