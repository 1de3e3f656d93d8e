"""CourseHub inside JupyterLab: the server extension in hub-started servers, "Publish to
course…" for instructors (and not for students), and "Open in JupyterLab" for students.

Servers are started for real through the hub; one instructor and one student server serve
the whole module, to keep the run short on a small machine.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import nbformat
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from coursehub.hub.constants import Role
from coursehub.services.accounts.accounts import hash_password
from coursehub.services.content.notebooks import digest, plain_text
from coursehub.services.models import (
    Account,
    Course,
    CourseStatus,
    Enrollment,
    Lesson,
    LessonKind,
    LessonVersion,
    Module,
)
from tests.conftest import PASSWORD
from tests.platform import sign_in

REPO = Path(__file__).resolve().parent.parent


# -- arranging people, courses and servers ------------------------------------------------


def notebook(*sources: str) -> dict:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(sources[0])]
    nb.cells += [nbformat.v4.new_code_cell(source) for source in sources[1:]]
    return json.loads(nbformat.writes(nb))


def add_account(db: Callable[[], Session], role: Role, stem: str) -> Account:
    name = f"lab-{stem}-{secrets.token_hex(3)}"
    account = Account(
        username=name,
        email=f"{name}@coursehub.example",
        name=name.title(),
        password_hash=hash_password(PASSWORD),
        role=role,
    )
    with db() as session:
        session.add(account)
        session.commit()
    return account


@dataclass(frozen=True)
class LabCourse:
    id: int
    slug: str
    title: str
    lesson_id: int  # a published notebook lesson
    text_lesson_id: int


def add_course(db: Callable[[], Session], instructor: Account, title: str) -> LabCourse:
    """A published course with one published notebook lesson and one text lesson."""
    slug = f"lab-course-{secrets.token_hex(3)}"
    with db() as session:
        course = Course(
            slug=slug, title=title, status=CourseStatus.PUBLISHED, instructor_id=instructor.id
        )
        session.add(course)
        session.flush()
        module = Module(course_id=course.id, title="Week 1", position=0)
        session.add(module)
        session.flush()
        lesson = Lesson(module_id=module.id, title="Lists & Loops", kind=LessonKind.NOTEBOOK)
        text = Lesson(module_id=module.id, title="Reading", kind=LessonKind.TEXT, position=1)
        session.add_all([lesson, text])
        session.flush()
        first = notebook("# Lists and loops", "numbers = [1, 2, 3]")
        version = LessonVersion(
            lesson_id=lesson.id,
            number=1,
            notebook=first,
            plain_text=plain_text(first),
            sha256=digest(first),
            created_by_id=instructor.id,
        )
        session.add(version)
        session.flush()
        lesson.published_version_id = version.id
        session.commit()
        return LabCourse(course.id, slug, title, lesson.id, text.id)


def enroll(db: Callable[[], Session], account: Account, course: LabCourse) -> None:
    with db() as session:
        session.add(Enrollment(account_id=account.id, course_id=course.id))
        session.commit()


def versions_of(db: Callable[[], Session], lesson_id: int) -> list[LessonVersion]:
    with db() as session:
        return list(
            session.scalars(
                select(LessonVersion)
                .where(LessonVersion.lesson_id == lesson_id)
                .order_by(LessonVersion.number)
            )
        )


class Hub:
    """The hub's REST API with the course service's token (a hub admin)."""

    def __init__(self, platform) -> None:  # type: ignore[no-untyped-def]
        secrets_file = platform.data_dir / "secrets.json"
        token = json.loads(secrets_file.read_text())["service_token"]
        self.http = httpx.Client(
            base_url=f"{platform.url}/hub/api",
            headers={"Authorization": f"token {token}"},
            timeout=30,  # starting a server answers after up to 10 s (slow_spawn_timeout)
        )

    def server(self, username: str) -> dict | None:
        user = self.http.get(f"/users/{username}").raise_for_status().json()
        return user["servers"].get("")

    def start(self, username: str, timeout: float = 120) -> None:
        response = self.http.post(f"/users/{username}/server")
        assert response.status_code in (201, 202, 400), response.text
        self.wait(username, lambda server: bool(server and server["ready"]), timeout)

    def stop(self, username: str, timeout: float = 60) -> None:
        response = self.http.delete(f"/users/{username}/server")
        assert response.status_code in (202, 204, 400), response.text
        self.wait(username, lambda server: server is None, timeout)

    def wait(self, username: str, done: Callable[[dict | None], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not done(server := self.server(username)):
            assert time.monotonic() < deadline, f"{username}'s server is stuck: {server}"
            time.sleep(0.5)

    def token_for(self, username: str) -> str:
        response = self.http.post(
            f"/users/{username}/tokens", json={"note": "CourseHub lab tests", "expires_in": 3600}
        )
        return response.raise_for_status().json()["token"]


@dataclass
class Person:
    account: Account
    browser: httpx.Client  # signed in through the hub's form, follows redirects
    server: httpx.Client  # the person's own server, with a hub token of theirs

    @property
    def name(self) -> str:
        return self.account.username


def sign_in_as(platform, hub: Hub, account: Account) -> Person:  # type: ignore[no-untyped-def]
    browser = httpx.Client(follow_redirects=True, timeout=120)
    response = sign_in(browser, platform.url, account.email or "", PASSWORD)
    assert response.status_code == 200, response.text[:300]
    server = httpx.Client(
        base_url=f"{platform.url}/user/{account.username}",
        headers={"Authorization": f"token {hub.token_for(account.username)}"},
        timeout=60,
    )
    return Person(account, browser, server)


@dataclass
class Classroom:
    hub: Hub
    course: LabCourse
    others_course: LabCourse
    instructor: Person
    student: Person
    outsider: Person


@pytest.fixture(scope="module")
def classroom(platform, db) -> Iterator[Classroom]:  # type: ignore[no-untyped-def]
    hub = Hub(platform)
    teacher = add_account(db, Role.INSTRUCTOR, "teacher")
    other_teacher = add_account(db, Role.INSTRUCTOR, "other-teacher")
    course = add_course(db, teacher, "Python for Biologists")
    others_course = add_course(db, other_teacher, "Someone Else's Course")
    student = add_account(db, Role.STUDENT, "student")
    enroll(db, student, course)
    people = [
        sign_in_as(platform, hub, account)
        for account in (teacher, student, add_account(db, Role.STUDENT, "outsider"))
    ]
    hub.start(teacher.username)
    room = Classroom(hub, course, others_course, *people)
    yield room
    for person in people:
        if hub.server(person.name):
            hub.stop(person.name)
        person.browser.close()
        person.server.close()
    hub.http.close()


def put_notebook(person: Person, path: str, content: dict) -> None:
    response = person.server.put(
        f"/api/contents/{path}", json={"type": "notebook", "format": "json", "content": content}
    )
    assert response.status_code in (200, 201), response.text


def get_notebook(person: Person, path: str) -> httpx.Response:
    return person.server.get(f"/api/contents/{path}", params={"content": 1, "type": "notebook"})


def sources(model: dict) -> list[str]:
    return ["".join(cell["source"]) for cell in model["content"]["cells"]]


# -- the server extension -----------------------------------------------------------------


def test_the_extensions_load_in_a_jupyterlab_started_through_the_hub(classroom):
    teacher = classroom.instructor
    lab = teacher.server.get("/lab")
    assert lab.status_code == 200
    config = re.search(r'<script id="jupyter-config-data"[^>]*>(.*?)</script>', lab.text, re.S)
    assert config, lab.text[:300]
    page_config = json.loads(config.group(1))
    labextensions = [ext["name"] for ext in page_config["federated_extensions"]]
    assert "coursehub-lab" in labextensions
    answer = teacher.server.get("/coursehub/api/lessons")
    assert answer.status_code == 200, answer.text


def test_a_kernel_starts_in_the_sandboxed_server(classroom):
    """The server's own interpreter is reachable from inside the sandbox even where it lives
    below a folder closed to other users (a Python under /root, say)."""
    teacher = classroom.instructor
    started = teacher.server.post("/api/kernels", json={"name": "python3"})
    assert started.status_code == 201, started.text
    kernel_id = started.json()["id"]
    assert teacher.server.delete(f"/api/kernels/{kernel_id}").status_code == 204


def test_the_shipped_labextension_is_built_from_the_checked_in_sources():
    """extensions/labextension is what pip installs; rebuild it when the sources change
    (cd extensions/lab && npm ci && npm run build) and reinstall (pip install -e .)."""
    import hashlib
    import sys

    lab = REPO / "extensions" / "lab"
    names = ["package.json", "package-lock.json", "tsconfig.json"]
    names += [
        path.relative_to(lab).as_posix()
        for folder in ("scripts", "schema", "src", "style")
        for path in (lab / folder).rglob("*")
        if path.is_file()
    ]
    sha = hashlib.sha256()
    for name in sorted(names):
        sha.update(f"{name}\0".encode() + (lab / name).read_bytes() + b"\0")
    built = REPO / "extensions" / "labextension"
    assert (built / "SOURCE_SHA256").read_text().strip() == sha.hexdigest(), (
        "extensions/labextension is older than extensions/lab: run npm ci && npm run build there"
    )
    installed = Path(sys.prefix) / "share" / "jupyter" / "labextensions" / "coursehub-lab"
    assert (installed / "package.json").read_bytes() == (built / "package.json").read_bytes(), (
        "the environment holds an older build: pip install -e . again"
    )


# -- publishing ---------------------------------------------------------------------------


def test_an_instructor_lists_their_notebook_lessons_and_publishes_the_open_notebook(classroom, db):
    teacher, course = classroom.instructor, classroom.course
    listing = teacher.server.get("/coursehub/api/lessons").json()
    assert listing["can_publish"] is True
    assert [lesson["id"] for lesson in listing["lessons"]] == [course.lesson_id]
    assert listing["lessons"][0] | {"id": 0} == {
        "id": 0,
        "title": "Lists & Loops",
        "module_title": "Week 1",
        "course_title": course.title,
        "course_slug": course.slug,
        "version": 1,
    }

    draft = notebook("# Lists and loops, revised", "numbers = list(range(10))")
    put_notebook(teacher, "lists-revised.ipynb", draft)
    published = teacher.server.post(
        f"/coursehub/api/lessons/{course.lesson_id}/versions",
        json={"path": "lists-revised.ipynb"},
    )
    assert published.status_code == 200, published.text
    assert published.json() == {
        "lesson_id": course.lesson_id,
        "version": 2,
        "created": True,
        "path": "lists-revised.ipynb",
    }
    versions = versions_of(db, course.lesson_id)
    assert [v.number for v in versions] == [1, 2]
    assert sources({"content": versions[-1].notebook}) == [
        "# Lists and loops, revised",
        "numbers = list(range(10))",
    ]
    assert versions[-1].created_by_id == teacher.account.id
    with db() as session:
        assert session.get_one(Lesson, course.lesson_id).published_version_id == versions[-1].id


@pytest.mark.parametrize(
    ("lesson", "path", "status"),
    [
        ("others", "draft.ipynb", 403),
        ("text", "draft.ipynb", 409),
        ("own", "missing.ipynb", 404),
        ("own", "notes.txt", 400),
    ],
    ids=["another-instructors-lesson", "a-text-lesson", "an-unsaved-notebook", "not-a-notebook"],
)
def test_publishing_refusals_say_why_and_write_nothing(classroom, db, lesson, path, status):
    teacher = classroom.instructor
    put_notebook(teacher, "draft.ipynb", notebook("# Draft"))
    lesson_id = {
        "others": classroom.others_course.lesson_id,
        "text": classroom.course.text_lesson_id,
        "own": classroom.course.lesson_id,
    }[lesson]
    before = len(versions_of(db, lesson_id))
    answer = teacher.server.post(
        f"/coursehub/api/lessons/{lesson_id}/versions", json={"path": path}
    )
    assert answer.status_code == status, answer.text
    assert answer.json()["message"].endswith(".")
    assert len(versions_of(db, lesson_id)) == before


# -- opening lessons ----------------------------------------------------------------------


def test_open_in_jupyterlab_starts_the_server_copies_the_lesson_and_keeps_the_students_edits(
    classroom, platform
):
    student, course, hub = classroom.student, classroom.course, classroom.hub
    if hub.server(student.name):
        hub.stop(student.name)
    expected = f"/user/{student.name}/lab/tree/courses/{course.slug}/lists-loops.ipynb"

    opened = student.browser.get(f"{platform.service_url}/lab/open/{course.lesson_id}")
    assert opened.status_code == 200, opened.text[:500]
    assert opened.url.path == expected
    assert "JupyterLab" in opened.text
    assert hub.server(student.name)["ready"]
    path = f"courses/{course.slug}/lists-loops.ipynb"
    copy = get_notebook(student, path).json()
    assert sources(copy)[0].startswith("# Lists and loops")
    assert copy["content"]["metadata"]["coursehub"]["lesson_id"] == course.lesson_id

    edited = copy["content"]
    edited["cells"].append(nbformat.v4.new_code_cell("my_answer = 42"))
    put_notebook(student, path, edited)
    # A newer version is published meanwhile; the student's copy is still theirs.
    put_notebook(classroom.instructor, "newer.ipynb", notebook("# Lists and loops, newer"))
    newer = classroom.instructor.server.post(
        f"/coursehub/api/lessons/{course.lesson_id}/versions", json={"path": "newer.ipynb"}
    )
    assert newer.status_code == 200, newer.text

    again = student.browser.get(f"{platform.service_url}/lab/open/{course.lesson_id}")
    assert again.status_code == 200 and again.url.path == expected
    assert sources(get_notebook(student, path).json())[-1] == "my_answer = 42"
    listing = student.server.get(f"/api/contents/courses/{course.slug}").json()
    assert [entry["name"] for entry in listing["content"]] == ["lists-loops.ipynb"]


def test_a_student_sees_no_lessons_to_publish_and_cannot_publish(classroom, db):
    student, lesson_id = classroom.student, classroom.course.lesson_id
    if not classroom.hub.server(student.name):
        classroom.hub.start(student.name)
    listing = student.server.get("/coursehub/api/lessons")
    assert listing.json() == {"can_publish": False, "lessons": []}

    put_notebook(student, "mine.ipynb", notebook("# My version of the lesson"))
    before = len(versions_of(db, lesson_id))
    refused = student.server.post(
        f"/coursehub/api/lessons/{lesson_id}/versions", json={"path": "mine.ipynb"}
    )
    assert refused.status_code == 403, refused.text
    assert "instructors" in refused.json()["message"]
    assert len(versions_of(db, lesson_id)) == before


def test_a_student_who_is_not_enrolled_is_refused_and_no_server_starts(classroom, platform):
    outsider = classroom.outsider
    refused = outsider.browser.get(f"{platform.service_url}/lab/open/{classroom.course.lesson_id}")
    assert refused.status_code == 403
    assert f"Enroll in “{classroom.course.title}”" in refused.text
    assert classroom.hub.server(outsider.name) is None
    missing = outsider.browser.get(f"{platform.service_url}/lab/open/999999999")
    assert missing.status_code == 404


def test_a_text_lesson_has_nothing_to_open(classroom, platform):
    student = classroom.student
    answer = student.browser.get(
        f"{platform.service_url}/lab/open/{classroom.course.text_lesson_id}"
    )
    assert answer.status_code == 409
    assert "not a notebook" in answer.text


# -- in a real browser ----------------------------------------------------------------------


@pytest.mark.browser
def test_an_instructor_publishes_the_open_notebook_from_the_file_menu(
    classroom, platform, page, db
):
    from playwright.sync_api import expect

    teacher, lesson_id = classroom.instructor, classroom.course.lesson_id
    put_notebook(teacher, "from-the-browser.ipynb", notebook("# Made in JupyterLab", "x = 1"))
    before = len(versions_of(db, lesson_id))

    page.goto(f"{platform.url}/hub/login")
    page.locator("#username_input").fill(teacher.account.email or "")
    page.locator("#password_input").fill(PASSWORD)
    page.locator("#login_submit").click()
    page.wait_for_url(lambda url: "/hub/login" not in url)
    page.goto(f"{platform.url}/user/{teacher.name}/lab/tree/from-the-browser.ipynb")
    expect(page.locator(".jp-Notebook").first).to_be_visible(timeout=90_000)
    expect(page.get_by_role("heading", name="Made in JupyterLab")).to_be_visible(timeout=30_000)

    # The notebook names no kernel; publishing needs none.
    kernel_choice = page.locator(".jp-Dialog", has_text="Select Kernel")
    kernel_choice.get_by_role("button", name="No Kernel").click()
    expect(kernel_choice).to_be_hidden()

    page.get_by_role("menuitem", name="File", exact=True).click()
    page.get_by_role("menuitem", name="Publish to course…").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text("Publish from-the-browser.ipynb")
    dialog.get_by_label("Lesson").select_option(str(lesson_id))
    dialog.get_by_role("button", name="Publish").click()
    expect(page.get_by_text("Published from-the-browser.ipynb as version")).to_be_visible(
        timeout=30_000
    )

    versions = versions_of(db, lesson_id)
    assert len(versions) == before + 1
    assert sources({"content": versions[-1].notebook}) == ["# Made in JupyterLab", "x = 1"]
