"""Uploads: thumbnails and videos are recognised by their content, stored under the service's
names, refused clearly when wrong or too large (leaving nothing behind), and served back with
byte ranges to the people allowed to see them."""

from __future__ import annotations

import asyncio
import http.client
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import func, select

from coursehub.hub.constants import Role
from coursehub.services.content import uploads
from coursehub.services.models import Enrollment, Upload
from tests.teaching_client import hub_token, new_course, new_lesson, new_module, open_session

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(80)
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(80)
MP4_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
WEBM_HEAD = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\x82\x84webm\x42\x87\x81\x04"
MKV_HEAD = (
    b"\x1a\x45\xdf\xa3\xa3\x42\x86\x81\x01\x42\xf7\x81\x01\x42\x82\x88matroska\x42\x87\x81\x04"
)
# A "video" whose every byte is predictable, so a range can be checked byte for byte.
VIDEO = MP4_HEAD + bytes(i % 251 for i in range(300_000))


# -- recognising files by their content ----------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        pytest.param(PNG, "image/png", id="png"),
        pytest.param(JPEG, "image/jpeg", id="jpeg"),
        pytest.param(WEBP, "image/webp", id="webp"),
        pytest.param(b"GIF89a" + bytes(60), None, id="gif"),
        pytest.param(b"<svg xmlns='http://www.w3.org/2000/svg'></svg>", None, id="svg"),
        pytest.param(MP4_HEAD, None, id="video-is-not-an-image"),
    ],
)
def test_images_are_recognised_by_their_first_bytes(head, expected):
    found = uploads.sniff_image(head)
    assert (found.content_type if found else None) == expected


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        pytest.param(MP4_HEAD, "video/mp4", id="mp4"),
        pytest.param(b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00", "video/mp4", id="mp4-isom"),
        pytest.param(WEBM_HEAD, "video/webm", id="webm"),
        pytest.param(MKV_HEAD, None, id="matroska-is-not-webm"),
        pytest.param(b"\x00\x00\x00\x18ftypM4A \x00\x00\x00\x00", None, id="audio-only-m4a"),
        pytest.param(b"this file merely mentions ftyp and webm", None, id="text"),
        pytest.param(PNG, None, id="image-is-not-a-video"),
    ],
)
def test_videos_are_recognised_by_their_first_bytes(head, expected):
    found = uploads.sniff_video(head)
    assert (found.content_type if found else None) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param(None, None, id="no-range"),
        pytest.param("bytes=0-99", (0, 99), id="first-100"),
        pytest.param("bytes=100-", (100, 999), id="from-100"),
        pytest.param("bytes=-100", (900, 999), id="last-100"),
        pytest.param("bytes=-5000", (0, 999), id="suffix-longer-than-file"),
        pytest.param("bytes=990-5000", (990, 999), id="end-clipped"),
        pytest.param("bytes=999-999", (999, 999), id="last-byte"),
        pytest.param("items=0-5", None, id="other-unit-ignored"),
        pytest.param("bytes=0-1,5-6", None, id="several-ranges-ignored"),
    ],
)
def test_byte_ranges_are_read_as_rfc_9110_says(header, expected):
    assert uploads.parse_byte_range(header, 1000) == expected


@pytest.mark.parametrize(
    "header",
    ["bytes=abc", "bytes=5-2", "bytes=1000-", "bytes=-0", "bytes=-", "bytes=1-2-3"],
)
def test_unsatisfiable_or_malformed_ranges_are_refused(header):
    with pytest.raises(uploads.RangeNotSatisfiable):
        uploads.parse_byte_range(header, 1000)


def test_a_refused_file_leaves_nothing_on_disk(tmp_path: Path):
    async def feed(limit: int, pieces: list[bytes]) -> uploads.IncomingFile:
        incoming = uploads.IncomingFile(tmp_path, uploads.VIDEO, limit)
        for piece in pieces:
            await incoming.write(piece)
        await incoming.complete()
        return incoming

    def receive(limit: int, pieces: list[bytes]) -> uploads.IncomingFile:
        # A thread of its own: the session's browser keeps an event loop in this one.
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, feed(limit, pieces)).result()

    with pytest.raises(uploads.UploadError, match="not an MP4 or WebM video"):
        receive(10_000, [b"plain text pretending to be a video " * 10])
    with pytest.raises(uploads.UploadError, match=r"at most 0\.001 MB") as refused:
        receive(1_000, [VIDEO[:400]] * 5)
    assert refused.value.status == 413
    assert list(tmp_path.iterdir()) == []

    # Pieces smaller and larger than what is needed to recognise the type.
    right = receive(
        len(VIDEO), [VIDEO[start : start + 7_000] for start in range(0, len(VIDEO), 7_000)]
    )
    assert right.file_type == uploads.MP4
    name = right.keep()
    assert name.endswith(".mp4") and (tmp_path / name).read_bytes() == VIDEO
    assert [path.name for path in tmp_path.iterdir()] == [name]


