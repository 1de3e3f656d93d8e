"""Each kind of notification is declared once (``notifications.kinds``): its email default,
and the sentence and page its notifications show."""

from __future__ import annotations

import pytest

from coursehub.hub.constants import SERVICE_PREFIX
from coursehub.services.models import EmailChoice, Notification
from coursehub.services.notifications import kinds


def shown(kind: str, payload: dict) -> tuple[str, str]:
    return kinds.display(Notification(kind=kind, payload=payload))


def test_a_graded_submission_names_the_assignment_its_score_and_links_to_it():
    payload = kinds.with_title_and_link(
        "submission_graded",
        {"assignment_title": "Homework 2", "course": "bio-101", "final_score": 8, "max_score": 10},
    )
    assert payload["title"] == "Homework 2 is graded: 8/10."
    assert payload["url"] == f"{SERVICE_PREFIX}/courses/bio-101/assignments"


def test_released_feedback_says_what_happened():
    title, url = shown("feedback_released", {"assignment_title": "Lab 1", "course": "bio-101"})
    assert title == "Feedback on Lab 1 is released."
    assert url == f"{SERVICE_PREFIX}/courses/bio-101/assignments"


def test_a_graded_quiz_answer_links_to_its_attempt():
    payload = {
        "quiz_title": "Week 1 check",
        "course": "bio-101",
        "quiz_id": 4,
        "attempt_id": 9,
        "score": 7.5,
        "max_score": 10,
    }
    title, url = shown("quiz_graded", payload)
    assert title == "An answer of yours in Week 1 check is graded: 7.5/10."
    assert url == f"{SERVICE_PREFIX}/courses/bio-101/quizzes/4/attempts/9"


def test_a_producers_own_title_and_link_win():
    payload = kinds.with_title_and_link("submission_graded", {"title": "Mine", "url": "/x"})
    assert payload == {"title": "Mine", "url": "/x"}


def test_rows_made_before_the_declarations_still_show_a_sentence_and_a_page():
    assert shown("submission_graded", {}) == (
        "Your submitted assignment is graded.",
        f"{SERVICE_PREFIX}/notifications",
    )
    assert shown("no_such_kind", {"url": "https://elsewhere.example"}) == (
        "You have a new notification on CourseHub.",
        f"{SERVICE_PREFIX}/notifications",
    )


P = SERVICE_PREFIX


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        (f"{P}/courses/bio-101/assignments", True),
        (f"{P}/messages/4?tab=unread#latest", True),
        (f"{P}", True),
        (f"{P}/courses/x/", True),
        ("//evil.example/login", False),
        ("https://evil.example/", False),
        ("javascript:alert(document.cookie)", False),
        ("JavaScript:alert(1)", False),
        ("/hub/admin", False),
        (f"{P}/../../hub/admin", False),
        (f"{P}/%2e%2e/%2E%2E/hub/admin", False),
        (f"{P}//evil.example", False),
        (f"{P}/%2F%2Fevil.example", False),
        (f"{P}/./courses", False),
        (f"{P}\\evil.example", False),
        (f"{P}/x\nLocation: /hub", False),
        (f" {P}/courses", False),
        (f"{P}evil/courses", False),
        ("courses/x", False),
        (None, False),
        (42, False),
    ],
    ids=[
        "a-page",
        "query-and-fragment",
        "the-service-home",
        "trailing-slash",
        "another-host-by-double-slash",
        "another-site",
        "javascript",
        "javascript-any-case",
        "the-hub",
        "dot-dot-out",
        "encoded-dot-dot",
        "double-slash-inside",
        "encoded-slashes",
        "dot-segment",
        "backslash",
        "control-character",
        "leading-space",
        "prefix-lookalike",
        "relative",
        "none",
        "number",
    ],
)
def test_links_are_followed_only_to_pages_of_coursehub_after_normalising(url, kept):
    assert kinds.coursehub_link(url) == (url if kept else None)
    assert shown("announcement", {"title": "T", "url": url})[1] == (
        url if kept else f"{P}/notifications"
    )


def test_email_defaults():
    assert kinds.default_for("announcement") is EmailChoice.EMAIL
    assert kinds.default_for("submission_graded") is EmailChoice.DIGEST
    assert kinds.default_for("enrolled") is EmailChoice.OFF
    assert kinds.default_for("no_such_kind") is EmailChoice.OFF
    assert len({kind.name for kind in kinds.KINDS}) == len(kinds.KINDS)
