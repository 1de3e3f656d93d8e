"""A notebook lesson's data files and how students see its code, as an instructor sets them:
the course's data/ folder published with it, files uploaded in the lesson editor, both read by
the lesson's kernel in its working directory (read-only); "Show code cells" switched on in the
editor shows students the code above its output."""

from __future__ import annotations

import re

import httpx
import pytest

from coursehub.hub.constants import Role
from coursehub.services.errors import Refusal
from coursehub.services.lessons import lesson_files
from coursehub.services.models import LessonKind
from tests.platform import xsrf_from
from tests.player_data import DEMO_COURSE, LessonSpec, build_course, enroll, notebook

KERNEL = re.compile(r'"kernelId": "([0-9a-f-]{36})"')

READS_WEATHER = notebook(
    "import csv\n"
    "rows = list(csv.DictReader(open('data/weather.csv')))\n"
    "print('weather rows:', len(rows))",
    "try:\n"
    "    open('data/scribble.txt', 'w')\n"
    "    print('the data folder is writable')\n"
    "except OSError as error:\n"
    "    print('the data folder is read-only', error.errno)",
    markdown="# The data set",
)
READS_UPLOAD = notebook("print(open('data/greeting.txt').read())", markdown="# An upload")


@pytest.fixture(scope="module")
def lesson_server(platform) -> None:
    response = httpx.get(f"{platform.service_url}/voila/voila/static/voila.js", timeout=60)
    assert response.status_code == 200, response.text[:300]


def post_form(http: httpx.Client, url: str, **form) -> httpx.Response:
    """Post a form as the browser does, then follow its redirect with a plain GET (httpx keeps
    the form's Content-Type on the GET, which no browser does)."""
    posted = http.post(url, follow_redirects=False, **form)
    assert posted.status_code == 302, posted.text[-1500:]
    return http.get(posted.url.join(posted.headers["Location"]), follow_redirects=True)


def open_frame(platform, http: httpx.Client, url: str) -> str:
    """The lesson's page as the student's frame gets it, then the kernel let go."""
    page = http.get(url, timeout=120)
    assert page.status_code == 200, page.text[:500]
    kernel = KERNEL.search(page.text)
    assert kernel, page.text[:500]
    httpx.post(f"{platform.service_url}/voila/voila/api/shutdown/{kernel.group(1)}", timeout=30)
    return page.text


@pytest.mark.parametrize(
    ("name", "folder", "path"),
    [
        ("weather.csv", "data", "data/weather.csv"),
        ("data/weather.csv", "data", "data/weather.csv"),
        ("notes.txt", "", "notes.txt"),
        ("tables/2024 rain.csv", "data", "tables/2024 rain.csv"),
    ],
)
def test_a_data_files_path_is_relative_to_the_lesson(name, folder, path):
    assert lesson_files.clean_path(name, folder) == path


@pytest.mark.parametrize(
    "name", ["../secrets", "data/../../x", "/etc/passwd", "", ".hidden", "lesson.ipynb", "a/./b"]
)
def test_a_path_outside_the_lessons_folder_is_refused(name):
    with pytest.raises(Refusal):
        lesson_files.clean_path(name)


def test_the_courses_data_folder_is_published_where_its_lessons_read_it(
    platform, lesson_server, db, make_account, signed_in
):
    """What `coursehub up` does for the demo course: its data/weather.csv, published with the
    course, is read by the lesson's kernel, which cannot change it."""
    instructor, student = make_account(Role.INSTRUCTOR), make_account()
    course = build_course(
        db, instructor, [LessonSpec("The data set", LessonKind.NOTEBOOK, notebook=READS_WEATHER)]
    )
    enroll(db, student, course)
    published = lesson_files.publish_course_data(
        platform.data_dir / "course-files", course.id, DEMO_COURSE / "data"
    )
    assert "data/weather.csv" in published
    text = open_frame(
        platform, signed_in(student), course.url(platform.service_url, "The data set", "/frame")
    )
    assert "weather rows: 30" in text
    assert "the data folder is read-only" in text


