"""The rules of ``assessment.question_answers`` on their own: which cells are one question's
answer, and how a cell and its outputs are shown to staff (safe HTML in a script-less frame,
images only when they are real base64, too-large outputs left out)."""

from __future__ import annotations

import base64
import json

import pytest

from coursehub.hub.constants import Role
from coursehub.services.assessment import question_answers
from coursehub.services.assessment.assignments import AssignmentError
from coursehub.services.assessment.question_answers import (
    MAX_OUTPUT_CHARS,
    answer_cells,
    outputs_document,
    render_cell,
)
from coursehub.services.models import (
    Assignment,
    Grade,
    ManualScore,
    Submission,
    SubmissionStatus,
)
from tests.service_data import course_with


def graded(grade_id: str, source: str = "", cell_type: str = "markdown") -> dict:
    return {
        "cell_type": cell_type,
        "source": source,
        "metadata": {"nbgrader": {"grade_id": grade_id}},
    }


def plain(source: str) -> dict:
    return {"cell_type": "markdown", "source": source, "metadata": {}}


NOTEBOOK = {
    "cells": [
        plain("Intro"),
        graded("essay", "My essay"),
        graded("task1", "Do the task"),
        plain("step 1"),
        "not a cell",
        plain("step 2"),
        graded("code1", "x = 1", "code"),
        plain("after"),
    ]
}


def test_a_questions_answer_is_its_own_cell():
    assert [c["source"] for c in answer_cells(NOTEBOOK, "essay", "manual")] == ["My essay"]
    assert [c["source"] for c in answer_cells(NOTEBOOK, "code1", "manual")] == ["x = 1"]


def test_a_tasks_answer_is_its_cell_and_the_ungraded_cells_up_to_the_next_graded_one():
    cells = answer_cells(NOTEBOOK, "task1", "task")
    assert [c["source"] for c in cells] == ["Do the task", "step 1", "step 2"]


def test_an_unknown_grade_id_has_no_answer():
    assert answer_cells(NOTEBOOK, "nope", "manual") == []
    assert answer_cells({}, "essay", "manual") == []


def test_a_cell_with_odd_metadata_has_no_grade_id():
    assert question_answers._grade_id({"metadata": "x"}) is None
    assert question_answers._grade_id({"metadata": {"nbgrader": []}}) is None
    assert question_answers._grade_id("cell") is None


def test_no_outputs_make_no_document():
    assert outputs_document([]) == ""
    assert outputs_document(None) == ""
    assert outputs_document([{"output_type": "unknown"}]) == ""


def test_stream_and_error_outputs_are_escaped_text():
    document = outputs_document(
        [
            {"output_type": "stream", "text": ["<b>", "hi</b>"]},
            {"output_type": "error", "ename": "ValueError", "evalue": "<bad>"},
        ]
    )
    assert document.startswith(question_answers.FRAME_HEAD)
    assert "default-src 'none'" in document
    assert "<pre>&lt;b&gt;hi&lt;/b&gt;</pre>" in document
    assert "<pre>ValueError: &lt;bad&gt;</pre>" in document
    assert document.endswith("</body></html>")


def test_html_outputs_lose_their_scripts():
    document = outputs_document(
        [{"output_type": "display_data", "data": {"text/html": "<p>ok</p><script>x()</script>"}}]
    )
    assert "<p>ok</p>" in document and "<script>" not in document


def test_an_image_output_is_shown_only_when_it_is_real_base64():
    png = base64.b64encode(b"\x89PNG fake").decode()
    good = outputs_document(
        [{"output_type": "display_data", "data": {"image/png": png + "\n", "text/plain": "x"}}]
    )
    assert f'src="data:image/png;base64,{png}"' in good
    bad = outputs_document([{"output_type": "execute_result", "data": {"image/gif": "not!base64"}}])
    assert "an image that could not be read" in bad


