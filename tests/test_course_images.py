"""Course pictures: an instructor uploads a picture on the course's edit page (PNG, JPEG or
WebP by its bytes, at most the thumbnail size), and it shows on the course's cards in the
landing page, the catalog and the dashboard, and on its page, served with caching headers;
a course without one gets a picture made from its initials. Wrong files, oversized files and
people who may not edit the course change nothing."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from coursehub.hub.constants import Role
from coursehub.services.models import Course
from tests.course_builder import enroll, make_course, unique_word
from tests.teaching_client import open_session


def picture(kind: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 360), (20, 120, 200)).save(out, kind)
    return out.getvalue()


def form_of(course: Course, **changes: str) -> dict[str, str]:
    return {
        "title": course.title,
        "slug": course.slug,
        "summary": course.summary,
        "description": course.description,
        "category_id": str(course.category_id or ""),
        "status": course.status.value,
        "price": "0",
        **changes,
    }


def course_row(db, course_id: int) -> Course:  # type: ignore[no-untyped-def]
    with db() as session:
        found = session.get(Course, course_id)
        assert found is not None
        return found


@pytest.fixture
def story(platform, make_account, signed_in, database_url, db):  # type: ignore[no-untyped-def]
    instructor = make_account(Role.INSTRUCTOR)
    built = make_course(database_url, instructor, title=f"Pictured course {unique_word('lens')}")
    return instructor, open_session(platform, signed_in, instructor), built


@pytest.mark.parametrize("kind, content_type", [("PNG", "image/png"), ("WEBP", "image/webp")])
def test_an_uploaded_picture_is_shown_on_every_card_with_caching_headers(
    platform, client, story, db, make_account, signed_in, kind, content_type
):
    _, teacher, built = story
    before = client.get(f"{platform.service_url}/courses/{built.slug}")
    assert f"/courses/{built.slug}/picture.svg" in before.text

    edit_page = teacher.get(f"/teach/courses/{built.id}")
    assert 'id="made_picture"' in edit_page.text
    assert f"/courses/{built.slug}/picture.svg" in edit_page.text

    image = picture(kind)
    saved = teacher.form(
        f"/teach/courses/{built.id}",
        form_of(course_row(db, built.id)),
        files={"thumbnail": ("cover.bin", image, "application/octet-stream")},
    )
    assert saved.status_code == 200, saved.text[:500]
    upload_id = course_row(db, built.id).thumbnail_upload_id
    assert upload_id is not None
    url = f"/services/coursehub/media/{upload_id}"

    assert 'id="made_picture"' not in saved.text and f'src="{url}"' in saved.text

    served = client.get(f"{platform.url}{url}")
    assert served.status_code == 200 and served.content == image
    assert served.headers["content-type"] == content_type
    assert "max-age" in served.headers["cache-control"]

    for path in ("/welcome", f"/courses/{built.slug}", f"/courses?q={built.title}"):
        page = client.get(f"{platform.service_url}{path}")
        assert page.status_code == 200, path
        assert f'src="{url}"' in page.text, path
    student = make_account()
    enroll(db, student, built)
    dashboard = signed_in(student).get(f"{platform.service_url}/dashboard")
    assert f'src="{url}"' in dashboard.text


def test_wrong_and_oversized_files_and_other_people_change_nothing(
    platform, story, db, make_account, signed_in
):
    _, teacher, built = story
    course = course_row(db, built.id)

    text_file = teacher.form(
        f"/teach/courses/{built.id}",
        form_of(course, summary="changed"),
        files={
            "thumbnail": ("cover.png", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/png")
        },
    )
    assert text_file.status_code == 400
    assert "not a PNG, JPEG or WebP image" in text_file.text

    # 20 MB that start like a PNG: too large, whatever they are.
    huge = picture("PNG") + bytes(20 * 1024 * 1024)
    too_large = teacher.form(
        f"/teach/courses/{built.id}",
        form_of(course, summary="changed"),
        files={"thumbnail": ("huge.png", huge, "image/png")},
    )
    assert too_large.status_code == 413
    assert "at most" in too_large.text

    student = make_account()
    enroll(db, student, built)
    pupil = open_session(platform, signed_in, student)
    refused = pupil.form(
        f"/teach/courses/{built.id}",
        form_of(course, summary="changed"),
        files={"thumbnail": ("cover.png", picture("PNG"), "image/png")},
    )
    assert refused.status_code == 403

    after = course_row(db, built.id)
    assert after.thumbnail_upload_id is None and after.summary == course.summary
