"""Clean errors: numbers and dates out of range are refusals (400/404), never a server error;
every date-time in the JSON API is RFC 3339; an oversized chunked upload and a full disk get
their own answers; an address the service does not serve gets CourseHub's own 404 page."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from coursehub.hub.constants import Role
from coursehub.hub.disk_space import disk_status
from coursehub.services.content import api_json
from tests.teaching_client import new_course, open_session
from tests.test_uploads import PNG

HUGE = str(10**20)
BEYOND_BIGINT = str(2**63)
BEYOND_INTEGER = str(2**32)
RFC_3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
STORAGE_FULL = "CourseHub's storage is full; your file was not saved — tell your administrator."


@pytest.fixture
def teacher(platform, make_account, signed_in):  # type: ignore[no-untyped-def]
    return open_session(platform, signed_in, make_account(Role.INSTRUCTOR))


@pytest.mark.parametrize("note_id", [HUGE, BEYOND_BIGINT, BEYOND_INTEGER])
def test_a_note_id_beyond_any_integer_is_not_found(teacher, note_id):
    for method, body in (("PATCH", {"text": "hello"}), ("DELETE", None)):
        answer = teacher.call(method, f"/api/notes/{note_id}", json=body)
        assert answer.status_code == 404, answer.text
        assert answer.json()["error"]


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"price_cents": 10**20}, id="price_cents"),
        pytest.param({"price_cents": 2**31}, id="price_cents-beyond-integer"),
        pytest.param({"category_id": 10**20}, id="category_id"),
        pytest.param({"category_id": 2**31}, id="category_id-beyond-integer"),
        pytest.param({"thumbnail_upload_id": 10**20}, id="thumbnail_upload_id"),
        pytest.param({"thumbnail_upload_id": 2**31}, id="thumbnail_upload_id-beyond-integer"),
    ],
)
def test_numbers_out_of_range_in_a_course_are_refused_not_a_server_error(teacher, fields):
    created = teacher.call("POST", "/api/teach/courses", json={"title": "Range", **fields})
    assert created.status_code in (400, 404), created.text
    assert created.json()["error"]

    course = new_course(teacher, "Range checked")
    changed = teacher.call("PATCH", f"/api/teach/courses/{course['id']}", json=fields)
    assert changed.status_code in (400, 404), changed.text
    assert changed.json()["error"]


def test_every_date_time_in_the_json_api_is_rfc_3339(teacher):
    course = new_course(teacher, "Timely")
    for key in ("created_at", "updated_at"):
        assert RFC_3339.match(course[key]), course[key]
    me = teacher.get("/api/me").json()
    stamps = [value for key, value in me.items() if key.endswith("_at") and value]
    assert stamps and all(RFC_3339.match(value) for value in stamps), me


def test_the_shared_encoder_writes_times_with_a_t_and_an_offset():
    from datetime import UTC, date, datetime

    text = api_json.dumps(
        {"aware": datetime(2026, 12, 7, 5, 58, 34, tzinfo=UTC), "naive": datetime(2026, 1, 2)}
    )
    assert '"aware": "2026-12-07T05:58:34+00:00"' in text
    assert '"naive": "2026-01-02T00:00:00+00:00"' in text
    assert api_json.dumps({"day": date(2026, 12, 7)}) == '{"day": "2026-12-07"}'


def test_an_oversized_chunked_upload_is_answered_413_with_json(teacher):
    limit = 5 * 1024 * 1024  # COURSEHUB_MAX_THUMBNAIL_MB's default

    def chunks() -> Iterator[bytes]:
        yield PNG
        sent = len(PNG)
        while sent <= limit + 1024 * 1024:
            yield bytes(256 * 1024)
            sent += 256 * 1024

    answer = teacher.call(
        "POST",
        "/api/uploads?purpose=thumbnail&filename=big.png",
        content=chunks(),  # no Content-Length: sent chunked
        headers={"Content-Type": "application/octet-stream"},
    )
    assert answer.status_code == 413, answer.text
    assert answer.json()["status"] == 413 and "MB" in answer.json()["error"]


def test_unknown_addresses_get_coursehubs_own_404(platform, client):
    page = client.get(f"{platform.service_url}/no/such/page")
    assert page.status_code == 404
    assert "There is no CourseHub page at this address" in page.text
    assert 'class="navbar' in page.text and "/static/coursehub.css" in page.text
    api = client.get(f"{platform.service_url}/api/no/such/thing")
    assert api.status_code == 404 and api.json()["status"] == 404


@pytest.fixture
def full_uploads_folder(platform) -> Iterator[Path]:  # type: ignore[no-untyped-def]
    """The service's uploads folder on a tiny file system that fills at once (needs root)."""
    folder = platform.data_dir / "uploads"
    folder.mkdir(exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16k", "coursehub-full-disk", str(folder)],
        capture_output=True,
        check=False,
    )
    # The suite runs as root (the sandboxes need it), so a failed mount is a failure.
    assert mounted.returncode == 0, f"cannot mount a small file system: {mounted.stderr!r}"
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_an_upload_onto_a_full_disk_says_so_and_keeps_nothing(teacher, full_uploads_folder):
    body = PNG + bytes(200 * 1024)
    answer = teacher.call(
        "POST",
        "/api/uploads?purpose=thumbnail&filename=cover.png",
        content=body,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert answer.status_code == 507, answer.text
    assert answer.json()["error"] == STORAGE_FULL
    assert list(full_uploads_folder.iterdir()) == [], "no part file is left behind"

    # The next upload that fits is kept as usual.
    small = teacher.call(
        "POST",
        "/api/uploads?purpose=thumbnail&filename=small.png",
        content=PNG,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert small.status_code == 201, small.text


def test_health_reports_a_disk_with_little_free_space(tmp_path):
    assert disk_status(tmp_path, threshold_mb=0) == "ok"
    low = disk_status(tmp_path, threshold_mb=10**12)
    assert low.startswith("low: ") and str(tmp_path) in low


def test_what_a_full_disk_or_an_out_of_range_value_becomes_for_the_person():
    import errno

    from psycopg import errors as pg_errors
    from sqlalchemy.exc import DBAPIError

    from coursehub.services.web.base import refusal_for

    def database(error: Exception) -> DBAPIError:
        return DBAPIError("SELECT 1", {}, error)

    for cause in (OSError(errno.ENOSPC, "No space left"), database(pg_errors.DiskFull("full"))):
        refusal = refusal_for(cause)
        assert refusal is not None and (refusal.status, refusal.message) == (507, STORAGE_FULL)
    for cause in (database(pg_errors.NumericValueOutOfRange("out of range")), OverflowError()):
        refusal = refusal_for(cause)
        assert refusal is not None and refusal.status == 400 and "out of range" in refusal.message
    assert refusal_for(OSError(errno.EACCES, "denied")) is None
    assert refusal_for(RuntimeError("a bug")) is None
