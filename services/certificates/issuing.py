"""Issuing certificates in the transaction that meets a course's rule, the PDF and credential
made by a job, re-checks after grade changes, revocation, and verification.

- ``check(session, account_id, course_id)`` runs where completion or a grade is recorded:
  when the student now meets the rule and has no certificate, one is issued (a row with a
  permanent unguessable ``public_id``), its PDF job is deferred and the student notified, all
  in the caller's transaction.
- A grade change that puts a holder below the rule's minimum marks the certificate
  ``below_bar_at`` and tells the course's instructor (``certificate_below_bar``): staff see
  the list and decide (revoke with a reason, or keep); nothing is revoked silently. Going
  back above the bar clears the mark.
- ``make_documents`` (the job) renders the PDF and signs the credential; when it cannot, the
  certificate keeps one sentence in ``pdf_error`` and the student's page says so.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pypdf
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import undefer

from coursehub.hub.constants import SERVICE_PREFIX
from coursehub.services.audit import audit_log
from coursehub.services.certificates import certificate_rules, credentials
from coursehub.services.certificates.certificate_pdf import (
    CertificateError,
    CertificateFace,
    render_pdf,
)
from coursehub.services.certificates.credentials import KEYWORD_PREFIX, CertificateKeys
from coursehub.services.jobs.queue import defer
from coursehub.services.models import Account, Course, Quiz, QuizAttempt, utcnow
from coursehub.services.models.certificates import Certificate, CertificateRule
from coursehub.services.notifications import notifications

log = logging.getLogger("coursehub.certificates")

CERTIFICATE_QUEUE = "certificates"
RENDER_TASK = "make_certificate_documents"
# Deferred by assessment where a grade changes (it cannot import this package: the name is
# written there too, and tests/test_certificates.py checks both are the same).
RECHECK_TASK = "recheck_certificate_after_grade"
RELEASE_TASK = "recheck_certificates_after_release"
MY_CERTIFICATES = f"{SERVICE_PREFIX}/certificates"
MAX_PDF_UPLOAD = 10 * 1024 * 1024


def verify_path(public_id: str) -> str:
    return f"{SERVICE_PREFIX}/certificates/verify/{public_id}"


def issued_on(when: datetime) -> str:
    return f"{when.day} {when:%B %Y}"


async def check(session: AsyncSession, account_id: int, course_id: int) -> Certificate | None:
    """Issue the student's certificate if they now meet the course's rule; mark or clear a
    holder's ``below_bar_at`` after a grade change. The new certificate, else None."""
    rule = await certificate_rules.rule_of(session, course_id)
    if rule is None:
        return None
    course = await session.get(Course, course_id)
    if course is None:
        return None
    standing = await certificate_rules.standing(session, course, account_id)
    held = await session.scalar(
        select(Certificate).where(
            Certificate.course_id == course_id, Certificate.account_id == account_id
        )
    )
    if held is not None:
        if held.revoked_at is None:
            if not standing.grade_met and held.below_bar_at is None:
                held.below_bar_at = utcnow()
                _tell_staff_below_bar(session, course, held, standing.grade)
            elif standing.grade_met:
                held.below_bar_at = None
            if standing.grade is not None:
                held.grade = standing.grade
        return None
    if not standing.met:
        return None
    return await _issue(session, rule, course, account_id, standing.grade)


def _tell_staff_below_bar(
    session: AsyncSession, course: Course, held: Certificate, grade: float | None
) -> None:
    """The course's instructor hears that a regrade put a holder below the bar (once, when
    it happens): the certificate stands until they revoke it or keep it."""
    now = f"{grade:.0f} %" if grade is not None else "no grade"
    notifications.add(
        session,
        course.instructor_id,
        "certificate_below_bar",
        {
            "course": course.slug,
            "certificate": held.public_id,
            "title": f"{held.holder_name}'s grade in {course.title} is now {now}, below the "
            "certificate's minimum: revoke the certificate or keep it.",
        },
    )


async def check_after_quiz(session: AsyncSession, attempt: QuizAttempt) -> None:
    """A quiz attempt's score is now known (or changed): the course's rule, checked again."""
    if attempt.score is None:
        return
    course_id = await session.scalar(select(Quiz.course_id).where(Quiz.id == attempt.quiz_id))
    if course_id is not None:
        await check(session, attempt.account_id, course_id)


