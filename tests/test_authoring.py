"""Authoring: instructors make courses, modules and lessons, order them, publish notebook
versions and preview them as students would; everyone else is refused and nothing changes."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import httpx
import nbformat
import pytest
from sqlalchemy import func, select

from coursehub.hub.constants import Role
from coursehub.services.models import Category, Course, Lesson, LessonVersion, Module
from tests.conftest import PASSWORD
from tests.teaching_client import (
    hub_token,
    new_course,
    new_lesson,
    new_module,
    open_session,
)

REPO = Path(__file__).resolve().parent.parent
FIRST_NOTEBOOK = REPO / "course_content/python-for-data/01-first-notebook.ipynb"
NOTEBOOK_TYPE = {"Content-Type": "application/x-ipynb+json"}
PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def notebook(*markdown: str) -> bytes:
    book = nbformat.v4.new_notebook()
    book.cells = [nbformat.v4.new_markdown_cell(text) for text in markdown]
    book.cells.append(nbformat.v4.new_code_cell("print('hello')"))
    return nbformat.writes(book).encode()


@pytest.fixture
def teacher(platform, make_account, signed_in):  # type: ignore[no-untyped-def]
    return open_session(platform, signed_in, make_account(Role.INSTRUCTOR))


def course_row(db, course_id: int) -> Course | None:  # type: ignore[no-untyped-def]
    with db() as session:
        return session.get(Course, course_id)


def lesson_order(db, module_id: int) -> list[int]:  # type: ignore[no-untyped-def]
    with db() as session:
        return list(
            session.scalars(
                select(Lesson.id).where(Lesson.module_id == module_id).order_by(Lesson.position)
            )
        )


def version_count(db, lesson_id: int) -> int:  # type: ignore[no-untyped-def]
    with db() as session:
        return session.scalar(
            select(func.count())
            .select_from(LessonVersion)
            .where(LessonVersion.lesson_id == lesson_id)
        )


# -- courses -------------------------------------------------------------------------------------


def test_an_instructor_creates_edits_and_deletes_a_course(teacher, db):
    course = new_course(teacher, "Data Wrangling", summary="Tidy tables")
    assert course["slug"] == "data-wrangling" and course["status"] == "DRAFT"
    assert course["price_cents"] == 0 and course["modules"] == []
    twin = new_course(teacher, "Data Wrangling")
    assert twin["slug"] == "data-wrangling-2", "a generated address is made unique"

    with db() as session:
        category = Category(name=f"Data {course['id']}", slug=f"data-{course['id']}")
        session.add(category)
        session.commit()
    changed = teacher.call(
        "PATCH",
        f"/api/teach/courses/{course['id']}",
        json={
            "description": "# Welcome\n\n<script>alert('x')</script>Read **this**.",
            "price_cents": 1999,
            "category_id": category.id,
            "status": "PUBLISHED",
            "slug": "wrangling",
        },
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["slug"] == "wrangling" and body["status"] == "PUBLISHED"
    assert body["category"] == {"id": category.id, "name": category.name}
    assert "<h1>Welcome</h1>" in body["description_html"]
    assert "<script" not in body["description_html"]
    assert "<strong>this</strong>" in body["description_html"]

    gone = teacher.call("DELETE", f"/api/teach/courses/{twin['id']}")
    assert gone.status_code == 204
    assert teacher.call("GET", f"/api/teach/courses/{twin['id']}").status_code == 404
    assert course_row(db, twin["id"]) is None


@pytest.mark.parametrize(
    ("fields", "field_message"),
    [
        pytest.param({"price_cents": -5}, "cannot be negative", id="negative-price"),
        pytest.param({"status": "SECRET"}, "DRAFT, PUBLISHED or ARCHIVED", id="unknown-status"),
        pytest.param({"title": "   "}, "Give it a title", id="empty-title"),
        pytest.param({"category_id": 2**30}, "no longer exists", id="unknown-category"),
    ],
)
def test_bad_course_details_are_refused_and_change_nothing(teacher, db, fields, field_message):
    course = new_course(teacher, "Careful Course")
    response = teacher.call("PATCH", f"/api/teach/courses/{course['id']}", json=fields)
    assert response.status_code == 400 and field_message in response.json()["error"]
    row = course_row(db, course["id"])
    assert (row.title, row.price_cents, row.status.value) == ("Careful Course", 0, "DRAFT")


def test_a_duplicate_slug_gets_a_clear_409(teacher, db):
    first = new_course(teacher, "Statistics One")
    second = new_course(teacher, "Statistics Two")

    typed = teacher.call(
        "POST", "/api/teach/courses", json={"title": "Other", "slug": "statistics-one"}
    )
    assert typed.status_code == 409
    assert typed.json()["error"] == (
        "The address 'statistics-one' is taken by another course; choose another."
    )
    renamed = teacher.call(
        "PATCH", f"/api/teach/courses/{second['id']}", json={"slug": first["slug"]}
    )
    assert renamed.status_code == 409 and "taken by another course" in renamed.json()["error"]
    assert course_row(db, second["id"]).slug == "statistics-two"

    page = teacher.form(
        "/teach/courses/new", {"title": "Statistics Three", "slug": "Statistics One", "price": "0"}
    )
    assert page.status_code == 409
    assert "taken by another course; choose another" in page.text
    assert 'value="Statistics Three"' in page.text, "the form keeps what was typed"
    with db() as session:
        assert session.scalar(select(func.count()).where(Course.title == "Statistics Three")) == 0


def test_the_course_form_creates_a_course_with_a_thumbnail_and_a_price(teacher, db):
    created = teacher.form(
        "/teach/courses/new",
        {"title": "Visual Stories", "summary": "Charts", "price": "12.50"},
        files={"thumbnail": ("cover.png", PNG_1PX, "image/png")},
    )
    assert created.status_code == 200, created.text[:500]
    assert "The course is created as a draft" in created.text
    course_id = int(re.search(r"/teach/courses/(\d+)$", created.url.path).group(1))
    row = course_row(db, course_id)
    assert row.price_cents == 1250 and row.thumbnail_upload_id is not None
    image = httpx.get(f"{teacher.base}/media/{row.thumbnail_upload_id}")
    assert image.status_code == 200 and image.content == PNG_1PX

    refused = teacher.form(
        f"/teach/courses/{course_id}",
        {"title": "Visual Stories", "price": "12.50"},
        files={"thumbnail": ("cover.png", b"GIF89a not really", "image/png")},
    )
    assert refused.status_code == 400
    assert "not a PNG, JPEG or WebP image" in refused.text
    assert course_row(db, course_id).thumbnail_upload_id == row.thumbnail_upload_id


def test_a_course_with_students_is_archived_not_deleted(teacher, db, make_account):
    from coursehub.services.models import Enrollment

    course = new_course(teacher, "Popular Course")
    with db() as session:
        session.add(Enrollment(account_id=make_account().id, course_id=course["id"]))
        session.commit()
    refused = teacher.call("DELETE", f"/api/teach/courses/{course['id']}")
    assert refused.status_code == 409
    assert "1 student is enrolled" in refused.json()["error"]
    assert "Archive the course instead" in refused.json()["error"]
    assert course_row(db, course["id"]) is not None


# -- modules, lessons and their order ------------------------------------------------------------


def test_modules_and_lessons_are_made_ordered_and_deleted(teacher, db):
    course = new_course(teacher, "Ordered Course")
    intro = new_module(teacher, course["id"], "Intro")
    deeper = new_module(teacher, course["id"], "Deeper")
    a = new_lesson(teacher, intro["id"], "A", "NOTEBOOK")
    b = new_lesson(teacher, intro["id"], "B", "TEXT")
    c = new_lesson(teacher, intro["id"], "C", "VIDEO")
    quiz = new_lesson(teacher, deeper["id"], "Check yourself", "QUIZ")
    assert [a["position"], b["position"], c["position"]] == [0, 1, 2]

    moved = teacher.call(
        "PUT",
        f"/api/teach/modules/{intro['id']}/lesson-order",
        json={"lesson_ids": [c["id"], a["id"], b["id"]]},
    )
    assert moved.status_code == 200, moved.text
    assert [lesson["id"] for lesson in moved.json()["modules"][0]["lessons"]] == [
        c["id"],
        a["id"],
        b["id"],
    ]
    across = teacher.call(
        "PUT",
        f"/api/teach/modules/{deeper['id']}/lesson-order",
        json={"lesson_ids": [quiz["id"], b["id"]]},
    )
    assert across.status_code == 200, across.text
    assert lesson_order(db, deeper["id"]) == [quiz["id"], b["id"]]
    assert lesson_order(db, intro["id"]) == [c["id"], a["id"]]

    swapped = teacher.call(
        "PUT",
        f"/api/teach/courses/{course['id']}/module-order",
        json={"module_ids": [deeper["id"], intro["id"]]},
    )
    assert [m["title"] for m in swapped.json()["modules"]] == ["Deeper", "Intro"]

    edited = teacher.call(
        "PATCH",
        f"/api/teach/lessons/{b['id']}",
        json={"title": "B, revised", "text_markdown": "Some *text*", "is_preview": True},
    )
    assert edited.status_code == 200
    assert edited.json()["text_markdown"] == "Some *text*" and edited.json()["is_preview"]
    assert teacher.call("DELETE", f"/api/teach/lessons/{a['id']}").status_code == 204
    assert teacher.call("DELETE", f"/api/teach/modules/{deeper['id']}").status_code == 204
    outline = teacher.call("GET", f"/api/teach/courses/{course['id']}").json()["modules"]
    assert [(m["title"], [lesson["title"] for lesson in m["lessons"]]) for m in outline] == [
        ("Intro", ["C"])
    ]


def test_reordering_with_ids_from_another_course_is_refused_and_changes_nothing(teacher, db):
    course = new_course(teacher, "Mine")
    module = new_module(teacher, course["id"], "Only module")
    first = new_lesson(teacher, module["id"], "First")
    second = new_lesson(teacher, module["id"], "Second")
    other = new_course(teacher, "Other")
    other_module = new_module(teacher, other["id"], "Elsewhere")
    stranger = new_lesson(teacher, other_module["id"], "Stranger")

    lessons = teacher.call(
        "PUT",
        f"/api/teach/modules/{module['id']}/lesson-order",
        json={"lesson_ids": [second["id"], stranger["id"], first["id"]]},
    )
    assert lessons.status_code == 400
    assert "lessons that are not in this course" in lessons.json()["error"]
    assert lesson_order(db, module["id"]) == [first["id"], second["id"]]
    assert lesson_order(db, other_module["id"]) == [stranger["id"]]

    modules = teacher.call(
        "PUT",
        f"/api/teach/courses/{course['id']}/module-order",
        json={"module_ids": [other_module["id"], module["id"]]},
    )
    assert modules.status_code == 400
    assert "exactly the modules of this course" in modules.json()["error"]
    with db() as session:
        assert session.get(Module, other_module["id"]).course_id == other["id"]

    garbage = teacher.call(
        "PUT", f"/api/teach/modules/{module['id']}/lesson-order", json={"lesson_ids": "1,2"}
    )
    assert garbage.status_code == 400 and "list of numeric ids" in garbage.json()["error"]


# -- who may do what -----------------------------------------------------------------------------


def teaching_calls(course_id: int, module_id: int, lesson_id: int) -> list[tuple[str, str, dict]]:
    return [
        ("GET", "/api/teach/courses", {}),
        ("POST", "/api/teach/courses", {"json": {"title": "Sneaky"}}),
        ("GET", f"/api/teach/courses/{course_id}", {}),
        ("PATCH", f"/api/teach/courses/{course_id}", {"json": {"title": "Hijacked"}}),
        ("DELETE", f"/api/teach/courses/{course_id}", {}),
        ("GET", f"/api/teach/courses/{course_id}/students", {}),
        ("POST", f"/api/teach/courses/{course_id}/modules", {"json": {"title": "Extra"}}),
        (
            "PUT",
            f"/api/teach/courses/{course_id}/module-order",
            {"json": {"module_ids": [module_id]}},
        ),
        ("PATCH", f"/api/teach/modules/{module_id}", {"json": {"title": "Renamed"}}),
        ("DELETE", f"/api/teach/modules/{module_id}", {}),
        (
            "POST",
            f"/api/teach/modules/{module_id}/lessons",
            {"json": {"title": "X", "kind": "TEXT"}},
        ),
        (
            "PUT",
            f"/api/teach/modules/{module_id}/lesson-order",
            {"json": {"lesson_ids": [lesson_id]}},
        ),
        ("PATCH", f"/api/teach/lessons/{lesson_id}", {"json": {"title": "Renamed"}}),
        ("DELETE", f"/api/teach/lessons/{lesson_id}", {}),
        ("GET", f"/api/lessons/{lesson_id}/versions", {}),
        (
            "POST",
            f"/api/lessons/{lesson_id}/versions",
            {"content": notebook("x"), "headers": NOTEBOOK_TYPE},
        ),
        ("GET", f"/teach/courses/{course_id}", {}),
        ("GET", f"/teach/lessons/{lesson_id}/versions/1/preview", {}),
        ("GET", f"/teach/lessons/{lesson_id}/versions/1/notebook.html", {}),
    ]


def snapshot(db, course_id: int) -> tuple:  # type: ignore[no-untyped-def]
    with db() as session:
        course = session.get(Course, course_id)
        modules = session.execute(
            select(Module.id, Module.title, Module.position).where(Module.course_id == course_id)
        ).all()
        lessons = session.execute(
            select(Lesson.id, Lesson.title, Lesson.position, Lesson.published_version_id)
            .join(Module)
            .where(Module.course_id == course_id)
        ).all()
        versions = session.scalar(select(func.count()).select_from(LessonVersion))
        courses = session.scalar(select(func.count()).select_from(Course))
        return (course.title, course.slug, sorted(modules), sorted(lessons), versions, courses)


def published_course(teacher) -> tuple[dict, dict, dict]:  # type: ignore[no-untyped-def]
    course = new_course(teacher, "Guarded Course")
    module = new_module(teacher, course["id"], "Guarded module")
    lesson = new_lesson(teacher, module["id"], "Guarded lesson")
    published = teacher.call(
        "POST",
        f"/api/lessons/{lesson['id']}/versions",
        content=notebook("v1"),
        headers=NOTEBOOK_TYPE,
    )
    assert published.status_code == 201, published.text
    return course, module, lesson


def test_students_get_403_from_every_teaching_endpoint_and_nothing_changes(
    platform, teacher, make_account, signed_in, db
):
    course, module, lesson = published_course(teacher)
    before = snapshot(db, course["id"])
    student = open_session(platform, signed_in, make_account(Role.STUDENT))
    for method, path, kwargs in teaching_calls(course["id"], module["id"], lesson["id"]):
        response = student.call(method, path, **copy.deepcopy(kwargs))
        assert response.status_code == 403, (method, path, response.status_code)
        assert "instructors and administrators" in response.text, (method, path)
    token = hub_token(platform, student.account.username)
    with_token = httpx.post(
        f"{platform.service_url}/api/lessons/{lesson['id']}/versions",
        content=notebook("student"),
        headers={"Authorization": f"token {token}", **NOTEBOOK_TYPE},
    )
    assert with_token.status_code == 403
    assert snapshot(db, course["id"]) == before


def test_another_instructor_cannot_touch_someone_elses_course_but_an_admin_can(
    platform, teacher, make_account, signed_in, db
):
    course, module, lesson = published_course(teacher)
    before = snapshot(db, course["id"])
    rival = open_session(platform, signed_in, make_account(Role.INSTRUCTOR))
    for method, path, kwargs in teaching_calls(course["id"], module["id"], lesson["id"]):
        if path in ("/api/teach/courses",):
            continue  # their own list and their own new courses are theirs
        response = rival.call(method, path, **copy.deepcopy(kwargs))
        assert response.status_code == 403, (method, path, response.status_code)
        assert "instructor and administrators can change it" in response.text
    assert snapshot(db, course["id"]) == before
    assert all(
        c["id"] != course["id"] for c in rival.call("GET", "/api/teach/courses").json()["courses"]
    )

    admin = open_session(platform, signed_in, make_account(Role.ADMIN))
    fixed = admin.call(
        "PATCH", f"/api/teach/courses/{course['id']}", json={"title": "Fixed by admin"}
    )
    assert fixed.status_code == 200 and fixed.json()["title"] == "Fixed by admin"


# -- notebook versions ---------------------------------------------------------------------------


def test_the_publish_endpoint_keeps_versions_for_a_hub_token(platform, teacher, db):
    # A loaded machine may take a few seconds over a version: wait as a person would.
    with httpx.Client(timeout=60) as http:
        course = new_course(teacher, "Versioned Course")
        module = new_module(teacher, course["id"], "Module")
        lesson = new_lesson(teacher, module["id"], "Notebook lesson")
        token = hub_token(platform, teacher.account.username)
        url = f"{platform.service_url}/api/lessons/{lesson['id']}/versions"
        auth = {"Authorization": f"token {token}"}

        first = http.post(
            url, content=FIRST_NOTEBOOK.read_bytes(), headers={**auth, **NOTEBOOK_TYPE}
        )
        assert first.status_code == 201, first.text
        assert first.json()["version"] == 1 and first.json()["created"] is True
        assert first.json()["published"] is True
        assert first.headers["Location"].endswith(f"/api/lessons/{lesson['id']}/versions/1")

        again = http.post(
            url, content=FIRST_NOTEBOOK.read_bytes(), headers={**auth, **NOTEBOOK_TYPE}
        )
        assert again.status_code == 200 and again.json()["version"] == 1
        assert again.json()["created"] is False

        second = http.post(
            url, content=notebook("changed"), headers={**auth, "Content-Type": "application/json"}
        )
        assert second.status_code == 201 and second.json()["version"] == 2

        document = http.get(f"{platform.service_url}/api/openapi.json").json()
        described = document["paths"]["/api/lessons/{lesson_id}/versions"]["post"]
        assert {"application/x-ipynb+json", "application/json"} <= set(
            described["requestBody"]["content"]
        )

        listing = http.get(url, headers=auth).json()
        assert listing["published_version"] == 2
        assert [(v["version"], v["published"]) for v in listing["versions"]] == [
            (2, True),
            (1, False),
        ]
        assert listing["versions"][0]["created_by"] == teacher.account.username
        kept = http.get(f"{url}/1", headers=auth)
        assert kept.status_code == 200
        assert nbformat.reads(kept.text, as_version=4).cells[0].cell_type == "markdown"
        with db() as session:
            row = session.get(Lesson, lesson["id"])
            newest = session.scalar(
                select(LessonVersion).where(
                    LessonVersion.lesson_id == lesson["id"], LessonVersion.number == 2
                )
            )
            assert row.published_version_id == newest.id


def test_the_publish_endpoint_needs_xsrf_with_the_browser_session(teacher, db):
    course = new_course(teacher, "Cookie Course")
    module = new_module(teacher, course["id"], "Module")
    lesson = new_lesson(teacher, module["id"], "Lesson")
    path = f"/api/lessons/{lesson['id']}/versions"
    forged = teacher.http.post(
        f"{teacher.base}{path}", content=notebook("x"), headers=NOTEBOOK_TYPE
    )
    assert forged.status_code in (401, 403)
    assert version_count(db, lesson["id"]) == 0
    proper = teacher.call("POST", path, content=notebook("x"), headers=NOTEBOOK_TYPE)
    assert proper.status_code == 201 and proper.json()["version"] == 1


BAD_NOTEBOOKS = [
    pytest.param(b"{not json", NOTEBOOK_TYPE, 400, "it is not JSON", id="malformed-json"),
    pytest.param(
        b'{"cells": 3, "nbformat": 4, "nbformat_minor": 5, "metadata": {}}',
        NOTEBOOK_TYPE,
        400,
        "damaged",
        id="schema-invalid",
    ),
    pytest.param(
        b'{"hello": "world"}', NOTEBOOK_TYPE, 400, "not a Jupyter notebook", id="other-json"
    ),
    pytest.param(PNG_1PX, NOTEBOOK_TYPE, 400, "not a Jupyter notebook", id="png-named-ipynb"),
    pytest.param(
        notebook("fine"),
        {"Content-Type": "text/plain"},
        415,
        "application/x-ipynb+json",
        id="wrong-type",
    ),
    pytest.param(
        b'{"cells": [], "nbformat": 4, "pad": "' + b"x" * 20_000_001 + b'"}',
        NOTEBOOK_TYPE,
        413,
        "the limit is 20 MB",
        id="oversized",
    ),
]


@pytest.mark.parametrize(("body", "headers", "status", "message"), BAD_NOTEBOOKS)
def test_bad_notebooks_are_refused_clearly_and_change_nothing(
    teacher, db, body, headers, status, message
):
    course = new_course(teacher, "Strict Course")
    module = new_module(teacher, course["id"], "Module")
    lesson = new_lesson(teacher, module["id"], "Lesson")
    good = teacher.call(
        "POST",
        f"/api/lessons/{lesson['id']}/versions",
        content=notebook("v1"),
        headers=NOTEBOOK_TYPE,
    )
    assert good.status_code == 201
    response = teacher.call(
        "POST", f"/api/lessons/{lesson['id']}/versions", content=body, headers=headers
    )
    assert response.status_code == status, response.text[:300]
    assert message in response.json()["error"]
    assert version_count(db, lesson["id"]) == 1
    with db() as session:
        assert session.get(Lesson, lesson["id"]).published_version_id == good.json()["version_id"]


def test_only_notebook_lessons_take_notebooks(teacher, db):
    course = new_course(teacher, "Mixed Course")
    module = new_module(teacher, course["id"], "Module")
    text = new_lesson(teacher, module["id"], "Reading", "TEXT")
    response = teacher.call(
        "POST", f"/api/lessons/{text['id']}/versions", content=notebook("x"), headers=NOTEBOOK_TYPE
    )
    assert response.status_code == 409 and "only notebook lessons" in response.json()["error"]
    assert version_count(db, text["id"]) == 0


def test_the_lesson_page_publishes_an_uploaded_notebook_and_refuses_a_bad_one(teacher, db):
    course = new_course(teacher, "Form Course")
    module = new_module(teacher, course["id"], "Module")
    lesson = new_lesson(teacher, module["id"], "Lesson")
    sent = teacher.form(
        f"/teach/lessons/{lesson['id']}/versions",
        files={
            "notebook": (
                "01-first-notebook.ipynb",
                FIRST_NOTEBOOK.read_bytes(),
                "application/octet-stream",
            )
        },
    )
    assert sent.status_code == 200 and "Version 1 is published" in sent.text
    assert "Preview version 1" in sent.text

    refused = teacher.form(
        f"/teach/lessons/{lesson['id']}/versions",
        files={"notebook": ("notes.ipynb", b"just some notes", "application/octet-stream")},
    )
    assert refused.status_code == 400
    assert "The notebook was not published: This file is not a Jupyter notebook" in refused.text
    assert version_count(db, lesson["id"]) == 1


def test_a_version_is_previewed_in_a_sandbox_without_script(teacher):
    course = new_course(teacher, "Preview Course")
    module = new_module(teacher, course["id"], "Module")
    lesson = new_lesson(teacher, module["id"], "Lesson")
    hostile = notebook(
        "# Plotting basics\n\nSome *emphasis*.",
        "<script>parent.document.title='owned'</script><img src=x onerror=alert(1)>"
        "[link](javascript:alert(2))</main><script>alert(3)</script>",
    )
    teacher.call(
        "POST", f"/api/lessons/{lesson['id']}/versions", content=hostile, headers=NOTEBOOK_TYPE
    ).raise_for_status()

    page = teacher.get(f"/teach/lessons/{lesson['id']}/versions/1/preview")
    assert page.status_code == 200
    frame = re.search(r"<iframe[^>]*>", page.text).group(0)
    assert re.search(r"\ssandbox(\s|>)", frame), "the iframe is sandboxed with no allowances"
    assert "allow-scripts" not in frame and "allow-same-origin" not in frame

    rendered = teacher.get(f"/teach/lessons/{lesson['id']}/versions/1/notebook.html")
    assert rendered.status_code == 200
    policy = rendered.headers["Content-Security-Policy"]
    assert "sandbox" in policy and "default-src 'none'" in policy and "script-src" not in policy
    html = rendered.text
    assert "<h1" in html and "Plotting basics" in html and "<em>emphasis</em>" in html
    assert "<script" not in html.lower()
    assert not re.search(r"<[^>]*\son[a-z]+\s*=", html), "no event handler attributes"
    assert not re.search(r"""href=["']?javascript:""", html)
    assert "print" in html, "code cells are shown"


