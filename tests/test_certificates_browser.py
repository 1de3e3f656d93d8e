"""A certificate end to end in Chromium on a running CourseHub: a student completes the
course's one required lesson in the player, hears of the certificate on the bell, downloads
its PDF (their Unicode name, the course and the date are in it); a visitor checks it at its
public address and by uploading the PDF, and an edited copy is refused; another student
cannot fetch it; the credential's proof holds with the key the platform publishes."""

from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path

import base58
import httpx
import pypdfium2
import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from playwright.sync_api import expect
from sqlalchemy import select

from coursehub.hub.constants import Role
from coursehub.services.models import Account, LessonKind
from coursehub.services.models.certificates import Certificate, CertificateRule
from tests.player_data import LessonSpec, build_course, enroll, sign_in

pytestmark = pytest.mark.browser

HOLDER = "Zoë Ångström-Łukasiewicz"


def pdf_text(pdf: bytes) -> str:
    document = pypdfium2.PdfDocument(pdf)
    return " ".join(" ".join(page.get_textpage().get_text_range() for page in document).split())


def certificate_of(db, account: Account) -> Certificate | None:
    with db() as session:
        return session.scalar(select(Certificate).where(Certificate.account_id == account.id))


def test_a_student_earns_downloads_and_a_visitor_verifies_a_certificate(
    platform, db, make_account, page, browser, signed_in, tmp_path: Path
):
    instructor = make_account(Role.INSTRUCTOR)
    student, other = make_account(), make_account()
    with db() as session:
        session.get(Account, student.id).name = HOLDER
        session.commit()
    course = build_course(db, instructor, [LessonSpec("Reading", kind=LessonKind.TEXT)])
    with db() as session:
        session.add(
            CertificateRule(
                course_id=course.id,
                title="Certificate of Completion",
                signatory_name="Rosalind Franklin",
                signatory_title="Course instructor",
            )
        )
        session.commit()
    enroll(db, student, course)
    enroll(db, other, course)

    # The student reads the lesson and marks it complete: the certificate is theirs.
    sign_in(page, platform, student.email)
    page.goto(course.url(platform.service_url, "Reading"))
    page.locator("#mark_complete").click()
    expect(page.locator("#notification_count")).to_have_text("1", timeout=20_000)
    page.goto(f"{platform.service_url}/notifications")
    expect(page.locator("#notifications_list .notification-item").first).to_contain_text(
        "You earned your certificate"
    )

    # "My certificates": the PDF is ready once the job made it.
    page.goto(f"{platform.service_url}/courses/{course.slug}")
    expect(page.locator("#certificate_progress")).to_contain_text("earned")
    page.locator("#nav_certificates").first.click()
    download_link = page.locator(".certificate .download-pdf")
    deadline = time.monotonic() + 90
    while not download_link.count() and time.monotonic() < deadline:
        page.wait_for_timeout(1000)
        page.reload()
    expect(download_link).to_be_visible()
    with page.expect_download() as downloaded:
        download_link.click()
    pdf_path = tmp_path / "certificate.pdf"
    downloaded.value.save_as(pdf_path)
    pdf = pdf_path.read_bytes()
    certificate = certificate_of(db, student)
    assert certificate is not None
    words = pdf_text(pdf)
    assert HOLDER in words and course.title in words
    assert f"{certificate.issued_at.day} {certificate.issued_at:%B %Y}" in words
    verify_url = page.locator(".certificate .verify-link").get_attribute("href")
    assert verify_url and verify_url.endswith(f"/certificates/verify/{certificate.public_id}")

    # A visitor, signed in to nothing, checks it by its address and by uploading the PDF.
    visitor = browser.new_context().new_page()
    visitor.goto(verify_url if verify_url.startswith("http") else f"{platform.url}{verify_url}")
    expect(visitor.locator("#certificate_status")).to_contain_text("valid certificate")
    expect(visitor.locator("#certificate_holder")).to_have_text(HOLDER)
    expect(visitor.locator("#certificate_course")).to_have_text(course.title)
    visitor.goto(f"{platform.service_url}/certificates/verify")
    visitor.locator("#pdf").set_input_files(str(pdf_path))
    visitor.locator("#check_button").click()
    expect(visitor.locator("#check_result")).to_contain_text("authentic CourseHub certificate")

    edited = tmp_path / "edited.pdf"
    edited.write_bytes(
        pdf.replace(b"WeasyPrint", b"WeasyPrunt", 1) if b"WeasyPrint" in pdf else pdf + b"%"
    )
    visitor.locator("#pdf").set_input_files(str(edited))
    visitor.locator("#check_button").click()
    expect(visitor.locator("#check_result")).to_contain_text("not the certificate CourseHub issued")
    visitor.context.close()

    # Another student of the course cannot fetch it; the public key checks the credential.
    http = signed_in(other)
    for part in ("pdf", "credential.json"):
        refused = http.get(f"{platform.service_url}/certificates/{certificate.public_id}/{part}")
        assert refused.status_code == 404, refused.text[:200]
    owner = signed_in(student)
    credential = owner.get(
        f"{platform.service_url}/certificates/{certificate.public_id}/credential.json"
    ).json()
    proof = dict(credential.pop("proof"))
    published = httpx.get(proof["verificationMethod"].partition("#")[0])  # as a verifier does
    [method] = published.json()["verificationMethod"]
    assert method["id"] == proof["verificationMethod"] and method["type"] == "Multikey"
    multikey = base58.b58decode(method["publicKeyMultibase"][1:])
    assert multikey[:2] == b"\xed\x01"  # the Ed25519 multicodec
    public = Ed25519PublicKey.from_public_bytes(multikey[2:])
    # eddsa-jcs-2022 (W3C Data Integrity): RFC 8785 canonical JSON, SHA-256, Ed25519.
    value = proof.pop("proofValue")
    hash_data = (
        hashlib.sha256(rfc8785.dumps({**proof, "@context": credential["@context"]})).digest()
        + hashlib.sha256(rfc8785.dumps(credential)).digest()
    )
    public.verify(base58.b58decode(value[1:]), hash_data)  # raises if forged
    assert credential["credentialSubject"]["name"] == HOLDER
    assert re.search(r"#[0-9a-f]{16}$", proof["verificationMethod"])
