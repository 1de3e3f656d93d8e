"""The rules of ``lessons.lesson_exports`` on their own: a published version becomes a file
the lesson server renders with CourseHub's sandboxed kernel, written whole, once per process,
with the lesson's older versions dropped; only notebook lessons with a published version
have one."""

from __future__ import annotations

import json

import pytest

from coursehub.hub.constants import Role
from coursehub.services.lessons.lesson_access import OpenLesson
from coursehub.services.lessons.lesson_exports import (
    HIDDEN_CODE_TAG,
    LESSON_KERNELSPEC,
    LessonExports,
    for_lesson_server,
    write_notebook,
)
from coursehub.services.models import Account, Course, Lesson, LessonKind, LessonVersion
from tests.service_data import course_with, lessons_in


def test_the_notebook_runs_on_the_lesson_kernel_and_the_original_is_untouched():
    original = {"cells": [], "metadata": {"kernelspec": {"name": "python3"}, "title": "T"}}
    prepared = for_lesson_server(original)
    assert prepared["metadata"] == {"kernelspec": LESSON_KERNELSPEC, "title": "T"}
    assert original["metadata"]["kernelspec"] == {"name": "python3"}
    assert for_lesson_server({})["metadata"]["kernelspec"]["name"] == "coursehub-lesson"


def code_cell(source: str) -> dict:
    return {"cell_type": "code", "metadata": {"tags": ["setup"]}, "source": source, "outputs": []}


def test_a_lesson_hides_its_code_cells_unless_it_shows_code():
    original = {"cells": [{"cell_type": "markdown", "source": "# Hi"}, code_cell("x = 1")]}
    hidden = for_lesson_server(original)["cells"]
    assert "metadata" not in hidden[0]  # text is always shown
    assert hidden[1]["metadata"]["transient"] == {"remove_source": True}
    assert hidden[1]["metadata"]["tags"] == ["setup", HIDDEN_CODE_TAG]
    shown = for_lesson_server(original, show_code=True)["cells"]
    assert shown[1]["metadata"] == {"tags": ["setup"]}
    assert original["cells"][1]["metadata"] == {"tags": ["setup"]}  # the original untouched


def test_writing_a_version_drops_the_lessons_older_versions_only(tmp_path):
    folder = tmp_path / "3" / "7"
    folder.mkdir(parents=True)
    (folder / "v1-outputs.ipynb").write_text("{}")
    (folder / "notes.txt").write_text("kept")
    write_notebook(folder / "v2-outputs.ipynb", {"cells": [1]})
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt", "v2-outputs.ipynb"]
    assert json.loads((folder / "v2-outputs.ipynb").read_text()) == {"cells": [1]}


def test_a_notebook_that_cannot_be_written_leaves_no_partial_file(tmp_path):
    target = tmp_path / "1" / "v1-outputs.ipynb"
    with pytest.raises(TypeError):
        write_notebook(target, {"cells": [object()]})
    assert list(target.parent.iterdir()) == []


def opened(kind: LessonKind, version: int | None) -> OpenLesson:
    course = Course(id=3, title="Physics")
    lesson = Lesson(id=7, kind=kind, published_version_id=None)
    return OpenLesson(Account(id=1), course, lesson, version, enrolled=True, staff=False)


@pytest.mark.parametrize(("kind", "version"), [(LessonKind.TEXT, 1), (LessonKind.NOTEBOOK, None)])
async def test_only_a_published_notebook_lesson_has_a_file(tmp_path, kind, version):
    with pytest.raises(ValueError, match="Only notebook lessons"):
        await LessonExports(tmp_path).ensure(None, opened(kind, version))


async def test_a_file_already_there_is_not_read_again(tmp_path):
    exports = LessonExports(tmp_path)
    target = tmp_path / "3" / "7" / "v2-outputs.ipynb"
    target.parent.mkdir(parents=True)
    target.write_text('{"cells": []}')
    # The file exists: no session is needed, and what this process wrote is remembered.
    assert await exports.ensure(None, opened(LessonKind.NOTEBOOK, 2)) == "3/7/v2-outputs.ipynb"
    assert await exports.ensure(None, opened(LessonKind.NOTEBOOK, 2)) == "3/7/v2-outputs.ipynb"


async def test_a_published_version_is_written_on_first_need_for_the_lesson_kernel(
    db, make_account, sessions, tmp_path
):
    course = course_with(db, make_account(Role.INSTRUCTOR))
    (lesson,) = lessons_in(db, course, LessonKind.NOTEBOOK)
    with db() as session:
        version = LessonVersion(
            lesson_id=lesson.id, number=3, notebook={"cells": [], "metadata": {}}, sha256="0"
        )
        session.add(version)
        session.flush()
        row = session.get(Lesson, lesson.id)
        row.published_version_id = version.id
        session.commit()
        session.refresh(row)
        session.expunge(row)
    (tmp_path / str(course.id) / str(lesson.id)).mkdir(parents=True)
    (tmp_path / str(course.id) / str(lesson.id) / "v2-outputs.ipynb").write_text("{}")
    exports = LessonExports(tmp_path)
    opened = OpenLesson(Account(id=1), course, row, 3, enrolled=True, staff=False)
    async with sessions() as session:
        path = await exports.ensure(session, opened)
    assert path == f"{course.id}/{lesson.id}/v3-outputs.ipynb"
    written = json.loads((tmp_path / path).read_text())
    assert written["metadata"]["kernelspec"] == LESSON_KERNELSPEC
    assert [p.name for p in (tmp_path / path).parent.iterdir()] == ["v3-outputs.ipynb"]
