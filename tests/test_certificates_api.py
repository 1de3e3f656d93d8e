"""The certificate API on a running CourseHub, with bad input: only the course's instructor
sets the rule; a template with unknown fields or a remote fetch is refused with a sentence
and the preview is a PDF; a signature must be a PNG; another student cannot change or fetch
someone's certificate; a certificate nobody issued is 404; revoking needs a reason and the
public answer then says so."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from coursehub.hub.constants import Role
from coursehub.services.models import LessonKind
from coursehub.services.models.certificates import Certificate
from tests.player_data import LessonSpec, build_course, enroll, xsrf_headers

PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def client_for(platform, signed_in, account, course) -> httpx.Client:
    http = signed_in(account)
    page = http.get(f"{platform.service_url}/courses/{course.slug}")
    assert page.status_code == 200, page.text[:300]
    http.headers.update(xsrf_headers(http, page))
    return http


def test_the_rule_templates_and_refusals(platform, db, make_account, signed_in):
    instructor, student, other = make_account(Role.INSTRUCTOR), make_account(), make_account()
    course = build_course(db, instructor, [LessonSpec("Reading", kind=LessonKind.TEXT)])
    enroll(db, student, course)
    enroll(db, other, course)
    api = f"{platform.service_url}/api/courses/{course.slug}"
    teacher = client_for(platform, signed_in, instructor, course)
    learner = client_for(platform, signed_in, student, course)
    outsider = client_for(platform, signed_in, other, course)

    assert teacher.get(f"{api}/certificate-rule").json() == {"rule": None}
    no_rule = teacher.get(f"{api}/certificate-rule/preview")
    assert no_rule.status_code == 409 and "rule first" in no_rule.json()["error"]
    refused = learner.put(f"{api}/certificate-rule", json={"title": "Mine"})
    assert refused.status_code == 403
    bad = teacher.put(f"{api}/certificate-rule", json={"title": "Cert", "min_grade": 120})
    assert bad.status_code == 400 and "from 0 to 100" in bad.json()["error"]
    bad_date = teacher.put(f"{api}/certificate-rule", json={"not_before": "next week"})
    assert bad_date.status_code == 400 and "2026-12-31" in bad_date.json()["error"]
    saved = teacher.put(
        f"{api}/certificate-rule",
        json={
            "title": "Certificate of Completion",
            "signatory_name": "Ada Lovelace",
            "page_size": "Letter",
        },
    )
    assert saved.status_code == 200 and saved.json()["rule"]["page_size"] == "Letter"

    not_png = teacher.put(f"{api}/certificate-rule/signature", content=b"GIF89a")
    assert not_png.status_code == 400 and "PNG" in not_png.json()["error"]
    signed = teacher.put(f"{api}/certificate-rule/signature", content=PNG_1PX)
    assert signed.json() == {"has_signature": True}

    unknown = teacher.put(f"{api}/certificate-rule/template", content=b"<p>{{ secret_key }}</p>")
    assert unknown.status_code == 400 and "secret_key" in unknown.json()["error"]
    remote = teacher.put(
        f"{api}/certificate-rule/template",
        content=b'<img src="https://tracker.example/pixel.png">{{ holder_name }}',
    )
    assert remote.status_code == 400 and "elsewhere" in remote.json()["error"]
    own = teacher.put(
        f"{api}/certificate-rule/template",
        content="<h1>{{ title }}</h1><p>{{ holder_name }} · {{ course_title }}</p>".encode(),
    )
    assert own.json() == {"has_own_template": True}
    preview = teacher.get(f"{api}/certificate-rule/preview")
    assert preview.headers["content-type"] == "application/pdf" and preview.content[:4] == b"%PDF"
    assert "secret_key" not in teacher.get(f"{api}/certificate-rule/template").json()["fields"]

    # The student completes the course; someone else cannot touch their certificate.
    done = learner.post(
        f"{platform.service_url}/api/learn/{course.slug}/{course.lessons['Reading']}/complete"
    )
    assert done.status_code == 200, done.text
    with db() as session:
        certificate = session.scalar(
            select(Certificate).where(Certificate.account_id == student.id)
        )
    assert certificate is not None
    public_id = certificate.public_id
    assert learner.get(f"{api}/certificate-progress").json()["met"] is True
    show = f"{platform.service_url}/api/certificates/{public_id}/show-grade"
    assert outsider.post(show, json={"show": True}).status_code == 404
    assert learner.post(show, json={"show": "yes"}).status_code == 400
    assert learner.post(show, json={"show": True}).json() == {"show_grade": True}
    mine = learner.get(f"{platform.service_url}/api/certificates").json()["certificates"]
    assert [c["id"] for c in mine] == [public_id]
    assert (
        "linkedin.com/profile/add" in mine[0]["linkedin_url"]
        and public_id in mine[0]["linkedin_url"]
    )
    assert outsider.get(f"{platform.service_url}/api/certificates").json() == {"certificates": []}

    anyone = httpx.Client(timeout=30)
    missing = anyone.get(f"{platform.service_url}/api/certificates/verify/{'x' * 24}")
    assert missing.status_code == 404
    assert (
        learner.post(f"{api}/certificates/{public_id}/revoke", json={"reason": "no"}).status_code
        == 403
    )
    no_reason = teacher.post(f"{api}/certificates/{public_id}/revoke", json={"reason": " "})
    assert no_reason.status_code == 400
    revoked = teacher.post(
        f"{api}/certificates/{public_id}/revoke", json={"reason": "Issued by mistake."}
    )
    assert revoked.json()["revoked"] is True
    public = anyone.get(f"{platform.service_url}/api/certificates/verify/{public_id}").json()
    assert (public["revoked"], public["revoked_reason"]) == (True, "Issued by mistake.")
    page = anyone.get(f"{platform.service_url}/certificates/verify/{public_id}")
    assert page.status_code == 200 and "has been revoked" in page.text
    junk = anyone.post(f"{platform.service_url}/api/certificates/verify", content=b"not a pdf")
    assert junk.json()["authentic"] is False and "not a PDF" in junk.json()["message"]
    anyone.close()

    # The staff page: the instructor's, with the revoked certificate; a student is refused.
    staff_page = f"{platform.service_url}/courses/{course.slug}/certificates"
    assert learner.get(staff_page).status_code == 403
    listed = teacher.get(staff_page)
    assert listed.status_code == 200, listed.text[:300]
    assert "Revoked: Issued by mistake." in listed.text
    course_page = teacher.get(f"{platform.service_url}/courses/{course.slug}")
    assert 'id="staff_certificates_link"' in course_page.text
    form = {
        "_xsrf": teacher.headers["X-XSRFToken"],
        "action": "rule",
        "title": "Award",
        "min_grade": "150",
        "page_size": "A4",
    }
    wrong = teacher.post(staff_page, data=form)
    assert wrong.status_code == 400 and "from 0 to 100" in wrong.text
    form["min_grade"] = "50"
    right = teacher.post(staff_page, data=form)
    assert right.status_code == 200 and right.url.params.get("done") == "rule"
    assert teacher.get(f"{api}/certificate-rule").json()["rule"]["min_grade"] == 50
