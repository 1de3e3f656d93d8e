"""Certificates on real PostgreSQL: a student who completes a course under its rule gets a
certificate in that same transaction (PDF job queued, notification made); the PDF, rendered
by WeasyPrint, reads back with the student's Unicode name, the course and the date; an
uploaded PDF is authentic only unchanged; the credential's Ed25519 proof holds only for the
document signed; a grade that drops below the bar is put before staff, not revoked."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import re
import subprocess
from datetime import timedelta

import base58
import pypdf
import pypdfium2
import pytest
import redis.asyncio as redis
import rfc8785
from cryptography.exceptions import InvalidSignature
from sqlalchemy import func, select, text

from coursehub.graders.autograde import GradeResult
from coursehub.hub.constants import Role
from coursehub.services.assessment import manual_grading
from coursehub.services.certificates import certificate_jobs, certificate_rules, issuing
from coursehub.services.certificates.certificate_pdf import (
    SAMPLE,
    CertificateError,
    check_template,
    render_pdf,
)
from coursehub.services.certificates.credentials import credential_is_authentic, load_keys
from coursehub.services.jobs.context import WorkerContext
from coursehub.services.learning import progress
from coursehub.services.models import (
    Account,
    AnswerState,
    Assignment,
    Course,
    FeedbackRelease,
    Grade,
    LessonKind,
    Notification,
    Quiz,
    QuizAnswer,
    QuizAttempt,
    Submission,
    utcnow,
)
from coursehub.services.models.audit import AuditEntry
from coursehub.services.models.certificates import Certificate
from coursehub.services.quizzes import quiz_grading
from coursehub.services.quizzes.quiz_jobs import QuizGrader
from tests.service_data import attempt_of, course_with, lessons_in

PUBLIC = "https://coursehub.example"


def pdf_text(pdf: bytes) -> str:
    """The PDF's text as PDFium reads it (lines joined with spaces)."""
    document = pypdfium2.PdfDocument(pdf)
    text = " ".join(page.get_textpage().get_text_range() for page in document)
    return " ".join(text.split())


def eddsa_jcs_2022_holds(keys, credential: dict) -> bool:
    """The Data Integrity eddsa-jcs-2022 verification, step by step from the W3C text."""
    proof = dict(credential["proof"])
    assert proof["type"] == "DataIntegrityProof" and proof["cryptosuite"] == "eddsa-jcs-2022"
    value = proof.pop("proofValue")
    assert value.startswith("z")  # multibase base58-btc
    unsecured = {k: v for k, v in credential.items() if k != "proof"}
    proof["@context"] = unsecured["@context"]
    hash_data = (
        hashlib.sha256(rfc8785.dumps(proof)).digest()
        + hashlib.sha256(rfc8785.dumps(unsecured)).digest()
    )
    try:
        keys.public.verify(base58.b58decode(value[1:]), hash_data)
    except InvalidSignature:
        return False
    return True


