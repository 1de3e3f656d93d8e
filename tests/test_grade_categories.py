"""The weighting rule of ``assessment.grade_categories``, on its own: what counts, what is
dropped, the implicit "Other" category, renormalising, and the checks of a category's fields."""

from __future__ import annotations

import pytest

from coursehub.services.assessment import grade_categories as gc
from coursehub.services.assessment.assignments import AssignmentError
from coursehub.services.models import GradeCategory

HOMEWORK = gc.Weight(1, "Homework", 40, drop_lowest=1)
EXAMS = gc.Weight(2, "Exams", 60)


def item(key: str, category: int | None, earned: float, possible: float) -> gc.Counted:
    return gc.Counted(key, category, earned, possible)


def test_the_lowest_share_is_dropped_and_a_tie_drops_the_one_worth_more():
    items = [
        item("a-1", 1, 5, 10),  # 50 %
        item("a-2", 1, 10, 20),  # 50 %, worth more: dropped
        item("a-3", 1, 9, 10),
    ]
    [homework] = gc.category_scores([HOMEWORK], items)
    assert homework.dropped == frozenset({"a-2"})
    assert (homework.earned, homework.possible, homework.percent) == (14, 20, 70.0)


def test_dropping_always_keeps_one_item():
    [homework] = gc.category_scores([HOMEWORK], [item("a-1", 1, 1, 10)])
    assert homework.dropped == frozenset() and homework.percent == 10.0


def test_items_with_nothing_possible_do_not_count():
    [exams] = gc.category_scores([EXAMS], [item("q-1", 2, 0, 0)])
    assert exams.possible == 0 and exams.percent is None


def test_a_category_with_nothing_graded_neither_lowers_nor_raises_the_total():
    scores = gc.category_scores([HOMEWORK, EXAMS], [item("a-1", 1, 8, 10)])
    assert gc.weighted_percent(scores) == 80.0


def test_the_total_weighs_each_category_by_its_share():
    items = [item("a-1", 1, 10, 10), item("a-2", 1, 5, 10), item("q-1", 2, 1, 2)]
    scores = gc.category_scores([HOMEWORK, EXAMS], items)
    # Homework drops a-2 (100 %), exams 50 %: 0.4 * 100 + 0.6 * 50.
    assert gc.weighted_percent(scores) == 70.0


def test_no_grade_yet_is_no_total():
    assert gc.weighted_percent(gc.category_scores([HOMEWORK, EXAMS], [])) is None


def test_items_in_no_category_go_to_other_which_gets_what_is_left_of_100():
    categories = [
        GradeCategory(id=1, name="Homework", weight=40, drop_lowest=0),
        GradeCategory(id=2, name="Exams", weight=50, drop_lowest=0),
    ]
    found = gc.weights(categories, uncategorised=True)
    assert [(w.id, w.name, w.weight) for w in found] == [
        (1, "Homework", 40),
        (2, "Exams", 50),
        (None, gc.OTHER, 10),
    ]
    scores = gc.category_scores(found, [item("x-1", 99, 3, 4)])  # an unknown category: Other
    assert [s.earned for s in scores] == [0, 0, 3]


def test_other_gets_nothing_when_the_categories_take_100_or_more():
    categories = [GradeCategory(id=1, name="All", weight=120, drop_lowest=0)]
    assert gc.weights(categories, uncategorised=True)[-1].weight == 0


def test_a_course_without_categories_has_no_weights():
    assert gc.weights([], uncategorised=True) == []


def test_a_category_score_as_json():
    [score] = gc.category_scores([HOMEWORK], [item("a-1", 1, 1, 3), item("a-2", 1, 3, 3)])
    assert score.to_json() == {
        "id": 1,
        "name": "Homework",
        "weight": 40,
        "earned": 3,
        "possible": 3,
        "percent": 100.0,
        "dropped": ["a-1"],
    }


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"name": ""}, "name of 1 to 100"),
        ({"name": "x" * 101}, "name of 1 to 100"),
        ({"weight": 101}, "from 0 to 100"),
        ({"weight": True}, "from 0 to 100"),
        ({"drop_lowest": -1}, "whole number from 0 to 100"),
        ({"drop_lowest": 1.5}, "whole number"),
        ({"position": "1"}, "whole number"),
    ],
    ids=[
        "empty name",
        "long name",
        "weight over 100",
        "weight bool",
        "negative drop",
        "fractional drop",
        "position text",
    ],
)
def test_a_category_with_a_wrong_field_is_refused_with_a_sentence(fields, words):
    category = GradeCategory(name="Homework", weight=10, drop_lowest=0, position=0)
    with pytest.raises(AssignmentError) as refused:
        gc._apply(category, fields)
    assert words in refused.value.message and refused.value.status == 400


def test_a_category_takes_its_fields():
    category = GradeCategory(name="Homework", weight=10, drop_lowest=0, position=0)
    gc._apply(category, {"name": "  Labs ", "weight": 25, "drop_lowest": 2, "position": 3})
    assert (category.name, category.weight, category.drop_lowest, category.position) == (
        "Labs",
        25.0,
        2,
        3,
    )


def test_ids_are_deduplicated_and_sorted_and_checked():
    assert gc._ids([5, 3, 5], "assignment_ids") == [3, 5]
    with pytest.raises(AssignmentError, match="list of ids"):
        gc._ids([0], "assignment_ids")
    with pytest.raises(AssignmentError, match="list of ids"):
        gc._ids("3", "assignment_ids")
