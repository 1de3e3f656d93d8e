"""The rules of ``assessment.rubrics`` on their own: a rubric score stays within the cell's
points, items and comments are checked, and an unknown grade cell is a 404."""

from __future__ import annotations

import pytest

from coursehub.services.assessment import rubrics
from coursehub.services.assessment.assignments import AssignmentError
from coursehub.services.models import Assignment


@pytest.mark.parametrize(
    ("points", "max_points", "score"),
    [
        ([1, 2], 5, 3),
        ([4, 3], 5, 5),  # never above the cell's points
        ([2, -5], 5, 0),  # taking off never goes below 0
        ([], 5, 0),
        ([0.33333, 0.33333], 1, 0.6667),
    ],
    ids=["sum", "capped", "floored", "nothing ticked", "rounded"],
)
def test_a_rubric_score_is_the_ticked_sum_within_0_and_the_cells_points(points, max_points, score):
    assert rubrics.rubric_score(points, max_points) == score


def test_a_grade_cell_is_found_by_its_id_or_is_a_404():
    assignment = Assignment(
        grade_cells=[{"grade_id": "q1", "kind": "manual", "max_points": 3}],
    )
    assert rubrics.grade_cell(assignment, "q1")["max_points"] == 3
    with pytest.raises(AssignmentError) as refused:
        rubrics.grade_cell(assignment, "q2")
    assert refused.value.status == 404 and "'q2'" in refused.value.message


@pytest.mark.parametrize("value", ["", "   ", None, "x" * (rubrics.MAX_LABEL + 1)])
def test_a_label_is_1_to_300_characters(value):
    with pytest.raises(AssignmentError, match="label of 1 to 300"):
        rubrics._label(value)


def test_a_label_is_trimmed():
    assert rubrics._label("  Names the base case ") == "Names the base case"


@pytest.mark.parametrize("value", [True, "2", None])
def test_points_are_a_number(value):
    with pytest.raises(AssignmentError, match="must be a number"):
        rubrics._points(value)


def test_points_are_bounded_and_rounded():
    assert rubrics._points(-1.123456) == -1.1235
    with pytest.raises(AssignmentError, match="within"):
        rubrics._points(rubrics.MAX_ABS_POINTS + 1)


def test_a_comment_is_text_of_bounded_length():
    assert rubrics.clean_comment("  Well argued.  ") == "Well argued."
    with pytest.raises(AssignmentError, match="must be text"):
        rubrics.clean_comment(3)
    with pytest.raises(AssignmentError, match="under 5000"):
        rubrics.clean_comment("x" * (rubrics.MAX_COMMENT + 1))
