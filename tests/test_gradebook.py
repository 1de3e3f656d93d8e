"""The gradebook: staff see every enrolled student's best graded attempt per assignment and
their best quiz score (late penalties and "awaiting grading" shown), weighted by the course's
grade categories, and export it as plain or Canvas CSV; a student sees their own row only;
instructors manage the categories through the API and on the gradebook page."""

from __future__ import annotations

import csv
import hashlib
import io
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from coursehub.hub.constants import Role
from coursehub.services.models import (
    Account,
    Assignment,
    CourseGrader,
    Grade,
    Quiz,
    QuizAttempt,
    QuizCategory,
    Submission,
    SubmissionStatus,
)
from tests.course_builder import enroll
from tests.teaching_client import open_session
from tests.test_assignments import classroom, create  # noqa: F401 - the fixture

# Set to a folder to keep the phone screenshot of the gradebook.
SCREENSHOTS = os.environ.get("COURSEHUB_SCREENSHOT_DIR")


def graded_attempt(
    db,
    assignment_id: int,
    student: Account,
    attempt: int,
    score: float,  # type: ignore[no-untyped-def]
    penalty: float = 0.0,
    *,
    cells: list[dict[str, Any]] | None = None,
    needs_manual: bool = False,
) -> int:
    """An attempt as the grading worker leaves it (the pipeline itself is tested elsewhere)."""
    notebook = f"attempt {attempt} of {student.username}".encode()
    with db() as session:
        submission = Submission(
            assignment_id=assignment_id,
            account_id=student.id,
            attempt=attempt,
            sha256=hashlib.sha256(notebook).hexdigest(),
            notebook=notebook,
            size=len(notebook),
            late_penalty_percent=penalty,
            status=SubmissionStatus.GRADED,
        )
        session.add(submission)
        session.flush()
        session.add(
            Grade(
                submission_id=submission.id,
                outcome="graded",
                score=score,
                max_score=2,
                late_penalty_percent=penalty,
                final_score=round(score * (1 - penalty / 100), 4),
                cells=cells if cells is not None else [engine_cell(score)],
                needs_manual=needs_manual,
            )
        )
        session.commit()
        return submission.id


def engine_cell(score: float | None, feedback: str = "Passed.") -> dict[str, Any]:
    """The one grade cell of ``tests.assignment_data``'s notebook, as the engine grades it."""
    return {"grade_id": "test_add", "kind": "autograded_test", "score": score,
            "max_points": 2.0, "feedback": feedback}  # fmt: skip


def quiz(db, course_id: int, title: str, max_score: float, *, published: bool = True) -> int:  # type: ignore[no-untyped-def]
    """A quiz as the quiz pages leave it (quizzes are tested in their own files)."""
    with db() as session:
        made = Quiz(course_id=course_id, title=title, published=published, max_score=max_score)
        session.add(made)
        session.commit()
        return made.id


def quiz_attempt(
    db,
    quiz_id: int,
    student: Account,
    attempt: int,
    score: float | None,  # type: ignore[no-untyped-def]
    *,
    submitted: bool = True,
) -> None:
    """``score`` None: an answer awaits staff; ``submitted`` False: still in progress."""
    with db() as session:
        max_score = session.get_one(Quiz, quiz_id).max_score
        session.add(
            QuizAttempt(
                quiz_id=quiz_id,
                account_id=student.id,
                attempt=attempt,
                submitted_at=datetime.now(UTC) if submitted else None,
                score=score,
                max_score=max_score,
            )
        )
        session.commit()


def gradebook_of(room) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    answer = room.teacher.get(f"/api/courses/{room.course.slug}/gradebook")
    assert answer.status_code == 200, answer.text
    return answer.json()


def export(room, kind: str) -> list[list[str]]:  # type: ignore[no-untyped-def]
    answer = room.teacher.get(f"/api/courses/{room.course.slug}/gradebook.csv?format={kind}")
    assert answer.status_code == 200, answer.text
    return list(csv.reader(io.StringIO(answer.text)))