# -- uploading through the service -------------------------------------------------------------


@pytest.fixture
def teacher(platform, make_account, signed_in):  # type: ignore[no-untyped-def]
    return open_session(platform, signed_in, make_account(Role.INSTRUCTOR))


def stored_files(platform) -> set[str]:  # type: ignore[no-untyped-def]
    folder = platform.data_dir / "uploads"
    return {path.name for path in folder.iterdir()} if folder.exists() else set()


def upload_count(db) -> int:  # type: ignore[no-untyped-def]
    with db() as session:
        return session.scalar(select(func.count()).select_from(Upload))


def upload(session, purpose: str, body: bytes, filename: str) -> httpx.Response:  # type: ignore[no-untyped-def]
    return session.call(
        "POST",
        f"/api/uploads?purpose={purpose}&filename={filename}",
        content=body,
        headers={"Content-Type": "application/octet-stream"},
    )


def video_lesson(teacher, *, preview: bool = False) -> tuple[dict, dict]:  # type: ignore[no-untyped-def]
    course = new_course(teacher, "Film Studies")
    module = new_module(teacher, course["id"], "Watching")
    lesson = new_lesson(teacher, module["id"], "The opening scene", "VIDEO")
    sent = upload(teacher, "video", VIDEO, "opening.mp4")
    assert sent.status_code == 201, sent.text
    attached = teacher.call(
        "PATCH",
        f"/api/teach/lessons/{lesson['id']}",
        json={"video_upload_id": sent.json()["id"], "duration_seconds": 95, "is_preview": preview},
    )
    assert attached.status_code == 200, attached.text
    assert attached.json()["video_url"] == sent.json()["url"]
    return course, sent.json()


def test_an_uploaded_video_is_served_with_byte_ranges(
    platform, teacher, make_account, signed_in, db
):
    course, video = video_lesson(teacher)
    assert video["content_type"] == "video/mp4" and video["size"] == len(VIDEO)
    assert video["original_name"] == "opening.mp4"
    with db() as session:
        stored = session.get(Upload, video["id"]).storage_name
    assert stored != "opening.mp4" and stored in stored_files(platform)

    student = make_account()
    with db() as session:
        session.add(Enrollment(account_id=student.id, course_id=course["id"]))
        session.commit()
    viewer = signed_in(student)
    url = f"{platform.service_url}/media/{video['id']}"
    size = len(VIDEO)

    whole = viewer.get(url)
    assert whole.status_code == 200 and whole.content == VIDEO
    assert whole.headers["Accept-Ranges"] == "bytes"
    assert whole.headers["Content-Type"] == "video/mp4"
    assert int(whole.headers["Content-Length"]) == size

    cases = [
        ("bytes=0-99", 0, 99),
        ("bytes=100-", 100, size - 1),
        ("bytes=-100", size - 100, size - 1),
        ("bytes=299990-999999", 299990, size - 1),
    ]
    for header, first, last in cases:
        part = viewer.get(url, headers={"Range": header})
        assert part.status_code == 206, header
        assert part.headers["Content-Range"] == f"bytes {first}-{last}/{size}", header
        assert part.content == VIDEO[first : last + 1], header
        assert int(part.headers["Content-Length"]) == last - first + 1

    for header in (f"bytes={size}-", "bytes=abc", "bytes=50-10"):
        refused = viewer.get(url, headers={"Range": header})
        assert refused.status_code == 416, header
        assert refused.headers["Content-Range"] == f"bytes */{size}"

    head = viewer.head(url)
    assert head.status_code == 200 and head.headers["Content-Length"] == str(size)
    assert head.content == b""


def test_videos_are_only_for_the_people_of_their_course(
    platform, teacher, make_account, signed_in, db
):
    _, video = video_lesson(teacher)
    url = f"{platform.service_url}/media/{video['id']}"
    assert httpx.get(url).status_code == 401
    outsider = signed_in(make_account())
    refused = outsider.get(url)
    assert refused.status_code == 403 and "Enroll in the course" in refused.text
    assert signed_in(make_account(Role.INSTRUCTOR)).get(url).status_code == 403
    assert signed_in(make_account(Role.ADMIN)).get(url).status_code == 200
    assert teacher.http.get(url).status_code == 200

    preview_course, preview_video = video_lesson(teacher, preview=True)
    preview_url = f"{platform.service_url}/media/{preview_video['id']}"
    assert httpx.get(preview_url).status_code == 401, "a draft course shows nobody its previews"
    teacher.call(
        "PATCH", f"/api/teach/courses/{preview_course['id']}", json={"status": "PUBLISHED"}
    ).raise_for_status()
    assert httpx.get(preview_url).status_code == 200, "a published preview lesson is for anyone"


