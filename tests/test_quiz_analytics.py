"""The figures of ``quizzes.quiz_analytics`` on their own: the score histogram's bins, a
question's difficulty and its discrimination (corrected item-total correlation)."""

from __future__ import annotations

import pytest

from coursehub.services.quizzes import quiz_analytics as qa


def counts(percentages: list[float]) -> list[int]:
    return [b["count"] for b in qa.histogram(percentages)]


def test_ten_bins_of_ten_points_the_last_one_holding_100():
    bins = qa.histogram([])
    assert [(b["from"], b["to"]) for b in bins] == [(i * 10, i * 10 + 10) for i in range(10)]
    assert counts([0, 9.99, 10, 55, 99.9, 100]) == [2, 1, 0, 0, 0, 1, 0, 0, 0, 2]


def test_a_percentage_a_hair_under_a_bin_edge_by_rounding_counts_in_the_upper_bin():
    assert counts([30 - 1e-9])[3] == 1


def test_out_of_range_percentages_stay_in_the_end_bins():
    assert counts([-5, 130]) == [1, 0, 0, 0, 0, 0, 0, 0, 0, 1]


def test_difficulty_is_the_mean_share_and_discrimination_the_correlation():
    figures = qa.QuestionFigures(1, "Q", "TRUE_FALSE", [1.0, 1.0, 0.0, 0.0], [0.9, 0.8, 0.3, 0.2])
    shown = figures.as_json()
    assert shown["answers"] == 4 and shown["difficulty"] == 0.5
    assert shown["discrimination"] == pytest.approx(0.9864, abs=1e-4)


@pytest.mark.parametrize(
    ("items", "rests"),
    [
        ([1.0], [0.5]),  # one attempt
        ([1.0, 1.0, 1.0], [0.2, 0.5, 0.9]),  # nobody's result differed
        ([1.0, 0.0], [None, None]),  # nothing else in the attempts
    ],
    ids=["one attempt", "all the same", "no rest"],
)
def test_no_discrimination_without_two_differing_results(items, rests):
    assert qa._discrimination(items, rests) is None


def test_a_question_nobody_drew_has_no_difficulty():
    assert qa.QuestionFigures(2, "Q", "ESSAY").as_json()["difficulty"] is None
