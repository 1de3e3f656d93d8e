"""Scoring the questions a rule can decide: choices, true/false and fill-in-the-blank.

Pure functions, no database: ``score_response(kind, spec, response)`` gives the fraction of
the question's points earned and whether the answer is right. Essays (staff) and code
(the grading worker) are not decided here: their fraction is None.

Responses, as students' pages send them:

- SINGLE_CHOICE: the id of one choice (``"b"``)
- MULTIPLE_CHOICE: a list of choice ids (``["a", "c"]``)
- TRUE_FALSE: ``true`` or ``false``
- FILL_IN, ESSAY, CODE: a string

Partial credit for MULTIPLE_CHOICE ("right minus wrong"): each correct choice selected earns
1/k of the points and each wrong choice selected takes 1/k away, where k is the number of
correct choices; the result is never below 0. All correct and nothing else earns full points.

Fill-in answers are compared after removing spaces at either end, in one of four modes:

- ``exact``: the same text, letter for letter
- ``case_insensitive``: the same text ignoring case (Unicode casefold) and runs of spaces
- ``regex``: the whole answer matches the pattern (``regex.fullmatch``); the match runs with
  a time limit, so a pattern prone to catastrophic backtracking cannot stall the service: a
  match that runs out of time counts as no match
- ``numeric``: a number (``3.14``, ``-2e3``, ``1/3``) within ``abs_tol`` or ``rel_tol``
  (relative to the expected value) of ``value``, as ``math.isclose`` decides
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import regex

from coursehub.services.models import QuestionKind

log = logging.getLogger("coursehub.quizzes")

FILL_IN_MODES = ("exact", "case_insensitive", "regex", "numeric")
# Seconds one regular-expression match may take.
REGEX_TIMEOUT = 0.05


@dataclass(frozen=True)
class Verdict:
    """The share of the points earned (None: a person or the worker decides) and whether
    the answer is right (None when that is not a yes/no matter)."""

    fraction: float | None
    correct: bool | None


def _single(spec: dict[str, Any], response: Any) -> Verdict:
    right = response in spec["correct"]
    return Verdict(1.0 if right else 0.0, right)


def _multiple(spec: dict[str, Any], response: Any) -> Verdict:
    chosen = set(response or [])
    correct = set(spec["correct"])
    earned = len(chosen & correct) - len(chosen - correct)
    fraction = max(0.0, earned / len(correct))
    return Verdict(round(fraction, 6), chosen == correct)


def _true_false(spec: dict[str, Any], response: Any) -> Verdict:
    right = isinstance(response, bool) and response is spec["correct"]
    return Verdict(1.0 if right else 0.0, right)


def parse_number(text: str) -> float | None:
    """A finite number written as a decimal, in e-notation or as a fraction ``a/b``."""
    text = text.strip()
    try:
        number = float(Fraction(text)) if "/" in text else float(text)
    except (ValueError, ZeroDivisionError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _squash(text: str) -> str:
    return " ".join(text.split()).casefold()


def regex_matches(pattern: str, text: str) -> bool:
    try:
        return regex.fullmatch(pattern, text, timeout=REGEX_TIMEOUT) is not None
    except TimeoutError:
        log.warning("A fill-in pattern ran out of time and counts as no match: %r", pattern)
        return False
    except regex.error:
        return False


def accepts(answer: dict[str, Any], text: str) -> bool:
    """Whether one accepted-answer rule of a fill-in question takes ``text``."""
    text = text.strip()
    mode = answer["mode"]
    if mode == "exact":
        return text == str(answer["value"]).strip()
    if mode == "case_insensitive":
        return _squash(text) == _squash(str(answer["value"]))
    if mode == "regex":
        return regex_matches(str(answer["value"]), text)
    number = parse_number(text)
    if number is None:
        return False
    return math.isclose(
        number,
        float(answer["value"]),
        rel_tol=float(answer.get("rel_tol") or 0),
        abs_tol=float(answer.get("abs_tol") or 0),
    )


def _fill_in(spec: dict[str, Any], response: Any) -> Verdict:
    right = isinstance(response, str) and any(accepts(rule, response) for rule in spec["answers"])
    return Verdict(1.0 if right else 0.0, right)


RULES = {
    QuestionKind.SINGLE_CHOICE: _single,
    QuestionKind.MULTIPLE_CHOICE: _multiple,
    QuestionKind.TRUE_FALSE: _true_false,
    QuestionKind.FILL_IN: _fill_in,
}


def is_objective(kind: QuestionKind) -> bool:
    """Whether a rule scores this kind the moment the attempt is submitted."""
    return kind in RULES


def score_response(kind: QuestionKind, spec: dict[str, Any], response: Any) -> Verdict:
    """The verdict on ``response`` (None: unanswered) to a question of ``kind``."""
    rule = RULES.get(kind)
    if rule is None:
        return Verdict(None, None)
    if response is None:
        return Verdict(0.0, False)
    return rule(spec, response)


def points_for(fraction: float, points: float) -> float:
    return round(fraction * points, 4)


def correct_answer(kind: QuestionKind, spec: dict[str, Any]) -> Any:
    """What to show as the right answer when the quiz's policy shows answers: the chosen
    choices, true or false, or for a blank the author's display text, else the first
    accepted word or number. Never a regular expression or a tolerance (they tell how the
    answer is checked, and a regular expression may accept more than the author meant to
    show); a blank with only patterns shows no answer."""
    if kind in (QuestionKind.SINGLE_CHOICE, QuestionKind.MULTIPLE_CHOICE):
        return list(spec["correct"])
    if kind is QuestionKind.TRUE_FALSE:
        return spec["correct"]
    if kind is QuestionKind.FILL_IN:
        if spec.get("display"):
            return spec["display"]
        for accepted in spec["answers"]:
            if accepted["mode"] == "numeric":
                return f"{float(accepted['value']):g}"
            if accepted["mode"] in ("exact", "case_insensitive"):
                return str(accepted["value"])
    return None
