"""Course content: what an instructor writes and a student opens.

An instructor keeps each course as a folder under ``course_content/``: a ``course.toml`` that
names the course and lists its modules and lessons, and one notebook per lesson. CourseHub seeds
courses from these folders, and students open the lessons and run them (live, through Voila).
So every course must describe itself, every lesson it lists must be a real notebook, and every
lesson must run from top to bottom without an error. No platform is needed for any of this.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

CONTENT_DIR = Path(__file__).resolve().parent.parent / "course_content"
COURSE_DIRS = sorted(
    path for path in CONTENT_DIR.iterdir() if path.is_dir() and not path.name.startswith((".", "_"))
)


def read_course(course_dir: Path) -> dict:
    return tomllib.loads((course_dir / "course.toml").read_text())


def listed_lessons(course_dir: Path) -> list[str]:
    modules = read_course(course_dir).get("modules", [])
    return [lesson for module in modules for lesson in module.get("lessons", [])]


COURSES = [pytest.param(course_dir, id=course_dir.name) for course_dir in COURSE_DIRS]
LESSONS = [
    pytest.param(course_dir / lesson, id=f"{course_dir.name}/{lesson}")
    for course_dir in COURSE_DIRS
    if (course_dir / "course.toml").is_file()
    for lesson in listed_lessons(course_dir)
]


def test_there_is_a_course_to_seed():
    assert COURSE_DIRS, f"no course folders under {CONTENT_DIR}"
    assert LESSONS, "no course lists any lessons"


@pytest.mark.parametrize("course_dir", COURSES)
def test_every_course_folder_describes_its_course(course_dir: Path):
    assert (course_dir / "course.toml").is_file(), f"{course_dir.name} has no course.toml"
    course = read_course(course_dir)

    for key in ("slug", "title"):
        assert isinstance(course.get(key), str) and course[key].strip(), f"{key} is missing"

    modules = course.get("modules")
    assert isinstance(modules, list) and modules, "the course has no modules"
    for module in modules:
        assert module.get("title", "").strip(), f"a module has no title: {module}"
        assert module.get("lessons"), f"module {module['title']!r} lists no lessons"


def test_no_two_courses_share_a_slug():
    slugs = [read_course(course_dir)["slug"] for course_dir in COURSE_DIRS]
    assert len(slugs) == len(set(slugs)), slugs


@pytest.mark.parametrize("lesson", LESSONS)
def test_every_listed_lesson_is_a_valid_notebook(lesson: Path):
    assert lesson.is_file(), f"{lesson.name} is listed in course.toml but missing"
    notebook = nbformat.read(lesson, as_version=nbformat.NO_CONVERT)
    assert notebook.nbformat == 4
    nbformat.validate(notebook)


@pytest.mark.parametrize("lesson", LESSONS)
def test_students_open_a_lesson_with_a_clean_slate(lesson: Path):
    """Lessons are stored without outputs and name the kernel they run on."""
    notebook = nbformat.read(lesson, as_version=4)
    assert notebook.metadata.get("kernelspec", {}).get("name") == "python3"
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"stored outputs in {lesson.name}: {cell.source[:60]!r}"
            assert cell.execution_count is None


@pytest.mark.parametrize("lesson", LESSONS)
def test_every_lesson_runs_top_to_bottom(lesson: Path):
    """A student who runs all cells of a lesson, in its own folder, sees no error."""
    notebook = nbformat.read(lesson, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=60,
        kernel_name="python3",
        resources={"metadata": {"path": str(lesson.parent)}},
    )
    client.execute()  # raises CellExecutionError on the first failing cell

    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "error"
    ]
    assert errors == []