def test_thumbnails_are_public(platform, teacher):
    for body, kind in ((PNG, "image/png"), (JPEG, "image/jpeg"), (WEBP, "image/webp")):
        sent = upload(teacher, "thumbnail", body, "cover")
        assert sent.status_code == 201 and sent.json()["content_type"] == kind
        image = httpx.get(f"{platform.service_url}/media/{sent.json()['id']}")
        assert image.status_code == 200 and image.content == body
        assert image.headers["Content-Type"] == kind


@pytest.mark.parametrize(
    ("purpose", "body", "filename", "status", "message"),
    [
        pytest.param(
            "video",
            b"Lecture notes, not a video. " * 100,
            "lecture.mp4",
            400,
            "not an MP4 or WebM video",
            id="text-named-mp4",
        ),
        pytest.param("video", PNG, "clip.mp4", 400, "not an MP4 or WebM video", id="png-named-mp4"),
        pytest.param("video", MKV_HEAD * 4, "clip.webm", 400, "not an MP4 or WebM", id="matroska"),
        pytest.param(
            "thumbnail",
            MP4_HEAD * 4,
            "cover.png",
            400,
            "not a PNG, JPEG or WebP image",
            id="video-named-png",
        ),
        pytest.param(
            "thumbnail",
            PNG + bytes(5_000_000),
            "huge.png",
            413,
            "at most 5 MB",
            id="oversized-thumbnail",
        ),
        pytest.param("thumbnail", b"", "empty.png", 400, "The upload is empty", id="empty"),
        pytest.param(
            "avatar", PNG, "me.png", 400, "purpose=thumbnail or purpose=video", id="purpose"
        ),
    ],
)
def test_wrong_files_are_refused_clearly_and_nothing_is_stored(
    platform, teacher, db, purpose, body, filename, status, message
):
    files_before, rows_before = stored_files(platform), upload_count(db)
    response = upload(teacher, purpose, body, filename)
    assert response.status_code == status, response.text[:300]
    assert message in response.json()["error"]
    assert stored_files(platform) == files_before
    assert upload_count(db) == rows_before


def test_a_video_far_over_the_limit_is_refused_before_it_is_sent(platform, teacher, db):
    files_before, rows_before = stored_files(platform), upload_count(db)
    token = hub_token(platform, teacher.account.username)
    address = urlsplit(platform.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    connection.putrequest("POST", "/services/coursehub/api/uploads?purpose=video&filename=big.mp4")
    connection.putheader("Authorization", f"token {token}")
    connection.putheader("Content-Type", "video/mp4")
    connection.putheader("Content-Length", str(50 * 10**9))
    # The first 64 kB only (the hub's proxy passes a request on with its first bytes): the
    # refusal must come before the rest of the 50 GB.
    connection.endheaders(VIDEO[:65_536])
    answer = connection.getresponse()
    assert answer.status == 413
    assert "A video can be at most 500 MB" in answer.read().decode()
    connection.close()
    assert stored_files(platform) == files_before and upload_count(db) == rows_before


def test_students_cannot_upload_and_nobody_attaches_someone_elses_file(
    platform, teacher, make_account, signed_in, db
):
    files_before, rows_before = stored_files(platform), upload_count(db)
    student = open_session(platform, signed_in, make_account())
    refused = upload(student, "video", VIDEO, "mine.mp4")
    assert (
        refused.status_code == 403 and "instructors and administrators" in refused.json()["error"]
    )
    assert stored_files(platform) == files_before and upload_count(db) == rows_before

    _, video = video_lesson(teacher)
    rival = open_session(platform, signed_in, make_account(Role.INSTRUCTOR))
    course = new_course(rival, "Borrowed Footage")
    lesson = new_lesson(rival, new_module(rival, course["id"], "M")["id"], "Stolen", "VIDEO")
    borrowed = rival.call(
        "PATCH", f"/api/teach/lessons/{lesson['id']}", json={"video_upload_id": video["id"]}
    )
    assert borrowed.status_code == 403 and "you uploaded yourself" in borrowed.json()["error"]
    thumbnail = upload(rival, "thumbnail", PNG, "cover.png").json()
    mixed_up = rival.call(
        "PATCH", f"/api/teach/lessons/{lesson['id']}", json={"video_upload_id": thumbnail["id"]}
    )
    assert mixed_up.status_code == 404 and "no such video upload" in mixed_up.json()["error"]
    assert rival.call("GET", f"/api/teach/lessons/{lesson['id']}").json()["video_upload_id"] is None