@pytest.fixture
def graded_class(classroom, db, make_account):  # noqa: F811 - the fixture
    assignment = create(classroom)
    # Attempt 1 on time, attempt 2 better but late: the best final score counts (1.8).
    graded_attempt(db, assignment["id"], classroom.student, 1, 1.0)
    graded_attempt(db, assignment["id"], classroom.student, 2, 2.0, penalty=10)
    # A classmate who has not submitted, with a name a spreadsheet would take for a formula.
    quiet = make_account(Role.STUDENT)
    with db() as session:
        session.execute(update(Account).where(Account.id == quiet.id).values(name="=1+1"))
        session.commit()
    enroll(db, quiet, classroom.course)
    return classroom, assignment, quiet


def test_staff_see_every_students_best_attempt_with_its_penalty(graded_class):
    room, assignment, quiet = graded_class
    book = room.teacher.get(f"/api/courses/{room.course.slug}/gradebook").json()
    assert book["staff"] is True and book["manage"] is True and book["weighted"] is False
    key = f"assignment-{assignment['id']}"
    assert [(c["key"], c["title"], c["max_score"]) for c in book["columns"]] == [
        (key, "Adding numbers", 2.0)
    ]
    rows = {row["username"]: row for row in book["students"]}
    assert set(rows) == {room.student.username, quiet.username}
    best = rows[room.student.username]["cells"][key]
    assert best == {
        "final_score": 1.8,
        "score": 2.0,
        "late_penalty_percent": 10.0,
        "late_points": 0.2,
        "attempt": 2,
        "awaiting_grading": False,
        "grading_failed": False,
        "dropped": False,
    }
    assert rows[room.student.username]["total"] == 1.8
    assert rows[quiet.username]["cells"] == {} and rows[quiet.username]["total"] == 0
    assert rows[quiet.username]["weighted_percent"] is None


def test_a_student_sees_only_their_own_row(graded_class):
    room, assignment, _ = graded_class
    book = room.learner.get(f"/api/courses/{room.course.slug}/gradebook").json()
    assert book["staff"] is False and book["manage"] is False
    assert [row["username"] for row in book["students"]] == [room.student.username]
    cell = book["students"][0]["cells"][f"assignment-{assignment['id']}"]
    assert cell["final_score"] == 1.8


def test_plain_and_canvas_csv_exports(graded_class):
    room, assignment, quiet = graded_class
    plain = room.teacher.get(f"/api/courses/{room.course.slug}/gradebook.csv?format=plain")
    assert plain.status_code == 200
    assert plain.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in plain.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(plain.text)))
    assert rows[0] == ["username", "name", "email", "Adding numbers", "total", "max total"]
    by_user = {row[0]: row for row in rows[1:]}
    assert by_user[room.student.username][3:] == ["1.8", "1.8", "2.0"]
    assert by_user[quiet.username][1] == "'=1+1"  # never a formula
    assert by_user[quiet.username][3] == ""

    page = room.teacher.get(f"/courses/{room.course.slug}/assignments").text
    assert "gradebook.csv?format=canvas" in page
    assert f"/courses/{room.course.slug}/gradebook" in page

    canvas = room.teacher.get(f"/api/courses/{room.course.slug}/gradebook.csv?format=canvas")
    rows = list(csv.reader(io.StringIO(canvas.text)))
    column = f"Adding numbers ({assignment['id']})"
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", column]
    assert rows[1][0] == "Points Possible" and rows[1][5] == "2.0"
    mine = next(row for row in rows[2:] if row[2] == room.student.username)
    assert mine[5] == "1.8"


@pytest.mark.parametrize(
    ("who", "path", "status"),
    [
        pytest.param("learner", "gradebook.csv?format=plain", 403, id="student-export"),
        pytest.param("teacher", "gradebook.csv?format=xlsx", 400, id="unknown-format"),
        pytest.param("outsider", "gradebook", 403, id="not-enrolled"),
        pytest.param("outsider", "gradebook.csv?format=plain", 403, id="not-enrolled-export"),
        pytest.param("outsider", "grade-categories", 403, id="not-enrolled-categories"),
    ],
)
def test_the_gradebook_refuses_whom_it_should(
    graded_class, make_account, signed_in, platform, who, path, status
):
    room, _, _ = graded_class
    if who == "outsider":
        outsider = make_account(Role.STUDENT)
        http = signed_in(outsider)
        answer = http.get(f"{platform.service_url}/api/courses/{room.course.slug}/{path}")
    else:
        answer = getattr(room, who).get(f"/api/courses/{room.course.slug}/{path}")
    assert answer.status_code == status, answer.text
    assert "error" in answer.json()


