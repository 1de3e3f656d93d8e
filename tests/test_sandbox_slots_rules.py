"""The rules of ``assessment.sandbox_slots``: a grading sandbox's uid is held by one job at a
time on this machine (an flock'ed slot file) and is within the sandboxes' uid range."""

from __future__ import annotations

import fcntl

import pytest

from coursehub.services.assessment.sandbox_slots import (
    SANDBOX_SLOTS,
    SANDBOX_UID_BASE,
    SLOT_DIR,
    sandbox_slot,
)


def slot_is_held(uid: int) -> bool:
    with (SLOT_DIR / f"slot-{uid - SANDBOX_UID_BASE}.lock").open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def test_two_jobs_at_once_get_two_uids_in_the_sandboxes_range():
    with sandbox_slot() as first, sandbox_slot() as second:
        assert first != second
        for uid in (first, second):
            assert SANDBOX_UID_BASE <= uid < SANDBOX_UID_BASE + SANDBOX_SLOTS
            assert slot_is_held(uid)  # another process (or handle) cannot take it


def test_a_finished_job_lets_its_slot_go_even_when_it_failed():
    with pytest.raises(ValueError), sandbox_slot() as uid:
        raise ValueError("the job failed")
    assert not slot_is_held(uid)
