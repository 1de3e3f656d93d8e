"""Grading many attempts in the background through the queue and the platform's worker:
"Autograde all" for imported attempts without a grade, "Regrade" after the instructor fixed
a test. Old grades are archived, one current grade per attempt remains, people's scores
survive, an unchanged source gives the same scores, and progress is there to poll.

The module's course starts with a mistaken test (it expects ``add(1, 2) == 4``) and two
attempts imported without grades, as an nbgrader import leaves them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from alembic import command
from sqlalchemy import create_engine, func, select, text

from coursehub.hub.constants import Role
from coursehub.services.migrate import alembic_config
from coursehub.services.models import ArchivedGrade, Grade, Submission, SubmissionStatus
from coursehub.services.settings import sqlalchemy_url
from tests.grading_data import ESSAY, essay_answer, essay_bytes
from tests.grading_room import (
    IPYNB,
    GradingRoom,
    People,
    build_room,
    grade_of,
    wait_for_run,
    wait_until_graded,
)
from tests.platform import create_database, drop_database
from tests.teaching_client import Session


@dataclass
class Runs:
    room: GradingRoom
    grader: Session

    def attempt_ids(self) -> list[int]:
        return [self.room.submission_ids[s.account.username] for s in self.room.students]

    def start(self, **fields: object) -> dict:
        started = self.grader.call("POST", f"{self.room.one}/grading-runs", json=fields)
        assert started.status_code == 202, started.text
        return started.json()


def imported_attempt(db, room: GradingRoom, student: Session) -> int:  # type: ignore[no-untyped-def]
    """An attempt as the nbgrader import stores it: queued, no job, no grade."""
    data = essay_answer(student.get(f"{room.one}/notebook").json())
    with db() as session:
        submission = Submission(
            assignment_id=room.assignment_id,
            account_id=student.account.id,
            attempt=1,
            sha256=hashlib.sha256(data).hexdigest(),
            notebook=data,
            size=len(data),
            status=SubmissionStatus.QUEUED,
            status_message="Imported; waiting for the autograder.",
        )
        session.add(submission)
        session.commit()
    room.submission_ids[student.account.username] = submission.id
    return submission.id


@pytest.fixture(scope="module")
def runs(platform, db, database_url) -> Iterator[Runs]:
    people = People(platform, db, "runs")
    room = build_room(people.account, people.session, db, database_url, students=2)
    helper = people.account(Role.INSTRUCTOR)
    added = room.teacher.call("POST", f"{room.api}/graders", json={"username": helper.username})
    assert added.status_code == 201, added.text
    room.new_assignment(essay_bytes(buggy=True))
    for student in room.students:
        imported_attempt(db, room, student)
    yield Runs(room, people.session(helper))
    people.close()


def cell_scores(grade: Grade) -> dict[str, float | None]:
    return {cell["grade_id"]: cell["score"] for cell in grade.cells}


def test_autograde_all_grades_the_attempts_without_a_grade(runs, db):
    run = runs.start(kind="AUTOGRADE")
    assert (run["kind"], run["total"], run["skipped"]) == ("AUTOGRADE", 2, 0)
    assert run["finished"] is False and run["pending"] + run["done"] == 2
    done = wait_for_run(runs.grader, runs.room.api, run["id"])
    assert (done["done"], done["failed"], done["total"]) == (2, 0, 2)
    assert {a["state"] for a in done["attempts"]} == {"done"}
    for attempt in runs.attempt_ids():
        assert cell_scores(grade_of(db, attempt))["test_add"] == 0  # the mistaken test

    again = runs.grader.call("POST", f"{runs.room.one}/grading-runs", json={"kind": "AUTOGRADE"})
    assert again.status_code == 409 and "nothing to autograde" in again.json()["error"]
    listed = runs.grader.get(f"{runs.room.one}/grading-runs").json()["runs"]
    assert [r["id"] for r in listed] == [run["id"]] and listed[0]["started_by"] == (
        runs.grader.account.username
    )


def test_a_regrade_of_an_unchanged_source_archives_and_gives_the_same_scores(runs, db):
    first = runs.room.students[0]
    attempts = runs.attempt_ids()
    before = {attempt: grade_of(db, attempt) for attempt in attempts}
    essay = runs.grader.call(
        "PUT", f"{runs.room.attempt(first)}/cells/{ESSAY}", json={"score": 3, "comment": "Yes."}
    )
    assert essay.status_code == 200, essay.text

    run = runs.start(kind="REGRADE", reason="Checking the grader gives the same result.")
    done = wait_for_run(runs.grader, runs.room.api, run["id"])
    assert (done["done"], done["failed"]) == (2, 0)
    with db() as session:
        for attempt in attempts:
            count = select(func.count(Grade.id)).where(Grade.submission_id == attempt)
            assert session.scalar(count) == 1
        archived = list(
            session.scalars(
                select(ArchivedGrade)
                .where(ArchivedGrade.submission_id.in_(attempts))
                .order_by(ArchivedGrade.submission_id)
            )
        )
    assert [a.submission_id for a in archived] == sorted(attempts)
    for old in archived:
        assert old.grade["id"] == before[old.submission_id].id  # the whole old row
        assert old.grade["feedback_notebook"] and old.run_id == run["id"]
        assert old.reason == "Checking the grader gives the same result."
        assert old.archived_by_id == runs.grader.account.id
        new = grade_of(db, old.submission_id)
        assert cell_scores(new) == {cell["grade_id"]: cell["score"] for cell in old.grade["cells"]}
    # People's scores are kept by grade cell, so the new grade counts them again.
    assert grade_of(db, attempts[0]).score == 0 + 3

    staff_view = runs.grader.get(f"{runs.room.attempt(first)}/grading").json()
    assert [g["reason"] for g in staff_view["archived_grades"]] == [
        "Checking the grader gives the same result."
    ]
    assert "feedback_notebook" not in staff_view["archived_grades"][0]["grade"]
    assert [c["action"] for c in staff_view["audit"]][-1] == "regrade"


def test_a_fixed_test_and_a_regrade_of_chosen_attempts_change_the_score(runs, db):
    room = runs.room
    fixed = room.teacher.call("PUT", f"{room.one}/source", content=essay_bytes(), headers=IPYNB)
    assert fixed.status_code == 200, fixed.text
    first, second = room.students
    untouched = room.submission_ids[second.account.username]
    chosen = room.submission_ids[first.account.username]
    assert (
        runs.grader.call(
            "POST", f"{room.one}/grading-runs", json={"kind": "REGRADE", "submission_ids": [999999]}
        ).status_code
        == 404
    )

    newer = room.submit(second)  # queued now, so a run leaves it to its own job
    run = runs.start(kind="REGRADE", submission_ids=[chosen, newer], reason="Test fixed.")
    assert (run["total"], run["skipped"]) == (1, 1)
    wait_for_run(runs.grader, room.api, run["id"])
    wait_until_graded(db, [newer])
    assert cell_scores(grade_of(db, chosen))["test_add"] == 2
    assert grade_of(db, chosen).score == 2 + 3  # with the essay's manual score
    assert cell_scores(grade_of(db, newer))["test_add"] == 2
    assert cell_scores(grade_of(db, untouched))["test_add"] == 0  # not chosen: not regraded

    # One attempt at a time, by hand, needs a reason too.
    path = f"{room.attempt(first)}/regrade"
    refused = runs.grader.call("POST", path)
    assert refused.status_code == 409 and "give a reason" in refused.json()["error"]


def test_migration_0006_is_reversible_and_matches_the_models():
    url = create_database("coursehub_grading_migration")
    try:
        config = alembic_config(sqlalchemy_url(url))
        command.upgrade(config, "head")
        command.downgrade(config, "0005")
        engine = create_engine(sqlalchemy_url(url))
        with engine.connect() as connection:
            left = connection.scalar(
                text(
                    "SELECT count(*) FROM pg_class WHERE relname IN ('course_graders', "
                    "'manual_scores', 'rubric_items', 'grade_changes', 'archived_grades', "
                    "'grading_runs', 'feedback_releases')"
                )
            )
            kinds = connection.scalar(
                text("SELECT count(*) FROM pg_type WHERE typname = 'grading_run_kind'")
            )
        engine.dispose()
        assert (left, kinds) == (0, 0)
        command.upgrade(config, "head")
        command.check(config)
    finally:
        drop_database(url)
