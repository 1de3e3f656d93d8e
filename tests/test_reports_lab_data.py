""" "Open course data in JupyterLab": a report's snapshot of the course (the CSV files a run
of the report reads, pseudonymised, a README and the report notebook) for the course's staff,
and what the CourseHub server extension makes of it in their home: ``course-data/<slug>/``,
the data files read-only and fresh at each opening, the notebook theirs to keep."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import stat
from pathlib import Path

import pytest
from jupyter_server.services.contents.filemanager import FileContentsManager

from coursehub.extensions.course_data import place_course_data
from coursehub.hub.constants import Role
from tests.course_builder import LessonPlan, enroll, make_course, unique_word
from tests.teaching_client import open_session


@pytest.fixture
def course_with_report(platform, signed_in, make_account, db, database_url):  # type: ignore[no-untyped-def]
    instructor = make_account(Role.INSTRUCTOR)
    course = make_course(
        database_url,
        instructor,
        title=f"Data {unique_word()}",
        modules={"Week 1": [LessonPlan("Getting started")]},
    )
    students = [make_account(Role.STUDENT) for _ in range(2)]
    for student in students:
        enroll(db, student, course)
    teacher = open_session(platform, signed_in, instructor)
    attached = teacher.call("POST", f"/api/courses/{course.slug}/reports", json={})
    assert attached.status_code == 201, attached.text
    return course, teacher, students, attached.json()["id"]


def test_staff_get_the_reports_snapshot_for_jupyterlab_and_students_do_not(
    course_with_report, platform, signed_in
):
    course, teacher, students, report_id = course_with_report
    api = f"/api/courses/{course.slug}/reports/{report_id}/lab-data"
    answer = teacher.get(api)
    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert data["folder"] == f"course-data/{course.slug}" and data["with_names"] is False
    assert {"students.csv", "lessons.csv", "grades.csv", "README.md"} <= set(data["files"])
    rows = list(csv.DictReader(io.StringIO(data["files"]["students.csv"])))
    assert len(rows) == 2 and all(row["student"].startswith("s-") for row in rows)
    assert all(row["name"] == "" for row in rows)
    text = json.dumps(data)
    assert not any(s.username in text or (s.email or "@@") in text for s in students)
    assert "read-only snapshot" in data["files"]["README.md"]
    assert data["notebook"]["cells"] and data["notebook_name"] == f"report-{report_id}.ipynb"

    page = teacher.get(f"/courses/{course.slug}/reports/{report_id}")
    assert f"/reports/{report_id}/lab" in page.text and 'id="open_course_data"' in page.text

    learner = open_session(platform, signed_in, students[0])
    assert learner.get(api).status_code in (403, 404)
    opened = learner.get(f"/courses/{course.slug}/reports/{report_id}/lab")
    assert opened.status_code in (403, 404)


def snapshot(students: str) -> dict:
    return {
        "course_slug": "weather-101",
        "report_id": 4,
        "folder": "course-data/weather-101",
        "files": {"students.csv": students, "README.md": "# Weather 101: course data\n"},
        "notebook_name": "report-4.ipynb",
        "notebook": {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []},
    }


def test_the_extension_writes_fresh_read_only_data_and_keeps_the_owners_notebook(tmp_path):
    contents = FileContentsManager(root_dir=str(tmp_path))
    folder = asyncio.run(place_course_data(contents, snapshot("student\ns-1\n")))
    assert folder == "course-data/weather-101"
    data = Path(tmp_path, folder)
    assert (data / "students.csv").read_text() == "student\ns-1\n"
    assert not (data / "students.csv").stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    (data / "report-4.ipynb").write_text('{"mine": true}')  # the owner changes the notebook

    asyncio.run(place_course_data(contents, snapshot("student\ns-1\ns-2\n")))
    assert (data / "students.csv").read_text() == "student\ns-1\ns-2\n"  # a new snapshot
    assert (data / "report-4.ipynb").read_text() == '{"mine": true}'  # theirs, kept

    for bad in ({"course_slug": "../etc"}, {"files": {"../x.csv": ""}}, {"notebook_name": "/x"}):
        with pytest.raises(ValueError):
            asyncio.run(place_course_data(contents, {**snapshot("student\n"), **bad}))
