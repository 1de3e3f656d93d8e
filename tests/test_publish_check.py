"""A notebook lesson is run top to bottom in the sandbox before students see it: a lesson
whose cell fails is refused at publish with the cell named (unless its author publishes it
anyway, and then staff see a warning on the course page), and the demo course's lessons all
pass the check with the course's data."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from sqlalchemy import select

from coursehub.hub.constants import Role
from coursehub.services.models import LessonVersion, NotebookCheck
from coursehub.services.notebook_runs import publish_checks
from tests.teaching_client import new_course, new_lesson, new_module, open_session

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="sandboxes need root")
REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "course_content" / "python-for-data"
IPYNB = {"Content-Type": "application/x-ipynb+json"}
# A kernel in a sandbox on a shared, busy test machine: the publish request waits for it.
CHECK_TIMEOUT = 300


def lesson_notebook(*code: str) -> bytes:
    book = nbformat.v4.new_notebook()
    book.cells = [nbformat.v4.new_markdown_cell("# Rainfall by month")]
    book.cells += [nbformat.v4.new_code_cell(source) for source in code]
    return nbformat.writes(book).encode()


def test_a_lesson_with_a_failing_cell_is_refused_at_publish_with_the_cell_named(
    platform, make_account, signed_in, db
):
    teacher = open_session(platform, signed_in, make_account(Role.INSTRUCTOR))
    course = new_course(teacher, "Rainfall")
    module = new_module(teacher, course["id"], "Week 1")
    lesson = new_lesson(teacher, module["id"], "Monthly rainfall")
    url = f"/api/lessons/{lesson['id']}/versions"
    broken = lesson_notebook("months = 12", "rain = open('data/rainfall.csv').read()")

    refused = teacher.call("POST", url, content=broken, headers=IPYNB, timeout=CHECK_TIMEOUT)
    assert refused.status_code == 422, refused.text
    body = refused.json()
    assert "Cell 3 (`rain = open('data/rainfall.csv').read()`)" in body["error"]
    assert "FileNotFoundError" in body["error"] and "publish anyway" in body["error"]
    check = body["check"]
    assert check["failed_cell"] == 2 and check["missing_files"] == ["data/rainfall.csv"]
    assert [cell["index"] for cell in check["cells"]] == [1, 2]
    assert "FileNotFoundError" in check["cells"][1]["error_text"]
    with db() as session:
        kept = session.scalars(select(LessonVersion).where(LessonVersion.lesson_id == lesson["id"]))
        assert list(kept) == []  # nothing was published

    anyway = teacher.call(
        "POST", f"{url}?publish_anyway=1", content=broken, headers=IPYNB, timeout=CHECK_TIMEOUT
    )
    assert anyway.status_code == 201, anyway.text
    assert anyway.json()["published"] is True and anyway.json()["check"]["ok"] is False
    with db() as session:
        row = session.scalar(
            select(NotebookCheck).where(
                NotebookCheck.lesson_version_id == anyway.json()["version_id"]
            )
        )
        assert row is not None and row.published_anyway and not row.ok
        assert row.executed["cells"][0]["cell_type"] == "markdown"  # the executed copy
    course_page = teacher.get(f"/teach/courses/{course['id']}")
    assert 'id="failing_checks"' in course_page.text and "Monthly rainfall" in course_page.text

    fixed = teacher.call(
        "POST", url, content=lesson_notebook("months = 12"), headers=IPYNB, timeout=CHECK_TIMEOUT
    )
    assert fixed.status_code == 201 and fixed.json()["check"]["ok"] is True
    assert 'id="failing_checks"' not in teacher.get(f"/teach/courses/{course['id']}").text


async def test_the_demo_course_lessons_all_pass_the_check():
    data = {
        f"data/{name}": content for name, content in publish_checks.files_in(DEMO / "data").items()
    }
    lessons = sorted(DEMO.glob("*.ipynb"))
    assert len(lessons) >= 4
    # One after another, as authors publish them (and as a shared test machine can take).
    runs = [await publish_checks.check_notebook(path.read_bytes(), data) for path in lessons]
    for path, run in zip(lessons, runs, strict=True):
        assert run is not None and run.ok, f"{path.name}: {run and run.problem}"
        assert run.missing_files == []
    widgets = {path.name for path, run in zip(lessons, runs, strict=True) if run and run.widgets}
    assert "04-summarising-data.ipynb" in widgets
