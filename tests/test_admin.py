"""The admin area over HTTP: site settings take effect at once and are audited, people are
suspended and reactivated, students are imported from CSV (preview, then all or nothing),
reports come as tables and CSV, and nobody but administrators gets in."""

from __future__ import annotations

import csv
import io
import time

import pytest
from sqlalchemy import func, select

from coursehub.hub.constants import Role
from coursehub.services.models import Account, AdminReportExport, AuditEntry, Enrollment, SignIn
from tests.admin_helpers import alert, save_settings, site_settings
from tests.course_builder import make_course, notebook_bytes, unique_word
from tests.platform import sign_in, xsrf_from


def entries(db, action: str, target_id: object) -> list[AuditEntry]:
    with db() as session:
        return list(
            session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == action, AuditEntry.target_id == str(target_id))
                .order_by(AuditEntry.id)
            )
        )


def test_a_renamed_platform_shows_on_every_page_and_registration_follows_the_rules(
    platform, make_account, signed_in, client, db
):
    admin = make_account(Role.ADMIN)
    http, student = signed_in(admin), signed_in(make_account())
    name = f"Academy {unique_word()}"
    with site_settings(http, platform.service_url, platform_name=name) as saved:
        assert saved.status_code == 200 and "Platform name" in alert(saved, "settings_saved")
        assert [r.status_code for r in saved.history] == [303]  # reloading saves nothing again
        for _ in range(3):  # whichever service process answers
            assert f">{name}</a>" in student.get(f"{platform.service_url}/courses").text
        [entry] = entries(db, "settings.change", "platform_name")[-1:]
        assert (entry.before, entry.after, entry.actor_id) == ("CourseHub", name, admin.id)

        refused = save_settings(
            http, platform.service_url, platform_name=name, registration="domains"
        )
        assert refused.status_code == 400
        assert "at least one allowed domain" in alert(refused, "settings_problem")
        still = http.get(f"{platform.service_url}/admin/settings")
        assert 'value="open" selected' in still.text  # nothing of the refused form was kept

        limited = save_settings(
            http,
            platform.service_url,
            platform_name=name,
            registration="domains",
            allowed_domains=["Example.EDU"],
        )
        assert limited.status_code == 200
        register = client.get(f"{platform.service_url}/register")
        for email, status in (
            (f"{unique_word()}@other.org", 403),
            (f"{unique_word()}@example.edu", 200),
        ):
            answer = client.post(
                f"{platform.service_url}/register",
                data={
                    "_xsrf": xsrf_from(register),
                    "name": "Newcomer",
                    "email": email,
                    "password": "a long enough passphrase 9",
                },
            )
            assert answer.status_code == status, answer.text[:300]
            if status == 403:
                assert "Only email addresses at example.edu can register" in answer.text

        closed = save_settings(http, platform.service_url, registration="closed")
        assert closed.status_code == 200
        api = client.post(
            f"{platform.service_url}/api/accounts",
            json={
                "name": "N",
                "email": f"{unique_word()}@example.edu",
                "password": "a long enough passphrase 9",
            },
            headers={"X-XSRFToken": xsrf_from(client.get(f"{platform.service_url}/register"))},
        )
        assert api.status_code == 403 and "closed" in api.json()["error"]
    assert ">CourseHub</a>" in student.get(f"{platform.service_url}/courses").text


def test_a_suspended_student_cannot_sign_in_and_nothing_of_theirs_is_lost(
    platform, make_account, signed_in, client, db
):
    admin, student = make_account(Role.ADMIN), make_account()
    student_http = signed_in(student)
    course = make_course(
        platform.database_url, make_account(Role.INSTRUCTOR), title=f"Kept {unique_word()}"
    )
    with db() as session:
        session.add(Enrollment(account_id=student.id, course_id=course.id))
        session.commit()
    http = signed_in(admin)
    person = f"{platform.service_url}/admin/people/{student.id}"
    page = http.get(person)
    assert page.status_code == 200 and "password" in page.text  # a sign-in is in the history

    myself = http.post(
        f"{platform.service_url}/admin/people/{admin.id}",
        data={"_xsrf": xsrf_from(page), "action": "suspend", "reason": "testing"},
    )
    assert myself.status_code == 409 and "cannot suspend yourself" in alert(
        myself, "person_problem"
    )
    no_reason = http.post(
        person, data={"_xsrf": xsrf_from(page), "action": "suspend", "reason": " "}
    )
    assert no_reason.status_code == 400

    done = http.post(
        person, data={"_xsrf": xsrf_from(page), "action": "suspend", "reason": "Sharing answers"}
    )
    assert done.status_code == 200 and "is suspended" in alert(done, "person_done")
    # Their open session is over (the hub ended it), and signing in again is refused.
    assert student_http.get(f"{platform.service_url}/api/me").status_code in (401, 403)
    again = sign_in(client, platform.url, student.email, "correct horse battery")
    assert "suspended" in again.text
    found = http.get(
        f"{platform.service_url}/admin/people",
        params={"status": "suspended", "q": student.username},
    )
    assert f'data-username="{student.username}"' in found.text

    back = http.post(person, data={"_xsrf": xsrf_from(page), "action": "reactivate"})
    assert back.status_code == 200 and "can sign in again" in alert(back, "person_done")
    assert sign_in(client, platform.url, student.email, "correct horse battery").status_code == 200
    with db() as session:
        assert session.scalar(
            select(Enrollment.id).where(
                Enrollment.account_id == student.id, Enrollment.course_id == course.id
            )
        )
        methods = session.scalars(
            select(SignIn.method).where(SignIn.account_id == student.id)
        ).all()
    assert methods.count("password") == 2
    assert [e.reason for e in entries(db, "account.suspend", student.id)] == ["Sharing answers"]
    assert len(entries(db, "account.reactivate", student.id)) == 1