def test_plain_text_and_unknown_data_outputs():
    assert "<pre>1 &lt; 2</pre>" in outputs_document(
        [{"output_type": "execute_result", "data": {"text/plain": "1 < 2"}}]
    )
    assert "an output CourseHub does not show" in outputs_document(
        [{"output_type": "execute_result", "data": {"application/x-thing": "?"}}]
    )


def test_outputs_too_large_are_left_out():
    big = [{"output_type": "stream", "text": "x" * (MAX_OUTPUT_CHARS + 1)}]
    assert "too large to show here" in outputs_document(big)


def test_a_markdown_cell_is_shown_as_safe_html_without_outputs():
    shown = render_cell({"cell_type": "markdown", "source": ["# Hi", "<script>x()</script>"]})
    assert shown["cell_type"] == "markdown" and shown["outputs_document"] == ""
    assert "Hi" in shown["html"] and "<script>" not in shown["html"]


def test_a_code_cell_is_shown_as_source_and_outputs():
    shown = render_cell({"source": "print(1)", "outputs": [{"output_type": "stream", "text": "1"}]})
    assert shown["cell_type"] == "code" and shown["source"] == "print(1)" and shown["html"] == ""
    assert "<pre>1</pre>" in shown["outputs_document"]


def test_the_feedback_notebook_is_read_before_the_submitted_one():
    feedback = {"cells": [plain("feedback")]}
    submission = Submission(notebook=b'{"cells": [1]}')
    assert question_answers._notebook_of(submission, Grade(feedback_notebook=feedback)) == feedback
    assert question_answers._notebook_of(submission, None) == {"cells": [1]}


def test_a_submitted_notebook_that_is_not_a_json_object_has_no_cells():
    for raw in (b"not json", b"[1, 2]", b"\xff\xfe"):
        assert question_answers._notebook_of(Submission(notebook=raw), None) == {"cells": []}


# -- on the database -------------------------------------------------------------------------


def essay_notebook(text: str) -> bytes:
    return json.dumps({"cells": [plain("Intro"), graded("essay", text)]}).encode()


async def test_each_students_latest_answer_to_a_question_with_the_persons_grading(
    db, make_account, sessions
):
    ada, bob = make_account(), make_account()
    course = course_with(db, make_account(Role.INSTRUCTOR), students=[ada, bob])
    with db() as session:
        assignment = Assignment(
            course_id=course.id,
            title="Essays",
            source_notebook={},
            student_notebook={},
            source_sha256="0" * 64,
            max_score=5,
            grade_cells=[{"grade_id": "essay", "kind": "manual", "max_points": 5}],
        )
        session.add(assignment)
        session.flush()
        made = {}
        for student, number, text in ((ada, 1, "first"), (ada, 2, "second"), (bob, 1, "bob's")):
            made[text] = Submission(
                assignment_id=assignment.id,
                account_id=student.id,
                attempt=number,
                sha256="0" * 64,
                notebook=essay_notebook(text),
                size=2,
                status=SubmissionStatus.GRADED,
            )
            session.add(made[text])
        session.flush()
        session.add(ManualScore(submission_id=made["second"].id, grade_id="essay", score=4.0))
        session.commit()

    async with sessions() as session:
        latest = await question_answers.question_answers(session, assignment, "essay")
        every = await question_answers.question_answers(
            session, assignment, "essay", all_attempts=True
        )
        with pytest.raises(AssignmentError) as unknown:
            await question_answers.question_answers(session, assignment, "nope")
    assert (latest["kind"], latest["max_points"], latest["rubric"]) == ("manual", 5, [])
    by_id = {a["submission_id"]: a for a in latest["answers"]}
    assert set(by_id) == {made["second"].id, made["bob's"].id}
    ada_latest = by_id[made["second"].id]
    assert [c["source"] for c in ada_latest["cells"]] == ["second"]
    assert ada_latest["manual"]["score"] == 4.0 and by_id[made["bob's"].id]["manual"] is None
    assert ada_latest["final_score"] is None and ada_latest["latest"]
    older = [a for a in every["answers"] if not a["latest"]]
    assert [a["submission_id"] for a in older] == [made["first"].id]
    assert unknown.value.status == 404
