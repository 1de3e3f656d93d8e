"""Every kind of notification, declared once: what the settings page calls it, whether it
emails by default, and the sentence and page a notification of the kind shows.

Every notification is kept in the app (the record, with read/unread). Besides that a kind
sends one email at once (EMAIL), goes into the daily digest (DIGEST) or sends no email
(OFF). The defaults: what needs action soon, or comes from a person, comes at once
(feedback released, assignments released or due within 24 hours, announcements, mentions,
direct messages); what people mostly see while they are on CourseHub anyway goes into the
digest (automatic grades, quiz grades, new lesson versions, forum replies); joining a
course, which people do themselves, sends none. Kinds CourseHub does not know send none.

A kind whose producers know the sentence and the page put them in the payload (``title``,
``url``); the others declare how to make them from the payload (``title_of``, ``link_of``),
and ``notifications.add`` stores what they make, so every row carries both.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from coursehub.hub.constants import SERVICE_PREFIX
from coursehub.services.models import EmailChoice, Notification

Payload = Mapping[str, Any]
NOTIFICATIONS_PAGE = f"{SERVICE_PREFIX}/notifications"


def _no_title(payload: Payload) -> str | None:
    return None


def _no_link(payload: Payload) -> str | None:
    return None


@dataclass(frozen=True)
class Kind:
    name: str
    label: str  # what the settings page calls it
    default: EmailChoice
    title_of: Callable[[Payload], str | None] = _no_title
    link_of: Callable[[Payload], str | None] = _no_link
    fallback_title: str = "You have a new notification on CourseHub."


def _score(payload: Payload, score: str) -> str:
    got, out_of = payload.get(score), payload.get("max_score")
    if isinstance(got, int | float) and isinstance(out_of, int | float) and out_of:
        return f": {got:g}/{out_of:g}"
    return ""


def _course_page(payload: Payload, page: str) -> str | None:
    course = payload.get("course")
    return f"{SERVICE_PREFIX}/courses/{course}/{page}" if isinstance(course, str) else None


def _graded_title(payload: Payload) -> str | None:
    title = payload.get("assignment_title")
    return f"{title} is graded{_score(payload, 'final_score')}." if title else None


def _feedback_title(payload: Payload) -> str | None:
    title = payload.get("assignment_title")
    return f"Feedback on {title} is released." if title else None


def _quiz_graded_title(payload: Payload) -> str | None:
    title = payload.get("quiz_title")
    return f"An answer of yours in {title} is graded{_score(payload, 'score')}." if title else None


def _quiz_link(payload: Payload) -> str | None:
    quiz, attempt = payload.get("quiz_id"), payload.get("attempt_id")
    if isinstance(quiz, int) and isinstance(attempt, int):
        return _course_page(payload, f"quizzes/{quiz}/attempts/{attempt}")
    return _course_page(payload, "quizzes")


def _report_title(payload: Payload) -> str | None:
    title, problem = payload.get("report_title"), payload.get("problem")
    if not isinstance(title, str):
        return None
    return f"The report {title} did not finish: {problem}" if problem else None


def _report_link(payload: Payload) -> str | None:
    report, run = payload.get("report_id"), payload.get("run_id")
    if isinstance(report, int) and isinstance(run, int):
        return _course_page(payload, f"reports/{report}/runs/{run}")
    return _course_page(payload, "reports")


KINDS: tuple[Kind, ...] = (
    Kind("announcement", "Announcements from your instructors", EmailChoice.EMAIL),
    Kind("assignment_released", "A new assignment is released", EmailChoice.EMAIL),
    Kind(
        "assignment_due_soon",
        "An assignment you have not submitted is due within 24 hours",
        EmailChoice.EMAIL,
    ),
    Kind(
        "feedback_released",
        "Feedback on your work is released",
        EmailChoice.EMAIL,
        title_of=_feedback_title,
        link_of=lambda payload: _course_page(payload, "assignments"),
        fallback_title="Feedback on your work is released.",
    ),
    Kind(
        "submission_graded",
        "A submitted assignment is graded automatically",
        EmailChoice.DIGEST,
        title_of=_graded_title,
        link_of=lambda payload: _course_page(payload, "assignments"),
        fallback_title="Your submitted assignment is graded.",
    ),
    Kind(
        "grading_failed",
        "Grading of an assignment failed because of a fault on CourseHub's side",
        EmailChoice.EMAIL,
        link_of=lambda payload: _course_page(payload, "assignments"),
        fallback_title="An assignment could not be graded because of a fault on CourseHub's side.",
    ),
    Kind(
        "quiz_graded",
        "A quiz answer is graded",
        EmailChoice.DIGEST,
        title_of=_quiz_graded_title,
        link_of=_quiz_link,
        fallback_title="A quiz answer of yours is graded.",
    ),
    Kind("lesson_published", "A lesson of your course is published or updated", EmailChoice.DIGEST),
    Kind("direct_message", "Someone sends you a direct message", EmailChoice.EMAIL),
    Kind("forum_mention", "Someone mentions you in a forum", EmailChoice.EMAIL),
    Kind("forum_reply", "Someone replies in a forum thread you take part in", EmailChoice.DIGEST),
    Kind("enrolled", "You are enrolled in a course", EmailChoice.OFF),
    Kind(
        "certificate_issued",
        "You earn a course certificate",
        EmailChoice.EMAIL,
        fallback_title="You earned a course certificate.",
    ),
    Kind(
        "certificate_below_bar",
        "A regrade puts a certificate holder of your course below its minimum grade",
        EmailChoice.EMAIL,
        link_of=lambda payload: _course_page(payload, "certificates"),
        fallback_title="A certificate holder of your course is now below its minimum grade.",
    ),
    Kind(
        "report_failed",
        "A report notebook of your course fails or runs past its time limit",
        EmailChoice.EMAIL,
        title_of=_report_title,
        link_of=_report_link,
        fallback_title="A report notebook of your course did not finish.",
    ),
    Kind(
        "payment_refunded",
        "A payment of yours is refunded (the course it paid for closes)",
        EmailChoice.EMAIL,
        fallback_title="A payment of yours is refunded.",
    ),
    Kind(
        "course_review",
        "An administrator reviews, unpublishes or archives a course you teach",
        EmailChoice.EMAIL,
        fallback_title="There is news about the review of a course you teach.",
    ),
    Kind(
        "support_request",
        "Someone asks for support, or replies on a request (administrators)",
        EmailChoice.EMAIL,
        fallback_title="There is news in the support queue.",
    ),
    Kind(
        "support_reply",
        "An administrator answers your support request",
        EmailChoice.EMAIL,
        fallback_title="Your support request has an answer.",
    ),
)
BY_NAME = {kind.name: kind for kind in KINDS}
UNKNOWN = Kind("", "", EmailChoice.OFF)


def kind_of(name: str) -> Kind:
    return BY_NAME.get(name, UNKNOWN)


def default_for(kind: str) -> EmailChoice:
    """The email choice of people who have not chosen (OFF for kinds CourseHub does not know)."""
    return kind_of(kind).default


def with_title_and_link(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    """``payload`` with the kind's sentence and page added where the producer gave none."""
    declared = kind_of(kind)
    if "title" not in payload and (title := declared.title_of(payload)):
        payload["title"] = title
    if "url" not in payload and (url := declared.link_of(payload)):
        payload["url"] = url
    return payload