def test_students_are_imported_from_csv_all_or_nothing(platform, make_account, signed_in, db):
    admin, known = make_account(Role.ADMIN), make_account()
    course = make_course(
        platform.database_url, make_account(Role.INSTRUCTOR), title=f"Import {unique_word()}"
    )
    http = signed_in(admin)
    url = f"{platform.service_url}/admin/courses/{course.id}/import"
    form = http.get(url)
    new_email = f"new-{unique_word()}@coursehub.example"
    bad = (
        f"email,name\n{new_email},New Person\n{known.email.upper()},Known\n"
        f"not-an-email,Nobody\n{new_email},Again\n"
    )

    preview = http.post(url, data={"_xsrf": xsrf_from(form), "csv": bad, "step": "preview"})
    assert preview.status_code == 200
    assert [
        a
        for a in ("create", "match", "malformed", "duplicate")
        if f'data-action="{a}"' in preview.text
    ] == ["create", "match", "malformed", "duplicate"]
    assert "import_confirm" not in preview.text
    forced = http.post(
        url, data={"_xsrf": xsrf_from(form), "csv": bad, "step": "import", "digest": "x"}
    )
    assert forced.status_code == 409
    with db() as session:
        assert session.scalar(select(Account.id).where(Account.email == new_email)) is None

    good = f"email,name\n{new_email},New Person\n{known.email},Known\n"
    preview = http.post(url, data={"_xsrf": xsrf_from(form), "csv": good, "step": "preview"})
    digest = preview.text.split('name="digest" value="')[1].split('"')[0]
    imported = http.post(
        url, data={"_xsrf": xsrf_from(form), "csv": good, "step": "import", "digest": digest}
    )
    assert imported.status_code == 200, imported.text[:500]
    # Answered with a page of its own: reloading it imports nothing again.
    assert [r.status_code for r in imported.history] == [303]
    assert "2 people enrolled" in alert(http.get(imported.url), "import_done")
    assert "1 new accounts" in alert(imported, "import_done") and "2 people enrolled" in alert(
        imported, "import_done"
    )
    with db() as session:
        created = session.scalar(select(Account).where(Account.email == new_email))
        enrolled = set(
            session.scalars(select(Enrollment.account_id).where(Enrollment.course_id == course.id))
        )
    assert created is not None and created.password_hash is None and created.name == "New Person"
    assert enrolled == {created.id, known.id}
    deadline = time.monotonic() + 30
    while (
        not any(new_email in p.read_text() for p in platform.outbox())
        and time.monotonic() < deadline
    ):
        time.sleep(0.3)
    invitation = next(p.read_text() for p in platform.outbox() if new_email in p.read_text())
    assert "/services/coursehub/reset/" in invitation and course.title in invitation
    again = http.post(
        url, data={"_xsrf": xsrf_from(form), "csv": good, "step": "import", "digest": digest}
    )
    assert again.status_code == 409  # the same file now means "already enrolled": preview again


def test_bulk_enrolment_answers_with_a_page_of_its_own(platform, make_account, signed_in, db):
    admin, first, second = make_account(Role.ADMIN), make_account(), make_account()
    course = make_course(
        platform.database_url, make_account(Role.INSTRUCTOR), title=f"Enrol {unique_word()}"
    )
    http = signed_in(admin)
    url = f"{platform.service_url}/admin/courses/{course.id}/enrol"
    form = http.get(url)
    names = f"{first.username}\n{second.email}"
    enrolled = http.post(url, data={"_xsrf": xsrf_from(form), "names": names, "action": "enrol"})
    assert [r.status_code for r in enrolled.history] == [303], enrolled.text[:300]
    assert f"2 enrolled in {course.title}; 0 already were." in alert(enrolled, "enrol_done")
    # Reloading the answer shows it again and changes nothing.
    assert "2 enrolled" in alert(http.get(enrolled.url), "enrol_done")
    with db() as session:
        ids = set(
            session.scalars(select(Enrollment.account_id).where(Enrollment.course_id == course.id))
        )
    assert ids == {first.id, second.id}
    left = http.post(url, data={"_xsrf": xsrf_from(form), "names": names, "action": "unenrol"})
    assert f"2 unenrolled from {course.title}" in alert(left, "enrol_done")