async def _issue(
    session: AsyncSession,
    rule: CertificateRule,
    course: Course,
    account_id: int,
    grade: float | None,
) -> Certificate | None:
    account = await session.get(Account, account_id)
    assert account is not None
    certificate = Certificate(
        public_id=secrets.token_urlsafe(18),
        course_id=course.id,
        account_id=account_id,
        holder_name=account.name or account.username,
        course_title=course.title,
        title=rule.title,
        grade=grade,
        issued_at=utcnow(),
    )
    try:
        async with session.begin_nested():  # another transaction may issue it at once
            session.add(certificate)
            await session.flush()
    except IntegrityError:
        return None
    await defer(session, RENDER_TASK, CERTIFICATE_QUEUE, certificate_id=certificate.id)
    notifications.add(
        session,
        account_id,
        "certificate_issued",
        {
            "course": course.slug,
            "title": f"You earned your certificate for {course.title}.",
            "url": MY_CERTIFICATES,
        },
    )
    return certificate


def face_of(
    certificate: Certificate, rule: CertificateRule | None, verify_url: str, keys: CertificateKeys
) -> CertificateFace:
    grade = (
        f"{certificate.grade:.0f} %"
        if certificate.show_grade and certificate.grade is not None
        else ""
    )
    tag = keys.pdf_tag(
        certificate.public_id,
        certificate.holder_name,
        certificate.course_title,
        certificate.issued_at,
    )
    return CertificateFace(
        certificate_id=certificate.public_id,
        title=certificate.title,
        holder_name=certificate.holder_name,
        course_title=certificate.course_title,
        issued_on=issued_on(certificate.issued_at),
        grade=grade,
        signatory_name=rule.signatory_name if rule else "",
        signatory_title=rule.signatory_title if rule else "",
        signature_png=rule.signature_png if rule else None,
        verify_url=verify_url,
        page_size=rule.page_size if rule else "A4",
        keywords=f"{KEYWORD_PREFIX}:{certificate.public_id}:{tag}",
    )


async def make_documents(
    session: AsyncSession, certificate_id: int, keys: CertificateKeys, public_url: str
) -> Certificate | None:
    """Render the certificate's PDF and sign its credential (the job's work); the caller
    commits. A PDF that cannot be made leaves one sentence in ``pdf_error``.

    Made once: the row is locked and a certificate that already has its PDF and credential
    keeps them, so a retried or repeated job never replaces the bytes a holder downloaded
    (an upload check compares the very bytes)."""
    certificate = await session.get(
        Certificate,
        certificate_id,
        options=[undefer(Certificate.pdf)],
        with_for_update=True,
        populate_existing=True,
    )
    if certificate is None:
        return None
    if certificate.pdf is not None and certificate.credential is not None:
        return certificate
    rule = await certificate_rules.rule_of(session, certificate.course_id)
    course = await session.get(Course, certificate.course_id)
    verify_url = f"{public_url}{verify_path(certificate.public_id)}"
    try:
        certificate.pdf = render_pdf(
            face_of(certificate, rule, verify_url, keys), rule.template_html if rule else None
        )
        certificate.pdf_error = None
    except CertificateError as error:
        log.warning("Certificate %s has no PDF: %s", certificate.public_id, error.message)
        certificate.pdf_error = error.message
    certificate.credential = credentials.open_badge(
        keys=keys,
        public_url=public_url,
        verify_url=verify_url,
        public_id=certificate.public_id,
        holder_name=certificate.holder_name,
        course_title=certificate.course_title,
        course_url=f"{public_url}{SERVICE_PREFIX}/courses/{course.slug if course else ''}",
        title=certificate.title,
        issued_at=certificate.issued_at,
    )
    return certificate


async def revoke(
    session: AsyncSession, certificate: Certificate, reason: str, actor: Account | None = None
) -> None:
    """Revoke with the reason the public page shows; kept in the audit log (``actor`` None:
    CourseHub itself)."""
    reason = reason.strip()
    if not reason:
        raise CertificateError(
            "Say why the certificate is revoked; the public page shows it.", field="reason"
        )
    if len(reason) > 1000:
        raise CertificateError("A reason may have at most 1,000 characters.", field="reason")
    if certificate.revoked_at is not None:
        raise CertificateError("This certificate is already revoked.", 409)
    certificate.revoked_at, certificate.revoked_reason = utcnow(), reason
    audit_log.record(
        session,
        actor,
        "certificate.revoke",
        ("certificate", certificate.public_id),
        before={"revoked": False},
        after={"revoked": True},
        reason=reason,
        course_id=certificate.course_id,
    )


