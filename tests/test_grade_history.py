"""Grade history has one record, the audit log: a platform upgraded from the time grade
changes were also kept in ``grade_changes`` finds every change once in the log, the attempt's
history reads the same as before (who, what, which cell, before/after, reason), and the old
table is gone. Migration 0037 on a real PostgreSQL, then the service's own reader."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from alembic import command
from sqlalchemy import create_engine, select, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm import sessionmaker

from coursehub.hub.constants import Role
from coursehub.services.assessment import manual_grading
from coursehub.services.assessment.grading_queue import course_queue
from coursehub.services.db import make_sessionmaker
from coursehub.services.migrate import alembic_config
from coursehub.services.models import Account, Assignment, AuditEntry, Course, utcnow
from coursehub.services.settings import sqlalchemy_url
from tests.course_builder import run_async
from tests.platform import create_database, drop_database
from tests.service_data import course_with
from tests.test_grading_queue_rules import assignment_in, attempt


@pytest.fixture
def old_platform() -> Iterator[str]:
    """A database at migration 0036, before grade history moved."""
    url = sqlalchemy_url(create_database("coursehub_grade_history"))
    try:
        command.upgrade(alembic_config(url), "0036")
        yield url
    finally:
        drop_database(url.replace("postgresql+psycopg://", "postgresql://"))


def test_an_upgrade_keeps_every_grade_change_once_in_the_audit_log(old_platform: str) -> None:
    engine = create_engine(old_platform)
    db = sessionmaker(engine, expire_on_commit=False)
    with engine.begin() as connection:  # rows as the 0036 schema has them
        grader_id, student_id = (
            connection.scalar(
                text(
                    "INSERT INTO accounts (username, email, name, role) "
                    "VALUES (:u, :email, :u, CAST(:role AS account_role)) "
                    "RETURNING id"
                ),
                {"u": username, "email": f"{username}@coursehub.example", "role": role},
            )
            for username, role in (("ada-grader", "INSTRUCTOR"), ("sam", "STUDENT"))
        )
        course_id = connection.scalar(
            text(
                "INSERT INTO courses (slug, title, summary, description, status, instructor_id) "
                "VALUES ('cells', 'Cells', '', '', 'PUBLISHED', :i) RETURNING id"
            ),
            {"i": grader_id},
        )
        assignment_id = connection.scalar(
            text(
                "INSERT INTO assignments (course_id, title, source_notebook, student_notebook,"
                " source_sha256, grade_cells, max_score) VALUES (:c, 'Essay', '{}', '{}',"
                " repeat('0', 64), '[]', 10) RETURNING id"
            ),
            {"c": course_id},
        )
        submission_id = connection.scalar(
            text(
                "INSERT INTO submissions (assignment_id, account_id, attempt, sha256, notebook,"
                " size, status) VALUES (:a, :s, 1, repeat('0', 64), '\\x7b7d', 2, 'GRADED')"
                " RETURNING id"
            ),
            {"a": assignment_id, "s": student_id},
        )
    long_ago, lately = utcnow() - timedelta(days=400), utcnow() - timedelta(days=1)
    with engine.begin() as connection:
        change = text(
            "INSERT INTO grade_changes (submission_id, grade_id, action, before, after, reason,"
            " changed_by_id, changed_at) VALUES (:s, :cell, :action, CAST(:before AS jsonb),"
            " CAST(:after AS jsonb), :reason, :by, :at)"
        )
        # Before the audit log existed: only grade_changes has it.
        connection.execute(
            change,
            {
                "s": submission_id,
                "cell": "essay",
                "action": "manual_score",
                "before": json.dumps({"score": None, "typed": False, "final_score": 0}),
                "after": json.dumps({"score": 2, "typed": True, "final_score": 2}),
                "reason": "",
                "by": grader_id,
                "at": long_ago,
            },
        )
        # Since then both were written: the log's twin (the cell in its reason) must not
        # come twice.
        override = {"before": {"score": None, "final_score": 2}, "after": {"score": 3}}
        connection.execute(
            change,
            {
                "s": submission_id,
                "cell": None,
                "action": "override",
                "before": json.dumps(override["before"]),
                "after": json.dumps(override["after"]),
                "reason": "Generous reader",
                "by": grader_id,
                "at": lately,
            },
        )
        connection.execute(
            change,
            {
                "s": submission_id,
                "cell": "essay",
                "action": "comment",
                "before": json.dumps({"comment": ""}),
                "after": json.dumps({"comment": "Good."}),
                "reason": "",
                "by": grader_id,
                "at": lately,
            },
        )
        twin = text(
            "INSERT INTO audit_log (at, actor_id, actor_name, action, target_kind, target_id,"
            " before, after, reason) VALUES (:at, :by, 'ada-grader', :action, 'submission',"
            " :s, CAST(:before AS jsonb), CAST(:after AS jsonb), :reason)"
        )
        for action, before, after, reason in (
            ("grade.override", override["before"], override["after"], "Generous reader"),
            ("grade.comment", {"comment": ""}, {"comment": "Good."}, "essay"),
        ):
            connection.execute(
                twin,
                {
                    "at": lately + timedelta(milliseconds=3),
                    "by": grader_id,
                    "action": action,
                    "s": str(submission_id),
                    "before": json.dumps(before),
                    "after": json.dumps(after),
                    "reason": reason,
                },
            )
        connection.execute(
            text(
                "INSERT INTO site_settings (key, value) VALUES ('logo_url', "
                "'\"https://cdn.example.org/logo.png\"')"
            )
        )

    command.upgrade(alembic_config(old_platform), "head")

    with engine.connect() as connection:
        assert connection.scalar(text("SELECT to_regclass('grade_changes')")) is None
        assert connection.scalar(text("SELECT count(*) FROM site_settings")) == 0
    with db() as session:
        logged = session.scalars(
            select(AuditEntry)
            .where(
                AuditEntry.target_kind == "submission", AuditEntry.target_id == str(submission_id)
            )
            .order_by(AuditEntry.at, AuditEntry.id)
        ).all()
        logo = session.scalars(select(AuditEntry).where(AuditEntry.target_id == "logo_url")).one()
    assert [e.action for e in logged] == ["grade.manual_score", "grade.override", "grade.comment"]
    moved = logged[0]
    assert (moved.actor_id, moved.actor_name, moved.course_id) == (
        grader_id,
        "ada-grader",
        course_id,
    )
    assert moved.after == {"score": 2, "typed": True, "final_score": 2, "grade_id": "essay"}
    assert logo.before == "https://cdn.example.org/logo.png" and logo.after is None
    assert "upload it again" in logo.reason

    async def history() -> list[dict[str, object]]:
        async_engine = create_async_engine(old_platform)
        try:
            async with make_sessionmaker(async_engine)() as session:
                return await manual_grading.audit_trail(session, submission_id)
        finally:
            await async_engine.dispose()

    trail = run_async(history())
    assert [(c["action"], c["grade_id"], c["reason"], c["by"]) for c in trail] == [
        ("manual_score", "essay", "", "ada-grader"),
        ("override", None, "Generous reader", "ada-grader"),
        ("comment", "essay", "", "ada-grader"),
    ]
    assert trail[0]["after"] == {"score": 2, "typed": True, "final_score": 2}
    assert trail[2]["after"] == {"comment": "Good."}
    engine.dispose()


def test_the_audit_log_still_refuses_changes_after_the_move(old_platform: str) -> None:
    command.upgrade(alembic_config(old_platform), "head")
    engine = create_engine(old_platform)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO audit_log (action, target_kind, target_id) "
                    "VALUES ('grade.override', 'submission', '1')"
                )
            )
        for statement in ("UPDATE audit_log SET reason = 'edited'", "DELETE FROM audit_log"):
            with pytest.raises(Exception, match="append-only"), engine.begin() as connection:
                connection.execute(text(statement))
    finally:
        engine.dispose()


def test_staff_changes_to_an_attempt_are_written_once_to_the_audit_log(
    db, make_account, sessions
) -> None:  # type: ignore[no-untyped-def]
    """A grader types a score and a comment, overrides the attempt and takes it back, and
    reviews its flags: each change is one audit entry (cell, before/after, reason, course),
    the attempt's history reads them back, and the reviewed flags leave the queue."""
    instructor, student = make_account(Role.INSTRUCTOR), make_account()
    course = course_with(db, instructor, students=[student])
    assignment = assignment_in(db, course)
    with db() as session:
        row = session.get(Assignment, assignment.id)
        row.grade_cells = [{"grade_id": "essay", "kind": "manual", "max_points": 4}]
        session.commit()
    submission = attempt(
        db,
        assignment,
        student,
        1,
        cells=[{"grade_id": "essay", "score": None, "max_score": 4}],
        flags=["output_tampered"],
        needs_manual=True,
        graded_at=utcnow() - timedelta(minutes=5),
    )

    async def grade() -> tuple[list[dict[str, Any]], list[AuditEntry], list[int]]:
        async with sessions() as session:
            by = await session.get_one(Account, instructor.id)
            work = await session.get_one(Assignment, assignment.id)
            await manual_grading.save_answer(
                session, work, submission.id, "essay", {"score": 3, "comment": "Clear."}, by
            )
            await manual_grading.set_override(
                session, work, submission.id, {"score": 8, "reason": "Bonus for rigour"}, by
            )
            await manual_grading.remove_override(
                session, work, submission.id, {"reason": "Cells are enough"}, by
            )
            await manual_grading.review_flags(session, work, submission.id, "Looked fine.", by)
            await session.commit()
            trail = await manual_grading.audit_trail(session, submission.id)
            entries = list(
                await session.scalars(
                    select(AuditEntry)
                    .where(
                        AuditEntry.target_kind == "submission",
                        AuditEntry.target_id == str(submission.id),
                    )
                    .order_by(AuditEntry.id)
                )
            )
            course_row = await session.get_one(Course, course.id)
            queue, _counts = await course_queue(session, course_row)
            return trail, entries, [entry.submission_id for entry in queue if entry.reasons]

    trail, entries, queued = run_async(grade())
    assert [(e.action, e.actor_id, e.course_id) for e in entries] == [
        ("grade.manual_score", instructor.id, course.id),
        ("grade.comment", instructor.id, course.id),
        ("grade.override", instructor.id, course.id),
        ("grade.override_removed", instructor.id, course.id),
        ("grade.flags_reviewed", instructor.id, course.id),
    ]
    assert entries[0].after == {"score": 3, "typed": True, "final_score": 3, "grade_id": "essay"}
    assert entries[0].before["score"] is None and entries[0].reason == ""
    assert entries[2].reason == "Bonus for rigour"
    assert entries[2].after == {"score": 8, "final_score": 8}
    assert [(c["action"], c["grade_id"], c["reason"]) for c in trail] == [
        ("manual_score", "essay", ""),
        ("comment", "essay", ""),
        ("override", None, "Bonus for rigour"),
        ("override_removed", None, "Cells are enough"),
        ("flags_reviewed", None, "Looked fine."),
    ]
    assert trail[1]["after"] == {"comment": "Clear."}
    assert {c["by"] for c in trail} == {instructor.username}
    assert submission.id not in queued  # scored and its flags reviewed: nothing waits