def test_a_credential_signed_before_the_standard_proof_still_verifies(keys):
    """Credentials issued with the first proof (base64url Ed25519 over sorted-key JSON) keep
    verifying; editing one breaks it."""
    credential = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "credentialSubject": {"name": "Zoë Ångström"},
    }
    proof = {"type": "DataIntegrityProof", "cryptosuite": "eddsa-jcs-2022"}
    signed = json.dumps(
        {**credential, "proof": proof}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()
    value = base64.urlsafe_b64encode(keys.private.sign(signed)).rstrip(b"=").decode()
    old = {**credential, "proof": {**proof, "proofValue": value}}
    assert credential_is_authentic(keys, old)
    edited = json.loads(json.dumps(old))
    edited["credentialSubject"]["name"] = "Somebody Else"
    assert not credential_is_authentic(keys, edited)


@pytest.fixture
def keys(tmp_path):
    return load_keys(tmp_path)


def named(db, account: Account, name: str) -> Account:
    with db() as session:
        row = session.get(Account, account.id)
        row.name = name
        session.commit()
    return account


async def set_rule(sessions, course: Course, **body):
    async with sessions() as session:
        found = await session.get(Course, course.id)
        await certificate_rules.save_rule(session, found, body)
        await session.commit()


async def complete_all(sessions, student, course, lessons) -> None:
    for lesson in lessons:
        async with sessions() as session:
            await progress.complete_lesson(session, student.id, course.id, lesson.id, lesson.kind)
            await session.commit()


async def held(sessions, student, course) -> Certificate | None:
    async with sessions() as session:
        return await session.scalar(
            select(Certificate).where(
                Certificate.account_id == student.id, Certificate.course_id == course.id
            )
        )


async def test_completing_the_course_issues_a_certificate_with_its_pdf_and_credential(
    db, sessions, make_account, keys
):
    teacher = make_account(Role.INSTRUCTOR)
    student = named(db, make_account(), "Zoë Ångström-Łukasiewicz Дмитриевна")
    course = course_with(db, teacher, students=[student], title="Cell Biology")
    lessons = lessons_in(
        db, course, LessonKind.TEXT, LessonKind.TEXT, LessonKind.TEXT, optional=[2]
    )
    await set_rule(
        sessions,
        course,
        title="Certificate of Completion",
        signatory_name="Rosalind Franklin",
        signatory_title="Course instructor",
    )

    await complete_all(sessions, student, course, lessons[:1])
    assert await held(sessions, student, course) is None  # one required lesson to go
    await complete_all(sessions, student, course, lessons[1:2])  # the optional one: not needed

    certificate = await held(sessions, student, course)
    assert certificate is not None and certificate.pdf_error is None
    assert len(certificate.public_id) >= 24  # unguessable
    with db() as session:
        [kind] = session.scalars(
            select(Notification.kind).where(Notification.account_id == student.id)
        ).all()
        jobs = session.execute(
            text("SELECT task_name, args FROM procrastinate_jobs WHERE task_name = :task"),
            {"task": issuing.RENDER_TASK},
        ).all()
    assert kind == "certificate_issued"
    assert {"certificate_id": certificate.id} in [args for _task, args in jobs]

    async with sessions() as session:
        made = await issuing.make_documents(session, certificate.id, keys, PUBLIC)
        await session.commit()
        pdf = made.pdf
        credential = made.credential
    words = pdf_text(pdf)
    assert "Zoë Ångström-Łukasiewicz Дмитриевна" in words
    assert "Cell Biology" in words
    assert issuing.issued_on(certificate.issued_at) in words
    assert "Rosalind Franklin" in words
    assert certificate.public_id in words

    assert credential["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert credential["credentialSubject"]["name"] == "Zoë Ångström-Łukasiewicz Дмитриевна"
    assert credential["credentialSubject"]["achievement"]["name"] == "Cell Biology"
    assert credential_is_authentic(keys, credential)
    assert eddsa_jcs_2022_holds(keys, credential)  # the W3C algorithm, worked out here
    forged = json.loads(json.dumps(credential))
    forged["credentialSubject"]["name"] = "Somebody Else"
    assert not credential_is_authentic(keys, forged)

    # Completing again issues nothing more.
    await complete_all(sessions, student, course, lessons[:2])
    with db() as session:
        count = session.scalar(
            select(func.count())
            .select_from(Certificate)
            .where(Certificate.account_id == student.id)
        )
    assert count == 1


async def test_an_uploaded_pdf_is_authentic_only_as_issued(db, sessions, make_account, keys):
    teacher, student = make_account(Role.INSTRUCTOR), make_account()
    course = course_with(db, teacher, students=[student], title="Genetics")
    lessons = lessons_in(db, course, LessonKind.TEXT)
    await set_rule(sessions, course, title="Certificate of Completion")
    await complete_all(sessions, student, course, lessons)
    certificate = await held(sessions, student, course)
    async with sessions() as session:
        pdf = (await issuing.make_documents(session, certificate.id, keys, PUBLIC)).pdf
        await session.commit()
    # A repeated rendering job (a retry, or the worker's own run of it) keeps the bytes the
    # holder already downloaded.
    async with sessions() as session:
        again = (await issuing.make_documents(session, certificate.id, keys, PUBLIC)).pdf
        await session.commit()
    assert again == pdf

    async with sessions() as session:
        good = await issuing.check_upload(session, pdf, keys)
        edited = pdf.replace(b"/Producer", b"/Producex", 1) if b"/Producer" in pdf else pdf + b"\n%"
        changed = await issuing.check_upload(session, edited, keys)
        appended = await issuing.check_upload(session, pdf + b"\n% extra\n", keys)
        other = await issuing.check_upload(session, render_pdf(SAMPLE), keys)
        not_pdf = await issuing.check_upload(session, b"hello", keys)
    assert good.authentic and good.certificate.public_id == certificate.public_id
    assert not changed.authentic and "changed" in changed.message
    assert not appended.authentic
    assert not other.authentic and other.message == "This PDF is not a CourseHub certificate."
    assert not not_pdf.authentic and "not a PDF" in not_pdf.message

    # Revoked with a reason by the teacher: the same untouched PDF now says so, and the audit
    # log keeps who revoked it and why.
    async with sessions() as session:
        row = await session.get(Certificate, certificate.id)
        revoker = await session.get(Account, teacher.id)
        with pytest.raises(CertificateError, match="Say why"):
            await issuing.revoke(session, row, "  ", revoker)
        await issuing.revoke(session, row, "Plagiarised final project.", revoker)
        await session.commit()
    async with sessions() as session:
        entries = (
            await session.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == "certificate.revoke",
                    AuditEntry.target_id == certificate.public_id,
                )
            )
        ).all()
    assert [(e.actor_id, e.reason, e.course_id) for e in entries] == [
        (teacher.id, "Plagiarised final project.", course.id)
    ]
    async with sessions() as session:
        revoked = await issuing.check_upload(session, pdf, keys)
        public = issuing.public_json(await issuing.by_public_id(session, certificate.public_id))
    assert not revoked.authentic and "revoked: Plagiarised final project." in revoked.message
    assert public["revoked"] and public["revoked_reason"] == "Plagiarised final project."