async def keep_despite_grade(session: AsyncSession, certificate: Certificate) -> None:
    """Staff decided the certificate stands although a regrade put its holder below the bar."""
    certificate.below_bar_at = None


async def below_bar(session: AsyncSession, course_id: int) -> list[Certificate]:
    return list(
        await session.scalars(
            select(Certificate)
            .where(
                Certificate.course_id == course_id,
                Certificate.below_bar_at.is_not(None),
                Certificate.revoked_at.is_(None),
            )
            .order_by(Certificate.below_bar_at)
        )
    )


async def of_course(session: AsyncSession, course_id: int) -> list[Certificate]:
    return list(
        await session.scalars(
            select(Certificate)
            .where(Certificate.course_id == course_id)
            .order_by(Certificate.issued_at)
        )
    )


async def mine(session: AsyncSession, account_id: int) -> list[Certificate]:
    return list(
        await session.scalars(
            select(Certificate)
            .where(Certificate.account_id == account_id)
            .order_by(Certificate.issued_at.desc())
        )
    )


async def by_public_id(
    session: AsyncSession, public_id: str, *, with_pdf: bool = False
) -> Certificate | None:
    if len(public_id) > 40:
        return None
    query = select(Certificate).where(Certificate.public_id == public_id)
    if with_pdf:
        query = query.options(undefer(Certificate.pdf))
    return await session.scalar(query)


async def set_show_grade(session: AsyncSession, certificate: Certificate, show: bool) -> None:
    certificate.show_grade = show
    await session.execute(
        update(Certificate).where(Certificate.id == certificate.id).values(show_grade=show)
    )


def public_json(certificate: Certificate, public_url: str = "") -> dict[str, Any]:
    """What the public verification page says about a certificate."""
    return {
        "id": certificate.public_id,
        "holder": certificate.holder_name,
        "course": certificate.course_title,
        "title": certificate.title,
        "issued_at": certificate.issued_at.isoformat(),
        "grade_percent": certificate.grade if certificate.show_grade else None,
        "revoked": certificate.revoked_at is not None,
        "revoked_at": certificate.revoked_at.isoformat() if certificate.revoked_at else None,
        "revoked_reason": certificate.revoked_reason,
        "verify_url": f"{public_url}{verify_path(certificate.public_id)}",
    }


@dataclass(frozen=True)
class UploadCheck:
    authentic: bool
    message: str
    certificate: Certificate | None = None


def _keywords(pdf: bytes) -> str:
    try:
        info = pypdf.PdfReader(io.BytesIO(pdf)).metadata
    except Exception:  # any malformed file: not one of ours
        return ""
    value = info.get("/Keywords") if info else None
    return str(value) if value else ""


async def check_upload(session: AsyncSession, pdf: bytes, keys: CertificateKeys) -> UploadCheck:
    """Is this PDF a certificate CourseHub issued, unchanged? (Its id and tag from its
    keywords, and the very bytes CourseHub made.)"""
    if len(pdf) > MAX_PDF_UPLOAD:
        return UploadCheck(False, "This file is larger than any certificate CourseHub makes.")
    if not pdf.startswith(b"%PDF"):
        return UploadCheck(False, "This file is not a PDF. Upload the certificate's PDF file.")
    prefix, _, rest = _keywords(pdf).partition(":")
    public_id, _, tag = rest.partition(":")
    if prefix != KEYWORD_PREFIX or not public_id or not tag:
        return UploadCheck(False, "This PDF is not a CourseHub certificate.")
    certificate = await by_public_id(session, public_id, with_pdf=True)
    if certificate is None:
        return UploadCheck(False, "This PDF names a certificate CourseHub never issued.")
    expected = keys.pdf_tag(
        certificate.public_id,
        certificate.holder_name,
        certificate.course_title,
        certificate.issued_at,
    )
    same_file = certificate.pdf is not None and hmac.compare_digest(
        hashlib.sha256(certificate.pdf).digest(), hashlib.sha256(pdf).digest()
    )
    if not hmac.compare_digest(expected, tag) or not same_file:
        return UploadCheck(
            False,
            "This PDF is not the certificate CourseHub issued: it has been changed. "
            "The certificate's own page below shows what was issued.",
            certificate,
        )
    if certificate.revoked_at is not None:
        return UploadCheck(
            False,
            "This certificate was issued by CourseHub but has been revoked: "
            f"{certificate.revoked_reason}",
            certificate,
        )
    return UploadCheck(
        True, "This PDF is an authentic CourseHub certificate, unchanged.", certificate
    )
