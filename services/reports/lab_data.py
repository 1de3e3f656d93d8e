"""A report's course data opened in the staff member's own JupyterLab ("Open course data in
JupyterLab"): the same pseudonymised snapshot a run of the report gets (``course_snapshot``,
with the report's pseudonyms; names only when the report asks for them and the person
manages the course), a README saying what each file holds and when it was taken, and a copy
of the report notebook beside them, so it runs there as it runs in the sandbox.

The CourseHub server extension of their notebook server writes them under
``course-data/<course slug>/`` in their home: the data files afresh at each opening and
read-only, the notebook only when they have none there yet (it is theirs to change).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.courses.membership import Membership
from coursehub.services.models import Course, ReportNotebook, utcnow
from coursehub.services.reports import course_snapshot
from coursehub.services.reports.report_notebooks import ReportError

LAB_FOLDER = "course-data"
README = "README.md"


def _readme(course: Course, report: ReportNotebook, taken_at: str, with_names: bool) -> str:
    columns = "\n".join(
        f"- `{name}`: {', '.join(f'`{c}`' for c in columns)}"
        for name, columns in course_snapshot.COLUMNS.items()
    )
    names = (
        "The `name` column holds students' names (the report asks for them)."
        if with_names
        else "Students are pseudonyms (`student`); the `name` column is empty."
    )
    return (
        f"# {course.title}: course data\n\n"
        f"A read-only snapshot taken {taken_at} (UTC) for the report *{report.title}*, the "
        "same files a run of the report reads. Opening the course data from CourseHub again "
        "replaces these files with a new snapshot; the notebook beside them is yours and is "
        f"kept.\n\n{names}\n\nFiles and their columns:\n\n{columns}\n"
    )


def notebook_name(report: ReportNotebook) -> str:
    return f"report-{report.id}.ipynb"


def lab_copy(
    course: Course, report: ReportNotebook, place: Membership, files: dict[str, bytes]
) -> dict[str, Any]:
    """What the staff member's server writes: the folder, the data files (text) and the
    report notebook."""
    taken_at = utcnow().strftime("%Y-%m-%d %H:%M")
    with_names = report.with_names and place.manages
    texts = {name: content.decode() for name, content in files.items()}
    texts[README] = _readme(course, report, taken_at, with_names)
    return {
        "course_slug": course.slug,
        "report_id": report.id,
        "folder": f"{LAB_FOLDER}/{course.slug}",
        "taken_at": taken_at,
        "with_names": with_names,
        "files": texts,
        "notebook_name": notebook_name(report),
        "notebook": report.notebook,
    }


async def course_data_for_lab(
    session: AsyncSession, course: Course, report: ReportNotebook, place: Membership
) -> dict[str, Any]:
    """The report's snapshot of ``course`` for the JupyterLab of someone who may run it."""
    if not place.grades:
        raise ReportError("Course data is for the course's staff.", 403)
    files = await course_snapshot.snapshot(
        session,
        course,
        secret=report.pseudonym_key.encode(),
        with_names=report.with_names and place.manages,
    )
    return lab_copy(course, report, place, files)
