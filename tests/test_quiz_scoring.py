"""Scoring quiz answers by rule: every kind and every fill-in matching mode, as tables, and
the question checks that refuse what could not be scored."""

from __future__ import annotations

import time
from typing import Any

import pytest

from coursehub.services.models import QuestionKind
from coursehub.services.quizzes.quiz_questions import QuizError, check_question
from coursehub.services.quizzes.quiz_scoring import correct_answer, points_for, score_response

K = QuestionKind
CHOICES = {
    "choices": [{"id": c, "text": c.upper()} for c in "abcd"],
    "correct": ["a", "c"],
}


def fill(*answers: dict[str, Any]) -> dict[str, Any]:
    return {"answers": list(answers)}


CASES = [
    # kind, spec, response, fraction, correct
    (K.SINGLE_CHOICE, {**CHOICES, "correct": ["b"]}, "b", 1.0, True),
    (K.SINGLE_CHOICE, {**CHOICES, "correct": ["b"]}, "a", 0.0, False),
    (K.SINGLE_CHOICE, {**CHOICES, "correct": ["b"]}, None, 0.0, False),
    (K.MULTIPLE_CHOICE, CHOICES, ["a", "c"], 1.0, True),
    (K.MULTIPLE_CHOICE, CHOICES, ["a"], 0.5, False),
    (K.MULTIPLE_CHOICE, CHOICES, ["a", "b"], 0.0, False),
    (K.MULTIPLE_CHOICE, CHOICES, ["a", "c", "d"], 0.5, False),
    (K.MULTIPLE_CHOICE, CHOICES, ["b", "d"], 0.0, False),
    (K.MULTIPLE_CHOICE, CHOICES, [], 0.0, False),
    (K.TRUE_FALSE, {"correct": False}, False, 1.0, True),
    (K.TRUE_FALSE, {"correct": False}, True, 0.0, False),
    (K.TRUE_FALSE, {"correct": True}, "true", 0.0, False),
    (K.FILL_IN, fill({"mode": "exact", "value": "Paris"}), "  Paris ", 1.0, True),
    (K.FILL_IN, fill({"mode": "exact", "value": "Paris"}), "paris", 0.0, False),
    (K.FILL_IN, fill({"mode": "case_insensitive", "value": "New York"}), "new   YORK", 1.0, True),
    (K.FILL_IN, fill({"mode": "case_insensitive", "value": "Straße"}), "STRASSE", 1.0, True),
    (K.FILL_IN, fill({"mode": "case_insensitive", "value": "New York"}), "Newark", 0.0, False),
    (K.FILL_IN, fill({"mode": "regex", "value": r"colou?r"}), "color", 1.0, True),
    (K.FILL_IN, fill({"mode": "regex", "value": r"colou?r"}), "colors", 0.0, False),
    (K.FILL_IN, fill({"mode": "regex", "value": r"(?i)colou?r"}), "COLOUR", 1.0, True),
    (K.FILL_IN, fill({"mode": "numeric", "value": 3.14159, "abs_tol": 0.01}), "3.14", 1.0, True),
    (K.FILL_IN, fill({"mode": "numeric", "value": 3.14159, "abs_tol": 0.001}), "3.14", 0.0, False),
    (K.FILL_IN, fill({"mode": "numeric", "value": 1000, "rel_tol": 0.05}), "1.04e3", 1.0, True),
    (K.FILL_IN, fill({"mode": "numeric", "value": 1000, "rel_tol": 0.05}), "940", 0.0, False),
    (K.FILL_IN, fill({"mode": "numeric", "value": 0.5}), "1/2", 1.0, True),
    (K.FILL_IN, fill({"mode": "numeric", "value": 0.5}), "half", 0.0, False),
    (K.FILL_IN, fill({"mode": "numeric", "value": 0.5}), "nan", 0.0, False),
    (
        K.FILL_IN,
        fill({"mode": "exact", "value": "4"}, {"mode": "case_insensitive", "value": "four"}),
        "FOUR",
        1.0,
        True,
    ),
    (K.ESSAY, {"guidance": ""}, "My essay", None, None),
    (K.CODE, {"solution": "…", "tests": "…"}, "def f(): pass", None, None),
]
CASE_IDS = [
    "single-right",
    "single-wrong",
    "single-unanswered",
    "multiple-all-right",
    "multiple-half-right",
    "multiple-right-and-wrong-cancel",
    "multiple-all-right-plus-a-wrong",
    "multiple-only-wrong-floors-at-zero",
    "multiple-nothing-chosen",
    "true-false-right",
    "true-false-wrong",
    "true-false-text-is-not-a-boolean",
    "exact-ignores-surrounding-spaces",
    "exact-minds-case",
    "case-insensitive-squashes-spaces",
    "case-insensitive-casefolds",
    "case-insensitive-different-word",
    "regex-fullmatch",
    "regex-must-match-whole-answer",
    "regex-inline-flags",
    "numeric-within-absolute-tolerance",
    "numeric-outside-absolute-tolerance",
    "numeric-within-relative-tolerance",
    "numeric-outside-relative-tolerance",
    "numeric-fraction",
    "numeric-not-a-number",
    "numeric-nan-refused",
    "second-accepted-answer",
    "essay-waits-for-staff",
    "code-waits-for-the-worker",
]