def test_reports_show_enrolments_as_a_table_and_csv_and_large_ones_come_from_the_queue(
    platform, make_account, signed_in, db
):
    admin, student = make_account(Role.ADMIN), make_account()
    course = make_course(
        platform.database_url, make_account(Role.INSTRUCTOR), title=f"Report {unique_word()}"
    )
    with db() as session:
        session.add(Enrollment(account_id=student.id, course_id=course.id))
        session.commit()
    http = signed_in(admin)
    base = f"{platform.service_url}/admin/reports"
    page = http.get(f"{base}/enrolments", params={"course": course.id})
    assert page.status_code == 200 and student.username in page.text
    download = http.get(f"{base}/enrolments.csv", params={"course": course.id})
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert [(r["course"], r["username"]) for r in rows] == [(course.slug, student.username)]
    assert http.get(f"{base}/active-users").status_code == 200
    assert http.get(f"{base}/grading-queue.csv").status_code == 200
    assert http.get(f"{base}/revenue.csv").status_code == 200
    backwards = http.get(f"{base}/enrolments", params={"from": "2026-02-01", "to": "2026-01-01"})
    assert backwards.status_code == 400 and "swap the dates" in backwards.text
    assert http.get(f"{base}/nonsense").status_code == 404

    queued = http.post(
        f"{base}/enrolments", data={"_xsrf": xsrf_from(page), "course": str(course.id)}
    )
    assert queued.status_code == 200
    with db() as session:
        export_id = session.scalar(select(func.max(AdminReportExport.id)))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with db() as session:
            export = session.get(AdminReportExport, export_id)
        if export.state != "queued":
            break
        time.sleep(0.5)
    assert export.state == "done", export.error
    listed = http.get(base)
    assert f"/admin/reports/exports/{export_id}.csv" in listed.text
    built = http.get(f"{base}/exports/{export_id}.csv")
    assert student.username in built.text


@pytest.mark.parametrize("role", [Role.STUDENT, Role.INSTRUCTOR])
def test_only_administrators_open_the_admin_area(platform, make_account, signed_in, role):
    http = signed_in(make_account(role))
    for path in (
        "/admin",
        "/admin/people",
        "/admin/settings",
        "/admin/audit.csv",
        "/admin/reports/enrolments",
    ):
        answer = http.get(f"{platform.service_url}{path}")
        assert answer.status_code == 403, path


def test_the_admin_index_links_every_admin_page_and_the_audit_log_is_searchable(
    platform, make_account, signed_in, db
):
    admin, student = make_account(Role.ADMIN), make_account()
    signed_in(student)
    http = signed_in(admin)
    index = http.get(f"{platform.service_url}/admin")
    assert index.status_code == 200
    for link in (
        "/admin/courses",
        "/admin/people",
        "/admin/settings",
        "/admin/reports",
        "/admin/audit",
        "/admin/support",
        "/admin/analytics",
        "/hub/admin",
    ):
        assert f'{link}"' in index.text, link
    http.patch(
        f"{platform.service_url}/api/users/{student.username}",
        json={"role": "INSTRUCTOR"},
        headers={"X-XSRFToken": xsrf_from(index)},
    ).raise_for_status()
    found = http.get(
        f"{platform.service_url}/admin/audit", params={"q": student.username, "action": "role."}
    )
    assert 'data-action="role.change"' in found.text
    exported = http.get(f"{platform.service_url}/admin/audit.csv", params={"actor": admin.username})
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [(r["action"], r["target_id"], r["after"]) for r in rows] == [
        ("role.change", str(student.id), '{"role": "INSTRUCTOR"}')
    ]


def test_an_upload_limit_an_admin_sets_applies_at_once(
    platform, make_account, signed_in, database_url
):
    admin, teacher = make_account(Role.ADMIN), make_account(Role.INSTRUCTOR)
    course = make_course(database_url, teacher, title=f"Limits {unique_word()}")
    author = signed_in(teacher)
    page = author.get(f"{platform.service_url}/teach/courses/{course.id}")
    big = notebook_bytes("A long lesson. " * 100_000)  # about 1.5 MB
    with site_settings(signed_in(admin), platform.service_url, max_notebook_mb=1):
        refused = author.post(
            f"{platform.service_url}/api/lessons/{course.lesson_ids[0]}/versions",
            content=big,
            headers={"Content-Type": "application/x-ipynb+json", "X-XSRFToken": xsrf_from(page)},
        )
        assert refused.status_code == 413, refused.text[:300]
        assert "the limit is 1 MB" in refused.json()["error"]
