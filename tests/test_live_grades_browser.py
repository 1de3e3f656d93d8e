"""A student's open assignments page shows a grade the moment it is stored, without a
reload: the row of the attempt turns to its score when the notification arrives."""

from __future__ import annotations

import hashlib
import json

import pytest
import redis
from playwright.sync_api import expect

from coursehub.services.models import Notification, Submission, SubmissionStatus
from tests.grading_room import make_room
from tests.player_data import sign_in

pytestmark = pytest.mark.browser


def test_an_open_assignments_page_shows_the_grade_when_it_arrives(
    platform, browser, signed_in, make_account, db, database_url, redis_url
):
    room = make_room(platform, signed_in, make_account, db, database_url, students=1)
    room.new_assignment()
    student = room.students[0].account
    notebook = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    with db() as session:
        # An attempt waiting in the queue (no job: nothing grades it but this test).
        attempt = Submission(
            assignment_id=room.assignment_id,
            account_id=student.id,
            attempt=1,
            sha256=hashlib.sha256(notebook.encode()).hexdigest(),
            notebook=notebook.encode(),
            size=len(notebook),
            status=SubmissionStatus.QUEUED,
        )
        session.add(attempt)
        session.commit()
        submission_id = attempt.id

    page = browser.new_context().new_page()
    sign_in(page, platform, student.email)
    page.goto(f"{platform.service_url}/courses/{room.course.slug}/assignments")
    row = page.locator(f'tr.attempt[data-submission-id="{submission_id}"]')
    expect(row).to_contain_text("queued")
    page.wait_for_timeout(1000)  # the page's stream is open by now

    with db() as session:
        payload = {
            "submission_id": submission_id,
            "assignment_id": room.assignment_id,
            "final_score": 1.5,
            "max_score": 2.0,
        }
        note = Notification(account_id=student.id, kind="submission_graded", payload=payload)
        session.add(note)
        session.commit()
        message = {"id": note.id, "kind": note.kind, "payload": payload, "created_at": "now"}
    redis.Redis.from_url(redis_url).publish(
        f"coursehub:notifications:{student.id}", json.dumps(message)
    )

    expect(row).to_have_attribute("data-graded", "true", timeout=15_000)
    expect(row.locator(".attempt-score")).to_contain_text("1.5 / 2")
    expect(row.locator(".attempt-status")).to_have_text("graded")