async def test_no_rule_a_future_date_or_a_low_grade_issue_nothing(db, sessions, make_account):
    teacher = make_account(Role.INSTRUCTOR)
    no_rule, later, graded = make_account(), make_account(), make_account()
    plain = course_with(db, teacher, students=[no_rule])
    dated = course_with(db, teacher, students=[later])
    strict = course_with(db, teacher, students=[graded])
    for _student, course in ((no_rule, plain), (later, dated), (graded, strict)):
        course.lessons = lessons_in(db, course, LessonKind.TEXT)
    await set_rule(
        sessions, dated, title="Certificate", not_before=(utcnow() + timedelta(days=3)).isoformat()
    )
    await set_rule(sessions, strict, title="Certificate", min_grade=80)
    with db() as session:
        quiz = Quiz(course_id=strict.id, title="Final quiz", published=True, max_score=10)
        session.add(quiz)
        session.flush()
        attempt = QuizAttempt(
            quiz_id=quiz.id,
            account_id=graded.id,
            attempt=1,
            max_score=10,
            score=7,
            submitted_at=utcnow(),
        )
        session.add(attempt)
        session.commit()

    for student, course in ((no_rule, plain), (later, dated), (graded, strict)):
        await complete_all(sessions, student, course, course.lessons)
        assert await held(sessions, student, course) is None

    async with sessions() as session:
        found = await session.get(Course, strict.id)
        stand = await certificate_rules.standing(session, found, graded.id)
    assert stand.as_json() | {} == stand.as_json()
    assert (stand.completed, stand.grade, stand.grade_met, stand.met) == (True, 70.0, False, False)

    # An 8/10 reaches the bar: the re-check issues it; a regrade to 6/10 puts it before staff.
    with db() as session:
        session.get(QuizAttempt, attempt.id).score = 8
        session.commit()
    async with sessions() as session:  # as a quiz's grading does, in its transaction
        await issuing.check_after_quiz(session, await session.get(QuizAttempt, attempt.id))
        await session.commit()
    issued = await held(sessions, graded, strict)
    assert issued is not None and issued.grade == 80.0
    with db() as session:
        session.get(QuizAttempt, attempt.id).score = 6
        session.commit()
    async with sessions() as session:
        assert await issuing.check(session, graded.id, strict.id) is None
        await session.commit()
        [below] = await issuing.below_bar(session, strict.id)
    assert below.id == issued.id and below.revoked_at is None  # not revoked: staff decide
    async with sessions() as session:
        await issuing.keep_despite_grade(session, await session.get(Certificate, issued.id))
        await session.commit()
        assert await issuing.below_bar(session, strict.id) == []