# -- categories ----------------------------------------------------------------------------------


def test_an_admin_keeps_the_categories(platform, make_account, signed_in, teacher, db):
    admin = open_session(platform, signed_in, make_account(Role.ADMIN))
    suffix = admin.account.username[-6:]
    name = f"Machine Learning {suffix}"
    created = admin.form("/admin/categories", {"name": name})
    assert created.status_code == 200 and "The category is added." in created.text
    with db() as session:
        category = session.scalar(select(Category).where(Category.name == name))
    duplicate = admin.form("/admin/categories", {"name": name.upper()})
    assert duplicate.status_code == 409 and "There is already a category called" in duplicate.text

    renamed = admin.form(f"/admin/categories/{category.id}", {"name": f"ML {suffix}"})
    assert "The category is renamed." in renamed.text
    listed = teacher.call("GET", "/api/categories").json()["categories"]
    assert {
        "id": category.id,
        "name": f"ML {suffix}",
        "slug": f"ml-{suffix}",
        "courses": 0,
    } in listed

    assert teacher.get("/admin/categories").status_code == 403
    refused = teacher.call("POST", "/api/categories", json={"name": "Teacher's own"})
    assert refused.status_code == 403 and "administrators only" in refused.json()["error"]

    course = new_course(teacher, "Categorised", category_id=category.id)
    deleted = admin.form(f"/admin/categories/{category.id}/delete")
    assert "The category is deleted" in deleted.text
    assert course_row(db, course["id"]).category_id is None


