"""A course's certificate rule, set by its staff, and where a student stands against it.

The rule: every required lesson complete (``Enrollment.completed_at``), optionally a minimum
weighted grade (percent of the gradebook's total as the student sees it, released grades
only), optionally no certificate before a date. Title and signatory (name, title, a PNG
signature) go on the certificate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.assessment import gradebook
from coursehub.services.certificates.certificate_pdf import PAGE_SIZES, CertificateError
from coursehub.services.models import Course, Enrollment, utcnow
from coursehub.services.models.certificates import CertificateRule

MAX_SIGNATURE_BYTES = 500_000
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


async def rule_of(session: AsyncSession, course_id: int) -> CertificateRule | None:
    return await session.get(CertificateRule, course_id)


def _text(body: dict[str, Any], name: str, default: str, limit: int = 200) -> str:
    value = body.get(name, default)
    if not isinstance(value, str) or len(value.strip()) > limit:
        raise CertificateError(f"{name} must be text of at most {limit} characters.", field=name)
    return value.strip()


def _min_grade(value: Any) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise CertificateError(
            "min_grade must be a percentage from 0 to 100, or empty.", field="min_grade"
        )
    try:
        grade = float(value)
    except ValueError:
        raise CertificateError(
            "min_grade must be a percentage from 0 to 100, or empty.", field="min_grade"
        ) from None
    if not 0 <= grade <= 100:
        raise CertificateError(
            f"min_grade must be from 0 to 100, not {grade:g}.", field="min_grade"
        )
    return grade


def _date(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError:
        raise CertificateError(
            "not_before must be a date such as 2026-12-31 (or 2026-12-31T09:00:00+00:00).",
            field="not_before",
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=utcnow().tzinfo)
    return when


async def save_rule(session: AsyncSession, course: Course, body: dict[str, Any]) -> CertificateRule:
    """Create or change the course's rule from a JSON body; refused whole on bad input."""
    rule = await rule_of(session, course.id)
    title = _text(body, "title", rule.title if rule else "Certificate of Completion")
    if not title:
        raise CertificateError("Give the certificate a title.", field="title")
    page_size = body.get("page_size", rule.page_size if rule else "A4")
    if page_size not in PAGE_SIZES:
        raise CertificateError("page_size must be A4 or Letter.", field="page_size")
    values = {
        "title": title,
        "min_grade": _min_grade(body.get("min_grade", rule.min_grade if rule else None)),
        "not_before": _date(body.get("not_before", rule.not_before if rule else None)),
        "signatory_name": _text(body, "signatory_name", rule.signatory_name if rule else ""),
        "signatory_title": _text(body, "signatory_title", rule.signatory_title if rule else ""),
        "page_size": page_size,
        "updated_at": utcnow(),
    }
    if rule is None:
        rule = CertificateRule(course_id=course.id, **values)
        session.add(rule)
    else:
        for name, value in values.items():
            setattr(rule, name, value)
    await session.flush()
    return rule


def check_signature(data: bytes) -> bytes:
    if not data.startswith(PNG_MAGIC):
        raise CertificateError("Upload the signature as a PNG image.", field="signature")
    if len(data) > MAX_SIGNATURE_BYTES:
        raise CertificateError("A signature image may have at most 500 KB.", 413, field="signature")
    return data


@dataclass(frozen=True)
class Standing:
    """Where a student stands against a course's rule."""

    has_rule: bool
    lessons_progress: float  # 0 to 1 of required lessons
    completed: bool
    grade: float | None  # percent, None: the course has no graded items yet
    min_grade: float | None
    not_before: datetime | None

    @property
    def grade_met(self) -> bool:
        if self.min_grade is None:
            return True
        return self.grade is not None and self.grade >= self.min_grade - 1e-9

    @property
    def date_met(self) -> bool:
        return self.not_before is None or utcnow() >= self.not_before

    @property
    def met(self) -> bool:
        return self.has_rule and self.completed and self.grade_met and self.date_met

    def as_json(self) -> dict[str, Any]:
        return {
            "has_rule": self.has_rule,
            "lessons_progress": self.lessons_progress,
            "lessons_complete": self.completed,
            "grade_percent": self.grade,
            "min_grade": self.min_grade,
            "grade_met": self.grade_met,
            "not_before": self.not_before.isoformat() if self.not_before else None,
            "date_met": self.date_met,
            "met": self.met,
        }


async def grade_percent(session: AsyncSession, course: Course, account_id: int) -> float | None:
    """The student's weighted grade in percent as their grades page shows it."""
    book = await gradebook.course_gradebook(
        session, course, only_account=account_id, student_view=True
    )
    if not book.students:
        return None
    row = book.students[0]
    if book.weighted:
        return row.weighted_percent
    if not book.max_total:
        return None
    return round(100 * row.total() / book.max_total, 2)


async def standing(session: AsyncSession, course: Course, account_id: int) -> Standing:
    rule = await rule_of(session, course.id)
    enrollment = await session.scalar(
        select(Enrollment).where(
            Enrollment.course_id == course.id, Enrollment.account_id == account_id
        )
    )
    progress = enrollment.progress if enrollment else 0.0
    completed = bool(enrollment and enrollment.completed_at)
    grade = None
    if rule is not None and rule.min_grade is not None:
        grade = await grade_percent(session, course, account_id)
    return Standing(
        rule is not None,
        progress,
        completed,
        grade,
        rule.min_grade if rule else None,
        rule.not_before if rule else None,
    )