# Control characters, whitespace and backslashes (which browsers read as slashes).
_NOT_IN_A_LINK = re.compile(r"[\x00-\x20\x7f\\]")


def coursehub_link(url: object) -> str | None:
    """``url`` if it is a page of the course service: a path (no scheme, no host, not
    ``//host``) that stays under the service's prefix once decoded and normalised, with no
    ``.``/``..`` segments or empty ones (``/../``, ``%2e%2e``, ``//``) to walk elsewhere;
    None for anything else (``javascript:``, other sites, the hub's own pages)."""
    if not isinstance(url, str) or not url or len(url) > 2000 or _NOT_IN_A_LINK.search(url):
        return None
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return None
    path = unquote(parts.path)
    if _NOT_IN_A_LINK.search(path):
        return None
    normal = posixpath.normpath(path)
    if normal != path.rstrip("/") and normal != path:
        return None
    return url if normal == SERVICE_PREFIX or normal.startswith(SERVICE_PREFIX + "/") else None


def display(notification: Notification) -> tuple[str, str]:
    """The notification's title and page, for any kind and any row (older rows made none);
    a link that is not a page of CourseHub's (``coursehub_link``) shows the notifications
    page instead."""
    payload = notification.payload or {}
    declared = kind_of(notification.kind)
    title = payload.get("title") or declared.title_of(payload) or declared.fallback_title
    url = coursehub_link(payload.get("url") or declared.link_of(payload)) or NOTIFICATIONS_PAGE
    return str(title), url
