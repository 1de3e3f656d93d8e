"""The rules of ``assessment.grading_runs`` on their own: which run kinds and attempt choices
are accepted, and what state each attempt of a run is in from its job and its attempt."""

from __future__ import annotations

import pytest

from coursehub.services.assessment import grading_runs
from coursehub.services.assessment.assignments import AssignmentError
from coursehub.services.assessment.grading_runs import item_state, run_kind
from coursehub.services.models import GradingRunKind


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("AUTOGRADE", GradingRunKind.AUTOGRADE),
        ("regrade", GradingRunKind.REGRADE),
        ("Autograde", GradingRunKind.AUTOGRADE),
    ],
)
def test_a_run_kind_is_autograde_or_regrade_in_any_case(value, kind):
    assert run_kind(value) == kind


@pytest.mark.parametrize("value", [None, "", "grade", 1])
def test_any_other_run_kind_is_refused(value):
    with pytest.raises(AssignmentError, match="kind must be AUTOGRADE or REGRADE"):
        run_kind(value)


def test_left_out_attempts_mean_all_of_them():
    assert grading_runs._chosen(None) is None


def test_chosen_attempts_are_sorted_once_each():
    assert grading_runs._chosen([5, 2, 5, 3]) == [2, 3, 5]


@pytest.mark.parametrize("value", [[], "1,2", [1, "2"], [True], [1.0], {"id": 1}])
def test_chosen_attempts_are_a_non_empty_list_of_ids(value):
    with pytest.raises(AssignmentError, match="submission_ids must be a list"):
        grading_runs._chosen(value)


@pytest.mark.parametrize(
    ("job", "status", "graded", "state"),
    [
        ("failed", "QUEUED", False, "failed"),
        ("cancelled", "GRADED", True, "failed"),
        ("aborted", "QUEUED", False, "failed"),
        ("succeeded", "GRADED", True, "done"),
        ("succeeded", "FAILED", False, "failed"),  # the job gave up on a platform fault
        ("succeeded", "FAILED", True, "done"),
        (None, "GRADED", True, "done"),  # procrastinate deleted the finished job
        (None, "FAILED", False, "failed"),
        (None, "QUEUED", False, "pending"),
        ("todo", "QUEUED", False, "pending"),
        ("doing", "GRADING", False, "pending"),
    ],
)
def test_an_attempts_state_in_a_run(job, status, graded, state):
    assert item_state(job, status, graded) == state


def test_each_kind_has_a_default_reason_and_a_nothing_to_do_message():
    for kind in GradingRunKind:
        assert grading_runs.DEFAULT_REASON[kind]
        assert grading_runs.NOTHING_TO_DO[kind]