def test_templates_use_documented_fields_and_fetch_nothing_remote():
    check_template("<h1>{{ holder_name }}</h1><p>{{ course_title }} {{ issued_on }}</p>")
    with pytest.raises(CertificateError, match="does not know: password"):
        check_template("<p>{{ holder_name }} {{ password }}</p>")
    with pytest.raises(CertificateError, match="not valid"):
        check_template("<p>{{ holder_name </p>")
    with pytest.raises(CertificateError, match="may not load anything from elsewhere"):
        render_pdf(SAMPLE, '<img src="http://127.0.0.1:9/logo.png"><p>{{ holder_name }}</p>')
    with pytest.raises(CertificateError, match="may not load anything from elsewhere"):
        render_pdf(SAMPLE, '<style>@import url("file:///etc/passwd");</style>{{ holder_name }}')
    letter = render_pdf(SAMPLE.__class__(**{**SAMPLE.__dict__, "page_size": "Letter"}))
    box = pypdf.PdfReader(io.BytesIO(letter)).pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (792, 612)  # Letter, landscape


def test_assessment_queues_the_recheck_under_the_certificates_task_name():
    assert manual_grading.CERTIFICATE_RECHECK_TASK == issuing.RECHECK_TASK
    assert manual_grading.CERTIFICATE_QUEUE == issuing.CERTIFICATE_QUEUE
    assert manual_grading.CERTIFICATE_RELEASE_TASK == issuing.RELEASE_TASK


async def test_the_grade_jobs_issue_what_a_released_grade_earns(
    db, sessions, make_account, redis_url
):
    """The jobs assessment queues: after a grade (the autograde counts as the student sees
    it) and after feedback is released, the student's standing is checked again."""
    teacher, student = make_account(Role.INSTRUCTOR), make_account()
    course = course_with(db, teacher, students=[student], title="Statistics")
    lessons = lessons_in(db, course, LessonKind.TEXT)
    await set_rule(sessions, course, title="Certificate", min_grade=60)
    await complete_all(sessions, student, course, lessons)
    assert await held(sessions, student, course) is None  # no grade yet
    with db() as session:
        assignment = Assignment(
            course_id=course.id,
            title="Project",
            source_notebook={},
            student_notebook={},
            source_sha256="0" * 64,
            max_score=10,
            released_at=utcnow() - timedelta(days=1),
        )
        session.add(assignment)
        session.flush()
        submission = Submission(
            assignment_id=assignment.id,
            account_id=student.id,
            attempt=1,
            sha256="0" * 64,
            notebook=b"{}",
            size=2,
        )
        session.add(submission)
        session.flush()
        session.add(
            Grade(submission_id=submission.id, outcome="ok", score=7, max_score=10, final_score=7)
        )
        session.commit()
    client = redis.Redis.from_url(redis_url)
    context = WorkerContext(sessions, client)
    try:
        await certificate_jobs.recheck_after_grade(context, submission.id)
        first = await held(sessions, student, course)
        if first is None:  # this grade waits for its feedback to be released
            with db() as session:
                session.add(FeedbackRelease(assignment_id=assignment.id, released_by_id=teacher.id))
                session.commit()
            await certificate_jobs.recheck_after_release(context, assignment.id)
    finally:
        await client.aclose()
    issued = await held(sessions, student, course)
    assert issued is not None and issued.grade == 70.0


async def test_two_transactions_meeting_the_rule_at_once_issue_one_certificate(
    db, sessions, make_account
):
    teacher, student = make_account(Role.INSTRUCTOR), make_account()
    course = course_with(db, teacher, students=[student])
    lessons = lessons_in(db, course, LessonKind.TEXT)
    await complete_all(sessions, student, course, lessons)  # no rule yet: nothing issued
    await set_rule(sessions, course, title="Certificate")
    async with sessions() as one, sessions() as two:
        first = await issuing.check(one, student.id, course.id)
        racing = asyncio.create_task(issuing.check(two, student.id, course.id))
        await asyncio.sleep(0.3)  # the second waits on the first's row
        await one.commit()
        second = await racing
        await two.commit()
    assert first is not None and second is None
    with db() as session:
        count = session.scalar(
            select(func.count()).select_from(Certificate).where(Certificate.course_id == course.id)
        )
    assert count == 1