@pytest.mark.parametrize(("kind", "spec", "response", "fraction", "correct"), CASES, ids=CASE_IDS)
def test_a_rule_scores_each_kind_and_matching_mode(kind, spec, response, fraction, correct):
    verdict = score_response(kind, spec, response)
    assert verdict.fraction == fraction
    assert verdict.correct is correct


def test_a_catastrophic_pattern_runs_out_of_time_instead_of_stalling_the_service():
    spec = fill({"mode": "regex", "value": r"(a|aa)+$"})
    started = time.monotonic()
    verdict = score_response(K.FILL_IN, spec, "a" * 5000 + "b")
    assert verdict.fraction == 0.0
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    ("fraction", "points", "score"),
    [(0.5, 3, 1.5), (1 / 3, 1, 0.3333), (1.0, 2.5, 2.5), (0.0, 4, 0.0)],
    ids=["half", "third-rounded", "whole", "nothing"],
)
def test_points_are_the_fraction_of_the_question_s_points(fraction, points, score):
    assert points_for(fraction, points) == score


@pytest.mark.parametrize(
    ("kind", "spec", "shown"),
    [
        (K.SINGLE_CHOICE, {**CHOICES, "correct": ["b"]}, ["b"]),
        (K.TRUE_FALSE, {"correct": True}, True),
        (K.FILL_IN, {"answers": [{"mode": "regex", "value": "x+"}], "display": "xx"}, "xx"),
        (K.FILL_IN, {"answers": [{"mode": "numeric", "value": 2.5, "abs_tol": 0.1}]}, "2.5"),
        (K.FILL_IN, {"answers": [{"mode": "exact", "value": "Paris"}]}, "Paris"),
        (
            K.FILL_IN,
            {
                "answers": [
                    {"mode": "regex", "value": "(?i)pa+ris"},
                    {"mode": "exact", "value": "Paris"},
                ]
            },
            "Paris",
        ),
        (K.FILL_IN, {"answers": [{"mode": "regex", "value": "(?i)pa+ris"}]}, None),
        (K.ESSAY, {}, None),
    ],
    ids=[
        "choice-ids",
        "boolean",
        "display-text",
        "numeric-without-its-tolerance",
        "first-answer",
        "first-answer-that-is-no-pattern",
        "patterns-only-show-nothing",
        "essay",
    ],
)
def test_the_right_answer_shown_never_tells_a_pattern_or_a_tolerance(kind, spec, shown):
    assert correct_answer(kind, spec) == shown


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"kind": "RIDDLE", "prompt": "?"}, "kind must be one of"),
        ({"kind": "TRUE_FALSE", "prompt": "  "}, "prompt"),
        ({"kind": "TRUE_FALSE", "prompt": "Sky is blue", "correct": "yes"}, "true or false"),
        (
            {"kind": "SINGLE_CHOICE", "prompt": "?", "choices": [{"text": "a", "correct": True}]},
            "2 to 26 choices",
        ),
        (
            {
                "kind": "SINGLE_CHOICE",
                "prompt": "?",
                "choices": [{"text": "a", "correct": True}, {"text": "b", "correct": True}],
            },
            "exactly one",
        ),
        (
            {"kind": "MULTIPLE_CHOICE", "prompt": "?", "choices": ["a", "b"]},
            "at least one",
        ),
        (
            {
                "kind": "FILL_IN",
                "prompt": "?",
                "answers": [{"mode": "regex", "value": "(unclosed"}],
            },
            "not a valid regular expression",
        ),
        (
            {"kind": "FILL_IN", "prompt": "?", "answers": [{"mode": "numeric", "value": "pi"}]},
            "must be a number",
        ),
        (
            {"kind": "FILL_IN", "prompt": "?", "answers": [{"mode": "glob", "value": "*"}]},
            "use one of",
        ),
        (
            {
                "kind": "FILL_IN",
                "prompt": "?",
                "answers": [{"mode": "numeric", "value": 1, "abs_tol": -1}],
            },
            "abs_tol",
        ),
        ({"kind": "CODE", "prompt": "?", "solution": "x = 1"}, "solution and its autograder"),
        ({"kind": "ESSAY", "prompt": "?", "points": 0}, "points must be a number"),
    ],
    ids=[
        "unknown-kind",
        "empty-prompt",
        "true-false-needs-a-boolean",
        "one-choice",
        "two-right-single-choices",
        "multiple-with-none-right",
        "broken-regex",
        "numeric-value-not-a-number",
        "unknown-mode",
        "negative-tolerance",
        "code-without-tests",
        "zero-points",
    ],
)
def test_a_question_that_could_not_be_scored_is_refused_with_a_sentence(fields, words):
    with pytest.raises(QuizError) as refused:
        check_question(fields)
    assert words in refused.value.message
    assert refused.value.message.endswith(".")