# -- grade categories ------------------------------------------------------------------------


def test_an_instructor_manages_grade_categories_through_the_api(classroom, db):  # noqa: F811
    room = classroom
    api = f"/api/courses/{room.course.slug}/grade-categories"
    first, second = create(room, title="Week 1"), create(room, title="Week 2")
    quiz_id = quiz(db, room.course.id, "Warm-up", 5)

    made = room.teacher.call(
        "POST",
        api,
        json={
            "name": "Homework",
            "weight": 60,
            "drop_lowest": 1,
            "assignment_ids": [first["id"], second["id"]],
        },
    )
    assert made.status_code == 201, made.text
    homework = made.json()
    assert homework["assignment_ids"] == [first["id"], second["id"]]
    assert (homework["weight"], homework["drop_lowest"], homework["quiz_ids"]) == (60, 1, [])
    quizzes = room.teacher.call("POST", api, json={"name": "Quizzes", "weight": 25}).json()

    # Moving an item: the quiz joins Quizzes; Week 2 leaves Homework for no category.
    moved = room.teacher.call("PATCH", f"{api}/{quizzes['id']}", json={"quiz_ids": [quiz_id]})
    assert moved.json()["quiz_ids"] == [quiz_id]
    kept = room.teacher.call(
        "PATCH", f"{api}/{homework['id']}", json={"weight": 55.5, "assignment_ids": [first["id"]]}
    )
    assert kept.status_code == 200, kept.text
    assert kept.json()["assignment_ids"] == [first["id"]] and kept.json()["weight"] == 55.5
    with db() as session:
        placed = dict(
            session.execute(
                select(Assignment.id, Assignment.category_id).where(
                    Assignment.id.in_([first["id"], second["id"]])
                )
            ).all()
        )
    assert placed == {first["id"]: homework["id"], second["id"]: None}

    listed = room.learner.get(api).json()  # students read the categories too
    assert [c["name"] for c in listed["categories"]] == ["Homework", "Quizzes"]
    assert listed["other_weight"] == 19.5

    refusals = [
        (room.teacher.call("POST", api, json={"name": "Homework", "weight": 5}), 409, "already"),
        (room.teacher.call("POST", api, json={"name": "Labs", "weight": 120}), 400, "0 to 100"),
        (room.teacher.call("POST", api, json={"weight": 10}), 400, "name"),
        (
            room.teacher.call("PATCH", f"{api}/{homework['id']}", json={"drop_lowest": 1.5}),
            400,
            "whole number",
        ),
        (
            room.teacher.call("PATCH", f"{api}/{homework['id']}", json={"assignment_ids": [10**8]}),
            400,
            "no assignment",
        ),
        (room.teacher.call("PATCH", f"{api}/{10**8}", json={"weight": 1}), 404, "no such"),
    ]
    for answer, status, words in refusals:
        assert answer.status_code == status, answer.text
        assert words in answer.json()["error"]

    assert room.teacher.call("DELETE", f"{api}/{quizzes['id']}").status_code == 204
    with db() as session:
        assert session.scalar(select(QuizCategory).where(QuizCategory.quiz_id == quiz_id)) is None
    assert [c["name"] for c in room.teacher.get(api).json()["categories"]] == ["Homework"]