async def test_a_code_answer_graded_by_the_worker_issues_and_a_regrade_goes_to_staff(
    db, sessions, make_account, redis_url
):
    """The worker's verdict on a code answer completes the quiz's score: the certificate it
    earns is issued then. Staff then grade the essay low: the holder falls below the bar, the
    instructor is told, and the certificate stands until they decide."""
    teacher = make_account(Role.INSTRUCTOR)
    student = named(db, make_account(), "Mei Chen")
    course = course_with(db, teacher, students=[student], title="Programming")
    lessons = lessons_in(db, course, LessonKind.TEXT)
    await set_rule(sessions, course, title="Certificate", min_grade=60)
    with db() as session:
        quiz = Quiz(course_id=course.id, title="Final quiz", published=True, max_score=7)
        session.add(quiz)
        session.commit()
        session.expunge(quiz)
    attempt = attempt_of(db, quiz, student)  # choice 1/1, essay 4 (staff), code 2 (worker)
    with db() as session:
        essay, code = (
            session.scalar(
                select(QuizAnswer).where(
                    QuizAnswer.attempt_id == attempt.id, QuizAnswer.position == position
                )
            )
            for position in (1, 2)
        )
        essay.state, essay.score = AnswerState.SCORED, 4.0
        session.commit()
    await complete_all(sessions, student, course, lessons)
    assert await held(sessions, student, course) is None  # the code answer is not graded yet

    client = redis.Redis.from_url(redis_url)
    try:
        await QuizGrader(WorkerContext(sessions, client)).store(
            code.id, GradeResult("graded", "", (), 1.0, 2.0, False, (), {})
        )
    finally:
        await client.aclose()
    issued = await held(sessions, student, course)
    assert issued is not None and issued.grade == pytest.approx(100 * 6 / 7, abs=0.01)

    async with sessions() as session:  # staff regrade the essay: 1 + 1 + 1 of 7 is 43 %
        await quiz_grading.grade_answer(
            session,
            await session.get_one(Quiz, quiz.id),
            await session.get_one(QuizAttempt, attempt.id),
            1,
            await session.get_one(Account, teacher.id),
            {"score": 1, "comment": "Too short."},
        )
        await session.commit()
    kept = await held(sessions, student, course)
    assert kept is not None and kept.revoked_at is None and kept.below_bar_at is not None
    with db() as session:
        [told] = session.scalars(
            select(Notification).where(
                Notification.account_id == teacher.id,
                Notification.kind == "certificate_below_bar",
            )
        )
    assert "Mei Chen" in told.payload["title"] and "43 %" in told.payload["title"]
    assert told.payload["url"].endswith(f"/courses/{course.slug}/certificates")


def test_a_name_in_chinese_arabic_and_accented_latin_renders_and_reads_back(tmp_path):
    """This machine has no CJK font: the bundled Noto Sans SC subset draws the Chinese, the
    machine's DejaVu Sans the Arabic and the accents. Poppler turns the PDF into a PNG and
    reads its text back: name, course and date."""
    name = "王小明 محمد عبد الله Zoë Ångström-Łukasiewicz"
    face = SAMPLE.__class__(**{**SAMPLE.__dict__, "holder_name": name})
    pdf_path = tmp_path / "certificate.pdf"
    pdf_path.write_bytes(render_pdf(face))

    words = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(pdf_path), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    text_only = re.sub(r"[\u200e\u200f\u202a-\u202e\u2066-\u2069]", "", words)  # bidi marks
    assert "王小明" in text_only and "محمد عبد الله" in text_only
    assert "Zoë Ångström-Łukasiewicz" in text_only
    assert SAMPLE.course_title in text_only and SAMPLE.issued_on in text_only
    fonts = subprocess.run(
        ["pdffonts", str(pdf_path)], capture_output=True, text=True, check=True
    ).stdout
    assert "Noto-Sans-SC" in fonts and "DejaVu-Sans" in fonts  # real glyphs, not boxes

    page = tmp_path / "page"
    subprocess.run(["pdftoppm", "-png", "-r", "50", str(pdf_path), str(page)], check=True)
    [png] = tmp_path.glob("page*.png")
    assert png.read_bytes().startswith(b"\x89PNG")
    assert pypdfium2.PdfDocument(str(pdf_path))[0].get_size() == pytest.approx((842, 595), abs=1)