# -- in the browser ------------------------------------------------------------------------------


def lesson_titles(db, course_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    with db() as session:
        return list(
            session.scalars(
                select(Lesson.title)
                .join(Module)
                .where(Module.course_id == course_id)
                .order_by(Module.position, Lesson.position)
            )
        )


@pytest.mark.browser
def test_an_instructor_builds_orders_and_publishes_a_course_in_the_browser(
    platform, page, make_account, db
):
    from playwright.sync_api import expect

    instructor = make_account(Role.INSTRUCTOR)
    page.goto(f"{platform.url}/hub/login")
    page.locator("#username_input").fill(instructor.email)
    page.locator("#password_input").fill(PASSWORD)
    page.locator("#login_submit").click()
    expect(page.locator("#signed_in_as")).to_have_text(instructor.username, timeout=20_000)

    page.goto(f"{platform.service_url}/teach")
    page.get_by_role("link", name="New course", exact=True).click()
    page.get_by_label("Title").fill("Python for Data, Browser Edition")
    page.get_by_label("Summary").fill("Notebooks from the first day")
    page.get_by_role("button", name="Create course").click()
    expect(page.locator("#done_note")).to_contain_text("created as a draft")
    course_id = int(re.search(r"/teach/courses/(\d+)", page.url).group(1))

    page.get_by_label("New module").fill("Getting started")
    page.get_by_role("button", name="Add module").click()
    expect(page.locator("#done_note")).to_have_text("The module is added.")

    module = page.locator("li.teach-module", has_text="Getting started")
    module.get_by_label("New lesson in Getting started").fill("First notebook")
    module.get_by_label("Kind").select_option("NOTEBOOK")
    module.get_by_role("button", name="Add lesson").click()
    page.get_by_label("Notebook file").set_input_files(FIRST_NOTEBOOK)
    page.get_by_role("button", name="Publish notebook").click()
    expect(page.locator("#done_note")).to_contain_text("Version 1 is published")
    expect(page.locator("#versions")).to_contain_text("students see this")

    page.locator("#back_to_course").click()
    module.get_by_label("New lesson in Getting started").fill("Reading list")
    module.get_by_label("Kind").select_option("TEXT")
    module.get_by_role("button", name="Add lesson").click()
    page.get_by_label("Text (Markdown)").fill("Read **chapter 1** before the next lesson.")
    page.get_by_role("button", name="Preview text").click()
    expect(page.locator("#text_input_preview strong")).to_have_text("chapter 1")
    page.get_by_role("button", name="Save lesson").click()
    expect(page.locator("#done_note")).to_have_text("The lesson is saved.")
    page.locator("#back_to_course").click()

    lessons = module.locator("li.teach-lesson")
    expect(lessons).to_have_count(2)
    expect(lessons.locator(".lesson-title")).to_have_text(["First notebook", "Reading list"])

    # The keyboard way: focus the move button and press Enter.
    move_up = page.get_by_role("button", name="Move lesson Reading list up")
    move_up.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#order_status")).to_contain_text("Saved.")
    expect(lessons.locator(".lesson-title")).to_have_text(["Reading list", "First notebook"])
    expect(move_up).to_be_focused()
    assert lesson_titles(db, course_id) == ["Reading list", "First notebook"]

    # And by drag and drop: Reading list goes below First notebook again.
    page.locator("#order_status").evaluate("node => { node.textContent = ''; }")
    target = lessons.filter(has_text="First notebook")
    box = target.bounding_box()
    lessons.filter(has_text="Reading list").drag_to(
        target, target_position={"x": box["width"] / 2, "y": box["height"] - 4}
    )
    expect(page.locator("#order_status")).to_contain_text("Saved.")
    expect(lessons.locator(".lesson-title")).to_have_text(["First notebook", "Reading list"])
    assert lesson_titles(db, course_id) == ["First notebook", "Reading list"]

    page.get_by_role("button", name="Publish course").click()
    expect(page.locator("#done_note")).to_contain_text("The course is published")
    expect(page.locator("#course_status")).to_have_text("Published")
    assert course_row(db, course_id).status.value == "PUBLISHED"

    # Still usable on a phone: nothing wider than the screen.
    page.set_viewport_size({"width": 375, "height": 740})
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
