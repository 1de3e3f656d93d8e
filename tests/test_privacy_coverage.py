"""Deleting an account cannot forget a place: every column of the models that points at an
account, or looks like personal data, is listed with what deletion does to it, and every
argument of every job CourseHub queues is known to name a person's rows or not. A new table
with a reference to accounts (or a new job argument) fails here until privacy handles it."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Column, ForeignKey, Integer, LargeBinary, MetaData, String, Table, text
from sqlalchemy.orm import Session

from coursehub.services.models import Base
from coursehub.services.privacy import personal_data
from coursehub.services.privacy.personal_data import (
    ACCOUNT_REFERENCES,
    JOB_ARGUMENTS,
    NOT_PERSONAL_JOB_ARGUMENTS,
    Handling,
    unhandled,
)

SERVICES = Path(__file__).resolve().parent.parent / "services"


def test_every_reference_to_an_account_and_every_personal_column_is_handled_by_deletion():
    assert unhandled(Base.metadata) == []


def test_a_new_table_that_refers_to_accounts_or_holds_a_picture_is_reported():
    metadata = MetaData()
    for table in Base.metadata.sorted_tables:
        table.to_metadata(metadata)
    Table(
        "pet_photos",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("owner_id", ForeignKey("accounts.id")),
        Column("photo", LargeBinary),
        Column("owner_phone", String(40)),
    )
    problems = unhandled(metadata)
    assert len(problems) == 3
    assert problems[0].startswith("pet_photos.owner_id refers to accounts")
    assert any(p.startswith("pet_photos.photo may hold personal data") for p in problems)
    assert any(p.startswith("pet_photos.owner_phone") for p in problems)


def test_each_handling_is_said_in_a_word_deletion_acts_on():
    kinds = set(ACCOUNT_REFERENCES.values())
    assert kinds == {Handling.DELETED, Handling.ANONYMISED, Handling.LEGAL_RECORD}
    deleted = dict(personal_data.handled(Handling.DELETED))
    assert deleted["sign_ins"] == "account_id" and deleted["profiles"] == "account_id"
    # Grades of the course record and payments are never among the deleted.
    assert "submissions" not in deleted and "payments" not in deleted


def deferred_arguments() -> dict[str, set[str]]:
    """Every keyword argument given to ``defer(...)`` in CourseHub's code, with where."""
    found: dict[str, set[str]] = {}
    for path in SERVICES.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            called = node.func
            name = getattr(called, "id", None) or getattr(called, "attr", None)
            if name not in ("defer", "defer_lti_passback"):
                continue
            for keyword in node.keywords:
                if keyword.arg is not None:
                    found.setdefault(keyword.arg, set()).add(str(path.relative_to(SERVICES)))
    return found


def test_every_job_argument_is_known_to_name_a_persons_rows_or_not():
    known = {argument for _, argument in JOB_ARGUMENTS} | NOT_PERSONAL_JOB_ARGUMENTS
    arguments = deferred_arguments()
    assert {"export_id", "submission_id", "notification_id"} <= set(arguments)
    unknown = {name: sorted(where) for name, where in arguments.items() if name not in known}
    assert unknown == {}, (
        "job arguments privacy does not know: add them to personal_data.JOB_ARGUMENTS "
        "(they name a person's rows) or NOT_PERSONAL_JOB_ARGUMENTS"
    )


def test_every_task_named_for_privacy_is_a_task_coursehub_has():
    source = "\n".join(path.read_text() for path in SERVICES.rglob("*.py"))
    for task, _argument in JOB_ARGUMENTS:
        assert f'"{task}"' in source, task
    for task in personal_data.JOBS_OF_DELETED_ROWS:
        assert any(task == named for named, _ in JOB_ARGUMENTS), task


def test_every_job_query_runs_on_the_real_schema(db: Callable[[], Session]):
    with db() as session:
        for (task, argument), rows in JOB_ARGUMENTS.items():
            found = session.execute(text(rows), {"account": 0}).all()
            assert found == [], (task, argument)