def test_only_the_instructor_changes_categories_and_graders_read_the_gradebook(
    classroom,  # noqa: F811
    db,
    make_account,
    platform,
    signed_in,
):
    room = classroom
    api = f"/api/courses/{room.course.slug}/grade-categories"
    homework = room.teacher.call("POST", api, json={"name": "Homework", "weight": 50}).json()
    grader = make_account(Role.STUDENT)
    with db() as session:
        session.add(CourseGrader(course_id=room.course.id, account_id=grader.id))
        session.commit()
    marker = open_session(platform, signed_in, grader)

    for person in (room.learner, marker):
        attempts = [
            person.call("POST", api, json={"name": "Mine", "weight": 10}),
            person.call("PATCH", f"{api}/{homework['id']}", json={"weight": 100}),
            person.call("DELETE", f"{api}/{homework['id']}"),
        ]
        assert [a.status_code for a in attempts] == [403, 403, 403]
        assert "instructor and administrators" in attempts[0].json()["error"]
    assert room.teacher.get(f"{api}/{homework['id']}").json()["weight"] == 50

    # Graders read everyone's grades; a student's export is refused.
    assert marker.get(f"/api/courses/{room.course.slug}/gradebook").json()["staff"] is True
    assert marker.get(f"/api/courses/{room.course.slug}/gradebook.csv").status_code == 200
    page = marker.get(f"/courses/{room.course.slug}/gradebook")
    assert page.status_code == 200 and 'id="add_category_form"' not in page.text
    assert (
        marker.form(
            f"/courses/{room.course.slug}/gradebook/categories", {"name": "Mine", "weight": "10"}
        ).status_code
        == 403
    )
    # The instructor's own form post without its XSRF field is refused before anything changes.
    forged = room.teacher.http.post(
        f"{platform.service_url}/courses/{room.course.slug}/gradebook/categories",
        data={"name": "Forged", "weight": "10"},
    )
    assert forged.status_code == 403
    assert [c["name"] for c in room.teacher.get(api).json()["categories"]] == ["Homework"]


