"""Profiles: a person fills in their name, picture, pronouns, bio, time zone and language, and
others see them; a picture that is not an image, or is 50 MB, is refused with a sentence and
nothing changes."""

from __future__ import annotations

import struct
import zlib

import httpx
from sqlalchemy import func, select

from coursehub.hub.constants import Role
from coursehub.services.models import Account, ForumPost, ForumThread, Profile, Upload
from tests.platform import xsrf_from
from tests.service_data import course_with


def tiny_png() -> bytes:
    """A real 1 x 1 PNG, built by hand."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x80\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def save_profile(
    client: httpx.Client, service: str, files: dict | None = None, **fields: str
) -> httpx.Response:
    page = client.get(f"{service}/account/profile")
    values = {"name": "", "bio": "", "pronouns": "", "time_zone": "UTC", "language": "en"}
    values.update(fields)
    return post_form(
        client, f"{service}/account/profile", {"_xsrf": xsrf_from(page), **values}, files
    )


def post_form(
    client: httpx.Client, url: str, data: dict[str, str], files: dict | None
) -> httpx.Response:
    """POST a form with files, then follow its 303 as a browser does (httpx would keep the
    multipart Content-Type on the GET, which no browser sends)."""
    answer = client.post(url, data=data, files=files, follow_redirects=False)
    if answer.status_code == 303:
        return client.get(httpx.URL(url).join(answer.headers["location"]))
    return answer


def uploads_count(db) -> int:
    with db() as session:
        return session.scalar(select(func.count()).select_from(Upload))


def test_a_person_fills_in_their_profile_and_others_see_it(platform, make_account, signed_in, db):
    student, classmate = make_account(), make_account()
    me = signed_in(student)
    saved = save_profile(
        me,
        platform.service_url,
        files={"avatar": ("holiday photo.png", tiny_png(), "application/octet-stream")},
        name="Ada Lovelace",
        bio="I like engines.\nAnd notebooks.",
        pronouns="she/her",
        time_zone="Europe/London",
    )
    assert saved.status_code == 200, saved.text[-2000:]
    assert "Your profile is saved." in saved.text
    # No choice of language that would change nothing: English, and what is coming.
    assert "English (more languages coming)" in saved.text
    assert 'name="language"' not in saved.text
    with db() as session:
        profile = session.get(Profile, student.id)
        assert session.get(Account, student.id).name == "Ada Lovelace"
        assert (profile.pronouns, profile.time_zone, profile.language) == (
            "she/her",
            "Europe/London",
            "en",
        )
        avatar = session.get(Upload, profile.avatar_upload_id)
        assert avatar.purpose == "avatar" and avatar.content_type == "image/png"

    seen = signed_in(classmate).get(f"{platform.service_url}/people/{student.id}")
    assert seen.status_code == 200
    assert "Ada Lovelace" in seen.text and "(she/her)" in seen.text
    assert "I like engines." in seen.text and "Europe/London" in seen.text
    picture = f"/people/{student.id}/avatar/{avatar.id}"
    assert picture in seen.text
    image = signed_in(classmate).get(f"{platform.service_url}{picture}")
    assert image.headers["content-type"] == "image/png" and image.content == tiny_png()
    # Signed-out visitors see neither the profile nor the picture.
    with httpx.Client(timeout=30) as visitor:
        assert visitor.get(f"{platform.service_url}{picture}").status_code in (302, 401, 403)


def test_an_avatar_that_is_not_an_image_or_is_50_mb_is_refused_and_nothing_changes(
    platform, make_account, signed_in, db
):
    student = make_account()
    me = signed_in(student)
    before = uploads_count(db)
    fake = save_profile(
        me,
        platform.service_url,
        files={"avatar": ("cat.png", b"#!/bin/sh\necho this is a script\n" * 10, "image/png")},
        name="Renamed Person",
    )
    assert fake.status_code == 400
    assert "not a PNG, JPEG or WebP image" in fake.text
    huge = b"\x89PNG\r\n\x1a\n" + b"\x00" * (50 * 1_000_000)
    big = save_profile(
        me, platform.service_url, files={"avatar": ("big.png", huge, "image/png")}, name="X"
    )
    assert big.status_code == 413 and "at most 2 MB" in big.text
    with db() as session:
        assert session.get(Account, student.id).name == student.name  # the form was not kept
        assert session.get(Profile, student.id) is None
    assert uploads_count(db) == before
    assert not any(p.name.startswith(".part-") for p in (platform.data_dir / "uploads").glob("*"))


def test_every_wrong_profile_field_is_named_at_once(platform, make_account, signed_in, db):
    student = make_account(Role.INSTRUCTOR)
    answer = save_profile(
        signed_in(student),
        platform.service_url,
        name=" ",
        bio="x" * 1001,
        pronouns="p" * 41,
        time_zone="Mars/Olympus_Mons",
        language="tlh",
    )
    assert answer.status_code == 400
    for sentence in (
        "Tell us your name.",
        "Keep your bio to 1000 characters",
        "Pronouns can be at most 40 characters.",
        "Choose a time zone from the list",
        "CourseHub is in English only for now",
    ):
        assert sentence in answer.text
    with db() as session:
        assert session.get(Profile, student.id) is None


def test_forum_posts_and_staff_lists_show_the_picture_and_lead_to_the_profile(
    platform, make_account, signed_in, db
):
    teacher, student, classmate = make_account(Role.INSTRUCTOR), make_account(), make_account()
    course = course_with(db, teacher, students=[student, classmate])
    with db() as session:
        thread = ForumThread(course_id=course.id, author_id=student.id, title="Loops")
        session.add(thread)
        session.flush()
        session.add(ForumPost(thread_id=thread.id, author_id=student.id, body="Why for?"))
        session.commit()
    saved = save_profile(
        signed_in(student),
        platform.service_url,
        files={"avatar": ("me.png", tiny_png(), "image/png")},
        name=student.name,
    )
    assert saved.status_code == 200
    reader = signed_in(classmate)
    page = reader.get(f"{platform.service_url}/courses/{course.slug}/forums/threads/{thread.id}")
    assert page.status_code == 200
    assert f'src="/services/coursehub/people/{student.id}/avatar"' in page.text
    assert f'href="/services/coursehub/people/{student.id}"' in page.text
    assert reader.get(f"{platform.service_url}/people/{student.id}/avatar").content == tiny_png()
    # Someone without a picture gets their initial.
    initial = reader.get(f"{platform.service_url}/people/{teacher.id}/avatar")
    assert initial.headers["content-type"] == "image/svg+xml"
    assert f">{teacher.name[0].upper()}</text>" in initial.text
    staff = signed_in(teacher).get(f"{platform.service_url}/courses/{course.slug}/staff")
    assert f'href="/services/coursehub/people/{teacher.id}"' in staff.text
