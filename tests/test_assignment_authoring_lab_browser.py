"""An instructor makes an assignment from the notebook open in their JupyterLab: File >
"Publish as assignment…" sends the nbgrader source (and the data files in its folder) to
one of their courses as a new, unreleased assignment; a source nbgrader would not take is
refused with its sentence; students have no such command. Servers start for real through
the hub."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from coursehub.hub.constants import Role
from coursehub.services.models import Assignment, AssignmentFile
from tests.assignment_data import source_notebook
from tests.conftest import PASSWORD
from tests.course_builder import enroll, make_course, unique_word
from tests.test_lab_extension import Hub, add_account, put_notebook, sign_in_as


@pytest.fixture(scope="module")
def lab_classroom(platform, db, database_url):  # type: ignore[no-untyped-def]
    hub = Hub(platform)
    teacher = add_account(db, Role.INSTRUCTOR, "assigner")
    student = add_account(db, Role.STUDENT, "assigned")
    course = make_course(database_url, teacher, title=f"Lab {unique_word()}", modules={})
    enroll(db, student, course)
    people = [sign_in_as(platform, hub, account) for account in (teacher, student)]
    hub.start(teacher.username)
    yield hub, course, *people
    for person in people:
        if hub.server(person.name):
            hub.stop(person.name)
        person.browser.close()
        person.server.close()
    hub.http.close()


def put_file(person, path: str, text: str) -> None:  # type: ignore[no-untyped-def]
    response = person.server.put(
        f"/api/contents/{path}", json={"type": "file", "format": "text", "content": text}
    )
    assert response.status_code in (200, 201), response.text


def put_folder(person, path: str) -> None:  # type: ignore[no-untyped-def]
    response = person.server.put(f"/api/contents/{path}", json={"type": "directory"})
    assert response.status_code in (200, 201), response.text


def assignments_of(db, course_id: int) -> list[Assignment]:  # type: ignore[no-untyped-def]
    with db() as session:
        return list(
            session.scalars(
                select(Assignment).where(Assignment.course_id == course_id).order_by(Assignment.id)
            )
        )


def test_the_server_extension_publishes_a_source_with_its_folders_files(lab_classroom, db):
    hub, course, teacher, student = lab_classroom
    courses = teacher.server.get("/coursehub/api/assignment-courses").json()
    assert courses["can_publish"] is True
    assert {"slug": course.slug, "title": course.title} in courses["courses"]

    put_folder(teacher, "week1")
    put_folder(teacher, "week1/data")
    put_notebook(teacher, "week1/add.ipynb", source_notebook())
    put_file(teacher, "week1/data/numbers.csv", "a,b\n1,2\n")
    answer = teacher.server.post(
        "/coursehub/api/assignment-sources",
        json={
            "path": "week1/add.ipynb",
            "course_slug": course.slug,
            "title": "Adding numbers",
            "with_files": True,
        },
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["files"] == ["data/numbers.csv"]
    assert body["edit_url"] == (
        f"/services/coursehub/courses/{course.slug}/assignments/{body['assignment_id']}/edit"
    )
    [made] = assignments_of(db, course.id)
    assert (made.id, made.title, made.released_at, made.max_score) == (
        body["assignment_id"],
        "Adding numbers",
        None,
        2.0,
    )
    with db() as session:
        files = session.scalars(
            select(AssignmentFile.path).where(AssignmentFile.assignment_id == made.id)
        ).all()
    assert files == ["data/numbers.csv"]

    # A source nbgrader would not take: its sentence, and nothing made.
    broken = source_notebook()
    broken["cells"][2]["metadata"]["nbgrader"]["grade_id"] = "answer"
    put_notebook(teacher, "week1/twice.ipynb", broken)
    refused = teacher.server.post(
        "/coursehub/api/assignment-sources",
        json={"path": "week1/twice.ipynb", "course_slug": course.slug, "title": "Twice"},
    )
    assert refused.status_code == 400
    assert "Duplicate grade id: answer" in refused.json()["message"]
    # The top folder holds everything of the person's: no data files from there.
    put_notebook(teacher, "top.ipynb", source_notebook())
    top = teacher.server.post(
        "/coursehub/api/assignment-sources",
        json={"path": "top.ipynb", "course_slug": course.slug, "title": "T", "with_files": True},
    )
    assert top.status_code == 400 and "folder of their own" in top.json()["message"]
    # A student has no course to publish to, and cannot make one in the course they are in.
    hub.start(student.name)
    theirs = student.server.get("/coursehub/api/assignment-courses")
    assert theirs.json() == {"can_publish": False, "courses": []}
    put_folder(student, "week1")
    put_notebook(student, "week1/add.ipynb", source_notebook())
    student_try = student.server.post(
        "/coursehub/api/assignment-sources",
        json={"path": "week1/add.ipynb", "course_slug": course.slug, "title": "Mine"},
    )
    assert student_try.status_code == 403, student_try.text
    assert len(assignments_of(db, course.id)) == 1


@pytest.mark.browser
def test_an_instructor_publishes_the_open_notebook_as_an_assignment_from_the_file_menu(
    lab_classroom, platform, page, db
):
    from playwright.sync_api import expect

    _, course, teacher, _ = lab_classroom
    put_folder(teacher, "week2")
    notebook = source_notebook()
    del notebook["metadata"]["kernelspec"]  # publishing needs no kernel
    put_notebook(teacher, "week2/sums.ipynb", notebook)
    before = len(assignments_of(db, course.id))

    page.goto(f"{platform.url}/hub/login")
    page.locator("#username_input").fill(teacher.account.email or "")
    page.locator("#password_input").fill(PASSWORD)
    page.locator("#login_submit").click()
    page.wait_for_url(lambda url: "/hub/login" not in url)
    page.goto(f"{platform.url}/user/{teacher.name}/lab/tree/week2/sums.ipynb")
    expect(page.locator(".jp-Notebook").first).to_be_visible(timeout=90_000)
    expect(page.locator(".jp-Notebook .jp-Cell").first).to_be_visible(timeout=30_000)
    # JupyterLab may ask for a kernel (the notebook names none); publishing needs none.
    kernel_choice = page.locator(".jp-Dialog", has_text="Select Kernel")
    page.wait_for_timeout(2000)
    if kernel_choice.count():
        kernel_choice.get_by_role("button", name="No Kernel").click()
        expect(kernel_choice).to_be_hidden()

    page.get_by_role("menuitem", name="File", exact=True).click()
    expect(page.get_by_role("menuitem", name="Publish to course…")).to_be_visible()
    page.get_by_role("menuitem", name="Publish as assignment…").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text("Publish week2/sums.ipynb as a new assignment")
    dialog.get_by_label("Course").select_option(course.slug)
    dialog.get_by_label("Assignment title").fill("Sums in the lab")
    dialog.get_by_role("button", name="Publish").click()
    expect(page.get_by_text("as the assignment “Sums in the lab”")).to_be_visible(timeout=30_000)

    made = assignments_of(db, course.id)
    assert len(made) == before + 1
    assert made[-1].title == "Sums in the lab" and made[-1].released_at is None
    assert json.dumps(made[-1].source_notebook).count("BEGIN HIDDEN TESTS") == 1