def test_weighted_totals_match_the_hand_computed_figures(classroom, db, make_account):  # noqa: F811
    """Homework 40 % (drop lowest 1), Quizzes 30 %, Project 10 % (nothing graded yet), and an
    uncategorised assignment in "Other" with the 20 % left."""
    room = classroom
    api = f"/api/courses/{room.course.slug}/grade-categories"
    hw = [create(room, title=f"Homework {n}")["id"] for n in (1, 2, 3)]
    loose = create(room, title="Loose ends")["id"]
    project = create(room, title="Project")["id"]
    q1 = quiz(db, room.course.id, "Quiz 1", 10)
    q2 = quiz(db, room.course.id, "Quiz 2", 5)
    quiz(db, room.course.id, "Draft quiz", 5, published=False)
    for name, weight, fields in (
        ("Homework", 40, {"drop_lowest": 1, "assignment_ids": hw}),
        ("Quizzes", 30, {"quiz_ids": [q1, q2]}),
        ("Project", 10, {"assignment_ids": [project]}),
    ):
        made = room.teacher.call("POST", api, json={"name": name, "weight": weight, **fields})
        assert made.status_code == 201, made.text

    me = room.student
    graded_attempt(db, hw[0], me, 1, 2.0)  # 2/2
    graded_attempt(db, hw[1], me, 1, 2.0, penalty=50)  # 1/2 after the late penalty
    graded_attempt(db, hw[2], me, 1, 0.5)  # 0.5/2: the lowest, dropped
    graded_attempt(db, loose, me, 1, 1.0)  # 1/2 in Other
    quiz_attempt(db, q1, me, 1, 6)
    quiz_attempt(db, q1, me, 2, 8)  # the best: 8/10
    quiz_attempt(db, q1, me, 3, 10, submitted=False)  # still open: does not count
    quiz_attempt(db, q2, me, 1, None)  # awaits staff: shown, not counted
    classmate = make_account(Role.STUDENT)
    enroll(db, classmate, room.course)

    book = room.teacher.get(f"/api/courses/{room.course.slug}/gradebook").json()
    assert book["weighted"] is True
    assert [(c["name"], c["weight"]) for c in book["categories"]] == [
        ("Homework", 40),
        ("Quizzes", 30),
        ("Project", 10),
        ("Other", 20),
    ]
    assert "Draft quiz" not in {c["title"] for c in book["columns"]}
    assert book["max_total"] == 25  # five assignments of 2 points, quizzes of 10 and 5
    rows = {row["username"]: row for row in book["students"]}
    mine = rows[me.username]
    # Homework (2 + 1) / 4 = 75 %, Quizzes 8 / 10 = 80 %, Other 1 / 2 = 50 %, Project none:
    # (40 x 75 + 30 x 80 + 20 x 50) / (40 + 30 + 20) = 6400 / 90 = 71.11 %.
    assert mine["weighted_percent"] == 71.11
    assert mine["total"] == 12.5  # points: 2 + 1 + 0.5 + 1 + 8
    by_name = {c["name"]: c for c in mine["categories"]}
    assert (by_name["Homework"]["earned"], by_name["Homework"]["possible"]) == (3, 4)
    assert by_name["Homework"]["dropped"] == [f"assignment-{hw[2]}"]
    assert by_name["Project"]["percent"] is None and by_name["Other"]["percent"] == 50
    cells = mine["cells"]
    assert cells[f"assignment-{hw[2]}"]["dropped"] is True
    assert (
        cells[f"assignment-{hw[1]}"]["late_penalty_percent"],
        cells[f"assignment-{hw[1]}"]["late_points"],
    ) == (50, 1)
    assert (cells[f"quiz-{q1}"]["final_score"], cells[f"quiz-{q1}"]["attempt"]) == (8, 2)
    assert cells[f"quiz-{q2}"] == {
        "final_score": None,
        "score": None,
        "late_penalty_percent": 0.0,
        "late_points": 0.0,
        "attempt": None,
        "awaiting_grading": True,
        "grading_failed": False,
        "dropped": False,
    }
    assert rows[classmate.username]["weighted_percent"] is None

    # The same figures in both exports, with the categories.
    plain = export(room, "plain")
    header, line = plain[0], next(r for r in plain if r[0] == me.username)
    assert header[3:] == [
        "Homework 1",
        "Homework 2",
        "Homework 3",
        "Loose ends",
        "Project",
        "Quiz 1 (quiz)",
        "Quiz 2 (quiz)",
        "Homework % (weight 40 %)",
        "Quizzes % (weight 30 %)",
        "Project % (weight 10 %)",
        "Other % (weight 20 %)",
        "total",
        "max total",
        "weighted %",
    ]
    values = dict(zip(header, line, strict=True))
    assert values["Quiz 1 (quiz)"] == "8" and values["Quiz 2 (quiz)"] == ""
    assert values["Homework % (weight 40 %)"] == "75" and values["Project % (weight 10 %)"] == ""
    assert (values["total"], values["max total"], values["weighted %"]) == ("12.5", "25.0", "71.11")

    canvas = export(room, "canvas")
    assert canvas[0][-5:] == [
        "Homework Current Score",
        "Quizzes Current Score",
        "Project Current Score",
        "Other Current Score",
        "Current Score",
    ]
    assert f"Quiz 1 (quiz {q1})" in canvas[0]
    assert canvas[1][-5:] == ["(read only)"] * 5
    mine_canvas = dict(zip(canvas[0], next(r for r in canvas if r[2] == me.username), strict=True))
    assert mine_canvas["Current Score"] == "71.11" and mine_canvas[f"Quiz 1 (quiz {q1})"] == "8"


def test_exports_never_hand_a_spreadsheet_a_formula(classroom, db):  # noqa: F811
    room = classroom
    made = create(room, title='=HYPERLINK("http://evil.example")')
    room.teacher.call(
        "POST",
        f"/api/courses/{room.course.slug}/grade-categories",
        json={"name": "@SUM(A1)", "weight": 100, "assignment_ids": [made["id"]]},
    )
    graded_attempt(db, made["id"], room.student, 1, 2.0)
    for kind in ("plain", "canvas"):
        cells = [cell for row in export(room, kind) for cell in row]
        assert not [c for c in cells if c[:1] in ("=", "@", "+") or c.startswith("-")], kind
        assert any(c.startswith("'=HYPERLINK") for c in cells)


