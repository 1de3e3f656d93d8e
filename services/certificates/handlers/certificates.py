"""Certificate pages and API.

Students: ``/certificates`` ("My certificates"), each certificate's PDF and credential
(``/certificates/<id>/pdf``, ``/certificates/<id>/credential.json``; the holder and the
course's staff only: anyone else gets 404), whether the public page shows the grade, and
``/api/courses/<slug>/certificate-progress`` (where they stand against the rule).

Anyone: ``/certificates/verify/<id>`` (the public page: who, what course, when, the grade if
the holder chose, revoked and why), ``/certificates/verify`` (upload a PDF to check it;
``/api/certificates/verify`` takes the PDF as the body), and the platform's public key at
``/.well-known/coursehub-certificates.json``.

Staff (instructor, administrators): the rule at ``/api/courses/<slug>/certificate-rule``
(GET, PUT), its signature (PUT a PNG), template (PUT HTML; GET the documented fields),
``preview`` (a sample PDF with the rule and template), the course's certificates with those
whose holder fell below the bar, and revoking or keeping one.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession
from tornado import web

from coursehub.services.certificates import certificate_rules, credentials, issuing
from coursehub.services.certificates.certificate_pdf import (
    FIELDS,
    PDF_PROBLEM,
    SAMPLE,
    CertificateError,
    check_template,
    page_html,
    render_pdf,
)
from coursehub.services.certificates.credentials import KEY_PATH, CertificateKeys, load_keys
from coursehub.services.courses.enrollment import course_by_slug
from coursehub.services.courses.membership import membership
from coursehub.services.models import Account, Course
from coursehub.services.models.certificates import Certificate
from coursehub.services.web.base import BaseHandler

NOT_FOUND = "There is no such certificate, or it is not yours to see."
MANAGERS_ONLY = "Only the course's instructor and administrators set its certificates."


class CertificateHandler(BaseHandler):
    def keys(self) -> CertificateKeys:
        keys = self.application.settings.get("certificate_keys")
        if keys is None:
            keys = load_keys(self.settings_obj.data_dir)
            self.application.settings["certificate_keys"] = keys
        return keys

    @property
    def public_url(self) -> str:
        return self.settings_obj.public_url

    async def course(self, session: AsyncSession, slug: str) -> tuple[Account, Course, bool]:
        """The course, the signed-in person and whether they manage it."""
        account = await self.account(session)
        course = await course_by_slug(session, slug)
        if course is None:
            raise web.HTTPError(404, "There is no such course.")
        place = await membership(session, account, course)
        return account, course, place.manages

    async def managed_course(self, session: AsyncSession, slug: str) -> Course:
        _, course, manages = await self.course(session, slug)
        if not manages:
            raise web.HTTPError(403, MANAGERS_ONLY)
        return course

    async def own_or_staff(
        self, session: AsyncSession, public_id: str, *, with_pdf: bool = False
    ) -> Certificate:
        account = await self.account(session)
        certificate = await issuing.by_public_id(session, public_id, with_pdf=with_pdf)
        if certificate is None:
            raise web.HTTPError(404, NOT_FOUND)
        if certificate.account_id != account.id:
            course = await session.get(Course, certificate.course_id)
            assert course is not None
            if not (await membership(session, account, course)).grades:
                raise web.HTTPError(404, NOT_FOUND)
        return certificate


def mine_json(certificate: Certificate, prefix: str, public_url: str) -> dict[str, Any]:
    linkedin = "https://www.linkedin.com/profile/add?" + urlencode(
        {
            "startTask": "CERTIFICATION_NAME",
            "name": f"{certificate.title}: {certificate.course_title}",
            "organizationName": "CourseHub",
            "issueYear": certificate.issued_at.year,
            "issueMonth": certificate.issued_at.month,
            "certId": certificate.public_id,
            "certUrl": f"{public_url}{issuing.verify_path(certificate.public_id)}",
        }
    )
    return {
        **issuing.public_json(certificate, public_url),
        "grade_percent": certificate.grade,
        "show_grade": certificate.show_grade,
        "issued_on": issuing.issued_on(certificate.issued_at),
        "pdf_ready": certificate.pdf_error is None and certificate.credential is not None,
        "pdf_error": certificate.pdf_error,
        "below_bar": certificate.below_bar_at is not None,
        "pdf_url": f"{prefix}/certificates/{certificate.public_id}/pdf",
        "credential_url": f"{prefix}/certificates/{certificate.public_id}/credential.json",
        "linkedin_url": linkedin,
    }


class MyCertificatesPage(CertificateHandler):
    async def get(self) -> None:
        async with self.db(read_only=True) as session:
            account = await self.account(session)
            found = await issuing.mine(session, account.id)
        prefix = self.settings_obj.service_prefix
        self.render_page(
            "certificates.html",
            certificates=[mine_json(c, prefix, self.public_url) for c in found],
        )


class MyCertificatesAPI(CertificateHandler):
    async def get(self) -> None:
        async with self.db(read_only=True) as session:
            account = await self.account(session)
            found = await issuing.mine(session, account.id)
        prefix = self.settings_obj.service_prefix
        self.write_json({"certificates": [mine_json(c, prefix, self.public_url) for c in found]})


class CertificatePDF(CertificateHandler):
    async def get(self, public_id: str) -> None:
        async with self.db(read_only=True) as session:
            certificate = await self.own_or_staff(session, public_id, with_pdf=True)
        if certificate.pdf is None:
            raise web.HTTPError(
                409,
                certificate.pdf_error
                or "The certificate's PDF is being made; try again in a minute.",
            )
        self.set_header("Content-Type", "application/pdf")
        self.set_header(
            "Content-Disposition", f'attachment; filename="certificate-{certificate.public_id}.pdf"'
        )
        self.finish(certificate.pdf)


class CertificateCredential(CertificateHandler):
    async def get(self, public_id: str) -> None:
        async with self.db(read_only=True) as session:
            certificate = await self.own_or_staff(session, public_id)
        if certificate.credential is None:
            raise web.HTTPError(
                409, "The certificate's credential is being made; try again in a minute."
            )
        self.set_header(
            "Content-Disposition",
            f'attachment; filename="certificate-{certificate.public_id}.json"',
        )
        self.write_json(certificate.credential)


class ShowGradeAPI(CertificateHandler):
    async def post(self, public_id: str) -> None:
        show = self.json_body().get("show")
        if not isinstance(show, bool):
            raise web.HTTPError(400, 'Send {"show": true} or {"show": false}.')
        async with self.db() as session:
            account = await self.account(session)
            certificate = await issuing.by_public_id(session, public_id)
            if certificate is None or certificate.account_id != account.id:
                raise web.HTTPError(404, NOT_FOUND)
            certificate.show_grade = show
            await session.commit()
        self.write_json({"show_grade": show})


class VerifyPage(CertificateHandler):
    public = True

    async def get(self, public_id: str) -> None:
        async with self.db(read_only=True) as session:
            certificate = await issuing.by_public_id(session, public_id)
        if certificate is None:
            raise web.HTTPError(404, "CourseHub has issued no certificate with this id.")
        self.render_page(
            "certificate_verify.html",
            certificate=issuing.public_json(certificate, self.public_url),
            issued_on=issuing.issued_on(certificate.issued_at),
            check=None,
        )


class VerifyAPI(CertificateHandler):
    public = True

    async def get(self, public_id: str) -> None:
        async with self.db(read_only=True) as session:
            certificate = await issuing.by_public_id(session, public_id)
        if certificate is None:
            raise web.HTTPError(404, "CourseHub has issued no certificate with this id.")
        self.write_json(issuing.public_json(certificate, self.public_url))


class UploadCheckPage(CertificateHandler):
    public = True

    async def get(self) -> None:
        self.render_page("certificate_check.html", check=None, certificate=None)

    async def post(self) -> None:
        files = self.request.files.get("pdf") or []
        data = files[0]["body"] if files else b""
        if not data:
            self.set_status(400)
            self.render_page(
                "certificate_check.html",
                check={"authentic": False, "message": "Choose the certificate's PDF file."},
                certificate=None,
            )
            return
        async with self.db(read_only=True) as session:
            result = await issuing.check_upload(session, data, self.keys())
        self.render_page(
            "certificate_check.html",
            check={"authentic": result.authentic, "message": result.message},
            certificate=issuing.public_json(result.certificate, self.public_url)
            if result.certificate
            else None,
        )


class UploadCheckAPI(CertificateHandler):
    public = True

    def check_xsrf_cookie(self) -> None:
        """Checking a PDF changes nothing, so a page elsewhere may ask too."""

    async def post(self) -> None:
        async with self.db(read_only=True) as session:
            result = await issuing.check_upload(session, self.request.body, self.keys())
        self.write_json(
            {
                "authentic": result.authentic,
                "message": result.message,
                "certificate": issuing.public_json(result.certificate, self.public_url)
                if result.certificate
                else None,
            }
        )


class PublicKey(CertificateHandler):
    public = True

    async def get(self) -> None:
        self.set_header("Cache-Control", "public, max-age=3600")
        keys = self.keys()
        self.write_json(
            {
                "keys": [keys.public_jwk()],
                "verificationMethod": [credentials.verification_method(keys, self.public_url)],
                "pdf_problem": PDF_PROBLEM,
            }
        )


# -- staff ------------------------------------------------------------------------------------


def rule_json(rule: Any) -> dict[str, Any]:
    if rule is None:
        return {"rule": None}
    return {
        "rule": {
            "title": rule.title,
            "min_grade": rule.min_grade,
            "not_before": rule.not_before.isoformat() if rule.not_before else None,
            "signatory_name": rule.signatory_name,
            "signatory_title": rule.signatory_title,
            "has_signature": rule.signature_png is not None,
            "has_own_template": rule.template_html is not None,
            "page_size": rule.page_size,
        }
    }


class RuleAPI(CertificateHandler):
    async def get(self, slug: str) -> None:
        async with self.db(read_only=True) as session:
            course = await self.managed_course(session, slug)
            rule = await certificate_rules.rule_of(session, course.id)
        self.write_json(rule_json(rule))

    async def put(self, slug: str) -> None:
        body = self.json_body()
        async with self.db() as session:
            course = await self.managed_course(session, slug)
            rule = await certificate_rules.save_rule(session, course, body)
            answer = rule_json(rule)
            await session.commit()
        self.write_json(answer)


class RulePart(CertificateHandler):
    async def rule(self, session: AsyncSession, slug: str) -> Any:
        course = await self.managed_course(session, slug)
        rule = await certificate_rules.rule_of(session, course.id)
        if rule is None:
            raise CertificateError(
                "Set the course's certificate rule first (PUT certificate-rule).", 409
            )
        return rule


class SignatureAPI(RulePart):
    async def put(self, slug: str) -> None:
        data = certificate_rules.check_signature(self.request.body)
        async with self.db() as session:
            rule = await self.rule(session, slug)
            rule.signature_png = data
            await session.commit()
        self.write_json({"has_signature": True})


class TemplateAPI(RulePart):
    async def get(self, slug: str) -> None:
        async with self.db(read_only=True) as session:
            await self.managed_course(session, slug)
        self.write_json({"fields": FIELDS})

    async def put(self, slug: str) -> None:
        source = self.request.body.decode("utf-8", errors="replace")
        check_template(source)
        # Rendered once with sample values: refuses remote fetches with a sentence.
        await asyncio.to_thread(render_pdf, SAMPLE, source)
        async with self.db() as session:
            rule = await self.rule(session, slug)
            rule.template_html = source
            await session.commit()
        self.write_json({"has_own_template": True})

    async def delete(self, slug: str) -> None:
        async with self.db() as session:
            rule = await self.rule(session, slug)
            rule.template_html = None
            await session.commit()
        self.write_json({"has_own_template": False})


class PreviewAPI(RulePart):
    async def get(self, slug: str) -> None:
        async with self.db(read_only=True) as session:
            rule = await self.rule(session, slug)
            course = await session.get(Course, rule.course_id)
        assert course is not None
        face = SAMPLE.__class__(
            **{
                **SAMPLE.__dict__,
                "title": rule.title,
                "course_title": course.title,
                "signatory_name": rule.signatory_name,
                "signatory_title": rule.signatory_title,
                "signature_png": rule.signature_png,
                "page_size": rule.page_size,
            }
        )
        if self.get_argument("format", "pdf") == "html":
            self.set_header("Content-Type", "text/html; charset=UTF-8")
            self.finish(page_html(face, rule.template_html))
            return
        pdf = await asyncio.to_thread(render_pdf, face, rule.template_html)
        self.set_header("Content-Type", "application/pdf")
        self.finish(pdf)


class CourseCertificatesAPI(CertificateHandler):
    async def get(self, slug: str) -> None:
        async with self.db(read_only=True) as session:
            course = await self.managed_course(session, slug)
            found = await issuing.of_course(session, course.id)
        prefix = self.settings_obj.service_prefix
        rows = [mine_json(c, prefix, self.public_url) for c in found]
        self.write_json(
            {
                "certificates": rows,
                "below_bar": [row for row in rows if row["below_bar"] and not row["revoked"]],
            }
        )


class CertificateDecisionAPI(CertificateHandler):
    async def post(self, slug: str, public_id: str, decision: str) -> None:
        body = self.json_body()
        async with self.db() as session:
            course = await self.managed_course(session, slug)
            certificate = await issuing.by_public_id(session, public_id)
            if certificate is None or certificate.course_id != course.id:
                raise web.HTTPError(404, NOT_FOUND)
            if decision == "revoke":
                reason = body.get("reason")
                await issuing.revoke(
                    session,
                    certificate,
                    reason if isinstance(reason, str) else "",
                    await self.account(session),
                )
            else:
                await issuing.keep_despite_grade(session, certificate)
            answer = issuing.public_json(certificate, self.public_url)
            await session.commit()
        self.write_json(answer)


class ProgressAPI(CertificateHandler):
    async def get(self, slug: str) -> None:
        async with self.db(read_only=True) as session:
            account, course, _ = await self.course(session, slug)
            standing = await certificate_rules.standing(session, course, account.id)
        self.write_json(standing.as_json())


def default_handlers(prefix: str) -> list[tuple[str, Any]]:
    cid = r"([\w-]{8,40})"
    course = rf"{prefix}/api/courses/([\w-]+)"
    return [
        (f"{prefix}/certificates", MyCertificatesPage),
        (f"{prefix}/api/certificates", MyCertificatesAPI),
        (f"{prefix}/certificates/verify", UploadCheckPage),
        (f"{prefix}/api/certificates/verify", UploadCheckAPI),
        (f"{prefix}/certificates/verify/{cid}", VerifyPage),
        (f"{prefix}/api/certificates/verify/{cid}", VerifyAPI),
        (f"{prefix}/certificates/{cid}/pdf", CertificatePDF),
        (f"{prefix}/certificates/{cid}/credential.json", CertificateCredential),
        (f"{prefix}/api/certificates/{cid}/show-grade", ShowGradeAPI),
        (f"{prefix}{KEY_PATH}", PublicKey),
        (f"{course}/certificate-rule", RuleAPI),
        (f"{course}/certificate-rule/signature", SignatureAPI),
        (f"{course}/certificate-rule/template", TemplateAPI),
        (f"{course}/certificate-rule/preview", PreviewAPI),
        (f"{course}/certificates", CourseCertificatesAPI),
        (f"{course}/certificates/{cid}/(revoke|keep)", CertificateDecisionAPI),
        (f"{course}/certificate-progress", ProgressAPI),
        *staff_handlers(prefix),
    ]


# -- the staff page ---------------------------------------------------------------------------


class StaffPage(CertificateHandler):
    """``/courses/<slug>/certificates``: the rule, signature, template and preview, and the
    course's certificates with those whose holder fell below the bar (revoke or keep)."""

    async def get(self, slug: str, problem: str = "", done: str = "") -> None:
        async with self.db(read_only=True) as session:
            course = await self.managed_course(session, slug)
            rule = await certificate_rules.rule_of(session, course.id)
            found = await issuing.of_course(session, course.id)
        prefix = self.settings_obj.service_prefix
        self.set_status(400 if problem else 200)
        self.render_page(
            "certificate_staff.html",
            course=course,
            rule=rule_json(rule)["rule"],
            own_template=rule.template_html if rule and rule.template_html else "",
            fields=FIELDS,
            certificates=[mine_json(c, prefix, self.public_url) for c in found],
            problem=problem,
            done=done or self.get_argument("done", ""),
        )

    async def post(self, slug: str) -> None:
        action = self.get_body_argument("action", "")
        try:
            message = await self.change(slug, action)
        except CertificateError as error:
            await self.get(slug, problem=error.message)
            return
        self.redirect(f"{self.request.path}?done={message}")

    async def change(self, slug: str, action: str) -> str:
        form = {name: self.get_body_argument(name, "") for name in self.request.body_arguments}
        async with self.db() as session:
            course = await self.managed_course(session, slug)
            if action == "rule":
                await certificate_rules.save_rule(session, course, form)
            elif action in ("signature", "template"):
                rule = await certificate_rules.rule_of(session, course.id)
                if rule is None:
                    raise CertificateError("Save the certificate rule first.", 409)
                if action == "signature":
                    files = self.request.files.get("signature") or [{"body": b""}]
                    rule.signature_png = certificate_rules.check_signature(files[0]["body"])
                else:
                    source = form.get("template", "")
                    if source.strip():
                        check_template(source)
                        await asyncio.to_thread(render_pdf, SAMPLE, source)
                    rule.template_html = source if source.strip() else None
            elif action in ("revoke", "keep"):
                certificate = await issuing.by_public_id(session, form.get("certificate", ""))
                if certificate is None or certificate.course_id != course.id:
                    raise web.HTTPError(404, NOT_FOUND)
                if action == "revoke":
                    await issuing.revoke(
                        session, certificate, form.get("reason", ""), await self.account(session)
                    )
                else:
                    await issuing.keep_despite_grade(session, certificate)
            else:
                raise CertificateError("Choose what to change.")
            await session.commit()
        return action


def staff_handlers(prefix: str) -> list[tuple[str, Any]]:
    return [(rf"{prefix}/courses/([\w-]+)/certificates", StaffPage)]