def test_an_instructor_uploads_a_data_file_in_the_lesson_editor_and_the_lesson_reads_it(
    platform, lesson_server, db, make_account, signed_in
):
    instructor, student = make_account(Role.INSTRUCTOR), make_account()
    course = build_course(
        db, instructor, [LessonSpec("Greeting", LessonKind.NOTEBOOK, notebook=READS_UPLOAD)]
    )
    enroll(db, student, course)
    lesson_id = course.lessons["Greeting"]
    teacher = signed_in(instructor)
    editor = teacher.get(f"{platform.service_url}/teach/lessons/{lesson_id}")
    assert editor.status_code == 200
    assert 'id="lesson_files"' in editor.text and 'id="show_code_input"' in editor.text
    uploaded = post_form(
        teacher,
        f"{platform.service_url}/teach/lessons/{lesson_id}/files",
        data={"_xsrf": xsrf_from(editor), "folder": "data"},
        files={"file": ("greeting.txt", b"Hello from the instructor's upload")},
    )
    assert uploaded.status_code == 200, uploaded.text[-1500:]
    assert f"/teach/lessons/{lesson_id}" in str(uploaded.url)
    listed = teacher.get(f"{platform.service_url}/api/lessons/{lesson_id}/files").json()["files"]
    assert [(file["path"], file["size"]) for file in listed] == [("data/greeting.txt", 34)]

    student_http = signed_in(student)
    frame = course.url(platform.service_url, "Greeting", "/frame")
    assert "Hello from the instructor" in open_frame(platform, student_http, frame)
    # Students cannot change a lesson's files.
    refused = student_http.get(f"{platform.service_url}/api/lessons/{lesson_id}/files")
    assert refused.status_code == 403

    # Removing the file takes it out of the kernel's working directory too.
    removed = post_form(
        teacher,
        f"{platform.service_url}/teach/lessons/{lesson_id}/files/{listed[0]['id']}/delete",
        data={"_xsrf": xsrf_from(editor)},
    )
    assert removed.status_code == 200
    assert teacher.get(f"{platform.service_url}/api/lessons/{lesson_id}/files").json() == {
        "files": []
    }
    assert not (platform.data_dir / "course-files" / str(course.id) / "data/greeting.txt").exists()


def test_an_instructor_switches_on_show_code_cells_and_students_see_the_code(
    platform, lesson_server, db, make_account, signed_in
):
    instructor, student = make_account(Role.INSTRUCTOR), make_account()
    source = "total_apples = 3 + 4\nprint('apples:', total_apples)"
    course = build_course(
        db, instructor, [LessonSpec("Apples", LessonKind.NOTEBOOK, notebook=notebook(source))]
    )
    enroll(db, student, course)
    lesson_id = course.lessons["Apples"]
    frame = course.url(platform.service_url, "Apples", "/frame")
    student_http = signed_in(student)
    before = open_frame(platform, student_http, frame)
    assert "apples: 7" in before and "total_apples" not in before

    teacher = signed_in(instructor)
    editor = teacher.get(f"{platform.service_url}/teach/lessons/{lesson_id}")
    assert 'id="show_code_input"' in editor.text and "checked" not in re.search(
        r'<input[^>]*id="show_code_input"[^>]*>', editor.text
    ).group(0)
    saved = post_form(
        teacher,
        f"{platform.service_url}/teach/lessons/{lesson_id}/display",
        data={"_xsrf": xsrf_from(editor), "show_code": "1"},
    )
    assert saved.status_code == 200
    assert "checked" in re.search(r'<input[^>]*id="show_code_input"[^>]*>', saved.text).group(0)

    after = open_frame(platform, student_http, frame)
    assert "apples: 7" in after and "total_apples" in after
    # The JSON API does the same, for scripts; it turns the code off again.
    token = teacher.cookies.get("_xsrf", path="/services/coursehub/") or xsrf_from(editor)
    api = teacher.put(
        f"{platform.service_url}/api/lessons/{lesson_id}/display",
        json={"show_code": False},
        headers={"X-XSRFToken": token},
    )
    assert api.status_code == 200 and api.json() == {"lesson_id": lesson_id, "show_code": False}
    assert "total_apples" not in open_frame(platform, student_http, frame)