def test_the_instructor_sets_categories_on_the_gradebook_page(classroom, db):  # noqa: F811
    room = classroom
    base = f"/courses/{room.course.slug}/gradebook"
    first = create(room, title="Week 1")
    quiz_id = quiz(db, room.course.id, "Warm-up", 4)
    graded_attempt(db, first["id"], room.student, 1, 1.5)

    assert base in room.teacher.get(f"/courses/{room.course.slug}").text  # the course page links it
    page = room.teacher.get(base)
    assert page.status_code == 200
    assert 'id="gradebook_scroll" tabindex="0" role="region"' in page.text
    assert "gradebook.csv?format=canvas" in page.text and "Unweighted" in page.text

    added = room.teacher.form(
        f"{base}/categories", {"name": "Labs", "weight": "70", "drop_lowest": "0"}
    )
    assert added.status_code == 200 and "The category is added." in added.text
    labs = room.teacher.get(f"/api/courses/{room.course.slug}/grade-categories").json()
    labs_id = labs["categories"][0]["id"]
    placed = room.teacher.form(
        f"{base}/placements", {f"assignment-{first['id']}": str(labs_id), f"quiz-{quiz_id}": ""}
    )
    assert "categories are saved" in placed.text
    assert "Labs · 70 %" in placed.text and "Other · 30 %" in placed.text

    bad = room.teacher.form(f"{base}/categories/{labs_id}", {"name": "Labs", "weight": "lots"})
    assert bad.status_code == 400 and "Weight must be a number" in bad.text
    room.teacher.form(
        f"{base}/categories/{labs_id}", {"name": "Labs", "weight": "60", "drop_lowest": "0"}
    )
    book = gradebook_of(room)
    assert book["categories"][0]["weight"] == 60
    assert book["students"][0]["weighted_percent"] == 75  # Labs 1.5 / 2; Other has no grade

    gone = room.teacher.form(f"{base}/categories/{labs_id}", {"action": "delete"})
    assert "its assessments are uncategorised" in gone.text
    assert gradebook_of(room)["weighted"] is False
    # A student opening the gradebook lands on their own grades; their form post is refused.
    assert room.learner.get(base).url.path.endswith(f"/courses/{room.course.slug}/grades")
    refused = room.learner.form(f"{base}/categories", {"name": "Mine", "weight": "1"})
    assert refused.status_code == 403


@pytest.mark.browser
def test_the_gradebook_scrolls_sideways_on_a_phone_while_the_page_stays_put(
    classroom,  # noqa: F811 - the fixture
    db,
    browser,
    tmp_path,
):
    from playwright.sync_api import expect

    from tests.conftest import PASSWORD

    room = classroom
    late = create(room, title="Adding numbers, late")
    graded_attempt(db, late["id"], room.student, 1, 2.0, penalty=25)
    for number in range(12):
        check = quiz(db, room.course.id, f"Weekly check number {number + 1}", 10)
        quiz_attempt(db, check, room.student, 1, None if number == 0 else number % 10)
    context = browser.new_context(
        viewport={"width": 375, "height": 812}, is_mobile=True, has_touch=True
    )
    context.set_default_timeout(20_000)
    phone = context.new_page()
    try:
        service = room.teacher.base
        hub = service.split("/services/")[0]
        phone.goto(f"{hub}/hub/login")
        phone.locator("#username_input").fill(room.teacher.account.email)
        phone.locator("#password_input").fill(PASSWORD)
        phone.locator("#login_submit").click()
        phone.wait_for_url("**/teach")  # where instructors land
        phone.goto(f"{service}/courses/{room.course.slug}/gradebook")
        region = phone.get_by_role("region", name="Students and their grades")
        expect(region).to_be_visible()
        widths = region.evaluate("node => [node.scrollWidth, node.clientWidth]")
        assert widths[0] > widths[1], "the table is wider than the phone and scrolls"
        assert phone.evaluate("document.documentElement.scrollWidth") <= 375, "the page stays put"
        phone.screenshot(path=str(Path(SCREENSHOTS or tmp_path) / "gradebook-phone.png"))
        region.focus()  # keyboard users scroll it with the arrow keys
        phone.keyboard.press("ArrowRight")
        # (polled with evaluate: the page's script policy refuses wait_for_function's eval)
        for _ in range(50):
            if region.evaluate("node => node.scrollLeft") > 0:
                break
            phone.wait_for_timeout(100)
        assert region.evaluate("node => node.scrollLeft") > 0, "the arrow key scrolls the table"
    finally:
        context.close()
